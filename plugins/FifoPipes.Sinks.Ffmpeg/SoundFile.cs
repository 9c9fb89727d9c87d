using System.Collections.Concurrent;
using System.Globalization;
using System.Text.RegularExpressions;
using FifoPipes.Abstractions;
using FifoPipes.Core.Media;

namespace FifoPipes.Sinks.Ffmpeg;

/// <summary>The sound file a sink plays under its frames, tried before the run.</summary>
public static class SoundFile
{
    public const string UnreadableErrorId = "SinkAudioUnreadable";

    /// <summary>
    /// Refuses a file in which ffmpeg finds no sound (a video without a track, an image, a text file): found at the first
    /// frame, it would have cost the run's warm-up, and a stream would take it for a dropped connection. Decodes a few
    /// milliseconds of the first audio track.
    /// </summary>
    public static void EnsureReadable(string path, string sink)
    {
        if (path.Length == 0) return;
        var (finished, exitCode, errors) = FfmpegRun.ToEnd("-v", "error", "-nostdin", "-i", path, "-map", "0:a:0", "-t", "0.05", "-f", "null", "-");
        if (!finished) throw Unreadable(path, sink, $"ffmpeg did not finish reading it in {FfmpegRun.Patience.TotalSeconds:0} s");
        if (exitCode != 0)
            throw Unreadable(path, sink, FfmpegRun.LastLine(errors) ?? $"ffmpeg exited with code {exitCode}");
    }

    /// <summary>
    /// Where in the looped file <paramref name="path"/> (none: "") the sound is at <paramref name="seconds"/> of video: a
    /// resumed run's file, or a stream connected again, goes on with the sound where it was. 0 where the file's length
    /// cannot be read (from the start, as before).
    /// </summary>
    public static double PositionAt(string path, double seconds)
    {
        if (path.Length == 0 || seconds <= 0 || Length(path) is not { } length || !(length > 0)) return 0;
        return seconds % length;
    }

    /// <summary>Lengths read, by file, size and write time: a stream connecting again asks each time.</summary>
    static readonly ConcurrentDictionary<(string Path, long Bytes, DateTime Written), double?> Lengths = new();

    /// <summary>The file's length as ffmpeg reads it from its header (no decoding); null where it gives none.</summary>
    static double? Length(string path)
    {
        var file = new FileInfo(path);
        if (!file.Exists) return null;
        return Lengths.GetOrAdd((file.FullName, file.Length, file.LastWriteTimeUtc), _ =>
        {
            // ffmpeg with no output exits 1 after printing the input's header: "Duration: 00:03:25.47, start: ...".
            var (finished, _, errors) = FfmpegRun.ToEnd("-hide_banner", "-nostdin", "-i", path);
            var match = Regex.Match(errors, @"Duration: (\d+):(\d{2}):(\d{2}(?:\.\d+)?)");
            if (!finished || !match.Success) return null;
            return int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) * 3600 + int.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture) * 60
                + double.Parse(match.Groups[3].Value, CultureInfo.InvariantCulture);
        });
    }

    static FifoInputException Unreadable(string path, string sink, string why) =>
        new(UnreadableErrorId, $"The {sink} sink's audio file '{path}' has no sound ffmpeg can read ({why}). Give a sound file (mp3, wav, ogg, m4a, ...), or leave audio out.");
}
