using System.Buffers.Binary;
using System.Text.Json;
using FifoPipes.Abstractions;

namespace FifoPipes.Samplers.Fifo;

/// <summary>Reads the "__metadata__" string map of a safetensors header (SafetensorsFile reads tensors only).</summary>
internal static class SafetensorsMetadata
{
    public static IReadOnlyDictionary<string, string> Read(string path)
    {
        if (!File.Exists(path))
            throw new FifoInputException("SnapshotNotFound", $"Snapshot '{path}' does not exist. Check the path, or start fresh without resuming.");
        using var stream = File.OpenRead(path);
        Span<byte> lengthBytes = stackalloc byte[8];
        if (stream.Length < 8 || stream.Read(lengthBytes) != 8) throw Damaged(path);
        ulong length = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (length > (ulong)Math.Min(stream.Length - 8, 100L << 20)) throw Damaged(path);
        var header = new byte[length];
        stream.ReadExactly(header);
        try
        {
            using var doc = JsonDocument.Parse(header);
            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            if (doc.RootElement.TryGetProperty("__metadata__", out var meta) && meta.ValueKind == JsonValueKind.Object)
                foreach (var p in meta.EnumerateObject())
                    if (p.Value.ValueKind == JsonValueKind.String) result[p.Name] = p.Value.GetString()!;
            return result;
        }
        catch (JsonException) { throw Damaged(path); }
    }

    static FifoInputException Damaged(string path) =>
        new("SnapshotInvalid", $"'{path}' is not a valid safetensors snapshot. The file is damaged; start fresh.");
}
