using System.Globalization;
using FifoPipes.Core.Media;

namespace FifoPipes.PowerShell;

/// <summary>
/// Where a live-window HLS playlist (the hls sink's keep) starts on its timeline. ffmpeg drops the oldest segments from
/// the list and deletes them, so the first listed segment is not the one the run's record and the playlist's name
/// describe; its decode time (<c>tfdt</c>, in the timescale its init segment declares) says how far into the timeline
/// it starts, and its first sample's length at what rate the sink wrote frames.
/// </summary>
internal static class PlaylistWindow
{
    /// <summary>How far into its timeline a playlist's first listed segment starts, and the rate its frames were written at.</summary>
    public readonly record struct Start(double Seconds, double FramesPerSecond);

    /// <summary>Whether <paramref name="file"/> is a playlist that dropped segments from its start (EXT-X-MEDIA-SEQUENCE above 0).</summary>
    public static bool Dropped(string file) => IsPlaylist(file) && MediaSequence(file) > 0;

    /// <summary>Where the first listed segment of <paramref name="playlist"/> starts; null where its segments or their boxes cannot be read.</summary>
    public static Start? FirstListed(string playlist)
    {
        try
        {
            if (FirstSegment(playlist) is not { } files) return null;
            var video = Fmp4Boxes.Tracks(File.ReadAllBytes(files.Map)).FirstOrDefault(t => t.IsVideo);
            if (video is null) return null;
            var segment = File.ReadAllBytes(files.Segment);
            if (!Fmp4Boxes.DecodeTimes(segment).TryGetValue(video.Id, out ulong decodeTime)
                || Fmp4Boxes.FirstSampleDuration(segment, video.Id) is not { } sampleDuration || sampleDuration == 0)
                return null;
            return new Start(decodeTime / (double)video.Timescale, video.Timescale / (double)sampleDuration);
        }
        // A segment deleted as the window moved on since the playlist was read, or boxes not as ffmpeg writes them.
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidDataException or ArgumentOutOfRangeException)
        {
            return null;
        }
    }

    static bool IsPlaylist(string file)
    {
        Span<byte> head = stackalloc byte[7];
        try
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 1);
            return stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false) == head.Length && head.SequenceEqual("#EXTM3U"u8);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { return false; }
    }

    const string MediaSequenceTag = "#EXT-X-MEDIA-SEQUENCE:", MapTag = "#EXT-X-MAP:URI=\"";

    static long MediaSequence(string playlist) =>
        File.ReadLines(playlist).FirstOrDefault(l => l.StartsWith(MediaSequenceTag, StringComparison.Ordinal)) is { } line
        && long.TryParse(line.AsSpan(MediaSequenceTag.Length).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out long sequence)
            ? sequence
            : 0;

    /// <summary>The first listed media segment and the init segment it needs, as paths; null where the playlist lists none with one.</summary>
    static (string Map, string Segment)? FirstSegment(string playlist)
    {
        string? map = null;
        foreach (var line in File.ReadLines(playlist).Select(l => l.Trim()))
        {
            if (line.StartsWith(MapTag, StringComparison.Ordinal)) map = line[MapTag.Length..].Split('"')[0];
            else if (line.Length > 0 && !line.StartsWith('#')) return map is null ? null : (Beside(playlist, map), Beside(playlist, line));
        }
        return null;
    }

    // A playlist's URIs are relative to it, and escaped as web addresses are.
    static string Beside(string playlist, string uri) => Path.Combine(Path.GetDirectoryName(Path.GetFullPath(playlist))!, Uri.UnescapeDataString(uri));
}
