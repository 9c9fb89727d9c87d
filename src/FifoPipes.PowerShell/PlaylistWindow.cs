using System.Globalization;
using FifoPipes.Core.Media;

namespace FifoPipes.PowerShell;

/// <summary>
/// Where a live-window HLS playlist (the hls sink's keep) starts on its timeline. ffmpeg drops the oldest segments from
/// the list and deletes them, so the first listed segment is not the one the run's record and the playlist's name
/// describe; its decode time (<c>tfdt</c>, in the timescale its init segment declares) says how far into the timeline
/// it starts, and its first sample's length at what rate the sink wrote frames.
/// </summary>
internal sealed record PlaylistWindow(string Playlist, long MediaSequence, string? Map, string? FirstSegment)
{
    /// <summary>How far into its timeline a playlist's first listed segment starts, and the rate its frames were written at.</summary>
    public readonly record struct Start(double Seconds, double FramesPerSecond);

    const string MediaSequenceTag = "#EXT-X-MEDIA-SEQUENCE:", MapTag = "#EXT-X-MAP:URI=\"";

    /// <summary>
    /// The playlist's media sequence (above 0 where it dropped segments from its start) and its first listed segment
    /// with the init segment that segment needs, read in one pass; null where the playlist cannot be read.
    /// </summary>
    public static PlaylistWindow? Read(string playlist)
    {
        long sequence = 0;
        string? map = null;
        try
        {
            foreach (var line in File.ReadLines(playlist).Select(l => l.Trim()))
            {
                if (line.StartsWith(MediaSequenceTag, StringComparison.Ordinal))
                    long.TryParse(line.AsSpan(MediaSequenceTag.Length), NumberStyles.None, CultureInfo.InvariantCulture, out sequence);
                else if (line.StartsWith(MapTag, StringComparison.Ordinal)) map = line[MapTag.Length..].Split('"')[0];
                else if (line.Length > 0 && !line.StartsWith('#')) return new PlaylistWindow(playlist, sequence, map, line);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { return null; }
        return new PlaylistWindow(playlist, sequence, map, null);
    }

    /// <summary>Where the first listed segment starts; null where it, its init segment or their boxes cannot be read.</summary>
    public Start? FirstListed()
    {
        if (Map is null || FirstSegment is null) return null;
        try
        {
            var video = Fmp4Boxes.Tracks(File.ReadAllBytes(Beside(Map))).FirstOrDefault(t => t.IsVideo);
            if (video is null) return null;
            var segment = File.ReadAllBytes(Beside(FirstSegment));
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

    // A playlist's URIs are relative to it, and escaped as web addresses are.
    string Beside(string uri) => Path.Combine(Path.GetDirectoryName(Path.GetFullPath(Playlist))!, Uri.UnescapeDataString(uri));
}
