using System.Buffers.Binary;
using System.Text.Json;
using static TorchSharp.torch;

namespace FifoPipes.Torch.Checkpoints;

/// <summary>One tensor's place in a safetensors file, known before its data is.</summary>
public sealed record SafetensorsSlot(string Name, ScalarType DType, long[] Shape)
{
    /// <summary>Bytes of the tensor's data: elements × element size.</summary>
    /// <exception cref="NotSupportedException">The dtype has no safetensors name here (not a float, int or bool type).</exception>
    /// <exception cref="OverflowException">The bytes do not fit a long: a shape no file can hold.</exception>
    public long ByteSize => checked(Shape.Aggregate(1L, (a, b) => checked(a * b)) * ElementSize(DType));

    static long ElementSize(ScalarType t) => t switch
    {
        ScalarType.Float64 or ScalarType.Int64 => 8,
        ScalarType.Float32 or ScalarType.Int32 => 4,
        ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Int16 => 2,
        ScalarType.Int8 or ScalarType.Byte or ScalarType.Bool => 1,
        _ => throw new NotSupportedException($"dtype {t} cannot be written to safetensors"),
    };
}

/// <summary>
/// Writes a safetensors file tensor by tensor: the header is written first from the names, dtypes and
/// shapes alone, then each tensor as it comes, so converting a checkpoint holds one tensor in memory, not all.
/// The data goes to a uniquely named <c>.partial</c> file, renamed over the target only by <see cref="Commit"/>.
/// </summary>
public sealed class SafetensorsWriter : IDisposable
{
    readonly string path, partial;
    readonly IReadOnlyList<SafetensorsSlot> layout;
    readonly FileStream stream;
    int next;
    bool committed;

    SafetensorsWriter(string path, IReadOnlyList<SafetensorsSlot> layout, FileStream stream, string partial)
    {
        this.path = path;
        this.layout = layout;
        this.stream = stream;
        this.partial = partial;
    }

    /// <summary>
    /// Writes the header of <paramref name="layout"/> (its order is the data's; <paramref name="metadata"/> becomes <c>__metadata__</c>)
    /// to a new <c>.partial</c> file beside <paramref name="path"/>; then <see cref="Write"/> each tensor in order and <see cref="Commit"/>.
    /// </summary>
    /// <exception cref="ArgumentException">A name appears twice in the layout or is <c>__metadata__</c>.</exception>
    public static SafetensorsWriter Create(string path, IReadOnlyList<SafetensorsSlot> layout, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var full = Path.GetFullPath(path);
        var header = new Dictionary<string, object>(StringComparer.Ordinal);
        if (metadata is { Count: > 0 }) header["__metadata__"] = metadata;
        long offset = 0;
        foreach (var slot in layout)
        {
            if (slot.Name == "__metadata__" || !header.TryAdd(slot.Name, new { dtype = SafetensorsFile.DTypeName(slot.DType), shape = slot.Shape, data_offsets = new[] { offset, offset + slot.ByteSize } }))
                throw new ArgumentException($"tensor name '{slot.Name}' appears twice (or is reserved) in a safetensors layout", nameof(layout));
            offset += slot.ByteSize;
        }
        var json = JsonSerializer.SerializeToUtf8Bytes(header);
        // The data section starts 8-byte aligned, as the reference writer pads it.
        int pad = (8 - json.Length % 8) % 8;
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var partial = $"{full}.{Guid.NewGuid():N}.partial";
        var stream = new FileStream(partial, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
        try
        {
            Span<byte> len = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)(json.Length + pad));
            stream.Write(len);
            stream.Write(json);
            for (int i = 0; i < pad; i++) stream.WriteByte((byte)' ');
        }
        catch
        {
            stream.Dispose();
            File.Delete(partial);
            throw;
        }
        return new SafetensorsWriter(full, layout, stream, partial);
    }

    /// <summary>Slots written so far.</summary>
    public int Written => next;

    /// <summary>Writes the next tensor of the layout; its name, dtype and shape must be the slot's.</summary>
    public void Write(string name, Tensor tensor)
    {
        if (committed) throw new InvalidOperationException("the file is already committed");
        if (next >= layout.Count) throw new InvalidOperationException($"all {layout.Count} tensors are already written; '{name}' is one too many");
        var slot = layout[next];
        if (slot.Name != name || slot.DType != tensor.dtype || !slot.Shape.SequenceEqual(tensor.shape))
            throw new InvalidOperationException(
                $"tensor {next} should be '{slot.Name}' {slot.DType} [{string.Join(", ", slot.Shape)}], got '{name}' {tensor.dtype} [{string.Join(", ", tensor.shape)}]");
        using var scope = NewDisposeScope();
        // Straight from the tensor's memory, its little-endian bytes as the format stores them: no managed copy between,
        // so a tensor of more than 2 GiB, past any .NET array, writes like any other.
        tensor.detach().cpu().contiguous().WriteBytesToStream(stream);
        next++;
    }

    /// <summary>Checks every tensor was written, then renames the file into place.</summary>
    public void Commit()
    {
        if (committed) return;
        if (next != layout.Count) throw new InvalidOperationException($"only {next} of {layout.Count} tensors were written");
        stream.Flush(flushToDisk: true);
        stream.Dispose();
        File.Move(partial, path, overwrite: true);
        committed = true;
    }

    /// <summary>Without <see cref="Commit"/>, the partial file is removed: nothing half-written stays behind.</summary>
    public void Dispose()
    {
        if (committed) return;
        stream.Dispose();
        try { File.Delete(partial); } catch (IOException) { }
    }
}
