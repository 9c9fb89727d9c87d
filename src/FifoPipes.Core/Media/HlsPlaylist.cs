using System.Globalization;
using System.Text;

namespace FifoPipes.Core.Media;

/// <summary>
/// A media segment of a playlist: its URI, length, the init segment it needs, whether a discontinuity precedes it, and
/// the other tags that apply to it, kept as written (ffmpeg's <c>#EXT-X-PROGRAM-DATE-TIME</c>).
/// </summary>
/// <param name="Uri">The segment's file, relative to the playlist (<see cref="HlsPlaylist.FileOf"/>).</param>
/// <param name="Seconds">Its length (<c>#EXTINF</c>).</param>
/// <param name="Map">Its init segment (<c>#EXT-X-MAP</c>), relative to the playlist.</param>
/// <param name="Discontinuity">Whether <c>#EXT-X-DISCONTINUITY</c> precedes it.</param>
/// <param name="Tags">Its other tags, as written.</param>
public sealed record HlsSegment(string Uri, double Seconds, string Map, bool Discontinuity = false, IReadOnlyList<string>? Tags = null)
{
    /// <summary>Its tags that this reader does not interpret, as written; none where none were given.</summary>
    public IReadOnlyList<string> Tags { get; init; } = Tags ?? Array.Empty<string>();

    /// <summary>Equal where every field is, its tags compared in order (a record compares lists by reference).</summary>
    public bool Equals(HlsSegment? other) =>
        other is not null && (Uri, Seconds, Map, Discontinuity) == (other.Uri, other.Seconds, other.Map, other.Discontinuity) && Tags.SequenceEqual(other.Tags);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Uri, Seconds, Map, Discontinuity, Tags.Count);
}

/// <summary>
/// A media playlist of fragmented-MP4 segments, as the hls sink's ffmpeg writes it and as a resumed run continues it:
/// read from text, and written back with any list of segments. One reader for the sink that continues playlists and
/// Get-FifoProvenance that reads their records and windows (moved here from the ffmpeg sinks in Core 1.3).
/// </summary>
/// <param name="TargetSeconds">The longest segment's length, rounded up (<c>#EXT-X-TARGETDURATION</c>).</param>
/// <param name="Segments">The listed segments, in order.</param>
/// <param name="MediaSequence">The number of the first listed segment (a live window counts the ones it dropped).</param>
/// <param name="DiscontinuitySequence">How many discontinuities dropped out of the window before the first listed segment.</param>
/// <param name="Event">An EVENT playlist lists every segment from the first; otherwise it is a live window.</param>
/// <param name="Ended">Whether it ends with <c>#EXT-X-ENDLIST</c>: no more segments will come.</param>
/// <param name="Tags">The playlist's tags it reads but does not interpret (<c>#EXT-X-INDEPENDENT-SEGMENTS</c>), kept as written.</param>
public sealed record HlsPlaylist(int TargetSeconds, long MediaSequence, long DiscontinuitySequence, bool Event, IReadOnlyList<HlsSegment> Segments, bool Ended,
    IReadOnlyList<string>? Tags = null)
{
    /// <summary>The playlist's tags that this reader does not interpret, as written; none where none were given.</summary>
    public IReadOnlyList<string> Tags { get; init; } = Tags ?? Array.Empty<string>();

    /// <summary>Tags of the whole playlist (RFC 8216 4.3.3, 4.3.5) that this reader does not interpret; any other tag applies to the segment after it.</summary>
    static readonly string[] PlaylistTags = { "#EXT-X-PLAYLIST-TYPE:", "#EXT-X-INDEPENDENT-SEGMENTS", "#EXT-X-START:", "#EXT-X-I-FRAMES-ONLY", "#EXT-X-ALLOW-CACHE:", "#EXT-X-SERVER-CONTROL:", "#EXT-X-PART-INF:", "#EXT-X-DEFINE:" };

    /// <summary>Tags that apply to every later segment, or put segments in one file: a segment's list cannot be cut or moved with them.</summary>
    static readonly string[] StateTags = { "#EXT-X-BYTERANGE:", "#EXT-X-KEY:", "#EXT-X-PART:", "#EXT-X-GAP", "#EXT-X-BITRATE:" };

    /// <summary>A VOD playlist is final: nothing may be added to it.</summary>
    public bool Vod => Tags.Contains("#EXT-X-PLAYLIST-TYPE:VOD");

    /// <summary>Whether the playlist has tags (byte ranges, keys) that this sink cannot move with the segments it lists.</summary>
    public string? TagNotCarried =>
        Segments.SelectMany(s => s.Tags).FirstOrDefault(t => StateTags.Any(tag => t.StartsWith(tag, StringComparison.Ordinal)))?.Split(':')[0];

    /// <summary>
    /// The playlist in <paramref name="text"/>; null where it is not one FifoPipes reads and continues (no segments, or
    /// segments without an init segment: MPEG-TS, or a playlist of another program's; or a number that is none). An
    /// unfinished last line (a playlist read while it is written) is left out.
    /// </summary>
    public static HlsPlaylist? Parse(string text)
    {
        try
        {
            return Read(text);
        }
        catch (Exception ex) when (ex is FormatException or OverflowException)
        {
            return null;
        }
    }

    static HlsPlaylist? Read(string text)
    {
        var lines = text.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        if (lines.Count == 0 || lines[0] != "#EXTM3U") return null;
        if (!text.EndsWith('\n')) lines.RemoveAt(lines.Count - 1);
        int target = 0;
        long mediaSequence = 0, discontinuitySequence = 0;
        bool isEvent = false, ended = false, discontinuity = false;
        string? map = null;
        double? seconds = null;
        var segments = new List<HlsSegment>();
        var playlistTags = new List<string>();
        var segmentTags = new List<string>();
        foreach (var line in lines.Skip(1))
        {
            if (Tag(line, "#EXT-X-TARGETDURATION:") is { } t) target = int.Parse(t, NumberStyles.None, CultureInfo.InvariantCulture);
            else if (Tag(line, "#EXT-X-MEDIA-SEQUENCE:") is { } m) mediaSequence = long.Parse(m, NumberStyles.None, CultureInfo.InvariantCulture);
            else if (Tag(line, "#EXT-X-DISCONTINUITY-SEQUENCE:") is { } d) discontinuitySequence = long.Parse(d, NumberStyles.None, CultureInfo.InvariantCulture);
            else if (line == "#EXT-X-PLAYLIST-TYPE:EVENT") isEvent = true;
            else if (line == "#EXT-X-DISCONTINUITY") discontinuity = true;
            else if (line == "#EXT-X-ENDLIST") ended = true;
            else if (Tag(line, "#EXT-X-MAP:URI=\"") is { } uri) map = uri.Split('"')[0];
            else if (Tag(line, "#EXTINF:") is { } inf) seconds = double.Parse(inf.Split(',')[0], NumberStyles.Float, CultureInfo.InvariantCulture);
            else if (line.StartsWith("#EXT", StringComparison.Ordinal) && line != "#EXTM3U" && Tag(line, "#EXT-X-VERSION:") is null)
                (PlaylistTags.Any(tag => line.StartsWith(tag, StringComparison.Ordinal)) ? playlistTags : segmentTags).Add(line);
            else if (line.Length > 0 && !line.StartsWith('#') && seconds is { } length)
            {
                if (map is null) return null;
                segments.Add(new HlsSegment(line, length, map, discontinuity, segmentTags.ToArray()));
                (seconds, discontinuity) = (null, false);
                segmentTags.Clear();
            }
        }
        return segments.Count == 0 ? null : new HlsPlaylist(target, mediaSequence, discontinuitySequence, isEvent, segments, ended, playlistTags);
    }

    /// <summary>
    /// The file a segment's or init segment's <paramref name="uri"/> names: relative to the playlist, and as ffmpeg writes
    /// it, unescaped; a playlist another program wrote may escape it as a web address (<c>%20</c>).
    /// </summary>
    public static string FileOf(string playlist, string uri)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(playlist))!;
        var written = Path.Combine(folder, uri);
        return File.Exists(written) ? written : Path.Combine(folder, System.Uri.UnescapeDataString(uri));
    }

    static string? Tag(string line, string tag) => line.StartsWith(tag, StringComparison.Ordinal) ? line[tag.Length..] : null;

    /// <summary>
    /// The playlist as text: an init segment named wherever it changes, a discontinuity where one is marked, and the tags
    /// kept from reading it (a segment's after its length, where ffmpeg writes them).
    /// </summary>
    public string Format()
    {
        var text = new StringBuilder("#EXTM3U\n#EXT-X-VERSION:7\n");
        text.Append(CultureInfo.InvariantCulture, $"#EXT-X-TARGETDURATION:{TargetSeconds}\n#EXT-X-MEDIA-SEQUENCE:{MediaSequence}\n");
        if (DiscontinuitySequence > 0) text.Append(CultureInfo.InvariantCulture, $"#EXT-X-DISCONTINUITY-SEQUENCE:{DiscontinuitySequence}\n");
        if (Event) text.Append("#EXT-X-PLAYLIST-TYPE:EVENT\n");
        foreach (var tag in Tags) text.Append(tag).Append('\n');
        string? map = null;
        foreach (var segment in Segments)
        {
            if (segment.Discontinuity) text.Append("#EXT-X-DISCONTINUITY\n");
            if (segment.Map != map) text.Append("#EXT-X-MAP:URI=\"").Append(segment.Map).Append("\"\n");
            map = segment.Map;
            text.Append(CultureInfo.InvariantCulture, $"#EXTINF:{segment.Seconds:0.000000},\n");
            foreach (var tag in segment.Tags) text.Append(tag).Append('\n');
            text.Append(segment.Uri).Append('\n');
        }
        if (Ended) text.Append("#EXT-X-ENDLIST\n");
        return text.ToString();
    }
}
