using System.Text;
using FifoPipes.Abstractions;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Png;

namespace FifoPipes.Core.Media;

/// <summary>The kinds of file FifoPipes' sinks record runs in (<see cref="ProvenanceReader.KindOf"/>).</summary>
public enum RecordingFile
{
    /// <summary>A PNG frame: its "FifoPipes" text chunk.</summary>
    Png,
    /// <summary>A GIF: its comment.</summary>
    Gif,
    /// <summary>An HLS playlist: its init segment's comment tag.</summary>
    Playlist,
    /// <summary>An MP4, WebM or MKV video: its comment tag.</summary>
    Video,
}

/// <summary>
/// Reads back what the sinks stored of the run that made a file (<see cref="VideoFrame.Provenance"/>): a PNG's
/// "FifoPipes" text chunk, a GIF's comment (undoing its ASCII escapes), a video's comment tag (through ffmpeg).
/// </summary>
public static class ProvenanceReader
{
    /// <summary>Every kind of file a run's record is read back from, for the messages that name them.</summary>
    public const string FilesThatRecordRuns = "a PNG frame, a GIF, an MP4, WebM or MKV video, an HLS playlist or a snapshot";

    /// <summary>How every run record starts, "FifoPipes run &lt;hash&gt;": the writer's and the readers' one spelling.</summary>
    public const string Mark = "FifoPipes run ";

    /// <summary>Whether <paramref name="path"/> is a kind of file the sinks record runs in (PNG, GIF, a video), by its content where it can be read, else by its extension.</summary>
    public static bool Records(string path) => KindOf(path) is not null;

    /// <summary>
    /// The kind of file the sinks record runs in that <paramref name="path"/> is, null for none: by the file's first
    /// bytes, so one written under another kind's extension (Export-FifoFrames x.png -Format gif) is still read; by its
    /// extension where its bytes say nothing we know. A reader that asks several things of one file sniffs it once here.
    /// </summary>
    public static RecordingFile? KindOf(string path)
    {
        if (Sniffed(path) is { } kind) return kind;
        return Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".png" => RecordingFile.Png,
            ".gif" => RecordingFile.Gif,
            ".m3u8" => RecordingFile.Playlist,
            _ => VideoClipReader.IsVideo(path) ? RecordingFile.Video : null,
        };
    }

    static readonly byte[] PngSignature = { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A };
    static readonly byte[] EbmlMagic = { 0x1A, 0x45, 0xDF, 0xA3 };

    static RecordingFile? Sniffed(string path)
    {
        Span<byte> head = stackalloc byte[12];
        int read;
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 1);
            read = file.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { return null; }
        head = head[..read];
        if (head.StartsWith(PngSignature)) return RecordingFile.Png;
        if (head.StartsWith("GIF87a"u8) || head.StartsWith("GIF89a"u8)) return RecordingFile.Gif;
        if (head.StartsWith("#EXTM3U"u8)) return RecordingFile.Playlist;
        // An MP4's first box is its file type; Matroska and WebM start with the EBML magic.
        if ((head.Length >= 8 && head[4..8].SequenceEqual("ftyp"u8)) || head.StartsWith(EbmlMagic)) return RecordingFile.Video;
        return null;
    }

    /// <summary>The provenance text, or null when the file holds none; an unreadable or unknown file is an input error.</summary>
    public static string? Read(string path)
    {
        RequireFile(path);
        return Read(path, KindOf(path) ?? throw new FifoInputException("ProvenanceUnsupported",
            $"'{path}' is not a file FifoPipes records runs in. Give {FilesThatRecordRuns}."));
    }

    /// <summary><see cref="Read(string)"/> of a file whose <paramref name="kind"/> the caller has read already (<see cref="KindOf"/>).</summary>
    public static string? Read(string path, RecordingFile kind)
    {
        RequireFile(path);
        try
        {
            return kind switch
            {
                RecordingFile.Png => Identified(path).Metadata.GetPngMetadata().TextData
                    .Where(t => t.Keyword == ImageFiles.ProvenanceKeyword).Select(t => t.Value).FirstOrDefault(),
                RecordingFile.Gif => Identified(path).Metadata.GetGifMetadata().Comments
                    .Select(UnescapeGifComment).FirstOrDefault(c => c.StartsWith(Mark, StringComparison.Ordinal)),
                RecordingFile.Playlist => VideoComment(HlsInitSegment(path)),
                _ => VideoComment(path),
            };
        }
        catch (Exception ex) when (ex is ImageFormatException or IOException or UnauthorizedAccessException)
        {
            throw new FifoInputException("ProvenanceUnreadable", $"'{path}' could not be read as {KindName(kind)} ({ex.Message}).", ex);
        }
    }

    static void RequireFile(string path)
    {
        if (!File.Exists(path))
            throw new FifoInputException("ProvenanceFileNotFound", $"'{path}' does not exist. Give a PNG frame, GIF or video that FifoPipes wrote.");
    }

    // As the messages said when kinds were extensions: png, gif, m3u8, video.
    static string KindName(RecordingFile kind) => kind == RecordingFile.Playlist ? "m3u8" : kind.ToString().ToLowerInvariant();

    /// <summary>The image's header and metadata; ImageSharp 2 answers null where it knows no format of the file.</summary>
    static IImageInfo Identified(string path) =>
        Image.Identify(path) ?? throw new UnknownImageFormatException("its content is no image format ImageSharp reads");

    /// <summary>
    /// A GIF comment's text: the format asks for 7-bit ASCII (readers decode it so), so other characters become \uXXXX
    /// escapes and a backslash \\.
    /// </summary>
    public static string EscapeGifComment(string comment)
    {
        var ascii = new StringBuilder(comment.Length);
        foreach (char c in comment)
            if (c == '\\') ascii.Append("\\\\");
            else if (c < 0x80) ascii.Append(c);
            else ascii.Append(System.Globalization.CultureInfo.InvariantCulture, $"\\u{(int)c:x4}");
        return ascii.ToString();
    }

    /// <summary>Undoes <see cref="EscapeGifComment"/>.</summary>
    public static string UnescapeGifComment(string comment)
    {
        var text = new StringBuilder(comment.Length);
        for (int i = 0; i < comment.Length; i++)
        {
            if (comment[i] == '\\' && i + 1 < comment.Length && comment[i + 1] == '\\') { text.Append('\\'); i++; }
            else if (comment[i] == '\\' && i + 5 < comment.Length && comment[i + 1] == 'u' &&
                     int.TryParse(comment.AsSpan(i + 2, 4), System.Globalization.NumberStyles.AllowHexSpecifier, null, out int code))
            {
                text.Append((char)code);
                i += 5;
            }
            else text.Append(comment[i]);
        }
        return text.ToString();
    }

    /// <summary>
    /// An HLS playlist's init segment (its first listed segment's EXT-X-MAP), which holds the comment tag the hls sink
    /// writes.
    /// </summary>
    static string HlsInitSegment(string playlist) =>
        HlsPlaylist.Parse(File.ReadAllText(playlist)) is { } listed
            ? HlsPlaylist.FileOf(playlist, listed.Segments[0].Map)
            : throw new FifoInputException("ProvenanceUnsupported", $"'{playlist}' lists no fragmented-MP4 segment with an init segment (EXT-X-MAP); FifoPipes writes fragmented-MP4 playlists, which do.");

    /// <summary>The container's global comment tag, from ffmpeg's metadata dump.</summary>
    static string? VideoComment(string path)
    {
        using (var process = FfmpegLocator.StartReading(new[] { "-v", "error", "-nostdin", "-i", path, "-f", "ffmetadata", "-" }))
        {
            var errors = process.StandardError.ReadToEndAsync();
            var dump = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0)
                throw new FifoInputException("ProvenanceUnreadable", $"ffmpeg could not read the metadata of '{path}': {errors.Result.Trim()}");
            return GlobalTags(dump).Where(t => t.Key.Equals("comment", StringComparison.OrdinalIgnoreCase)).Select(t => t.Value).FirstOrDefault();
        }
    }

    /// <summary>
    /// The global key=value pairs of an ffmetadata dump: before the first [SECTION], comments (; #) skipped, and a
    /// backslash taking the next character literally, line breaks included.
    /// </summary>
    public static IEnumerable<KeyValuePair<string, string>> GlobalTags(string dump)
    {
        var key = new StringBuilder();
        var value = new StringBuilder();
        bool inValue = false, lineStart = true;
        for (int i = 0; i < dump.Length; i++)
        {
            char c = dump[i];
            if (lineStart && !inValue && key.Length == 0 && c is ';' or '#')
            {
                while (i < dump.Length && dump[i] != '\n') i++;
                continue;
            }
            if (lineStart && !inValue && key.Length == 0 && c == '[') yield break;
            lineStart = false;
            if (c == '\\' && i + 1 < dump.Length) { (inValue ? value : key).Append(dump[++i]); continue; }
            if (c == '\n')
            {
                if (inValue) yield return KeyValuePair.Create(key.ToString(), value.ToString());
                key.Clear();
                value.Clear();
                inValue = false;
                lineStart = true;
                continue;
            }
            if (c == '=' && !inValue) { inValue = true; continue; }
            (inValue ? value : key).Append(c);
        }
        if (inValue) yield return KeyValuePair.Create(key.ToString(), value.ToString());
    }
}
