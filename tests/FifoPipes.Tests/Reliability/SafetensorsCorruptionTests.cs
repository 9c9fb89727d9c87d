using System.Buffers.Binary;
using System.Text;
using FifoPipes.Abstractions;
using FifoPipes.Torch.Checkpoints;
using Xunit;
using static TorchSharp.torch;

namespace FifoPipes.Tests.Reliability;

/// <summary>
/// safetensors headers that parse as JSON yet describe no valid file: each must be refused as "CheckpointCorrupt", naming the
/// file and what is wrong, by every reader (and the converter), never read as wrong weights or thrown as a bare exception.
/// </summary>
public sealed class SafetensorsCorruptionTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("fifo-st-corrupt-").FullName;
    public void Dispose() => Directory.Delete(dir, recursive: true);

    static readonly (string Name, Action<string, string> Read)[] Readers =
    {
        ("Load", (p, _) => DisposeAll(SafetensorsFile.Load(p))),
        ("ReadHeader", (p, _) => SafetensorsFile.ReadHeader(p)),
        ("ReadMetadata", (p, _) => SafetensorsFile.ReadMetadata(p)),
        ("LoadWithMetadata", (p, _) => DisposeAll(SafetensorsFile.LoadWithMetadata(p).Tensors)),
        ("Convert", (p, d) => CheckpointConverter.ToSafetensors(p, Path.Combine(d, "converted.safetensors"), "bf16")),
    };

    static void DisposeAll(Dictionary<string, Tensor> tensors) { foreach (var t in tensors.Values) t.Dispose(); }

    /// <summary>Header length, the header's UTF-8 (or <paramref name="headerBytes"/> as given), then <paramref name="data"/> bytes.</summary>
    string Write(string name, string json, int data = 0, byte[]? headerBytes = null, long? declared = null)
    {
        var header = headerBytes ?? Encoding.UTF8.GetBytes(json);
        var bytes = new byte[8 + header.Length + data];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, declared ?? header.Length);
        header.CopyTo(bytes, 8);
        for (int i = 0; i < data; i++) bytes[8 + header.Length + i] = (byte)(i * 7 + 1);
        var path = Path.Combine(dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    void AllRefuse(string path, params string[] words)
    {
        foreach (var (reader, read) in Readers)
        {
            var ex = Assert.Throws<FifoInputException>(() => read(path, dir));
            Assert.Equal("CheckpointCorrupt", ex.ErrorId);
            Assert.Contains(Path.GetFileName(path), ex.Message);
            foreach (var word in words) Assert.Contains(word, ex.Message);
            Assert.Contains(words[0], (string)ex.Data[SafetensorsFile.ReasonKey]!);
        }
    }

    [Fact]
    public void A_tensor_name_that_is_not_utf8_is_refused_by_name()
    {
        var header = Encoding.UTF8.GetBytes("""{"w?": {"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""");
        header[Array.IndexOf(header, (byte)'?')] = 0xff;
        AllRefuse(Write("bad-utf8.safetensors", "", data: 4, headerBytes: header), "a tensor name is not valid UTF-8");
        // An escape can spell what raw bytes cannot: half a surrogate pair.
        AllRefuse(Write("lone-surrogate.safetensors", """{"w\ud800": {"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", data: 4), "a tensor name is not valid UTF-8");
    }

    [Fact]
    public void A_tensor_named_twice_is_refused_not_read_as_the_last()
    {
        AllRefuse(Write("twice.safetensors", """{"a": {"dtype":"F32","shape":[1],"data_offsets":[0,4]}, "a": {"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", data: 8),
            "tensor 'a' appears twice");
    }

    [Theory]
    [InlineData("[0, 9223372036854775807]")]
    [InlineData("[9223372036854775807, 2, 0]")]
    [InlineData("[0, 4611686018427387904]")]
    public void An_empty_tensor_whose_other_sizes_overflow_is_refused(string shape)
    {
        AllRefuse(Write("empty-huge.safetensors", $$$"""{"w": {"dtype":"F32","shape":{{{shape}}},"data_offsets":[0,0]}}"""), "tensor 'w'", "overflows");
    }

    [Fact]
    public void Tensors_that_overlap_are_refused_naming_both()
    {
        AllRefuse(Write("overlap.safetensors", """{"a": {"dtype":"F32","shape":[2],"data_offsets":[0,8]}, "b": {"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", data: 12),
            "tensor 'b'", "overlaps tensor 'a'");
    }

    [Fact]
    public void A_gap_between_tensors_is_refused_naming_where()
    {
        AllRefuse(Write("gap.safetensors", """{"a": {"dtype":"F32","shape":[1],"data_offsets":[0,4]}, "b": {"dtype":"F32","shape":[1],"data_offsets":[8,12]}}""", data: 12),
            "data bytes 4 to 8 belong to no tensor", "before tensor 'b'");
    }

    [Fact]
    public void Bytes_after_the_last_tensor_are_refused()
    {
        AllRefuse(Write("trailing.safetensors", """{"w": {"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", data: 20),
            "end at data byte 4", "holds 20 bytes");
    }

    [Fact]
    public void A_header_length_one_short_of_its_padding_is_refused_not_read_shifted_by_a_byte()
    {
        // The JSON still parses without its last padding space; the data would start a byte early.
        var json = """{"w": {"dtype":"F32","shape":[2],"data_offsets":[0,8]}}   """;
        AllRefuse(Write("short-header.safetensors", json, data: 8, declared: Encoding.UTF8.GetByteCount(json) - 1), "end at data byte 8", "header length");
    }

    [Fact]
    public void What_the_writer_lays_out_still_reads_bit_for_bit_every_dtype_empty_and_scalar_included()
    {
        var path = Path.Combine(dir, "all.safetensors");
        using var scope = NewDisposeScope();
        var tensors = new Dictionary<string, Tensor>
        {
            ["f64"] = randn(3, dtype: ScalarType.Float64),
            ["f32"] = randn(2, 3),
            ["empty"] = zeros(0, 5),
            ["f16"] = randn(5).to(ScalarType.Float16),
            ["bf16"] = randn(7).to(ScalarType.BFloat16),
            ["i64"] = tensor(new long[] { long.MinValue, -1, long.MaxValue }),
            ["i32"] = tensor(new[] { int.MinValue, 7 }),
            ["i16"] = tensor(new short[] { short.MinValue, 3 }),
            ["i8"] = tensor(new sbyte[] { -128, 5, 127 }),
            ["u8"] = tensor(new byte[] { 0, 200, 255 }),
            ["bool"] = tensor(new[] { true, false, true }),
            ["scalar"] = tensor(2.5f),
        };
        SafetensorsFile.Save(path, tensors);
        var loaded = SafetensorsFile.Load(path);
        foreach (var (name, t) in tensors)
        {
            Assert.Equal(t.dtype, loaded[name].dtype);
            Assert.Equal(t.shape, loaded[name].shape);
            Assert.True(t.equal(loaded[name]).all().item<bool>(), name);
        }
    }

    [Fact]
    public void A_bool_byte_other_than_0_or_1_reads_as_true()
    {
        var path = Write("bool.safetensors", """{"b": {"dtype":"BOOL","shape":[3],"data_offsets":[0,3]}}""", data: 3);   // bytes 1, 8, 15
        using var b = SafetensorsFile.Load(path)["b"];
        Assert.Equal(new[] { true, true, true }, b.data<bool>().ToArray());
    }

    /// <summary>
    /// A tensor's bytes go between file and tensor memory with no managed array the tensor's size: that is what lets a tensor
    /// of more than 2 GiB (past any .NET array) load, convert and save, shown here on 16 MiB without allocating gigabytes.
    /// </summary>
    [Fact]
    public void Tensor_bytes_are_read_and_written_without_a_managed_copy_of_them()
    {
        const long size = 16L << 20;
        var header = Encoding.UTF8.GetBytes($$$"""{"w":{"dtype":"U8","shape":[{{{size}}}],"data_offsets":[0,{{{size}}}]}}""");
        var path = Path.Combine(dir, "big.safetensors");
        using (var f = File.Create(path))
        {
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(length, header.Length);
            f.Write(length);
            f.Write(header);
            f.Seek(size - 1, SeekOrigin.Current);
            f.WriteByte(9);   // the rest is a sparse run of zeros
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        using var w = SafetensorsFile.Load(path)["w"];
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < size / 4, "Load copied the tensor through a managed array");
        Assert.Equal(9, w[size - 1].item<byte>());

        before = GC.GetAllocatedBytesForCurrentThread();
        var saved = Path.Combine(dir, "saved.safetensors");
        SafetensorsFile.Save(saved, new Dictionary<string, Tensor> { ["w"] = w });
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < size / 4, "Save copied the tensor through a managed array");
        using (var again = SafetensorsFile.Load(saved)["w"]) Assert.True(again.equal(w).all().item<bool>());

        before = GC.GetAllocatedBytesForCurrentThread();
        CheckpointConverter.ToSafetensors(path, Path.Combine(dir, "converted.safetensors"));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < size / 4, "Convert copied the tensor through a managed array");
    }
}
