using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using FifoPipes.Abstractions;
using FifoPipes.Tests.Parity;
using FifoPipes.Torch.Text;
using Xunit;

namespace FifoPipes.Tests.Reliability;

/// <summary>
/// Tokenizer files damaged in ways that once loaded and failed later (or never): each is refused at load as
/// "TokenizerCorrupt", naming the file, instead of an InvalidOperation, IndexOutOfRange or libtorch error at the first prompt.
/// </summary>
public sealed class TokenizerCorruptionTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("fifo-tok-corrupt-").FullName;
    public void Dispose() => Directory.Delete(dir, recursive: true);

    static string TinyTokenizer => Path.Combine(ParityCase.Load("zeroscope/diffusers_folder").File("model"), "tokenizer");
    static string SpieceModel => ParityCase.Load("opensora/spm_tokenize").File("spiece.model");
    static string OpenClipVocab => Path.Combine(ParityCase.Root, "..", "vocab", "bpe_simple_vocab_16e6.txt.gz");

    /// <summary>A writable copy of the tiny zeroscope tokenizer folder, with <paramref name="file"/> rewritten by <paramref name="edit"/>.</summary>
    string TokenizerWith(string file, Func<string, string> edit)
    {
        var copy = Directory.CreateDirectory(Path.Combine(dir, "tokenizer")).FullName;
        foreach (var f in Directory.GetFiles(TinyTokenizer)) File.WriteAllBytes(Path.Combine(copy, Path.GetFileName(f)), File.ReadAllBytes(f));
        var path = Path.Combine(copy, file);
        File.WriteAllText(path, edit(File.ReadAllText(path)));
        return copy;
    }

    static FifoInputException Refused(Action load, params string[] words)
    {
        var ex = Assert.Throws<FifoInputException>(load);
        Assert.Equal("TokenizerCorrupt", ex.ErrorId);
        foreach (var word in words) Assert.Contains(word, ex.Message);
        return ex;
    }

    [Theory]
    [InlineData("[]", "array")]
    [InlineData("null", "null")]
    [InlineData("\"x\"", "string")]
    public void A_tokenizer_config_that_is_not_an_object_is_refused(string json, string kind)
    {
        var folder = TokenizerWith("tokenizer_config.json", _ => json);
        Refused(() => HfClipTokenizer.Load(folder), Path.Combine(folder, "tokenizer_config.json"), $"JSON {kind}", "not the object");
    }

    [Theory]
    [InlineData("vocab.json")]
    [InlineData("merges.txt")]
    public void A_model_tokenizer_folder_missing_a_file_asks_for_the_models_own_folder_again(string file)
    {
        // Not open_clip's vocabulary file, which a diffusers model does not use.
        var folder = TokenizerWith("tokenizer_config.json", text => text);
        File.Delete(Path.Combine(folder, file));
        var ex = Assert.Throws<FifoInputException>(() => HfClipTokenizer.Load(folder));
        Assert.Equal("TokenizerNotFound", ex.ErrorId);
        Assert.Contains($"Tokenizer folder '{folder}' has no {file}; download the model's tokenizer/ folder again", ex.Message);
        Assert.DoesNotContain("bpe_simple_vocab", ex.Message);
    }

    [Fact]
    public void A_special_tokens_map_that_is_not_an_object_is_refused()
    {
        var folder = TokenizerWith("special_tokens_map.json", _ => "[]");
        Refused(() => HfClipTokenizer.Load(folder), Path.Combine(folder, "special_tokens_map.json"), "not the object");
    }

    [Theory]
    [InlineData(1000)]
    [InlineData(-1000)]
    public void Vocabulary_ids_beyond_its_token_count_are_refused(int shift)
    {
        var folder = TokenizerWith("vocab.json", v => Regex.Replace(v, @": (\d+)", m => ": " + (int.Parse(m.Groups[1].Value) + shift)));
        Refused(() => HfClipTokenizer.Load(folder), Path.Combine(folder, "vocab.json"), "outside 0 to 692");
    }

    [Fact]
    public void Two_tokens_sharing_an_id_are_refused()
    {
        var folder = TokenizerWith("vocab.json", v => Regex.Replace(v, @": (\d+)", ": 0"));
        Refused(() => HfClipTokenizer.Load(folder), Path.Combine(folder, "vocab.json"), "id 0 to both");
    }

    [Fact]
    public void A_special_token_missing_from_the_vocabulary_names_the_files()
    {
        var folder = TokenizerWith("special_tokens_map.json", m => { var o = JsonNode.Parse(m)!.AsObject(); o["pad_token"] = "<pad>"; return o.ToJsonString(); });
        Refused(() => HfClipTokenizer.Load(folder), "pad token '<pad>'", Path.Combine(folder, "vocab.json"), "special_tokens_map.json");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(-5)]
    public void A_model_max_length_without_room_for_start_and_end_names_the_config(int maxLength)
    {
        var folder = TokenizerWith("tokenizer_config.json", c => { var o = JsonNode.Parse(c)!.AsObject(); o["model_max_length"] = maxLength; return o.ToJsonString(); });
        Refused(() => HfClipTokenizer.Load(folder), Path.Combine(folder, "tokenizer_config.json"), $"model_max_length {maxLength}");
    }

    public static TheoryData<string, byte[]> LengthsPastTheEnd => new()
    {
        { "pieces of 2^31 - 1 bytes", [0x0a, 0xff, 0xff, 0xff, 0xff, 0x07, .. new byte[16]] },
        { "pieces of 2^31 bytes", [0x0a, 0x80, 0x80, 0x80, 0x80, 0x08, .. new byte[16]] },
        { "pieces of 2^63 bytes", [0x0a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, .. new byte[16]] },
        { "trainer_spec of 2^31 - 1 bytes", [0x12, 0xff, 0xff, 0xff, 0xff, 0x07, .. new byte[16]] },
        { "a field of 2^31 - 1 bytes inside trainer_spec", [0x12, 0x07, 0x0a, 0xff, 0xff, 0xff, 0xff, 0x07, 0x00] },
    };

    [Theory]
    [MemberData(nameof(LengthsPastTheEnd))]
    public void A_sentencepiece_field_longer_than_the_file_is_refused(string what, byte[] model)
    {
        var path = Path.Combine(dir, what.Replace(' ', '-') + ".model");
        File.WriteAllBytes(path, model);
        Refused(() => T5Tokenizer.Load(path), path, "runs past the end");
    }

    [Fact]
    public void A_damaged_normalizer_is_refused_at_load_not_at_the_first_prompt()
    {
        var model = File.ReadAllBytes(SpieceModel);
        // Inside normalizer_spec's precompiled character map: it loads, then fails on "🙂" deep in Microsoft.ML.Tokenizers.
        Assert.Equal(0xb4, model[13865]);
        model[13865] = 0x00;
        var path = Path.Combine(dir, "spiece.model");
        File.WriteAllBytes(path, model);
        Refused(() => T5Tokenizer.Load(path), path, "not a usable SentencePiece model");
    }

    [Fact]
    public void An_open_clip_vocabulary_whose_gzip_checksum_fails_is_refused()
    {
        var gz = File.ReadAllBytes(OpenClipVocab);
        gz[^6] ^= 0x10;   // in the trailer's CRC-32: only reading to the end notices
        var path = Path.Combine(dir, "bpe_simple_vocab_16e6.txt.gz");
        File.WriteAllBytes(path, gz);
        Refused(() => ClipTokenizer.FromOpenClipVocab(path), path, "checksum");
    }
}
