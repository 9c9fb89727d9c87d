using FifoPipes.Abstractions;
using FifoPipes.Core.Sinks;

namespace FifoPipes.Sinks.Ffmpeg;

/// <summary>
/// A resumed run that carries on an HLS playlist in place, so its viewers stay at the same address. ffmpeg writes the
/// run's part as a playlist of its own beside it (<c>sea.from-000120.m3u8</c>, named by its first frame, with segments
/// named after it); each segment that part lists is moved on the timeline to where the playlist ended (its decode times
/// shifted in place) and then listed in the playlist after the earlier ones. Where the part's init segment is the
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
    readonly string playlist;
    readonly string folder;
    readonly HlsPlaylist earlier;
    readonly int keep;
    readonly double fps;
    readonly Dictionary<string, HlsSegment> moved = new(StringComparer.Ordinal);
    readonly IProgressSink log;
    (long Length, DateTime Written) partSeen;
    HlsPlaylist? part;
    string? partMap;
    IReadOnlyDictionary<uint, ulong>? shift;
    string written = "";
    int earlierDeleted;

    HlsContinuation(string playlist, HlsPlaylist earlier, long earlierFrames, long firstFrame, double fps, int keep, IProgressSink log)
    {
        this.playlist = playlist;
        folder = Path.GetDirectoryName(playlist)!;
        this.earlier = earlier;
        this.keep = keep;
        this.fps = fps;
        this.log = log;
        EarlierFrames = earlierFrames;
        FirstNewFrame = Math.Max(earlierFrames, firstFrame);
        PartPlaylist = SinkFiles.ContinuationPath(playlist, FirstNewFrame);
    }

    /// <summary>How many frames the playlist held when this run began.</summary>
    public long EarlierFrames { get; }

    /// <summary>The first frame this run adds; earlier ones are in the playlist already.</summary>
    public long FirstNewFrame { get; }

    /// <summary>The playlist ffmpeg writes this run's part to.</summary>
    public string PartPlaylist { get; }

    /// <summary>
    /// The continuation of <paramref name="playlist"/> by a run whose first frame is <paramref name="firstFrame"/>; null
    /// where there is nothing to continue (a fresh run, no playlist) or the playlist is not one this sink wrote (no init
    /// segment, files missing), with the reason in <paramref name="why"/>.
    /// </summary>
    public static HlsContinuation? Open(string playlist, long firstFrame, double fps, int keep, IProgressSink log, out string? why)
    {
        why = null;
        if (firstFrame <= 0 || !File.Exists(playlist)) return null;
        var earlier = HlsPlaylist.Parse(File.ReadAllText(playlist));
        if (earlier is null)
        {
            why = "it lists no fragmented-MP4 segments";
            return null;
        }
        var folder = Path.GetDirectoryName(playlist)!;
        var last = earlier.Segments[^1];
        string init = Path.Combine(folder, last.Map), segment = Path.Combine(folder, last.Uri);
        if (!File.Exists(init) || !File.Exists(segment))
        {
            why = $"its last segment or init segment is missing ({(File.Exists(init) ? last.Uri : last.Map)})";
            return null;
        }
        var video = Fmp4Boxes.Tracks(File.ReadAllBytes(init)).FirstOrDefault(t => t.IsVideo);
        if (video is null || !Fmp4Boxes.DecodeTimes(File.ReadAllBytes(segment)).TryGetValue(video.Id, out var start))
        {
            why = $"its last segment {last.Uri} has no video track's time";
            return null;
        }
        long frames = (long)Math.Round((start / (double)video.Timescale + last.Seconds) * fps);
        HlsFiles.RemoveUnlisted(playlist, earlier.Segments.Select(s => s.Uri));
        var continuation = new HlsContinuation(playlist, earlier, frames, firstFrame, fps, keep, log);
        continuation.Refresh();
        return continuation;
    }

    /// <summary>
    /// Lists the segments the part has completed since the last call, each moved on the timeline first. Cheap when
    /// nothing changed (one look at the part playlist's size and time), so the sink calls it after every frame.
    /// </summary>
    /// <param name="final">This run adds nothing more: the playlist ends (<c>#EXT-X-ENDLIST</c>).</param>
    public void Refresh(bool final = false)
    {
        ReadPart(force: final);
        var segments = earlier.Segments.Concat(PartListed()).ToList();
        int dropped = keep > 0 ? Math.Max(0, segments.Count - keep) : 0;
        // ffmpeg's own window drops the part's oldest segments from its list: they count as dropped here too.
        long partDropped = part?.MediaSequence ?? 0;
        long outside = dropped + (dropped >= earlier.Segments.Count ? partDropped : 0);
        long discontinuities = earlier.DiscontinuitySequence + segments.Take(dropped).Count(s => s.Discontinuity)
                               + (partDropped > 0 && PartDiscontinuity ? 1 : 0);
        var shown = segments.Skip(dropped).ToList();
        int target = Math.Max(Math.Max(earlier.TargetSeconds, part?.TargetSeconds ?? 0), HlsPlaylist.TargetFor(shown));
        // A window drops segments, which an EVENT playlist promises never to do.
        var text = new HlsPlaylist(target, earlier.MediaSequence + outside, discontinuities, keep == 0 && earlier.Event, shown, final).Format();
        if (text != written)
        {
            // Players read the playlist while it changes: they see the old one or the new one, never half of one.
            var temporary = playlist + ".tmp";
            File.WriteAllText(temporary, text);
            File.Move(temporary, playlist, overwrite: true);
            written = text;
        }
        DeleteEarlierOutsideWindow(outside);
    }

    /// <summary>The part's listed segments that are moved on the timeline already, in order.</summary>
    IEnumerable<HlsSegment> PartListed() =>
        part is null ? Enumerable.Empty<HlsSegment>() : part.Segments.Where(s => moved.ContainsKey(s.Uri)).Select(s => moved[s.Uri]);

    bool PartDiscontinuity => partMap is not null && partMap != earlier.Segments[^1].Map;

    void ReadPart(bool force)
    {
        var info = new FileInfo(PartPlaylist);
        if (!info.Exists) return;
        if (!force && (info.Length, info.LastWriteTimeUtc) == partSeen) return;
        partSeen = (info.Length, info.LastWriteTimeUtc);
        if (HlsPlaylist.Parse(File.ReadAllText(PartPlaylist)) is not { } listed) return;
        part = listed;
        for (int i = 0; i < listed.Segments.Count; i++)
        {
            var segment = listed.Segments[i];
            var file = Path.Combine(folder, segment.Uri);
            // A live window's oldest segment may be gone before it was read here; it is not listed then.
            if (moved.ContainsKey(segment.Uri) || !File.Exists(file)) continue;
            Move(file, Path.Combine(folder, segment.Map));
            bool partStart = listed.MediaSequence == 0 && i == 0;
            moved[segment.Uri] = segment with { Map = partMap!, Discontinuity = partStart && PartDiscontinuity };
        }
    }

    /// <summary>Shifts a part segment's decode times to where the earlier playlist ended, each track in its own timescale.</summary>
    void Move(string segment, string init)
    {
        if (shift is null)
        {
            var initBytes = File.ReadAllBytes(init);
            var earlierInit = Path.Combine(folder, earlier.Segments[^1].Map);
            partMap = File.Exists(earlierInit) && File.ReadAllBytes(earlierInit).AsSpan().SequenceEqual(initBytes)
                ? earlier.Segments[^1].Map
                : Path.GetFileName(init);
            if (partMap != earlier.Segments[^1].Map)
                log.Verbose($"hls: this run's init segment differs from the earlier one's (other encoder settings); the playlist marks a discontinuity before its segments.");
            shift = Fmp4Boxes.Tracks(initBytes).ToDictionary(t => t.Id, t => (ulong)Math.Round(EarlierFrames * (double)t.Timescale / fps));
        }
        var bytes = File.ReadAllBytes(segment);
        Fmp4Boxes.ShiftDecodeTimes(bytes, shift);
        File.WriteAllBytes(segment, bytes);
    }

    /// <summary>The earlier run's segments that left the live window, all but the latest (a player may still be reading it), as ffmpeg does.</summary>
    void DeleteEarlierOutsideWindow(long outside)
    {
        for (; earlierDeleted < Math.Min(earlier.Segments.Count, outside - 1); earlierDeleted++)
            File.Delete(Path.Combine(folder, earlier.Segments[earlierDeleted].Uri));
    }
}
