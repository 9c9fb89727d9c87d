using FifoPipes.Abstractions;
using Microsoft.ML.Tokenizers;
using static TorchSharp.torch;

namespace FifoPipes.Torch.Text;

/// <summary>
/// HF's T5Tokenizer (slow, legacy) over a SentencePiece unigram model, as Open-Sora Plan calls it:
/// sentencepiece ids, cut to max_length − 1, &lt;/s&gt;, right-padded with &lt;pad&gt;; the mask is 1 on the
/// real tokens including &lt;/s&gt;.
/// </summary>
public sealed class T5Tokenizer
{
    /// <summary>Id of &lt;pad&gt; in T5's SentencePiece vocabulary; it fills the sequence after &lt;/s&gt; (mask 0).</summary>
    public const int PadId = 0;
    /// <summary>Id of &lt;/s&gt;, appended after the truncated prompt (mask 1).</summary>
    public const int EndOfSentenceId = 1;
    readonly SentencePieceTokenizer sentencePiece;
    readonly string path;

    /// <summary>Text of many scripts and symbols (fullwidth and half-width forms among them, which the normalizer rewrites), encoded once at load.</summary>
    const string TrialText = "The quick brown fox, 0123456789 !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ Äöüß éçñ Ωж ＡＢＣ１２３ ｶﾀｶﾅ 漢字かなカナ 한국어 🙂…";

    T5Tokenizer(SentencePieceTokenizer sentencePiece, string path)
    {
        this.sentencePiece = sentencePiece;
        this.path = path;
    }

    /// <summary>Loads spiece.model; a missing or unreadable file is a <see cref="FifoInputException"/>.</summary>
    public static T5Tokenizer Load(string spieceModelPath)
    {
        if (!File.Exists(spieceModelPath))
            throw new FifoInputException("TokenizerNotFound",
                $"SentencePiece model '{spieceModelPath}' does not exist. It ships with the text encoder (e.g. DeepFloyd/t5-v1_1-xxl/spiece.model).");
        TokenizerFiles.RefuseHuge(spieceModelPath, "a SentencePiece model", "Download spiece.model again.");
        byte[] proto;
        try { proto = SentencePieceProto.WithUsableBeginningOfSentence(File.ReadAllBytes(spieceModelPath)); }
        catch (InvalidDataException ex)
        {
            throw new FifoInputException("TokenizerCorrupt", $"'{spieceModelPath}' is not a SentencePiece model ({ex.Message}). Download spiece.model again.", ex);
        }
        using var stream = new MemoryStream(proto);
        try
        {
            // </s> is appended here after truncation, as T5Tokenizer does, so the library adds neither marker.
            var model = SentencePieceTokenizer.Create(stream, addBeginningOfSentence: false, addEndOfSentence: false);
            // A damaged normalizer loads without a word and fails at the first text that reaches it: let that be now.
            model.EncodeToIds(TrialText, addBeginningOfSentence: false, addEndOfSentence: false);
            return new T5Tokenizer(model, spieceModelPath);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The protobuf reader and the tokenizer throw several unrelated types for a damaged model.
            throw new FifoInputException("TokenizerCorrupt", $"'{spieceModelPath}' is not a usable SentencePiece model ({ex.GetType().Name}: {ex.Message}). Download spiece.model again.", ex);
        }
    }

    /// <summary>The sentencepiece ids of <paramref name="text"/> (no &lt;/s&gt;, no truncation).</summary>
    public IReadOnlyList<int> EncodePieces(string text)
    {
        IReadOnlyList<int> ids;
        try { ids = sentencePiece.EncodeToIds(text, addBeginningOfSentence: false, addEndOfSentence: false); }
        catch (IndexOutOfRangeException ex)
        {
            // The trial at load reaches most of a damaged normalizer, not all of it: a character it missed can still land here.
            throw new FifoInputException("TokenizerCorrupt", $"'{path}' is damaged: the SentencePiece model failed on this text ({ex.Message}). Download spiece.model again.", ex);
        }
        // sentencepiece's unigram encoder merges a run of unknown characters into one <unk>; the library emits one per character.
        int unk = sentencePiece.UnknownId;
        var merged = new List<int>(ids.Count);
        foreach (int id in ids)
            if (id != unk || merged.Count == 0 || merged[^1] != unk) merged.Add(id);
        return merged;
    }

    /// <summary>One row: ids and mask of length <paramref name="maxLength"/>.</summary>
    public (long[] Ids, long[] Mask) Tokenize(string text, int maxLength)
    {
        if (maxLength < 1) throw new ArgumentOutOfRangeException(nameof(maxLength), "max_length must leave room for </s>.");
        var pieces = EncodePieces(text);
        int kept = Math.Min(pieces.Count, maxLength - 1);
        var ids = new long[maxLength];
        var mask = new long[maxLength];
        for (int i = 0; i < kept; i++) ids[i] = pieces[i];
        ids[kept] = EndOfSentenceId;
        for (int i = 0; i <= kept; i++) mask[i] = 1;
        return (ids, mask);
    }

    /// <summary>Rows in order: input_ids and attention_mask [N, maxLength] int64.</summary>
    public (Tensor Ids, Tensor Mask) TokenizeBatch(IReadOnlyList<string> texts, int maxLength)
    {
        var ids = new long[texts.Count * maxLength];
        var mask = new long[texts.Count * maxLength];
        for (int r = 0; r < texts.Count; r++)
        {
            var (rowIds, rowMask) = Tokenize(texts[r], maxLength);
            rowIds.CopyTo(ids, r * maxLength);
            rowMask.CopyTo(mask, r * maxLength);
        }
        var shape = new long[] { texts.Count, maxLength };
        return (tensor(ids, shape), tensor(mask, shape));
    }
}

/// <summary>
/// The one edit Microsoft.ML.Tokenizers 2.0.1 needs to load T5's model: T5 has no beginning-of-sentence
/// piece (trainer_spec.bos_id = −1) and the library indexes the vocabulary with it. The id is pointed at
/// the pad (or unknown) piece, which is harmless because no caller here asks for a BOS.
/// </summary>
static class SentencePieceProto
{
    const int TrainerSpecField = 2;
    const int UnkIdField = 40;
    const int BosIdField = 41;
    const int PadIdField = 43;

    public static byte[] WithUsableBeginningOfSentence(byte[] model)
    {
        var output = new MemoryStream(model.Length);
        int pos = 0;
        bool sawTrainerSpec = false;
        while (pos < model.Length)
        {
            int start = pos;
            ulong tag = ReadVarint(model, ref pos);
            int field = (int)(tag >> 3), wire = (int)(tag & 7);
            if (field == TrainerSpecField && wire == 2)
            {
                int length = ReadLength(model, ref pos);
                var spec = RewriteTrainerSpec(model.AsSpan(pos, length).ToArray());
                pos += length;
                WriteVarint(output, tag);
                WriteVarint(output, (ulong)spec.Length);
                output.Write(spec);
                sawTrainerSpec = true;
                continue;
            }
            SkipValue(model, ref pos, wire);
            output.Write(model, start, pos - start);
        }
        if (!sawTrainerSpec) throw new InvalidDataException("no trainer_spec field");
        return output.ToArray();
    }

    static byte[] RewriteTrainerSpec(byte[] spec)
    {
        long bos = 1, pad = -1, unk = 0;
        bool hasBos = false;
        int pos = 0;
        while (pos < spec.Length)
        {
            ulong tag = ReadVarint(spec, ref pos);
            int field = (int)(tag >> 3), wire = (int)(tag & 7);
            if (wire == 0 && field is BosIdField or PadIdField or UnkIdField)
            {
                // int32 fields: a negative value is a 10-byte two's-complement varint.
                long value = (int)ReadVarint(spec, ref pos);
                if (field == BosIdField) { bos = value; hasBos = true; }
                else if (field == PadIdField) pad = value;
                else unk = value;
                continue;
            }
            SkipValue(spec, ref pos, wire);
        }
        if (!hasBos || bos >= 0) return spec;

        long replacement = pad >= 0 ? pad : unk;
        var output = new MemoryStream(spec.Length);
        pos = 0;
        while (pos < spec.Length)
        {
            int start = pos;
            ulong tag = ReadVarint(spec, ref pos);
            int field = (int)(tag >> 3), wire = (int)(tag & 7);
            SkipValue(spec, ref pos, wire);
            if (field == BosIdField && wire == 0)
            {
                WriteVarint(output, tag);
                WriteVarint(output, (ulong)replacement);
            }
            else output.Write(spec, start, pos - start);
        }
        return output.ToArray();
    }

    static ulong ReadVarint(byte[] data, ref int pos)
    {
        ulong value = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (pos >= data.Length) throw new InvalidDataException("truncated varint");
            byte b = data[pos++];
            value |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0) return value;
        }
        throw new InvalidDataException("varint longer than 10 bytes");
    }

    static void WriteVarint(Stream output, ulong value)
    {
        while (value >= 0x80)
        {
            output.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }
        output.WriteByte((byte)value);
    }

    static void SkipValue(byte[] data, ref int pos, int wire)
    {
        switch (wire)
        {
            case 0: ReadVarint(data, ref pos); break;
            case 1: CheckRange(data, pos, 8); pos += 8; break;
            case 2:
                int length = ReadLength(data, ref pos);
                pos += length;
                break;
            case 5: CheckRange(data, pos, 4); pos += 4; break;
            default: throw new InvalidDataException($"unsupported protobuf wire type {wire}");
        }
    }

    /// <summary>A length-delimited field's length, which must fit in what is left of <paramref name="data"/>.</summary>
    static int ReadLength(byte[] data, ref int pos)
    {
        ulong length = ReadVarint(data, ref pos);
        CheckRange(data, pos, length);
        return (int)length;
    }

    static void CheckRange(byte[] data, int pos, ulong length)
    {
        // Compared with what is left, not added to pos: a length near 2^31 would overflow the sum past the check.
        if (length > (ulong)(data.Length - pos)) throw new InvalidDataException("a field runs past the end of the file");
    }
}
