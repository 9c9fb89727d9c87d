using System.Text.RegularExpressions;
using FifoPipes.Abstractions;
using FifoPipes.Core.Media;
using FifoPipes.Core.Sinks;

namespace FifoPipes.Sinks.Ffmpeg;

/// <summary>
/// The files of an HLS playlist: its init segment and media segments lie beside it, named after it. The names go into
/// the playlist as URIs, which players resolve like web addresses, so they keep to letters, digits, '.', '-' and '_'
/// (a ':' reads as a scheme, '#' and '?' end the path, '%' is a pattern to ffmpeg).
/// </summary>
public static class HlsFiles
{
    public const string PlaylistNameErrorId = "SinkHlsPlaylistName";

    /// <summary>The init segment's file name (no folder): the playlist's EXT-X-MAP names it, and it holds the comment tag.</summary>
    public static string InitName(string playlist) => Stem(playlist) + "_init.mp4";

    /// <summary>The media segments' path pattern for ffmpeg, numbered from 000000.</summary>
    public static string SegmentPattern(string playlist) => Path.Combine(Folder(playlist), Stem(playlist) + "_%06d.m4s");

    /// <summary>
    /// Refuses a '%' in the playlist's name or folder (ffmpeg expands %v and %d there, so it would write another file than asked)
    /// and, without overwrite, segments an earlier run left: ffmpeg's -n guards only the playlist.
    /// </summary>
    public static void EnsureWritable(string playlist, bool overwrite)
    {
        if (Path.GetFileName(playlist).Contains('%'))
            throw new FifoInputException(PlaylistNameErrorId,
                $"The HLS playlist name '{Path.GetFileName(playlist)}' holds '%', which ffmpeg reads as a pattern. Choose a name without it.");
        // The segments' pattern holds the whole folder, where ffmpeg 5.1 fills a %d (or %v) and takes no %% for a percent sign.
        if (System.Text.RegularExpressions.Regex.Match(Folder(playlist), "%(\\d*d|v)") is { Success: true } field)
            throw new FifoInputException(PlaylistNameErrorId,
                $"The HLS playlist's folder '{Folder(playlist)}' holds '{field.Value}', which ffmpeg fills with a number in its segments' names. Choose a folder without it.");
        if (!overwrite && OwnFiles(playlist).FirstOrDefault() is { } left)
            throw SinkFiles.OutputExists(playlist, $" in part: its segments ({Path.GetFileName(left)}, ...) are there");
    }

    /// <summary>
    /// Removes an earlier run's playlist and segments before a new run replaces them (a longer run leaves more than the
    /// next one writes over, and a new run whose ffmpeg fails at once must not leave the old playlist as its own), with the
    /// parts resumed runs added to it.
    /// </summary>
    public static void RemoveEarlierRun(string playlist)
    {
        // A folder not made yet holds no earlier run (and File.Delete refuses a path through it).
        if (!Directory.Exists(Folder(playlist))) return;
        foreach (var file in OwnAndPartFiles(playlist).ToList().Append(playlist)) File.Delete(file);
    }

    /// <summary>A file an earlier run wrote for the playlist (its own segments or a resumed part), found beside it; null where there is none.</summary>
    internal static string? EarlierRunFile(string playlist) => OwnAndPartFiles(playlist).FirstOrDefault();

    /// <summary>
    /// The playlist a resumed run from <paramref name="firstFrame"/> writes beside <paramref name="playlist"/> when it
    /// cannot carry it on (<c>sea.from-000120.m3u8</c>), whether or not the playlist itself is there.
    /// </summary>
    internal static string BesidePath(string playlist, long firstFrame) =>
        Path.Combine(Path.GetDirectoryName(playlist) ?? "",
            $"{Path.GetFileNameWithoutExtension(playlist)}.from-{firstFrame.ToString("D6", System.Globalization.CultureInfo.InvariantCulture)}{Path.GetExtension(playlist)}");

    /// <summary>Ends a playlist of this sink's kind (fragmented MP4) that is still open; false where it is not one, or was ended.</summary>
    public static bool EndIfOurs(string playlist)
    {
        try
        {
            var text = File.ReadAllText(playlist);
            if (HlsPlaylist.Parse(text) is not { Ended: false }) return false;
            AppendEnd(playlist, text);
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or OverflowException) { return false; }
    }

    /// <summary>Adds <c>#EXT-X-ENDLIST</c> to a playlist that lacks it: no more segments will come.</summary>
    public static void End(string playlist)
    {
        if (!File.Exists(playlist)) return;
        var text = File.ReadAllText(playlist);
        if (!text.Contains("#EXT-X-ENDLIST", StringComparison.Ordinal)) AppendEnd(playlist, text);
    }

    static void AppendEnd(string playlist, string text) => Replace(playlist, text + (text.EndsWith('\n') ? "" : "\n") + "#EXT-X-ENDLIST\n");

    /// <summary>
    /// Writes a playlist under a temporary name and renames it over the old one: players reading it while it changes see
    /// the old one or the new one, never half of one, and a write that fails (a full disk) leaves the old one as it was.
    /// </summary>
    public static void Replace(string playlist, string text)
    {
        var temporary = playlist + ".tmp";
        try
        {
            File.WriteAllText(temporary, text);
            File.Move(temporary, playlist, overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // What the failed write left takes room a full disk does not have.
            try { File.Delete(temporary); } catch (Exception cleanup) when (cleanup is IOException or UnauthorizedAccessException) { }
            throw;
        }
    }

    /// <summary>
    /// Removes media segments of the playlist, and of the parts it lists, that it does not list: the one ffmpeg keeps past
    /// a live window for players still reading it, and those a killed run finished after it last listed any. A part it
    /// does not list at all is a playlist of its own (one a resume wrote beside it), and stays.
    /// </summary>
    public static void RemoveUnlisted(string playlist, IEnumerable<string> listed)
    {
        var kept = new HashSet<string>(listed, StringComparer.Ordinal);
        var stems = kept.Select(uri => uri[..Math.Max(0, uri.LastIndexOf('_'))]).Append(Stem(playlist)).ToHashSet(StringComparer.Ordinal);
        foreach (var file in OwnAndPartFiles(playlist).ToList())
        {
            var media = MediaSegment.Match(Path.GetFileName(file));
            if (media.Success && stems.Contains(media.Groups[1].Value) && !kept.Contains(Path.GetFileName(file))) File.Delete(file);
        }
    }

    static readonly Regex MediaSegment = new(@"^(.*)_\d{6,}\.m4s(\.tmp)?$", RegexOptions.CultureInvariant);

    /// <summary>The files ffmpeg writes beside the playlist for it: its init segment and media segments, finished or not.</summary>
    static IEnumerable<string> OwnFiles(string playlist) => FilesMatching(playlist, Own(playlist));

    /// <summary>
    /// Those and the parts resumed runs wrote beside the playlist (<see cref="HlsContinuation"/>): their playlists and
    /// segments, in one look at the folder.
    /// </summary>
    static IEnumerable<string> OwnAndPartFiles(string playlist) => FilesMatching(playlist,
        Own(playlist) + "|" + Regex.Escape(Path.GetFileNameWithoutExtension(playlist)) + @"\.from-\d{6,}\.m3u8|" + Regex.Escape(Stem(playlist)) + @"\.from-\d{6,}_(init\.mp4|\d{6,}\.m4s)(\.tmp)?");

    static string Own(string playlist) => Regex.Escape(Stem(playlist)) + @"_(init\.mp4|\d{6,}\.m4s)(\.tmp)?";

    /// <summary>The folder's files whose names are one of the <paramref name="alternatives"/>, as the folder is read (callers that delete take a list first).</summary>
    static IEnumerable<string> FilesMatching(string playlist, string alternatives)
    {
        var folder = Folder(playlist);
        if (!Directory.Exists(folder)) return Array.Empty<string>();
        var names = new Regex("^(" + alternatives + ")$", RegexOptions.CultureInvariant);
        return Directory.EnumerateFiles(folder).Where(f => names.IsMatch(Path.GetFileName(f)));
    }

    static string Folder(string playlist) => Path.GetDirectoryName(Path.GetFullPath(playlist))!;

    // Two playlists whose names differ only there ("a b", "a_b") share segment names: one folder holds one of them.
    static string Stem(string playlist) => Regex.Replace(Path.GetFileNameWithoutExtension(playlist), "[^A-Za-z0-9._-]", "_");
}
