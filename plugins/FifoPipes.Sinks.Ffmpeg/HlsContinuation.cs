using System.Globalization;
using FifoPipes.Abstractions;
using FifoPipes.Core.Media;
using FifoPipes.Core.Sinks;

namespace FifoPipes.Sinks.Ffmpeg;

/// <summary>
/// A resumed run that carries on an HLS playlist in place, so its viewers stay at the same address. ffmpeg writes the
/// run's part as a playlist of its own beside it (<c>sea.from-000120.m3u8</c>, named by its first frame, with segments
/// named after it); each segment that part lists is shifted on the timeline to where the playlist ended (its decode
/// times, in place) and then listed in the playlist after the earlier ones. Where the part's init segment is the
/// earlier one byte for byte (the same encoder settings), the playlist goes on as one stream, which players and ffmpeg
/// alike read straight through; otherwise a discontinuity and the part's own init segment come first.
/// </summary>
/// <remarks>
/// Frames the playlist already holds (an interrupted run usually got past its last snapshot) are not encoded again:
/// <see cref="FirstNewFrame"/> is where the playlist ends. A live window (<c>keep</c>) counts over both runs' segments and
/// deletes the earlier run's as they leave it, as ffmpeg does with its own.
/// </remarks>
public sealed class HlsContinuation
{
    /// <summary>What the playlist holds when the run begins: its list, frames, last fragment number and the init segment it ends on.</summary>
    /// <param name="Fragments">The part's fragments are numbered on from it.</param>
    /// <param name="Init">Where the part's init segment is the same, the part needs no map of its own.</param>
    sealed record Earlier(HlsPlaylist Playlist, long Frames, uint Fragments, byte[] Init);

    readonly string playlist;
    readonly string folder;
    readonly Earlier held;
    readonly int keep;
    readonly double fps;
    readonly IProgressSink log;
    /// <summary>The part's segments shifted onto the timeline, by URI, each with its number in the playlist (which never changes).</summary>
    readonly Dictionary<string, (HlsSegment Segment, long Number)> shifted = new(StringComparer.Ordinal);
    HlsPlaylist? part;
    string? partMap;
    IReadOnlyList<Fmp4Track>? partTracks;
    string written = "";
    int earlierDeleted;

    HlsContinuation(string playlist, Earlier held, long firstFrame, double fps, int keep, IProgressSink log)
    {
        this.playlist = playlist;
        folder = Path.GetDirectoryName(playlist)!;
        this.held = held;
        this.keep = keep;
        this.fps = fps;
        this.log = log;
        FirstNewFrame = Math.Max(held.Frames, firstFrame);
        PartPlaylist = SinkFiles.ContinuationPath(playlist, FirstNewFrame);
        Part = new HlsPlaylistWatch(PartPlaylist);
    }

    /// <summary>How many frames the playlist held when this run began.</summary>
    public long EarlierFrames => held.Frames;

    HlsPlaylist EarlierPlaylist => held.Playlist;

    /// <summary>The first frame this run adds; earlier ones are in the playlist already.</summary>
    public long FirstNewFrame { get; }

    /// <summary>The playlist ffmpeg writes this run's part to.</summary>
    public string PartPlaylist { get; }

    /// <summary>The part playlist as ffmpeg writes it, checked for the writes it fails without a word.</summary>
    internal HlsPlaylistWatch Part { get; }

    /// <summary>
    /// The continuation of <paramref name="playlist"/> by a run whose first frame is <paramref name="firstFrame"/>; null
    /// where there is nothing to continue (a fresh run, no playlist) or the playlist cannot go on as this run would write
    /// it (not fragmented MP4, files missing or unreadable, an EVENT playlist given a live window, longer segments than
    /// it promised, another frame rate, another run's frames), with the reason in <paramref name="why"/>.
    /// </summary>
    /// <param name="run">This run's record (its first frame's provenance); null where the frames record none.</param>
    public static HlsContinuation? Open(string playlist, long firstFrame, FrameFormat format, FfmpegSinkOptions options, IProgressSink log, out string? why,
        string? run = null)
    {
        why = null;
        if (firstFrame <= 0 || !File.Exists(playlist)) return null;
        try
        {
            why = Unfit(playlist, options, format, run, out var held);
            if (why is not null) return null;
            HlsFiles.RemoveUnlisted(playlist, held!.Playlist.Segments.Select(s => s.Uri));
            var continuation = new HlsContinuation(playlist, held, firstFrame, format.Fps, options.Keep, log);
            // A killed resume's part of the same name is not this run's: gone before anything of it is listed.
            HlsFiles.RemoveEarlierRun(continuation.PartPlaylist);
            continuation.Refresh();
            return continuation;
        }
        // A playlist or box that is not as this sink writes them, or a file another program holds.
        catch (Exception ex) when (ex is FormatException or OverflowException or InvalidDataException or ArgumentOutOfRangeException or IOException or UnauthorizedAccessException)
        {
            why = $"it cannot be read or rewritten ({ex.Message})";
            return null;
        }
    }

    /// <summary>Why the playlist cannot go on as this run would write it; null where it can, with what it holds.</summary>
    static string? Unfit(string playlist, FfmpegSinkOptions options, FrameFormat format, string? run, out Earlier? held)
    {
        held = null;
        var earlier = HlsPlaylist.Parse(File.ReadAllText(playlist));
        if (earlier is null) return "it lists no fragmented-MP4 segments";
        if (earlier.Vod) return "it is a VOD playlist, which may not change";
        if (earlier.TagNotCarried is { } tag) return $"it has {tag} tags, which tie segments together in a way this sink does not carry on";
        if (earlier.Event && options.Keep > 0) return $"it lists every segment (EVENT), which a live window (keep {options.Keep}) would drop";
        // A playlist's target duration must not change, and this run's segments may not be longer than it.
        if (TargetSeconds(options, format) > earlier.TargetSeconds)
            return string.Create(CultureInfo.InvariantCulture, $"its segments are at most {earlier.TargetSeconds} s long and this run's would be {options.Segment} s");
        var folder = Path.GetDirectoryName(playlist)!;
        var last = earlier.Segments[^1];
        string init = Path.Combine(folder, last.Map), segment = Path.Combine(folder, last.Uri);
        if (!File.Exists(init) || !File.Exists(segment)) return $"its last segment or init segment is missing ({(File.Exists(init) ? last.Uri : last.Map)})";
        var initBytes = File.ReadAllBytes(init);
        var video = Fmp4Boxes.Tracks(initBytes).FirstOrDefault(t => t.IsVideo);
        var lastBytes = File.ReadAllBytes(segment);
        if (video is null || !Fmp4Boxes.DecodeTimes(lastBytes).TryGetValue(video.Id, out var start))
            return $"its last segment {last.Uri} has no video track's time";
        // Its frames are counted, and this run's placed on its timeline, at this run's rate: at another they would land
        // elsewhere, skipping or repeating frames.
        if (OtherRate(video, lastBytes, options, format) is { } rate) return rate;
        // Read only where there is a run to compare with: it takes an ffmpeg.
        if (run is not null && RecordedRun.Other(ProvenanceReader.Read(init, RecordingFile.Video), run) is { } other) return other;
        // The file ends with its last frame: a whole frame after that frame's start, or, interpolated, a fraction of one
        // (minterpolate's last output frame, at least 1/240 s); either way the frames started before the end are the ones
        // it holds. A microsecond covers the playlist's rounding of the last length.
        double end = start / (double)video.Timescale + last.Seconds;
        long frames = (long)Math.Floor((end - 1e-6) * format.Fps) + 1;
        held = new Earlier(earlier, frames, Fmp4Boxes.LastFragmentNumber(lastBytes), initBytes);
        return null;
    }

    /// <summary>
    /// Why the playlist's frames play at another rate than this run's would (-Fps, or interpolate, changed since it was
    /// written), by its last segment's first frame length; null where they play at the same, or it cannot tell.
    /// </summary>
    static string? OtherRate(Fmp4Track video, byte[] lastSegment, FfmpegSinkOptions options, FrameFormat format)
    {
        if (Fmp4Boxes.FirstSampleDuration(lastSegment, video.Id) is not { } ticks || ticks == 0) return null;
        double earlier = video.Timescale / (double)ticks;
        double now = FfmpegCommand.Interpolates(options, format) ? options.Interpolate : format.Fps;
        // The timescale rounds a rate like 29.97 a little: a thousandth apart is the same rate.
        return Math.Abs(earlier - now) <= now * 1e-3 ? null
            : string.Create(CultureInfo.InvariantCulture, $"its frames play at {earlier:0.###} fps and this run's would at {now:0.###} (another -Fps or interpolate)");
    }

    /// <summary>
    /// The target duration ffmpeg writes for this run's segments: the longest rounded to the nearest second, half to even
    /// (lrint), so 2.5 s segments say 2. A segment is whole encoded frames, cut at the first at or past each boundary.
    /// </summary>
    static int TargetSeconds(FfmpegSinkOptions options, FrameFormat format)
    {
        double rate = FfmpegCommand.Interpolates(options, format) ? options.Interpolate : format.Fps;
        double longest = Math.Ceiling(options.Segment * rate - 1e-6) / rate;
        return (int)Math.Round(longest, MidpointRounding.ToEven);
    }

    /// <summary>
    /// Lists the segments the part has completed since the last call, each shifted onto the timeline first. Cheap when
    /// nothing changed (one look at the part playlist's size and time), so the sink calls it after every frame.
    /// </summary>
    /// <param name="final">This run adds nothing more: the playlist ends (<c>#EXT-X-ENDLIST</c>).</param>
    public void Refresh(bool final = false)
    {
        if (!ReadPart(force: final) && written.Length > 0 && !final) return;
        var segments = EarlierPlaylist.Segments.Select((s, i) => (Segment: s, Number: EarlierPlaylist.MediaSequence + i))
            .Concat(part?.Segments.Where(s => shifted.ContainsKey(s.Uri)).Select(s => shifted[s.Uri]) ?? Enumerable.Empty<(HlsSegment, long)>())
            .ToList();
        var shown = segments.Skip(keep > 0 ? Math.Max(0, segments.Count - keep) : 0).ToList();
        long firstShown = shown[0].Number;
        // Every discontinuity before the first listed segment counts, the part's first one too when ffmpeg's window dropped it.
        long discontinuities = EarlierPlaylist.DiscontinuitySequence + segments.TakeWhile(s => s.Number < firstShown).Count(s => s.Segment.Discontinuity)
                               + (part is { MediaSequence: > 0 } && PartDiscontinuity ? 1 : 0);
        var text = (EarlierPlaylist with { MediaSequence = firstShown, DiscontinuitySequence = discontinuities, Segments = shown.Select(s => s.Segment).ToList(), Ended = final }).Format();
        if (text != written)
        {
            HlsFiles.Replace(playlist, text);
            written = text;
        }
        DeleteEarlierBefore(firstShown);
    }

    bool PartDiscontinuity => partMap is not null && partMap != EarlierPlaylist.Segments[^1].Map;

    /// <summary>
    /// Shifts and takes in the part's newly listed segments; false when the part playlist has not changed. Only a sound
    /// listing of whole segments is taken in (<see cref="HlsPlaylistWatch"/>), so the playlist never lists a cut one.
    /// </summary>
    /// <exception cref="HlsWriteFailedException">ffmpeg failed a write of the part without a word (a full disk).</exception>
    bool ReadPart(bool force)
    {
        if (!Part.Read(force) || Part.Listing is not { } listed) return false;
        for (int i = 0; i < listed.Segments.Count; i++)
        {
            var segment = listed.Segments[i];
            var file = Path.Combine(folder, segment.Uri);
            // ffmpeg lists a segment once it is complete and deletes it only after it left its list, so a listed one is there.
            if (shifted.ContainsKey(segment.Uri) || !File.Exists(file)) continue;
            ShiftOntoTimeline(file, Path.Combine(folder, segment.Map));
            long partNumber = listed.MediaSequence + i;
            shifted[segment.Uri] = (segment with { Map = partMap!, Discontinuity = partNumber == 0 && PartDiscontinuity },
                EarlierPlaylist.MediaSequence + EarlierPlaylist.Segments.Count + partNumber);
        }
        part = listed;
        return true;
    }

    /// <summary>
    /// Shifts a part segment's decode times to where the earlier playlist ended, each track in its own timescale, and numbers
    /// its fragments on from the earlier ones', so the two read as one stream.
    /// </summary>
    void ShiftOntoTimeline(string segment, string init)
    {
        if (partTracks is null)
        {
            var initBytes = File.ReadAllBytes(init);
            partMap = held.Init.AsSpan().SequenceEqual(initBytes) ? EarlierPlaylist.Segments[^1].Map : Path.GetFileName(init);
            if (PartDiscontinuity)
                log.Verbose("hls: this run's init segment differs from the earlier one's (other encoder settings); the playlist marks a discontinuity before its segments.");
            partTracks = Fmp4Boxes.Tracks(initBytes);
        }
        var bytes = File.ReadAllBytes(segment);
        Fmp4Boxes.ShiftDecodeTimes(bytes, partTracks, timescale => (ulong)Math.Round(EarlierFrames * (double)timescale / fps));
        Fmp4Boxes.NumberFragmentsAfter(bytes, held.Fragments);
        // Written over in place at the same length, not truncated first: a full disk takes nothing more, and a failed write cannot cut it short.
        using var file = new FileStream(segment, FileMode.Open, FileAccess.Write);
        file.Write(bytes);
    }

    /// <summary>The earlier run's segments that left the live window, all but the latest (a player may still be reading it), as ffmpeg does.</summary>
    void DeleteEarlierBefore(long firstShown)
    {
        long outside = firstShown - EarlierPlaylist.MediaSequence;
        for (; earlierDeleted < Math.Min(EarlierPlaylist.Segments.Count, outside - 1); earlierDeleted++)
            File.Delete(Path.Combine(folder, EarlierPlaylist.Segments[earlierDeleted].Uri));
    }
}
