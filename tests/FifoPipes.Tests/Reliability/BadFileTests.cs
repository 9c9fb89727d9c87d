using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using FifoPipes.Abstractions;
using FifoPipes.Torch.Checkpoints;
using FifoPipes.Torch.Diffusers;
using FifoPipes.Torch.Text;
using FifoPipes.Tests.VideoCrafter;
using FifoPipes.Tests.Models;
using Xunit;

namespace FifoPipes.Tests.Reliability;

/// <summary>
/// Every file a user hands us may be truncated, empty, of another format, or built to hurt. Each reader must refuse
/// it with a <see cref="FifoInputException"/> that names the file, without executing anything and without allocating
/// memory in proportion to what the file merely claims.
/// </summary>
public sealed class BadFileTests : IDisposable
{
    /// <summary>Far above what any refusal needs, far below the gigabytes a trusted length field would ask for.</summary>
    const long AllocationBudget = 64L << 20;

    readonly string dir = Directory.CreateTempSubdirectory("fifo-bad-files-").FullName;
    public void Dispose() => Directory.Delete(dir, recursive: true);

    public sealed record BadFile(string Name, string FileName, Func<string, byte[]> Bytes, Action<string> Load, string ErrorId)
    {
        public override string ToString() => Name;
    }

    static readonly Action<string> SafetensorsLoad = p => SafetensorsFile.Load(p);
    static readonly Action<string> CheckpointOpen = p => TorchZipCheckpoint.Open(p).StateDict("state_dict");
    static readonly Action<string> OpenClipVocab = p => ClipTokenizer.FromOpenClipVocab(p);
    static readonly Action<string> SentencePiece = p => T5Tokenizer.Load(p);

    public static TheoryData<BadFile> Cases => new()
    {
        new("safetensors: empty", "empty.safetensors", _ => Array.Empty<byte>(), SafetensorsLoad, "CheckpointCorrupt"),
        new("safetensors: shorter than its length field", "short.safetensors", _ => new byte[5], SafetensorsLoad, "CheckpointCorrupt"),
        new("safetensors: header length of 2^62", "huge-header.safetensors", _ => Header(1L << 62, "{}"), SafetensorsLoad, "CheckpointCorrupt"),
        new("safetensors: header not JSON", "garbage.safetensors", _ => Header("not json at all"), SafetensorsLoad, "CheckpointCorrupt"),
        new("safetensors: header a JSON array", "array.safetensors", _ => Header("[1, 2, 3]"), SafetensorsLoad, "CheckpointCorrupt"),
        new("safetensors: entry not an object", "scalar-entry.safetensors", _ => Header("""{"w": 5}"""), SafetensorsLoad, "CheckpointCorrupt"),
        new("safetensors: unknown dtype", "dtype.safetensors", _ => Header("""{"w": {"dtype": "F8_E4M3", "shape": [1], "data_offsets": [0, 1]}}""", data: 1), SafetensorsLoad, "CheckpointCorrupt"),
        new("safetensors: shape whose size overflows", "overflow.safetensors", _ => Header("""{"w": {"dtype": "F32", "shape": [4611686018427387904, 8], "data_offsets": [0, 4]}}""", data: 4), SafetensorsLoad, "CheckpointCorrupt"),
        new("safetensors: offsets past the end", "past-end.safetensors", _ => Header("""{"w": {"dtype": "F32", "shape": [1073741824], "data_offsets": [0, 4294967296]}}""", data: 16), SafetensorsLoad, "CheckpointCorrupt"),
        new("safetensors: shape and offsets disagree", "mismatch.safetensors", _ => Header("""{"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}""", data: 8), SafetensorsLoad, "CheckpointCorrupt"),
        new("safetensors: a torch zip under a safetensors name", "zip.safetensors", d => File.ReadAllBytes(LightningCheckpointWriter.TinyCheckpoint), SafetensorsLoad, "CheckpointCorrupt"),
        new("checkpoint: empty", "empty.ckpt", _ => Array.Empty<byte>(), CheckpointOpen, "CheckpointCorrupt"),
        new("checkpoint: a safetensors file under a ckpt name", "st.ckpt", _ => Header("""{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}""", data: 4), CheckpointOpen, "CheckpointCorrupt"),
        new("checkpoint: truncated to a third", "third.ckpt", _ => File.ReadAllBytes(LightningCheckpointWriter.TinyCheckpoint)[..(int)(new FileInfo(LightningCheckpointWriter.TinyCheckpoint).Length / 3)], CheckpointOpen, "CheckpointCorrupt"),
        new("checkpoint: pickle string claiming 2 GiB", "long-string.ckpt", d => Zip(PickleString(int.MaxValue)), CheckpointOpen, "CheckpointCorrupt"),
        new("checkpoint: pickle importing builtins.eval", "eval.ckpt", d => Zip(Global("builtins", "eval")), CheckpointOpen, "CheckpointUnsafe"),
        new("checkpoint: pickle importing subprocess.Popen", "popen.ckpt", d => Zip(Global("subprocess", "Popen")), CheckpointOpen, "CheckpointUnsafe"),
        new("open_clip vocab: empty", "empty_vocab.txt.gz", _ => Array.Empty<byte>(), OpenClipVocab, "TokenizerCorrupt"),
        new("open_clip vocab: not gzip", "plain_vocab.txt.gz", _ => Encoding.UTF8.GetBytes("#version: 0.2\na b\n"), OpenClipVocab, "TokenizerCorrupt"),
        new("open_clip vocab: gzip of too few merges", "few_vocab.txt.gz", _ => Gzip("#version: 0.2\na b\nc d\n"), OpenClipVocab, "TokenizerCorrupt"),
        new("open_clip vocab: gzip bomb of one endless line", "bomb_vocab.txt.gz", _ => GzipZeros(256L << 20), OpenClipVocab, "TokenizerCorrupt"),
        new("spiece.model: empty", "empty-spiece.model", _ => Array.Empty<byte>(), SentencePiece, "TokenizerCorrupt"),
        new("spiece.model: text", "text-spiece.model", _ => Encoding.UTF8.GetBytes("this is not a protobuf"), SentencePiece, "TokenizerCorrupt"),
        new("spiece.model: random bytes", "random-spiece.model", _ => FakeHub.RandomBytes(4096, 7), SentencePiece, "TokenizerCorrupt"),
        new("diffusers config.json: not JSON", "config.json", _ => Encoding.UTF8.GetBytes("{ \"_class_name\": "), p => DiffusersConfig.Load(p), "DiffusersConfigInvalid"),
        new("FIFO snapshot: JSON array header", "array.snapshot", _ => Header("[]"), p => ResumeFrom(p), "SnapshotInvalid"),
        new("FIFO snapshot: not safetensors", "text.snapshot", _ => Encoding.UTF8.GetBytes("queue goes here"), p => ResumeFrom(p), "SnapshotInvalid"),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Is_refused_naming_the_file_without_absurd_allocation(BadFile bad)
    {
        var path = Path.Combine(dir, bad.FileName);
        File.WriteAllBytes(path, bad.Bytes(dir));

        long before = GC.GetAllocatedBytesForCurrentThread();
        var ex = Assert.Throws<FifoInputException>(() => bad.Load(path));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Contains(bad.FileName, ex.Message);
        Assert.Equal(bad.ErrorId, ex.ErrorId);
        Assert.True(allocated < AllocationBudget, $"{bad.Name}: refusing it allocated {allocated >> 20} MiB");
    }

    [Fact]
    public void Hugging_face_tokenizer_files_that_are_garbage_are_refused()
    {
        var vocab = Path.Combine(dir, "vocab.json");
        var merges = Path.Combine(dir, "merges.txt");
        File.WriteAllText(vocab, "[\"a list, not a map\"]");
        File.WriteAllText(merges, "#version: 0.2\na b\n");
        Assert.Contains("vocab.json", Assert.Throws<FifoInputException>(() => ClipTokenizer.FromHuggingFace(vocab, merges)).Message);

        File.WriteAllText(vocab, """{"<|startoftext|>": 0, "<|endoftext|>": 1}""");
        File.WriteAllText(merges, "#version: 0.2\nthree symbols here\n");
        Assert.Contains("merges.txt", Assert.Throws<FifoInputException>(() => ClipTokenizer.FromHuggingFace(vocab, merges)).Message);

        File.WriteAllBytes(merges, FakeHub.RandomBytes(2048, 7));
        Assert.Contains("merges.txt", Assert.Throws<FifoInputException>(() => ClipTokenizer.FromHuggingFace(vocab, merges)).Message);
    }

    [Fact]
    public void An_oversized_vocabulary_is_refused_before_it_is_read()
    {
        var vocab = Path.Combine(dir, "vocab.json");
        var merges = Path.Combine(dir, "merges.txt");
        using (var file = File.Create(vocab)) file.SetLength(TokenizerFiles.MaxBytes + 1);   // sparse: no disk, no time
        File.WriteAllText(merges, "#version: 0.2\na b\n");

        long before = GC.GetAllocatedBytesForCurrentThread();
        var ex = Assert.Throws<FifoInputException>(() => ClipTokenizer.FromHuggingFace(vocab, merges));
        Assert.Contains("vocab.json", ex.Message);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < AllocationBudget, "the whole file was read before it was refused");
    }

    static void ResumeFrom(string snapshot)
    {
        var model = FifoPipes.Tests.Sampling.DelegateVideoModel.Linear();
        var job = new SamplingJob
        {
            Model = model,
            Prompts = new[] { new PromptSpan("slow clouds", 4) },
            Noise = new FifoPipes.Core.KeyedNoise(1),
            ResumeFrom = snapshot,
        };
        _ = new FifoPipes.Samplers.Fifo.FifoSamplerFactory().Create(new FifoPipes.Samplers.Fifo.FifoOptions(), new PluginContext())
            .Sample(job, CancellationToken.None).First();
    }

    static byte[] Header(string json, int data = 0) => Header(Encoding.UTF8.GetByteCount(json), json, data);

    static byte[] Header(long declaredLength, string json, int data = 0)
    {
        var body = Encoding.UTF8.GetBytes(json);
        var bytes = new byte[8 + body.Length + data];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, declaredLength);
        body.CopyTo(bytes, 8);
        return bytes;
    }

    static byte[] Zip(byte[] pickle)
    {
        using var memory = new MemoryStream();
        using (var zip = new ZipArchive(memory, ZipArchiveMode.Create, leaveOpen: true)) LightningCheckpointWriter.AddPickle(zip, pickle);
        return memory.ToArray();
    }

    /// <summary>PROTO 2, BINUNICODE with the given length but only a few bytes behind it.</summary>
    static byte[] PickleString(int declaredLength)
    {
        var pickle = new List<byte> { 0x80, 0x02, (byte)'X' };
        pickle.AddRange(BitConverter.GetBytes(declaredLength));
        pickle.AddRange("abc"u8.ToArray());
        return pickle.ToArray();
    }

    /// <summary>PROTO 2, GLOBAL module name, EMPTY_TUPLE, REDUCE, STOP: a call the unpickler must refuse to make.</summary>
    static byte[] Global(string module, string name)
    {
        var pickle = new List<byte> { 0x80, 0x02, (byte)'c' };
        pickle.AddRange(Encoding.ASCII.GetBytes($"{module}\n{name}\n"));
        pickle.AddRange(new byte[] { (byte)')', (byte)'R', (byte)'.' });
        return pickle.ToArray();
    }

    static byte[] Gzip(string text)
    {
        using var memory = new MemoryStream();
        using (var gz = new GZipStream(memory, CompressionLevel.Fastest, leaveOpen: true)) gz.Write(Encoding.UTF8.GetBytes(text));
        return memory.ToArray();
    }

    /// <summary>A small file that inflates to <paramref name="inflated"/> bytes of 'a' with no line break.</summary>
    static byte[] GzipZeros(long inflated)
    {
        using var memory = new MemoryStream();
        using (var gz = new GZipStream(memory, CompressionLevel.Fastest, leaveOpen: true))
        {
            var block = Enumerable.Repeat((byte)'a', 1 << 20).ToArray();
            for (long written = 0; written < inflated; written += block.Length) gz.Write(block);
        }
        return memory.ToArray();
    }
}
