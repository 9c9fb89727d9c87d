using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using FifoPipes.Abstractions;
using static TorchSharp.torch;

namespace FifoPipes.Torch.Text;

/// <summary>
/// CLIP's byte-level BPE tokenizer as open_clip applies it: cleaned, lower-cased text, split by the
/// CLIP regex, each piece BPE-merged, framed by start/end-of-text and zero-padded to the context length.
/// </summary>
public sealed partial class ClipTokenizer
{
    /// <summary>CLIP's context: 77 tokens, start and end of text included.</summary>
    public const int DefaultContextLength = 77;
    /// <summary>Where users get the vocabulary when it is missing.</summary>
    public const string VocabHelp =
        "Get bpe_simple_vocab_16e6.txt.gz from open_clip (src/open_clip/bpe_simple_vocab_16e6.txt.gz in github.com/mlfoundations/open_clip), " +
        "or vocab.json + merges.txt from a CLIP/OpenCLIP tokenizer folder (e.g. the 'tokenizer' folder of a zeroscope or SD 2 model).";

    readonly Dictionary<string, int> encoder;
    readonly Dictionary<(string, string), int> ranks;
    readonly System.Collections.Concurrent.ConcurrentDictionary<string, int[]> cache = new(StringComparer.Ordinal);
    static readonly string[] ByteToUnicode = BuildByteToUnicode();
    // open_clip lists the printable bytes first, then the remapped ones (the order of its bytes_to_unicode dict).
    static readonly string[] ByteSymbolsInVocabOrder = ByteToUnicode.OrderBy(s => s[0]).ToArray();

    ClipTokenizer(Dictionary<string, int> encoder, Dictionary<(string, string), int> ranks, int sot, int eot, params string[] files)
    {
        this.encoder = encoder;
        this.ranks = ranks;
        StartOfText = sot;
        EndOfText = eot;
        Files = files.Select(Path.GetFullPath).ToArray();
    }

    /// <summary>The files it was read from: another vocabulary gives other embeddings, so model fingerprints include them.</summary>
    public IReadOnlyList<string> Files { get; }

    /// <summary>Id of the start-of-text token that opens every sequence (49406 in CLIP's vocabulary).</summary>
    public int StartOfText { get; }
    /// <summary>Id of the end-of-text token after the prompt (49407 in CLIP's vocabulary); a truncated prompt ends with it too.</summary>
    public int EndOfText { get; }
    /// <summary>Tokens in the vocabulary (49408 for CLIP); the text encoder's embedding needs a row for each.</summary>
    public int VocabSize => encoder.Count;

    /// <summary>open_clip's layout: one gzip'd merges file; the vocabulary is derived from it.</summary>
    public static ClipTokenizer FromOpenClipVocab(string bpeGzPath)
    {
        RequireFile(bpeGzPath);
        // open_clip keeps merges 1 .. 49152-256-2 (the first line is a version header).
        const int mergeCount = 49152 - 256 - 2;
        List<string> lines;
        try
        {
            using var gz = new GZipStream(File.OpenRead(bpeGzPath), CompressionMode.Decompress);
            using var reader = new StreamReader(gz, Encoding.UTF8);
            // Only the lines used are read, each of bounded length: a gzip bomb cannot make us inflate it all.
            lines = ReadBoundedLines(reader, mergeCount + 1, bpeGzPath);
            DrainToCrc(gz, bpeGzPath);
        }
        catch (InvalidDataException ex)
        {
            throw new FifoInputException("TokenizerCorrupt", $"'{bpeGzPath}' is not a gzip'd BPE merges file ({ex.Message}). {VocabHelp}", ex);
        }
        if (lines.Count < mergeCount + 1)
            throw new FifoInputException("TokenizerCorrupt", $"'{bpeGzPath}' has {Math.Max(0, lines.Count - 1)} merges, open_clip's vocabulary has at least {mergeCount}. {VocabHelp}");
        var merges = lines.Skip(1).Take(mergeCount).Select(l => ParseMerge(l, bpeGzPath)).ToList();

        var vocab = new List<string>(ByteSymbolsInVocabOrder);
        vocab.AddRange(ByteSymbolsInVocabOrder.Select(v => v + "</w>"));
        vocab.AddRange(merges.Select(m => m.Item1 + m.Item2));
        vocab.Add("<start_of_text>");
        vocab.Add("<end_of_text>");
        var encoder = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < vocab.Count; i++) encoder[vocab[i]] = i;
        return new ClipTokenizer(encoder, Ranks(merges), encoder["<start_of_text>"], encoder["<end_of_text>"], bpeGzPath);
    }

    /// <summary>Hugging Face's layout (CLIPTokenizer): vocab.json and merges.txt in one folder.</summary>
    public static ClipTokenizer FromHuggingFace(string vocabJsonPath, string mergesPath)
    {
        RequireFile(vocabJsonPath);
        RequireFile(mergesPath);
        TokenizerFiles.RefuseHuge(vocabJsonPath, "a CLIP vocabulary", VocabHelp);
        TokenizerFiles.RefuseHuge(mergesPath, "a BPE merges file", VocabHelp);
        Dictionary<string, int> encoder;
        try
        {
            encoder = JsonSerializer.Deserialize<Dictionary<string, int>>(File.ReadAllText(vocabJsonPath))
                ?? throw new JsonException("empty");
        }
        catch (JsonException ex)
        {
            throw new FifoInputException("TokenizerCorrupt", $"'{vocabJsonPath}' is not a token-to-id JSON object ({ex.Message}). {VocabHelp}", ex);
        }
        RequireDenseIds(encoder, vocabJsonPath);
        List<string> mergeLines;
        using (var reader = new StreamReader(mergesPath, Encoding.UTF8)) mergeLines = ReadBoundedLines(reader, int.MaxValue, mergesPath);
        var merges = mergeLines
            .Where(l => !l.StartsWith("#version", StringComparison.Ordinal) && l.Length > 0)
            .Select(l => ParseMerge(l, mergesPath)).ToList();
        int sot = encoder.TryGetValue("<|startoftext|>", out var s) ? s
            : throw new FifoInputException("TokenizerCorrupt", $"'{vocabJsonPath}' has no <|startoftext|> token, so it is not a CLIP vocabulary. {VocabHelp}");
        int eot = encoder.TryGetValue("<|endoftext|>", out var e) ? e
            : throw new FifoInputException("TokenizerCorrupt", $"'{vocabJsonPath}' has no <|endoftext|> token, so it is not a CLIP vocabulary. {VocabHelp}");
        return new ClipTokenizer(new Dictionary<string, int>(encoder, StringComparer.Ordinal), Ranks(merges), sot, eot, vocabJsonPath, mergesPath);
    }

    /// <summary>
    /// Ids must number the tokens 0 to count − 1, each once: the text encoder's embedding has a row per token, so an id past
    /// the count fails only at the first prompt (deep in libtorch), and two tokens sharing an id encode different text alike.
    /// </summary>
    static void RequireDenseIds(Dictionary<string, int> encoder, string path)
    {
        var owner = new string?[encoder.Count];
        foreach (var (token, id) in encoder)
        {
            if (id < 0 || id >= owner.Length)
                throw new FifoInputException("TokenizerCorrupt", $"'{path}' gives '{token}' id {id}, outside 0 to {owner.Length - 1} for its {owner.Length} tokens. {VocabHelp}");
            if (owner[id] is { } other)
                throw new FifoInputException("TokenizerCorrupt", $"'{path}' gives id {id} to both '{other}' and '{token}'. {VocabHelp}");
            owner[id] = token;
        }
    }

    /// <summary>
    /// Loads from a file or folder: a .txt.gz merges file (open_clip), or a folder holding
    /// vocab.json + merges.txt or bpe_simple_vocab_16e6.txt.gz.
    /// </summary>
    public static ClipTokenizer Load(string path)
    {
        if (Directory.Exists(path))
        {
            var gz = Path.Combine(path, "bpe_simple_vocab_16e6.txt.gz");
            if (File.Exists(gz)) return FromOpenClipVocab(gz);
            var vocab = Path.Combine(path, "vocab.json");
            if (File.Exists(vocab)) return FromHuggingFace(vocab, Path.Combine(path, "merges.txt"));
            throw new FifoInputException("TokenizerNotFound",
                $"Tokenizer folder '{path}' holds neither bpe_simple_vocab_16e6.txt.gz nor vocab.json + merges.txt. {VocabHelp}");
        }
        if (path.EndsWith("vocab.json", StringComparison.OrdinalIgnoreCase))
            return FromHuggingFace(path, Path.Combine(Path.GetDirectoryName(path) ?? ".", "merges.txt"));
        return FromOpenClipVocab(path);
    }

    /// <summary>A merge line is two short symbols; a longer line means the file is something else.</summary>
    const int MaxLineChars = 1024;

    /// <summary>
    /// At most <paramref name="maxLines"/> lines of at most <see cref="MaxLineChars"/> characters, so what is read stays
    /// bounded even when the stream is not (a gzip bomb); a plain file's total is bounded by its size check.
    /// </summary>
    static List<string> ReadBoundedLines(TextReader reader, int maxLines, string path)
    {
        var lines = new List<string>();
        var line = new StringBuilder();
        int c;
        while (lines.Count < maxLines && (c = reader.Read()) >= 0)
        {
            if (c == '\n') { lines.Add(line.ToString()); line.Clear(); continue; }
            if (line.Length == MaxLineChars)
                throw new FifoInputException("TokenizerCorrupt", $"'{path}' has a line {lines.Count + 1} longer than {MaxLineChars} characters, so it is not a BPE merges file. {VocabHelp}");
            line.Append((char)c);
        }
        if (line.Length > 0 && lines.Count < maxLines) lines.Add(line.ToString());
        return lines;
    }

    /// <summary>
    /// Inflates the rest of the file (about 3 MiB in open_clip's; at most <see cref="TokenizerFiles.MaxBytes"/> bytes),
    /// unused: gzip checks its CRC only at the end, so without this a flipped bit among the merges read would go unnoticed.
    /// </summary>
    static void DrainToCrc(GZipStream gz, string path)
    {
        // Bytes from the gzip stream itself, past what the reader buffered: decoding the unused text as UTF-8 too cost
        // as much as the whole load did without it.
        var buffer = new byte[1 << 16];
        long left = TokenizerFiles.MaxBytes;
        try
        {
            for (int n; (n = gz.Read(buffer)) > 0;)
                if ((left -= n) < 0)
                    throw new FifoInputException("TokenizerCorrupt", $"'{path}' inflates to more than {TokenizerFiles.MaxBytes >> 20} MiB; open_clip's vocabulary is about 3 MiB. {VocabHelp}");
        }
        catch (InvalidDataException ex)
        {
            // .NET words a CRC mismatch, too, as an "unsupported compression method".
            throw new FifoInputException("TokenizerCorrupt", $"'{path}' is damaged: its gzip data does not inflate or does not match its checksum ({ex.Message}). {VocabHelp}", ex);
        }
    }

    static void RequireFile(string path)
    {
        if (!File.Exists(path))
            throw new FifoInputException("TokenizerNotFound", $"Tokenizer file '{path}' does not exist. {VocabHelp}");
    }

    static (string, string) ParseMerge(string line, string path)
    {
        var parts = line.TrimEnd('\r').Split(' ');
        if (parts.Length != 2)
            throw new FifoInputException("TokenizerCorrupt", $"'{path}' has a malformed merge line '{line}' (expected two symbols). {VocabHelp}");
        return (parts[0], parts[1]);
    }

    static Dictionary<(string, string), int> Ranks(List<(string, string)> merges)
    {
        var ranks = new Dictionary<(string, string), int>(merges.Count);
        for (int i = 0; i < merges.Count; i++) ranks.TryAdd(merges[i], i);
        return ranks;
    }

    /// <summary>BPE ids of the cleaned text, without start/end tokens.</summary>
    public IReadOnlyList<int> Encode(string text)
    {
        var ids = new List<int>();
        foreach (Match m in Pieces().Matches(ClipTextCleaner.Clean(text)))
        {
            switch (m.Value)
            {
                // open_clip's split regex keeps these literals whole and its encoder maps them to the special ids.
                case "<start_of_text>": ids.Add(StartOfText); continue;
                case "<end_of_text>": ids.Add(EndOfText); continue;
            }
            var sb = new StringBuilder();
            foreach (var b in Encoding.UTF8.GetBytes(m.Value)) sb.Append(ByteToUnicode[b]);
            ids.AddRange(Bpe(sb.ToString()));
        }
        return ids;
    }

    /// <summary>open_clip.tokenize: [SOT] + ids + [EOT], zero-padded; too long is cut and ends with EOT.</summary>
    public long[] Tokenize(string text, int contextLength = DefaultContextLength)
    {
        var result = new long[contextLength];
        var ids = Encode(text);
        int n = Math.Min(ids.Count + 2, contextLength);
        result[0] = StartOfText;
        for (int i = 1; i < n; i++) result[i] = i - 1 < ids.Count ? ids[i - 1] : EndOfText;
        result[n - 1] = EndOfText;
        return result;
    }

    /// <summary>Token ids [N, contextLength] int64 for a batch of prompts.</summary>
    public Tensor TokenizeBatch(IReadOnlyList<string> texts, int contextLength = DefaultContextLength)
    {
        var flat = new long[texts.Count * contextLength];
        for (int i = 0; i < texts.Count; i++) Tokenize(texts[i], contextLength).CopyTo(flat, i * contextLength);
        return tensor(flat, new long[] { texts.Count, contextLength });
    }

    int[] Bpe(string token)
    {
        if (cache.TryGetValue(token, out var cached)) return cached;
        // Symbols are whole strings (byte characters); the last one carries the end-of-word marker.
        var word = new List<string>(token.Length);
        foreach (var c in token) word.Add(c.ToString());
        word[^1] += "</w>";
        while (word.Count > 1)
        {
            int best = -1, bestRank = int.MaxValue;
            for (int i = 0; i < word.Count - 1; i++)
            {
                if (ranks.TryGetValue((word[i], word[i + 1]), out int r) && r < bestRank) { bestRank = r; best = i; }
            }
            if (best < 0) break;
            var (first, second) = (word[best], word[best + 1]);
            // Merge every occurrence of the best pair, left to right, as the reference does.
            var merged = new List<string>(word.Count);
            for (int i = 0; i < word.Count;)
            {
                if (i < word.Count - 1 && word[i] == first && word[i + 1] == second) { merged.Add(first + second); i += 2; }
                else { merged.Add(word[i]); i++; }
            }
            word = merged;
        }
        var ids = word.Select(s => encoder.TryGetValue(s, out int id) ? id
            : throw new FifoInputException("TokenizerCorrupt", $"BPE symbol '{s}' is not in the vocabulary; vocab and merges files do not belong together. {VocabHelp}")).ToArray();
        cache[token] = ids;
        return ids;
    }

    static string[] BuildByteToUnicode()
    {
        var printable = Enumerable.Range('!', '~' - '!' + 1).Concat(Enumerable.Range('¡', '¬' - '¡' + 1)).Concat(Enumerable.Range('®', 'ÿ' - '®' + 1)).ToHashSet();
        var map = new string[256];
        int next = 0;
        for (int b = 0; b < 256; b++)
            map[b] = ((char)(printable.Contains(b) ? b : 256 + next++)).ToString();
        return map;
    }

    [GeneratedRegex(@"<start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+", RegexOptions.IgnoreCase)]
    private static partial Regex Pieces();
}
