using System.Text.RegularExpressions;
using FifoPipes.Abstractions;
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
    /// Refuses a '%' in the playlist's name (ffmpeg expands %v and %d there, so it would write another file than asked)
    /// and, without overwrite, segments an earlier run left: ffmpeg's -n guards only the playlist.
    /// </summary>
    public static void EnsureWritable(string playlist, bool overwrite)
    {
        if (Path.GetFileName(playlist).Contains('%'))
            throw new FifoInputException(PlaylistNameErrorId,
                $"The HLS playlist name '{Path.GetFileName(playlist)}' holds '%', which ffmpeg reads as a pattern. Choose a name without it.");
        if (!overwrite && Segments(playlist).FirstOrDefault() is { } left)
            throw SinkFiles.OutputExists(playlist, $" in part: its segments ({Path.GetFileName(left)}, ...) are there");
    }

    /// <summary>Removes an earlier run's segments before a new run replaces its playlist: a longer run leaves more than the next one writes over.</summary>
    public static void RemoveEarlierRun(string playlist)
    {
        foreach (var file in Segments(playlist)) File.Delete(file);
    }

    /// <summary>
    /// Removes media segments of the playlist (and of its parts) that it does not list: the one ffmpeg keeps past a live
    /// window for players still reading it, and those a killed run finished after it last listed any.
    /// </summary>
    public static void RemoveUnlisted(string playlist, IEnumerable<string> listed)
    {
        var keep = new HashSet<string>(listed, StringComparer.Ordinal);
        foreach (var file in Segments(playlist).Where(f => !f.EndsWith(".m3u8", StringComparison.Ordinal) && !f.Contains("_init.mp4", StringComparison.Ordinal)))
            if (!keep.Contains(Path.GetFileName(file))) File.Delete(file);
    }

    /// <summary>The playlist's segments, and the playlists and segments of the parts resumed runs added to it (<see cref="HlsContinuation"/>).</summary>
    static IEnumerable<string> Segments(string playlist)
    {
        var folder = Folder(playlist);
        if (!Directory.Exists(folder)) return Array.Empty<string>();
        var own = new Regex("^" + Regex.Escape(Stem(playlist)) + @"(\.from-\d{6,})?_(init\.mp4|\d{6,}\.m4s)(\.tmp)?$", RegexOptions.CultureInvariant);
        var parts = new Regex("^" + Regex.Escape(Path.GetFileNameWithoutExtension(playlist)) + @"\.from-\d{6,}\.m3u8$", RegexOptions.CultureInvariant);
        return Directory.EnumerateFiles(folder).Where(f => own.IsMatch(Path.GetFileName(f)) || parts.IsMatch(Path.GetFileName(f)));
    }

    static string Folder(string playlist) => Path.GetDirectoryName(Path.GetFullPath(playlist))!;

    // Two playlists whose names differ only there ("a b", "a_b") share segment names: one folder holds one of them.
    static string Stem(string playlist) => Regex.Replace(Path.GetFileNameWithoutExtension(playlist), "[^A-Za-z0-9._-]", "_");
}
