using System.Buffers.Binary;
using System.IO.Compression;
using System.Numerics;
using System.Text;
using FifoPipes.Abstractions;
using FifoPipes.Tests.PowerShell;
using FifoPipes.Torch.Checkpoints;
using Xunit;
using static TorchSharp.torch;

namespace FifoPipes.Tests.Reliability;

/// <summary>
/// Torch zip checkpoints that are damaged or built to hurt (found by fuzzing the reader and the converter): each is
/// refused with a <see cref="FifoInputException"/> that names the file and says what is wrong, never with an index,
/// overflow, argument or libtorch exception, a stack overflow, a hang, or an allocation the file merely asked for.
/// </summary>
[Collection("PowerShell")]
public sealed class TorchZipCorruptionTests : IDisposable
{
    /// <summary>Far above what any refusal needs, far below the hundreds of megabytes a lying length asks for.</summary>
    const long AllocationBudget = 64L << 20;

    readonly string dir = Directory.CreateTempSubdirectory("fifo-torchzip-").FullName;
    public void Dispose() => Directory.Delete(dir, recursive: true);

    /// <summary>One tensor of a state dict: a storage record and the view on it.</summary>
    sealed record Spec(string Name, long Numel, long[] Shape, long[] Stride, long Offset = 0, string Storage = "FloatStorage");

    static readonly Spec Plain = new("w", 6, new long[] { 2, 3 }, new long[] { 3, 1 });
    static readonly byte[] SixFloats = Enumerable.Range(0, 24).Select(i => (byte)(i * 5)).ToArray();

    /// <summary>
    /// torch.save's data.pkl for {"state_dict": OrderedDict(name: tensor), "epoch": 0}, storage i for tensor i. With
    /// <paramref name="long1"/> every int is LONG1, as Python writes those beyond int32 (a numel or a stride of 2^31 and up).
    /// </summary>
    static byte[] Pickle(IEnumerable<Spec> tensors, bool long1 = false)
    {
        var p = new MemoryStream();
        void Op(params byte[] ops) => p.Write(ops);
        void Str(string s) { var b = Encoding.UTF8.GetBytes(s); Op((byte)'X'); p.Write(BitConverter.GetBytes(b.Length)); p.Write(b); }
        void Int(long v)
        {
            if (!long1 && v is >= int.MinValue and <= int.MaxValue) { Op((byte)'J'); p.Write(BitConverter.GetBytes((int)v)); }
            else { Op(0x8a, 8); p.Write(BitConverter.GetBytes(v)); }
        }
        void Ints(long[] vs) { Op((byte)'('); foreach (var v in vs) Int(v); Op((byte)'t'); }
        void Global(string module, string name) => p.Write(Encoding.ASCII.GetBytes($"c{module}\n{name}\n"));
        void OrderedDict() { Global("collections", "OrderedDict"); Op((byte)')', (byte)'R'); }

        Op(0x80, 2, (byte)'}');
        Str("state_dict");
        OrderedDict();
        Op((byte)'(');
        int key = 0;
        foreach (var t in tensors)
        {
            Str(t.Name);
            Global("torch._utils", "_rebuild_tensor_v2");
            Op((byte)'(', (byte)'(');
            Str("storage");
            Global("torch", t.Storage);
            Str((key++).ToString());
            Str("cpu");
            Int(t.Numel);
            Op((byte)'t', (byte)'Q');
            Int(t.Offset);
            Ints(t.Shape);
            Ints(t.Stride);
            Op(0x89);
            OrderedDict();
            Op((byte)'t', (byte)'R');
        }
        Op((byte)'u', (byte)'s');
        Str("epoch");
        Int(0);
        Op((byte)'s', (byte)'.');
        return p.ToArray();
    }

    /// <summary>A stored (uncompressed) torch zip: data.pkl, the storages as archive/data/&lt;key&gt;, the version, then <paramref name="extra"/> records.</summary>
    static byte[] Zip(byte[] pickle, byte[][] storages, params (string Name, byte[] Data)[] extra)
    {
        using var memory = new MemoryStream();
        using (var zip = new ZipArchive(memory, ZipArchiveMode.Create, leaveOpen: true))
        {
            void Add(string name, byte[] data) { using var s = zip.CreateEntry(name, CompressionLevel.NoCompression).Open(); s.Write(data); }
            Add("archive/data.pkl", pickle);
            for (int i = 0; i < storages.Length; i++) Add($"archive/data/{i}", storages[i]);
            Add("archive/version", "3\n"u8.ToArray());
            foreach (var (name, data) in extra) Add(name, data);
        }
        return memory.ToArray();
    }

    static byte[] OneTensor(Spec spec, bool long1 = false) => Zip(Pickle(new[] { spec }, long1), new[] { SixFloats });

    /// <summary>PROTO 2, <paramref name="id"/> (opcodes that leave one object), BINPERSID, STOP.</summary>
    static byte[] PersistentId(IEnumerable<byte> id) => Zip(new byte[] { 0x80, 2 }.Concat(id).Concat(new[] { (byte)'Q', (byte)'.' }).ToArray(), Array.Empty<byte[]>());

    string Write(string name, byte[] bytes)
    {
        var path = Path.Combine(dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    static FifoInputException Refused(Action load) => Assert.Throws<FifoInputException>(load);

    static void ReadAll(string path)
    {
        using var checkpoint = TorchZipCheckpoint.Open(path);
        foreach (var (_, tensor) in checkpoint.Stream(null, null, "state_dict")) tensor.Dispose();
    }

    static void AssertCorrupt(FifoInputException ex, string file, params string[] words)
    {
        Assert.Equal("CheckpointCorrupt", ex.ErrorId);
        foreach (var word in words.Prepend(file)) Assert.True(ex.Message.Contains(word), $"'{word}' is not in: {ex.Message}");
    }

    // ------------------------------------------------------------------ the persistent id's description

    [Fact]
    public void A_deeply_nested_persistent_id_is_described_in_a_few_hundred_characters()
    {
        // 10,000 one-tuples deep: printed in full it was ~20,000 characters built in quadratic time, and at 60,000 the
        // recursion overflowed the stack and took the process with it.
        var path = Write("deep.ckpt", PersistentId(new[] { (byte)')' }.Concat(Enumerable.Repeat((byte)0x85, 10_000))));

        var ex = Refused(() => TorchZipCheckpoint.Open(path).Dispose());

        AssertCorrupt(ex, "deep.ckpt", "unsupported persistent id ((((((((", "...");
        Assert.True(ex.Message.Length < path.Length + 400, $"the message is {ex.Message.Length} characters");
    }

    [Fact]
    public void A_persistent_id_of_shared_tuples_is_described_without_expanding_them()
    {
        // Each level is a pair of the level below, shared through the memo: 20 levels are 2^20 leaves when printed.
        var id = new List<byte> { (byte)')', 0x94 };
        for (byte level = 0; level < 20; level++) id.AddRange(new byte[] { (byte)'h', level, (byte)'h', level, 0x86, 0x94 });
        var path = Write("dag.ckpt", PersistentId(id));

        var ex = Refused(() => TorchZipCheckpoint.Open(path).Dispose());

        AssertCorrupt(ex, "dag.ckpt", "unsupported persistent id ((((((((", "(...)");
        Assert.True(ex.Message.Length < path.Length + 400, $"the message is {ex.Message.Length} characters");
    }

    // ------------------------------------------------------------------ LONG1 integers

    [Fact]
    public void Long1_integers_that_fit_are_longs()
    {
        // LONG1 5 bytes 00 00 00 80 00 = 2^31, the smallest numel Python writes as LONG1; then 2^64, which is no long.
        var pickle = new byte[] { 0x80, 2, (byte)'(', 0x8a, 5, 0, 0, 0, 0x80, 0, 0x8a, 1, 0xff, 0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0, 1, (byte)'t', (byte)'.' };
        var root = new RestrictedUnpickler(pickle, "long1.pkl", _ => false, (_, _) => null, _ => null).Load();

        var items = Assert.IsType<PickleTuple>(root).Items;
        Assert.Equal(2147483648L, Assert.IsType<long>(items[0]));
        Assert.Equal(-1L, Assert.IsType<long>(items[1]));
        Assert.Equal(BigInteger.One << 64, Assert.IsType<BigInteger>(items[2]));
    }

    [Fact]
    public void A_checkpoint_whose_ints_are_long1_loads_like_one_with_small_ints()
    {
        var spec = Plain with { Numel = 6, Shape = new long[] { 3 }, Stride = new long[] { 2 }, Offset = 1 };
        using var plain = TorchZipCheckpoint.Open(Write("int.ckpt", OneTensor(spec)));
        using var long1 = TorchZipCheckpoint.Open(Write("long1.ckpt", OneTensor(spec, long1: true)));

        var (name, reference) = Assert.Single(long1.StateDict("state_dict"));
        Assert.Equal("w", name);
        Assert.Equal(new long[] { 3 }, reference.Shape);
        using var expected = plain.Read(plain.StateDict("state_dict")[0].Value);
        using var actual = long1.Read(reference);
        Assert.True(expected.eq(actual).all().item<bool>());
    }

    // ------------------------------------------------------------------ views

    public static TheoryData<string, long[], long[], string> DamagedViews => new()
    {
        { "more sizes than strides", new long[] { 2, 3 }, new long[] { 1 }, "with 2 sizes [2, 3] but 1 stride [1]" },
        { "more strides than sizes", new long[] { 6 }, new long[] { 1, 1 }, "with 1 size [6] but 2 strides [1, 1]" },
        { "a negative size", new long[] { -1 }, new long[] { 1 }, " [-1] with strides [1] at offset 0, with a negative size" },
        { "two negative sizes, a positive product", new long[] { -2, -3 }, new long[] { 3, 1 }, " [-2, -3] with strides [3, 1] at offset 0, with a negative size" },
        { "a negative stride", new long[] { 2, 3 }, new long[] { -3, 1 }, " [2, 3] with strides [-3, 1] at offset 0, with a negative size, stride or offset" },
        { "the last element's index wraps", new long[] { int.MaxValue, int.MaxValue, int.MaxValue }, new long[] { int.MaxValue, int.MaxValue, int.MaxValue },
            " [2147483647, 2147483647, 2147483647] with strides [2147483647, 2147483647, 2147483647] at offset 0, whose elements or bytes overflow a 64-bit count" },
        { "the element count wraps", new long[] { int.MaxValue, int.MaxValue, int.MaxValue, int.MaxValue }, new long[] { 0, 0, 0, 0 }, "overflow a 64-bit count" },
        { "the byte count wraps", new long[] { int.MaxValue, int.MaxValue }, new long[] { 0, 0 }, "overflow a 64-bit count" },
        { "a view past its storage", new long[] { 3, 3 }, new long[] { 3, 1 }, " [3, 3] with strides [3, 1] at offset 0, which runs past its storage '0' of 6 elements" },
    };

    [Theory]
    [MemberData(nameof(DamagedViews))]
    public void A_damaged_view_is_refused_naming_the_tensor_its_sizes_and_strides(string damage, long[] sizes, long[] strides, string words)
    {
        _ = damage;
        var path = Write("view.ckpt", OneTensor(Plain with { Shape = sizes, Stride = strides }));
        using var checkpoint = TorchZipCheckpoint.Open(path);

        var named = Refused(() => checkpoint.StateDict("state_dict"));
        AssertCorrupt(named, "view.ckpt", "tensor 'w' is a view", words, "download the checkpoint again");

        // Read checks a reference it is handed too: it is public, and a caller may build one.
        var direct = Refused(() => checkpoint.Read(new TorchTensorRef("0", ScalarType.Float32, 6, 0, sizes, strides)).Dispose());
        AssertCorrupt(direct, "view.ckpt", "the tensor on storage '0' is a view", words);
    }

    [Fact]
    public void A_storage_whose_byte_count_wraps_to_the_records_length_is_refused()
    {
        // 4 x (2^62 + 6) wraps to 24, the record's real length: unchecked, libtorch was asked for 2^64 bytes.
        var path = Write("numel.ckpt", OneTensor(Plain with { Numel = (1L << 62) + 6 }, long1: true));
        using var checkpoint = TorchZipCheckpoint.Open(path);

        AssertCorrupt(Refused(() => checkpoint.StateDict("state_dict")), "numel.ckpt", "tensor 'w' lies in storage '0' of 4611686018427387910 elements of 4 bytes");
    }

    [Fact]
    public void A_broadcast_view_is_read_unless_it_would_outgrow_memory()
    {
        // A zero stride repeats a row, as torch saves an expanded buffer: read, made contiguous.
        using (var small = TorchZipCheckpoint.Open(Write("expand.ckpt", OneTensor(Plain with { Shape = new long[] { 4, 3 }, Stride = new long[] { 0, 1 }, Offset = 3 }))))
        using (var tensor = small.Read(small.StateDict("state_dict")[0].Value))
        {
            Assert.Equal(new long[] { 4, 3 }, tensor.shape);
            using var scope = NewDisposeScope();
            Assert.True(tensor[0].eq(tensor[3]).all().item<bool>());
        }

        // 2^40 copies of one float: 4 TiB once contiguous, from a 24-byte storage, refused before libtorch is asked.
        var path = Write("broadcast.ckpt", OneTensor(Plain with { Shape = new long[] { 1L << 40 }, Stride = new long[] { 0 } }, long1: true));
        using var checkpoint = TorchZipCheckpoint.Open(path);

        AssertCorrupt(Refused(() => checkpoint.StateDict("state_dict")), "broadcast.ckpt", "tensor 'w' is a view [1099511627776] with strides [0]",
            "into 4398046511104 bytes, more than this machine's memory");
    }

    // ------------------------------------------------------------------ the zip itself

    [Fact]
    public void Two_records_of_one_name_are_refused()
    {
        var storage = Write("twice.ckpt", Zip(Pickle(new[] { Plain }), new[] { SixFloats }, ("archive/data/0", new byte[24])));
        AssertCorrupt(Refused(() => ReadAll(storage)), "twice.ckpt", "two records named 'archive/data/0'", "Download the checkpoint again");

        var pickle = Pickle(new[] { Plain });
        var pkl = Write("pkl-twice.ckpt", Zip(pickle, new[] { SixFloats }, ("archive/data.pkl", pickle)));
        AssertCorrupt(Refused(() => WeightFiles.ReadIndex(pkl)), "pkl-twice.ckpt", "two records named 'archive/data.pkl'");
    }

    [Fact]
    public void A_damaged_central_directory_is_refused_by_open_index_and_convert()
    {
        var bytes = OneTensor(Plain);
        bytes[IndexOf(bytes, new byte[] { 0x50, 0x4b, 0x01, 0x02 })] = 0;   // the first central-directory header's signature
        var path = Write("directory.ckpt", bytes);

        AssertCorrupt(Refused(() => TorchZipCheckpoint.Open(path).Dispose()), "directory.ckpt", "zip directory is damaged");
        AssertCorrupt(Refused(() => WeightFiles.ReadIndex(path)), "directory.ckpt", "zip directory is damaged");
        AssertCorrupt(Refused(() => CheckpointConverter.ToSafetensors(path, Path.Combine(dir, "out.safetensors"))), "directory.ckpt", "zip directory is damaged");
    }

    [Fact]
    public void A_pickle_claiming_500_MB_in_a_small_file_is_refused_before_it_is_allocated()
    {
        var bytes = OneTensor(Plain);
        SetUncompressedSize(bytes, "archive/data.pkl", 500_000_000);
        var path = Write("pklsize.ckpt", bytes);

        long before = GC.GetAllocatedBytesForCurrentThread();
        var ex = Refused(() => TorchZipCheckpoint.Open(path).Dispose());
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        AssertCorrupt(ex, "pklsize.ckpt", "data.pkl claims 500000000 bytes from", "Download the checkpoint again");
        Assert.True(allocated < AllocationBudget, $"refusing it allocated {allocated >> 20} MiB");
    }

    // ------------------------------------------------------------------ the converter

    [Fact]
    public void The_converter_refuses_a_view_whose_size_overflows_by_the_tensors_name()
    {
        var path = Write("overflow.ckpt", OneTensor(Plain with { Shape = new long[] { int.MaxValue, int.MaxValue, int.MaxValue }, Stride = new long[] { int.MaxValue, int.MaxValue, int.MaxValue } }));

        var ex = Refused(() => CheckpointConverter.ToSafetensors(path, Path.Combine(dir, "out.safetensors")));

        AssertCorrupt(ex, "overflow.ckpt", "tensor 'w' is a view [2147483647, 2147483647, 2147483647] with strides [2147483647, 2147483647, 2147483647]");
        Assert.Empty(Directory.GetFiles(dir, "out.*"));
    }

    [Fact]
    public void The_converter_refuses_a_cast_whose_bytes_overflow_before_writing()
    {
        // 2^61 halves are 2^62 bytes, a size a header can state; as float64 they are 2^64.
        var path = Write("wide.ckpt", OneTensor(new Spec("w", 1L << 61, new long[] { 1L << 61 }, new long[] { 1 }, Storage: "HalfStorage"), long1: true));

        var ex = Refused(() => CheckpointConverter.ToSafetensors(path, Path.Combine(dir, "out.safetensors"), "float64"));

        AssertCorrupt(ex, "wide.ckpt", "tensor 'w' [2305843009213693952] as Float64 takes more bytes than a file can hold");
        Assert.Empty(Directory.GetFiles(dir, "out.*"));
    }

    [Fact]
    public void The_converter_refuses_a_tensor_named_like_the_safetensors_metadata()
    {
        var path = Write("metadata.ckpt", OneTensor(Plain with { Name = "__metadata__" }));

        var ex = Refused(() => CheckpointConverter.ToSafetensors(path, Path.Combine(dir, "out.safetensors")));

        Assert.Equal("ConversionUnsupported", ex.ErrorId);
        Assert.Contains("metadata.ckpt", ex.Message);
        Assert.Contains("a tensor named '__metadata__'", ex.Message);
        Assert.Contains("Rename that key", ex.Message);
        Assert.Empty(Directory.GetFiles(dir, "out.*"));
    }

    public static TheoryData<string, string, string> BadDestinations => new()
    {
        { "an existing folder", "folder", "ConversionOutputIsFolder" },
        { "under a file", Path.Combine("a-file", "out.safetensors"), "ConversionOutputUnderFile" },
        { "empty", "", "InvalidParameter" },
    };

    [Theory]
    [MemberData(nameof(BadDestinations))]
    public void The_converter_refuses_a_destination_it_cannot_write_before_reading_a_tensor(string what, string destination, string errorId)
    {
        _ = what;
        var source = Write("source.ckpt", OneTensor(Plain));
        Directory.CreateDirectory(Path.Combine(dir, "folder"));
        File.WriteAllText(Path.Combine(dir, "a-file"), "x");
        int converted = 0;

        var ex = Refused(() => CheckpointConverter.ToSafetensors(source, destination == "" ? "" : Path.Combine(dir, destination), null, (_, _, _) => converted++));

        Assert.Equal(errorId, ex.ErrorId);
        Assert.Contains(destination == "" ? "destination path is empty" : destination, ex.Message);
        Assert.Equal(0, converted);
        Assert.Empty(Directory.GetFiles(dir, "*.partial", SearchOption.AllDirectories));
    }

    [SkippableFact]
    public void The_converter_refuses_a_folder_that_takes_no_files_before_reading_a_tensor()
    {
        // /proc takes no new files, even for root (the tests may run as root, where permissions would not stop us).
        Skip.IfNot(OperatingSystem.IsLinux(), "needs /proc");
        var source = Write("source.ckpt", OneTensor(Plain));
        int converted = 0;

        var ex = Refused(() => CheckpointConverter.ToSafetensors(source, "/proc/out.safetensors", null, (_, _, _) => converted++));

        Assert.Equal("ConversionOutputNotWritable", ex.ErrorId);
        Assert.Contains("'/proc/out.safetensors' cannot be written: '/proc' does not take new files", ex.Message);
        Assert.DoesNotContain("probe", ex.Message);
        Assert.Equal(0, converted);
    }

    [Fact]
    public void ConvertTo_FifoCheckpoint_reports_a_folder_destination_by_its_id()
    {
        var source = Write("source.ckpt", OneTensor(Plain));
        Directory.CreateDirectory(Path.Combine(dir, "folder"));

        var error = InProcessShell.RunFailing(dir, $"ConvertTo-FifoCheckpoint '{source}' -Destination folder -ErrorAction Stop");

        Assert.Equal("ConversionOutputIsFolder", error.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Contains(Path.Combine(dir, "folder"), error.Exception.Message);
    }

    [Fact]
    public void ConvertTo_FifoCheckpoint_refuses_an_empty_destination()
    {
        var source = Write("source.ckpt", OneTensor(Plain));

        var error = InProcessShell.RunFailing(dir, $"ConvertTo-FifoCheckpoint '{source}' -Destination '' -ErrorAction Stop");

        Assert.True(error.Exception.Message.Contains("Destination"), error.Exception.Message);
        Assert.Empty(Directory.GetFiles(dir, "*.safetensors"));
    }

    // ------------------------------------------------------------------ helpers

    static int IndexOf(byte[] bytes, byte[] wanted)
    {
        for (int i = 0; i + wanted.Length <= bytes.Length; i++)
            if (bytes.AsSpan(i, wanted.Length).SequenceEqual(wanted)) return i;
        throw new InvalidOperationException("not found");
    }

    /// <summary>Sets the uncompressed size of <paramref name="name"/> in its local and its central header.</summary>
    static void SetUncompressedSize(byte[] zip, string name, uint size)
    {
        var wanted = Encoding.UTF8.GetBytes(name);
        for (int i = 0; i + 46 + wanted.Length <= zip.Length; i++)
        {
            uint signature = BinaryPrimitives.ReadUInt32LittleEndian(zip.AsSpan(i));
            if (signature == 0x04034b50 && zip.AsSpan(i + 30, wanted.Length).SequenceEqual(wanted))
                BinaryPrimitives.WriteUInt32LittleEndian(zip.AsSpan(i + 22), size);
            if (signature == 0x02014b50 && zip.AsSpan(i + 46, wanted.Length).SequenceEqual(wanted))
                BinaryPrimitives.WriteUInt32LittleEndian(zip.AsSpan(i + 24), size);
        }
    }
}
