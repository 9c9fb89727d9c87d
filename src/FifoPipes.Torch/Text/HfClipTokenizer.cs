using System.Text.Json;
using FifoPipes.Abstractions;
using static TorchSharp.torch;

namespace FifoPipes.Torch.Text;

/// <summary>
/// transformers' <c>CLIPTokenizer</c> as diffusers pipelines call it (<c>padding="max_length"</c>,
/// <c>truncation=True</c>): the special tokens (bos, eos, unk, pad) are cut out of the raw text first and
/// map to their ids (so every "!" is the pad id when pad is "!", as in SD 2 / zeroscope), every other
/// piece is cleaned without HTML unescaping and BPE-encoded; then [bos] + ids[:max-2] + [eos], padded with the pad id.
/// </summary>
public sealed class HfClipTokenizer
{
    readonly ClipTokenizer bpe;
    // Longest first, so a special token that contains another wins (the reference matches greedily with a trie).
    readonly (string Text, int Id)[] specials;

    /// <summary>The BPE of <paramref name="bpe"/> with a tokenizer folder's special tokens.</summary>
    /// <exception cref="FifoInputException">"TokenizerCorrupt" when a special token is not in the vocabulary, or <paramref name="maxLength"/> is below 2.</exception>
    public HfClipTokenizer(ClipTokenizer bpe, string bosToken, string eosToken, string unkToken, string padToken, int maxLength)
    {
        this.bpe = bpe;
        int Id(string token, string role) => bpe.IdOf(token)
            ?? throw new FifoInputException("TokenizerCorrupt",
                $"The {role} token '{token}' is not in the tokenizer vocabulary '{bpe.Files[0]}'; it and the special-token files beside it " +
                "(special_tokens_map.json, tokenizer_config.json) do not belong together. Download the model's tokenizer/ folder again.");
        BosId = Id(bosToken, "bos");
        EosId = Id(eosToken, "eos");
        PadId = Id(padToken, "pad");
        MaxLength = maxLength >= 2 ? maxLength
            : throw new FifoInputException("TokenizerCorrupt", $"model_max_length {maxLength} leaves no room for the start and end tokens.");
        specials = new[] { (bosToken, BosId), (eosToken, EosId), (unkToken, Id(unkToken, "unk")), (padToken, PadId) }
            .Where(s => s.Item1.Length > 0).DistinctBy(s => s.Item1).OrderByDescending(s => s.Item1.Length).ToArray();
    }

    /// <summary>Id of bos_token, which opens every sequence.</summary>
    public int BosId { get; }
    /// <summary>Id of eos_token, which follows the (truncated) prompt.</summary>
    public int EosId { get; }
    /// <summary>Id of pad_token, which fills the rest: "!" (id 0) in SD 2 and zeroscope, the end-of-text token in OpenAI's CLIP.</summary>
    public int PadId { get; }
    /// <summary>Tokens per sequence, bos and eos included (tokenizer_config.json's model_max_length; 77 when absent or above 4096).</summary>
    public int MaxLength { get; }
    /// <summary>Ids run from 0 to this minus one; the text encoder's embedding table must have a row for each.</summary>
    public int VocabSize => bpe.VocabSize;

    /// <summary>
    /// A Hugging Face tokenizer folder: vocab.json, merges.txt, and special_tokens_map.json and/or
    /// tokenizer_config.json (special tokens, model_max_length; CLIPTokenizer's defaults when absent).
    /// </summary>
    public static HfClipTokenizer Load(string folder)
    {
        if (!Directory.Exists(folder))
            throw new FifoInputException("TokenizerNotFound", $"Tokenizer folder '{folder}' does not exist; download the model's tokenizer/ folder.");
        // The folder is the model's own: its files come from the same download, not from open_clip, whatever else would tokenize alike.
        foreach (var file in new[] { "vocab.json", "merges.txt" })
            if (!File.Exists(Path.Combine(folder, file)))
                throw new FifoInputException("TokenizerNotFound",
                    $"Tokenizer folder '{folder}' has no {file}; download the model's tokenizer/ folder again (vocab.json, merges.txt, special_tokens_map.json, tokenizer_config.json).");
        var bpe = ClipTokenizer.FromHuggingFace(Path.Combine(folder, "vocab.json"), Path.Combine(folder, "merges.txt"));
        var config = ReadJson(Path.Combine(folder, "tokenizer_config.json"));
        var map = ReadJson(Path.Combine(folder, "special_tokens_map.json"));
        string Token(string name, string fallback) => TokenText(map, name) ?? TokenText(config, name) ?? fallback;
        int maxLength = config is { } c && c.TryGetProperty("model_max_length", out var m) && m.ValueKind == JsonValueKind.Number && m.TryGetInt32(out var ml) && ml <= 4096
            ? ml : ClipTokenizer.DefaultContextLength;
        if (maxLength < 2)
            throw new FifoInputException("TokenizerCorrupt",
                $"'{Path.Combine(folder, "tokenizer_config.json")}' sets model_max_length {maxLength}, which leaves no room for the start and end tokens; download the model's tokenizer/ folder again.");
        return new HfClipTokenizer(bpe,
            Token("bos_token", "<|startoftext|>"),
            Token("eos_token", "<|endoftext|>"),
            Token("unk_token", "<|endoftext|>"),
            Token("pad_token", "<|endoftext|>"),
            maxLength);
    }

    static JsonElement? ReadJson(string path)
    {
        if (!File.Exists(path)) return null;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            // Both files are objects of settings; anything else would silently fall back to CLIP's defaults.
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new FifoInputException("TokenizerCorrupt", $"'{path}' holds a JSON {doc.RootElement.ValueKind.ToString().ToLowerInvariant()}, not the object of settings it should; re-download the tokenizer folder.");
            return doc.RootElement.Clone();
        }
        catch (JsonException ex)
        {
            throw new FifoInputException("TokenizerCorrupt", $"'{path}' is not valid JSON ({ex.Message}); re-download the tokenizer folder.", ex);
        }
    }

    /// <summary>A special token written as a string or as an AddedToken object {"content": ...}.</summary>
    static string? TokenText(JsonElement? json, string name) =>
        json is { ValueKind: JsonValueKind.Object } j && j.TryGetProperty(name, out var v)
            ? v.ValueKind switch
            {
                JsonValueKind.String => v.GetString(),
                JsonValueKind.Object when v.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String => content.GetString(),
                _ => null,
            }
            : null;

    /// <summary>Token ids without bos/eos/padding.</summary>
    public IReadOnlyList<int> Encode(string text)
    {
        var ids = new List<int>();
        int start = 0;
        for (int i = 0; i < text.Length;)
        {
            var special = specials.FirstOrDefault(s => string.CompareOrdinal(text, i, s.Text, 0, s.Text.Length) == 0);
            if (special.Text is null) { i++; continue; }
            if (i > start) ids.AddRange(bpe.EncodeHuggingFaceChunk(text[start..i]));
            ids.Add(special.Id);
            i += special.Text.Length;
            start = i;
        }
        if (start < text.Length) ids.AddRange(bpe.EncodeHuggingFaceChunk(text[start..]));
        return ids;
    }

    /// <summary>[bos] + ids (truncated to MaxLength − 2) + [eos], padded with the pad id to MaxLength.</summary>
    public long[] Tokenize(string text)
    {
        var ids = Encode(text);
        var result = Enumerable.Repeat((long)PadId, MaxLength).ToArray();
        int n = Math.Min(ids.Count, MaxLength - 2);
        result[0] = BosId;
        for (int i = 0; i < n; i++) result[i + 1] = ids[i];
        result[n + 1] = EosId;
        return result;
    }

    /// <summary>Token ids [N, MaxLength] int64.</summary>
    public Tensor TokenizeBatch(IReadOnlyList<string> texts)
    {
        var flat = new long[texts.Count * MaxLength];
        for (int i = 0; i < texts.Count; i++) Tokenize(texts[i]).CopyTo(flat, i * MaxLength);
        return tensor(flat, new long[] { texts.Count, MaxLength });
    }
}
