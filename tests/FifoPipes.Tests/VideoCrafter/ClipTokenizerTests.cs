using System.IO.Compression;
using System.Text.Json;
using FifoPipes.Abstractions;
using FifoPipes.Tests.Parity;
using FifoPipes.Torch.Text;
using Xunit;

namespace FifoPipes.Tests.VideoCrafter;

public sealed class ClipTokenizerTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("fifo-tok-").FullName;
    public void Dispose() => Directory.Delete(dir, recursive: true);

    static string OpenClipVocab => Path.Combine(ParityCase.Root, "..", "vocab", "bpe_simple_vocab_16e6.txt.gz");
    static readonly Lazy<ClipTokenizer> Shared = new(() => ClipTokenizer.FromOpenClipVocab(OpenClipVocab));

    [Fact]
    public void A_missing_vocabulary_names_the_file_and_where_to_get_it()
    {
        var path = Path.Combine(dir, "bpe_simple_vocab_16e6.txt.gz");
        var ex = Assert.Throws<FifoInputException>(() => ClipTokenizer.Load(path));
        Assert.Equal("TokenizerNotFound", ex.ErrorId);
        Assert.Contains(path, ex.Message);
        Assert.Contains("open_clip", ex.Message);
    }

    [Fact]
    public void A_folder_without_tokenizer_files_is_explained()
    {
        var ex = Assert.Throws<FifoInputException>(() => ClipTokenizer.Load(dir));
        Assert.Equal("TokenizerNotFound", ex.ErrorId);
        Assert.Contains("vocab.json", ex.Message);
    }

    [Fact]
    public void A_hugging_face_vocab_without_merges_names_merges_txt()
    {
        File.WriteAllText(Path.Combine(dir, "vocab.json"), "{}");
        var ex = Assert.Throws<FifoInputException>(() => ClipTokenizer.Load(dir));
        Assert.Contains("merges.txt", ex.Message);
    }

    [Fact]
    public void Frames_with_start_and_end_and_pads_with_zeros()
    {
        var ids = Shared.Value.Tokenize("a cat");
        Assert.Equal(77, ids.Length);
        Assert.Equal(49406, ids[0]);
        Assert.Equal(49407, ids[3]);
        Assert.All(ids[4..], id => Assert.Equal(0, id));
    }

    [Fact]
    public void Truncation_keeps_77_tokens_and_ends_with_end_of_text()
    {
        var ids = Shared.Value.Tokenize(string.Join(" ", Enumerable.Repeat("cat", 200)));
        Assert.Equal(77, ids.Length);
        Assert.Equal(49407, ids[76]);
        Assert.Equal(ids[1], ids[75]);
    }

    [Fact]
    public void The_hugging_face_layout_tokenizes_like_open_clip()
    {
        // Rebuild SD2/zeroscope-style vocab.json + merges.txt from open_clip's file (same merges, <|...|> specials).
        string[] lines;
        using (var gz = new GZipStream(File.OpenRead(OpenClipVocab), CompressionMode.Decompress))
        using (var reader = new StreamReader(gz)) lines = reader.ReadToEnd().Split('\n');
        var merges = lines.Skip(1).Take(49152 - 256 - 2).ToList();
        var reference = Shared.Value;
        var vocab = new Dictionary<string, int>();
        // open_clip's ids are: 256 byte symbols, the same with </w>, merges, then the two specials.
        var order = Enumerable.Range(0, 256).Select(b => ByteSymbol(b)).OrderBy(s => s[0]).ToList();
        for (int i = 0; i < 256; i++) { vocab[order[i]] = i; vocab[order[i] + "</w>"] = 256 + i; }
        for (int i = 0; i < merges.Count; i++) vocab.TryAdd(merges[i].Replace(" ", ""), 512 + i);
        vocab["<|startoftext|>"] = 49406;
        vocab["<|endoftext|>"] = 49407;
        File.WriteAllText(Path.Combine(dir, "vocab.json"), JsonSerializer.Serialize(vocab));
        File.WriteAllLines(Path.Combine(dir, "merges.txt"), merges.Prepend("#version: 0.2"));

        var hf = ClipTokenizer.Load(dir);
        foreach (var prompt in new[] { "a corgi running on the beach at sunset, cinematic", "Tom &amp; Jerry 1990s", "东京 naïve café 👍🏽", "" })
            Assert.Equal(reference.Tokenize(prompt), hf.Tokenize(prompt));
    }

    static string ByteSymbol(int b)
    {
        bool printable = (b >= '!' && b <= '~') || (b >= '¡' && b <= '¬') || (b >= '®' && b <= 'ÿ');
        if (printable) return ((char)b).ToString();
        int n = Enumerable.Range(0, b).Count(x => !((x >= '!' && x <= '~') || (x >= '¡' && x <= '¬') || (x >= '®' && x <= 'ÿ')));
        return ((char)(256 + n)).ToString();
    }
}
