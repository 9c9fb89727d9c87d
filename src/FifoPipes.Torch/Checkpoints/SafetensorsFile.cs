using System.Buffers.Binary;
using System.Text.Json;
using FifoPipes.Abstractions;
using TorchSharp;
using static TorchSharp.torch;

namespace FifoPipes.Torch.Checkpoints;

/// <summary>One tensor entry of a safetensors header.</summary>
public sealed record SafetensorsEntry(string Name, string DType, long[] Shape, long Begin, long End)
{
    /// <summary>The stored type as torch names it (a header's dtype is checked when it is read).</summary>
    public ScalarType ScalarType => SafetensorsFile.ScalarTypeOf(DType);
}

/// <summary>
/// Reads the safetensors format (8-byte little-endian header length, JSON header, raw data).
/// Everything in the header is checked against the file before a byte is allocated, so a
/// truncated or hostile file gives a clear error instead of a crash or an absurd allocation,
/// and a damaged header is refused rather than read as shifted or overlapping weights.
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
    /// The header's tensor entries in file order (<c>__metadata__</c> left out), checked against the file: each name once, their
    /// bytes end to end over the whole data section as the format lays them out; reads no tensor data.
    /// Throws <see cref="FifoInputException"/> "CheckpointNotFound" or "CheckpointCorrupt".
    /// </summary>
    public static IReadOnlyList<SafetensorsEntry> ReadHeader(string path) => ReadHeader(path, metadata: null);

    /// <summary><see cref="ReadHeader(string)"/>, filling <paramref name="metadata"/> with the header's string-valued <c>__metadata__</c> entries on the way.</summary>
    internal static IReadOnlyList<SafetensorsEntry> ReadHeader(string path, Dictionary<string, string>? metadata)
    {
        // The header is read whole into its own array: a read buffer would be a megabyte allocated for nothing.
        using var stream = OpenOrExplain(path, bufferSize: 0);
        return ReadHeader(stream, path, out _, metadata);
    }

    /// <summary>The header's string-valued <c>__metadata__</c> entries, read without touching the tensor data.</summary>
    public static IReadOnlyDictionary<string, string> ReadMetadata(string path)
    {
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        ReadHeader(path, metadata);
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
        foreach (var (name, tensor) in ReadEntries(stream, path, entries, dataStart, null, null)) tensors[name] = tensor;
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
        foreach (var item in ReadEntries(stream, path, entries, dataStart, dtype, select)) yield return item;
    }

    static IEnumerable<(string Name, Tensor Tensor)> ReadEntries(FileStream stream, string path, IReadOnlyList<SafetensorsEntry> entries, long dataStart,
        ScalarType? dtype, Func<string, bool>? select)
    {
        foreach (var e in entries)
        {
            if (select is not null && !select(e.Name)) continue;
            stream.Seek(dataStart + e.Begin, SeekOrigin.Begin);
            var tensor = ReadTensor(stream, path, e);
            if (dtype is { } d && tensor.dtype != d && tensor.is_floating_point())
            {
                var cast = tensor.to(d);
                tensor.Dispose();
                tensor = cast;
            }
            yield return (e.Name, tensor);
        }
    }

    /// <summary>
    /// Reads the entry's bytes straight into a new tensor's memory, with no managed copy between: a tensor of more than
    /// 2 GiB, past any .NET array, reads like any other. The file's little-endian bytes are the tensor's as they are.
    /// </summary>
    static Tensor ReadTensor(FileStream stream, string path, SafetensorsEntry e)
    {
        // A bool tensor must hold only 0 and 1: the bytes go into a U8 tensor, and any non-zero byte is true.
        bool isBool = e.DType == "BOOL";
        var tensor = empty(e.Shape, isBool ? ScalarType.Byte : ScalarTypeOf(e.DType), device: CPU);
        try
        {
            tensor.ReadBytesFromStream(stream);
        }
        catch (EndOfStreamException ex)
        {
            // Its length was checked when the header was read: only a file cut short meanwhile gets here.
            tensor.Dispose();
            throw Corrupt(path, $"it ended while tensor '{e.Name}' was read (was it truncated meanwhile?)", ex);
        }
        if (!isBool) return tensor;
        using (tensor) return tensor.ne(0);
    }

    static FileStream OpenOrExplain(string path, int bufferSize = 1 << 20)
    {
        WeightFiles.RequireFile(path);
        // Delete shared too: a snapshot being read may be replaced by the next one's atomic rename (on Windows as well).
        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, bufferSize);
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
            // JSON allows a name twice; the format does not, and reading on would keep one tensor and drop the other.
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                string name = Utf8Text(() => p.Name, path, "a tensor name");
                if (!names.Add(name)) throw Corrupt(path, name == "__metadata__" ? "its header holds __metadata__ twice" : $"tensor '{name}' appears twice in its header");
                if (name == "__metadata__")
                {
                    if (metadata is not null && p.Value.ValueKind == JsonValueKind.Object)
                        foreach (var m in p.Value.EnumerateObject())
                            if (m.Value.ValueKind == JsonValueKind.String) metadata[Utf8Text(() => m.Name, path, "a metadata key")] = Utf8Text(() => m.Value.GetString()!, path, "a metadata value");
                    continue;
                }
                entries.Add(ParseEntry(p.Value, name, path, dataLength));
            }
            RequireEndToEnd(entries, path, dataLength);
            return entries;
        }
    }

    /// <summary>
    /// A string of the header: System.Text.Json parses invalid UTF-8 (or an escaped lone surrogate) without a word and
    /// throws InvalidOperationException only when the string is read.
    /// </summary>
    static string Utf8Text(Func<string> read, string path, string what)
    {
        try { return read(); }
        catch (InvalidOperationException ex) { throw Corrupt(path, $"{what} is not valid UTF-8", ex); }
    }

    static SafetensorsEntry ParseEntry(JsonElement value, string name, string path, long dataLength)
    {
        try
        {
            string dtype = value.GetProperty("dtype").GetString() ?? "";
            int elementSize = ElementSize(dtype) ?? throw Corrupt(path, $"tensor '{name}' has unsupported dtype '{dtype}' (supported: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL)");
            long[] shape = value.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()).ToArray();
            var offsets = value.GetProperty("data_offsets").EnumerateArray().Select(x => x.GetInt64()).ToArray();
            if (offsets.Length != 2 || offsets[0] < 0 || offsets[1] < offsets[0] || offsets[1] > dataLength)
                throw Corrupt(path, $"tensor '{name}' has data offsets [{string.Join(", ", offsets)}] outside the {dataLength} data bytes (truncated file?)");
            long count = 1, countIfNotEmpty = 1;
            foreach (var d in shape)
            {
                if (d < 0) throw Corrupt(path, $"tensor '{name}' has a negative dimension");
                count = checked(count * d);
                // An empty tensor's other sizes still become strides: [0, 2^63 - 1] holds no bytes yet no tensor can have it.
                countIfNotEmpty = checked(countIfNotEmpty * Math.Max(d, 1));
            }
            _ = checked(countIfNotEmpty * elementSize);
            if (count * elementSize != offsets[1] - offsets[0])
                throw Corrupt(path, $"tensor '{name}' of shape [{string.Join(", ", shape)}] {dtype} needs {count * elementSize} bytes but its offsets span {offsets[1] - offsets[0]}");
            return new SafetensorsEntry(name, dtype, shape, offsets[0], offsets[1]);
        }
        catch (OverflowException ex)
        {
            throw Corrupt(path, $"tensor '{name}' has a shape whose size overflows a 64-bit count", ex);
        }
        catch (Exception ex) when (ex is KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw Corrupt(path, $"tensor '{name}' has a malformed header entry ({ex.Message})", ex);
        }
    }

    /// <summary>
    /// The format lays the tensors end to end from the data's first byte to its last. A gap, an overlap or bytes left over
    /// mean a damaged or hand-edited header; a header length one short (its padding dropped) shows only here, as one byte
    /// left over, and would otherwise read every tensor shifted by a byte.
    /// </summary>
    static void RequireEndToEnd(List<SafetensorsEntry> entries, string path, long dataLength)
    {
        long end = 0;
        string? previous = null;
        foreach (var e in entries.OrderBy(e => e.Begin).ThenBy(e => e.End))
        {
            if (e.Begin > end)
                throw Corrupt(path, $"data bytes {end} to {e.Begin} belong to no tensor (a gap before tensor '{e.Name}')");
            if (e.Begin < end)
                throw Corrupt(path, $"tensor '{e.Name}' at data bytes {e.Begin} to {e.End} overlaps tensor '{previous}', which ends at {end}");
            end = e.End;
            previous = e.Name;
        }
        if (end != dataLength)
            throw Corrupt(path, $"its tensors end at data byte {end} but the data section holds {dataLength} bytes: bytes left over, or a wrong header length");
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
