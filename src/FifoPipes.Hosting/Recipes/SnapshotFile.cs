using System.Buffers.Binary;
using System.Text.Json;
using FifoPipes.Abstractions;
using FifoPipes.Core.Media;

namespace FifoPipes.Hosting.Recipes;

/// <summary>
/// What a file at a snapshot path is, read from its header alone: a snapshot is a safetensors file whose metadata names
/// the run it belongs to (<see cref="SnapshotMetadata.RunHash"/>). A video, a picture or a model checkpoint there is
/// the user's, which no snapshot may replace, -Force or not.
/// </summary>
public static class SnapshotFile
{
    /// <summary>The <see cref="FifoInputException.ErrorId"/> of a snapshot path that holds another kind of file.</summary>
    public const string NotASnapshotErrorId = "SnapshotPathHoldsOtherFile";

    // As the safetensors reader's limit: real headers are well under a megabyte.
    const long MaxHeaderBytes = 100L * 1024 * 1024;

    /// <summary>What the file at <paramref name="path"/> is where it is no snapshot ("an MP4, WebM or MKV video"); null for a snapshot, or one damaged past reading its header.</summary>
    public static string? OtherKind(string path)
    {
        var header = Header(path, out bool begins);
        // A snapshot cut short (a full disk, a copy) is still one: replacing it loses nothing a resume could use.
        if (begins) return header is null || header.ContainsKey(SnapshotMetadata.RunHash) ? null : "a safetensors file that records no run (a model checkpoint, say)";
        long length = new FileInfo(path).Length;
        return ProvenanceReader.KindOf(path) switch
        {
            RecordingFile.Png => "a PNG image",
            RecordingFile.Gif => "a GIF",
            RecordingFile.Playlist => "an HLS playlist",
            RecordingFile.Video => "a video",
            _ => length == 0 ? "an empty file, no snapshot" : $"a file of {length} bytes that is no snapshot (it does not begin as a safetensors file does)",
        };
    }

    /// <summary>The run hash a snapshot records; null where the file is none, or its header cannot be read.</summary>
    public static string? RunHashOf(string path) => Header(path, out _)?.GetValueOrDefault(SnapshotMetadata.RunHash);

    /// <summary>
    /// The header's string metadata; null where the file does not begin as a safetensors file (<paramref name="begins"/>
    /// false) or its header cannot be read.
    /// </summary>
    static Dictionary<string, string>? Header(string path, out bool begins)
    {
        begins = false;
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 1);
            Span<byte> head = stackalloc byte[9];
            if (file.ReadAtLeast(head, 9, throwOnEndOfStream: false) < 9 || head[8] != (byte)'{') return null;
            begins = true;
            ulong length = BinaryPrimitives.ReadUInt64LittleEndian(head);
            if (length < 2 || length > (ulong)Math.Min(MaxHeaderBytes, file.Length - 8)) return null;
            var json = new byte[length];
            json[0] = (byte)'{';
            file.ReadExactly(json.AsSpan(1));
            using var document = JsonDocument.Parse(json);
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            if (document.RootElement.TryGetProperty("__metadata__", out var entries) && entries.ValueKind == JsonValueKind.Object)
                foreach (var entry in entries.EnumerateObject())
                    if (entry.Value.ValueKind == JsonValueKind.String) metadata[entry.Name] = entry.Value.GetString()!;
            return metadata;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException or EndOfStreamException) { return null; }
    }
}
