using FifoPipes.Core.Media;

namespace FifoPipes.PowerShell;

/// <summary>
/// Where a live-window HLS playlist (the hls sink's keep) starts on its timeline. ffmpeg drops the oldest segments from
/// the list and deletes them, so the first listed segment is not the one the run's record and the playlist's name
/// describe; its decode time (<c>tfdt</c>, in the timescale its init segment declares) says how far into the timeline
/// it starts, and its first sample's length at what rate the sink wrote frames.
/// </summary>
internal sealed record PlaylistWindow(string Playlist, long MediaSequence, HlsSegment FirstSegment)
{
    /// <summary>How far into its timeline a playlist's first listed segment starts, and the rate its frames were written at.</summary>
    public readonly record struct Start(double Seconds, double FramesPerSecond);

    /// <summary>
    /// The playlist's media sequence (above 0 where it dropped segments from its start) and its first listed segment;
    /// null where the playlist cannot be read or lists no fragmented-MP4 segment.
    /// </summary>
    public static PlaylistWindow? Read(string playlist)
    {
        try
        {
            return HlsPlaylist.Parse(File.ReadAllText(playlist)) is { } listed ? new PlaylistWindow(playlist, listed.MediaSequence, listed.Segments[0]) : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { return null; }
    }

    /// <summary>Where the first listed segment starts; null where it, its init segment or their boxes cannot be read.</summary>
    public Start? FirstListed()
    {
        try
        {
            var video = Fmp4Boxes.Tracks(File.ReadAllBytes(HlsPlaylist.FileOf(Playlist, FirstSegment.Map))).FirstOrDefault(t => t.IsVideo);
            if (video is null) return null;
            var segment = File.ReadAllBytes(HlsPlaylist.FileOf(Playlist, FirstSegment.Uri));
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
}
