using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Json;
using FifoPipes.Abstractions;
using TorchSharp;
using static TorchSharp.torch;

namespace FifoPipes.Torch.Checkpoints;

/// <summary>One tensor entry of a safetensors header.</summary>
public sealed record SafetensorsEntry(string Name, string DType, long[] Shape, long Begin, long End);

/// <summary>
/// Reads the safetensors format (8-byte little-endian header length, JSON header, raw data).
/// Everything in the header is checked against the file before a byte is allocated, so a
/// truncated or hostile file gives a clear error instead of a crash or an absurd allocation.
/// </summary>
public static class SafetensorsFile
{
    /// <summary>Headers above this are refused: real ones are well under a megabyte per thousand tensors.</summary>
    public const long MaxHeaderBytes = 100L * 1024 * 1024;

    /// <summary>
    /// Whether the file begins as a safetensors file does, with its little-endian header length and then the header's
    /// '{' (a zip starts "PK"), whatever follows: how a damaged one is told from another kind of file.
    /// </summary>
    public static bool Begins(string path)
    {
        if (!File.Exists(path)) return false;
        using var stream = File.OpenRead(path);
        Span<byte> head = stackalloc byte[9];
        return stream.ReadAtLeast(head, 9, throwOnEndOfStream: false) == 9 && head[8] == (byte)'{';
    }

    /// <summary>
    /// The header's tensor entries in file order (<c>__metadata__</c> left out), each checked against the file's size; reads no
    /// tensor data. Throws <see cref="FifoInputException"/> "CheckpointNotFound" or "CheckpointCorrupt".
    /// </summary>
    public static IReadOnlyList<SafetensorsEntry> ReadHeader(string path)
    {
        using var stream = OpenOrExplain(path);
        return ReadHeader(stream, path, out _);
    }

    /// <summary>The header's string-valued <c>__metadata__</c> entries, read without touching the tensor data.</summary>
    public static IReadOnlyDictionary<string, string> ReadMetadata(string path)
    {
        using var stream = OpenOrExplain(path);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        ReadHeader(stream, path, out _, metadata);
        return metadata;
    }

    /// <summary>Loads every tensor (as stored, or cast to <paramref name="dtype"/>) to the CPU.</summary>
    public static Dictionary<string, Tensor> Load(string path, ScalarType? dtype = null)
    {
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, tensor) in Stream(path, dtype)) result[name] = tensor;
        return result;
    }

    /// <summary>
    /// Every tensor (to the CPU) and the header's metadata, read through one open file: a file replaced meanwhile by an
    /// atomic rename over it is still read whole, as it was when opened, never half old and half new.
    /// </summary>
    /// <param name="checkMetadata">Runs on the metadata before any tensor is read; throw to refuse the file cheaply.</param>
    public static (Dictionary<string, Tensor> Tensors, IReadOnlyDictionary<string, string> Metadata) LoadWithMetadata(string path,
        Action<IReadOnlyDictionary<string, string>>? checkMetadata = null)
    {
        using var stream = OpenOrExplain(path);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var entries = ReadHeader(stream, path, out long dataStart, metadata);
        checkMetadata?.Invoke(metadata);
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, tensor) in ReadEntries(stream, entries, dataStart, null, null)) tensors[name] = tensor;
        return (tensors, metadata);
    }

    /// <summary>
    /// Yields tensors one by one, so a caller can cast or place each before the next is read;
    /// <paramref name="select"/> skips the others without reading their bytes.
    /// </summary>
    public static IEnumerable<(string Name, Tensor Tensor)> Stream(string path, ScalarType? dtype = null, Func<string, bool>? select = null)
    {
        using var stream = OpenOrExplain(path);
        var entries = ReadHeader(stream, path, out long dataStart);
        foreach (var item in ReadEntries(stream, entries, dataStart, dtype, select)) yield return item;
    }

    static IEnumerable<(string Name, Tensor Tensor)> ReadEntries(FileStream stream, IReadOnlyList<SafetensorsEntry> entries, long dataStart,
        ScalarType? dtype, Func<string, bool>? select)
    {
        foreach (var e in entries)
        {
            if (select is not null && !select(e.Name)) continue;
            var bytes = new byte[e.End - e.Begin];
            stream.Seek(dataStart + e.Begin, SeekOrigin.Begin);
            stream.ReadExactly(bytes);
            var tensor = FromBytes(bytes, e.DType, e.Shape);
            if (dtype is { } d && tensor.dtype != d && tensor.is_floating_point())
            {
                var cast = tensor.to(d);
                tensor.Dispose();
                tensor = cast;
            }
            yield return (e.Name, tensor);
        }
    }

    static FileStream OpenOrExplain(string path)
    {
        WeightFiles.RequireFile(path);
        // Delete shared too: a snapshot being read may be replaced by the next one's atomic rename (on Windows as well).
        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1 << 20);
    }

    static IReadOnlyList<SafetensorsEntry> ReadHeader(FileStream stream, string path, out long dataStart, Dictionary<string, string>? metadata = null)
    {
        long fileLength = stream.Length;
        Span<byte> lengthBytes = stackalloc byte[8];
        if (fileLength < 8 || stream.Read(lengthBytes) != 8)
            throw Corrupt(path, $"the file is {fileLength} bytes, too short for a safetensors header");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (headerLength > (ulong)Math.Min(MaxHeaderBytes, fileLength - 8))
            throw Corrupt(path, $"it declares a {headerLength}-byte header in a {fileLength}-byte file");
        var header = new byte[headerLength];
        stream.ReadExactly(header);
        dataStart = 8 + (long)headerLength;
        long dataLength = fileLength - dataStart;

        JsonDocument doc;
        try { doc = JsonDocument.Parse(header); }
        catch (JsonException ex) { throw Corrupt(path, "its header is not valid JSON, so the file is damaged or not a safetensors file at all", ex); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw Corrupt(path, "its header is not a JSON object");
            var entries = new List<SafetensorsEntry>();
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                if (p.Name == "__metadata__")
                {
                    if (metadata is not null && p.Value.ValueKind == JsonValueKind.Object)
                        foreach (var m in p.Value.EnumerateObject())
                            if (m.Value.ValueKind == JsonValueKind.String) metadata[m.Name] = m.Value.GetString()!;
                    continue;
                }
                entries.Add(ParseEntry(p, path, dataLength));
            }
            return entries;
        }
    }

    static SafetensorsEntry ParseEntry(JsonProperty p, string path, long dataLength)
    {
        try
        {
            string dtype = p.Value.GetProperty("dtype").GetString() ?? "";
            int elementSize = ElementSize(dtype) ?? throw Corrupt(path, $"tensor '{p.Name}' has unsupported dtype '{dtype}' (supported: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL)");
            long[] shape = p.Value.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()).ToArray();
            var offsets = p.Value.GetProperty("data_offsets").EnumerateArray().Select(x => x.GetInt64()).ToArray();
            if (offsets.Length != 2 || offsets[0] < 0 || offsets[1] < offsets[0] || offsets[1] > dataLength)
                throw Corrupt(path, $"tensor '{p.Name}' has data offsets [{string.Join(", ", offsets)}] outside the {dataLength} data bytes (truncated file?)");
            long count = 1;
            foreach (var d in shape)
            {
                if (d < 0) throw Corrupt(path, $"tensor '{p.Name}' has a negative dimension");
                count = checked(count * d);
            }
            if (checked(count * elementSize) != offsets[1] - offsets[0])
                throw Corrupt(path, $"tensor '{p.Name}' of shape [{string.Join(", ", shape)}] {dtype} needs {count * elementSize} bytes but its offsets span {offsets[1] - offsets[0]}");
            return new SafetensorsEntry(p.Name, dtype, shape, offsets[0], offsets[1]);
        }
        catch (Exception ex) when (ex is KeyNotFoundException or InvalidOperationException or FormatException or OverflowException)
        {
            throw Corrupt(path, $"tensor '{p.Name}' has a malformed header entry ({ex.Message})", ex);
        }
    }

    /// <summary>Key of <see cref="Exception.Data"/> under which a corrupt-file error keeps its reason alone, for callers whose advice differs (snapshots).</summary>
    public const string ReasonKey = "reason";

    static FifoInputException Corrupt(string path, string why, Exception? inner = null) =>
        new("CheckpointCorrupt", $"'{path}' is not a valid safetensors file: {why}. Download it again or convert the checkpoint anew.", inner) { Data = { [ReasonKey] = why } };

    static int? ElementSize(string dtype) => dtype switch
    {
        "F64" or "I64" => 8,
        "F32" or "I32" => 4,
        "F16" or "BF16" or "I16" => 2,
        "I8" or "U8" or "BOOL" => 1,
        _ => null,
    };

    internal static ScalarType ScalarTypeOf(string dtype) => dtype switch
    {
        "F64" => ScalarType.Float64, "F32" => ScalarType.Float32, "F16" => ScalarType.Float16,
        "BF16" => ScalarType.BFloat16, "I64" => ScalarType.Int64, "I32" => ScalarType.Int32,
        "I16" => ScalarType.Int16, "I8" => ScalarType.Int8, "U8" => ScalarType.Byte, "BOOL" => ScalarType.Bool,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
    };

    static Tensor FromBytes(byte[] bytes, string dtype, long[] shape)
    {
        // .NET has no bfloat16, and half tensors are awkward to build: both widen exactly to float32 first.
        return dtype switch
        {
            "F64" => tensor(MemoryMarshal.Cast<byte, double>(bytes).ToArray(), shape),
            "F32" => tensor(MemoryMarshal.Cast<byte, float>(bytes).ToArray(), shape),
            "I64" => tensor(MemoryMarshal.Cast<byte, long>(bytes).ToArray(), shape),
            "I32" => tensor(MemoryMarshal.Cast<byte, int>(bytes).ToArray(), shape),
            "I16" => tensor(MemoryMarshal.Cast<byte, short>(bytes).ToArray(), shape),
            "I8" => tensor(MemoryMarshal.Cast<byte, sbyte>(bytes).ToArray(), shape),
            "U8" => tensor(bytes, shape),
            "BOOL" => tensor(bytes.Select(b => b != 0).ToArray(), shape),
            "F16" => WidenThenCast(MemoryMarshal.Cast<byte, Half>(bytes), h => (float)h, shape, ScalarType.Float16),
            "BF16" => WidenThenCast(MemoryMarshal.Cast<byte, ushort>(bytes), b => BitConverter.Int32BitsToSingle(b << 16), shape, ScalarType.BFloat16),
            _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
        };
    }

    static Tensor WidenThenCast<T>(ReadOnlySpan<T> source, Func<T, float> widen, long[] shape, ScalarType stored)
    {
        var wide = new float[source.Length];
        for (int i = 0; i < wide.Length; i++) wide[i] = widen(source[i]);
        using var f32 = tensor(wide, shape);
        return f32.to(stored);
    }

    internal static byte[] ToBytes(Tensor t) => t.dtype switch
    {
        ScalarType.Float64 => MemoryMarshal.AsBytes(t.data<double>().ToArray().AsSpan()).ToArray(),
        ScalarType.Float32 => MemoryMarshal.AsBytes(t.data<float>().ToArray().AsSpan()).ToArray(),
        ScalarType.Int64 => MemoryMarshal.AsBytes(t.data<long>().ToArray().AsSpan()).ToArray(),
        ScalarType.Int32 => MemoryMarshal.AsBytes(t.data<int>().ToArray().AsSpan()).ToArray(),
        ScalarType.Int16 => MemoryMarshal.AsBytes(t.data<short>().ToArray().AsSpan()).ToArray(),
        ScalarType.Int8 => MemoryMarshal.AsBytes(t.data<sbyte>().ToArray().AsSpan()).ToArray(),
        ScalarType.Byte => t.data<byte>().ToArray(),
        ScalarType.Bool => t.data<bool>().ToArray().Select(b => (byte)(b ? 1 : 0)).ToArray(),
        ScalarType.Float16 => NarrowFromFloat(t, f => BitConverter.HalfToUInt16Bits((Half)f)),
        // Exact: a bfloat16 value is the upper half of its float32 widening.
        ScalarType.BFloat16 => NarrowFromFloat(t, f => (ushort)(BitConverter.SingleToUInt32Bits(f) >> 16)),
        _ => throw new NotSupportedException($"dtype {t.dtype} cannot be written to safetensors"),
    };

    static byte[] NarrowFromFloat(Tensor t, Func<float, ushort> narrow)
    {
        using var wide = t.to(ScalarType.Float32);
        var values = wide.data<float>().ToArray();
        var bits = new ushort[values.Length];
        for (int i = 0; i < bits.Length; i++) bits[i] = narrow(values[i]);
        return MemoryMarshal.AsBytes(bits.AsSpan()).ToArray();
    }

    /// <summary>Writes tensors (moved to CPU, made contiguous) as a safetensors file, atomically.</summary>
    public static void Save(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        // Every intermediate handle (detach, cpu, contiguous) goes with the scope: snapshots are saved again and again.
        using var scope = NewDisposeScope();
        var items = tensors.Select(kv => (kv.Key, Tensor: kv.Value.detach().cpu().contiguous())).ToList();
        using var writer = SafetensorsWriter.Create(path, items.Select(i => new SafetensorsSlot(i.Key, i.Tensor.dtype, i.Tensor.shape)).ToList(), metadata);
        foreach (var (name, t) in items) writer.Write(name, t);
        writer.Commit();
    }

    internal static string DTypeName(ScalarType t) => t switch
    {
        ScalarType.Float64 => "F64", ScalarType.Float32 => "F32", ScalarType.Float16 => "F16",
        ScalarType.BFloat16 => "BF16", ScalarType.Int64 => "I64", ScalarType.Int32 => "I32",
        ScalarType.Int16 => "I16", ScalarType.Int8 => "I8", ScalarType.Byte => "U8", ScalarType.Bool => "BOOL",
        _ => throw new NotSupportedException($"dtype {t} cannot be written to safetensors"),
    };
}
