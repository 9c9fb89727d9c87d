using FifoPipes.Abstractions;
using FifoPipes.Core.Media;

namespace FifoPipes.Sinks.Ffmpeg;

/// <summary>The sound file a sink plays under its frames, tried before the run.</summary>
public static class SoundFile
{
    public const string UnreadableErrorId = "SinkAudioUnreadable";

    static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    /// <summary>
    /// Refuses a file in which ffmpeg finds no sound (a video without a track, an image, a text file): found at the first
    /// frame, it would have cost the run's warm-up, and a stream would take it for a dropped connection. Decodes a few
    /// milliseconds of the first audio track.
    /// </summary>
    public static void EnsureReadable(string path, string sink)
    {
        if (path.Length == 0) return;
        using var process = FfmpegLocator.StartReading(new[] { "-v", "error", "-nostdin", "-i", path, "-map", "0:a:0", "-t", "0.05", "-f", "null", "-" });
        var errors = process.StandardError.ReadToEndAsync();
        process.StandardOutput.ReadToEndAsync();
        if (!process.WaitForExit(Patience))
        {
            process.Kill(entireProcessTree: true);
            throw Unreadable(path, sink, $"ffmpeg did not finish reading it in {Patience.TotalSeconds:0} s");
        }
        if (process.ExitCode != 0)
            throw Unreadable(path, sink, errors.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? $"ffmpeg exited with code {process.ExitCode}");
    }

    /// <summary>
    /// Where in the looped file the sound is at <paramref name="seconds"/> of video: a resumed run's file, or a stream
    /// connected again, goes on with the sound where it was. 0 where the file's length cannot be read (from the start, as before).
    /// </summary>
    public static double PositionAt(string path, double seconds)
    {
        if (seconds <= 0 || Length(path) is not { } length || !(length > 0)) return 0;
        return seconds % length;
    }

    /// <summary>The file's length as ffmpeg reads it from its header (no decoding); null where it gives none.</summary>
    static double? Length(string path)
    {
        using var process = FfmpegLocator.StartReading(new[] { "-hide_banner", "-nostdin", "-i", path });
        var errors = process.StandardError.ReadToEndAsync();
        process.StandardOutput.ReadToEndAsync();
        if (!process.WaitForExit(Patience)) { process.Kill(entireProcessTree: true); return null; }
        // ffmpeg with no output exits 1 after printing the input's header: "Duration: 00:03:25.47, start: ...".
        var match = System.Text.RegularExpressions.Regex.Match(errors.Result, @"Duration: (\d+):(\d{2}):(\d{2}(?:\.\d+)?)");
        if (!match.Success) return null;
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        return int.Parse(match.Groups[1].Value, inv) * 3600 + int.Parse(match.Groups[2].Value, inv) * 60 + double.Parse(match.Groups[3].Value, inv);
    }

    static FifoInputException Unreadable(string path, string sink, string why) =>
        new(UnreadableErrorId, $"The {sink} sink's audio file '{path}' has no sound ffmpeg can read ({why}). Give a sound file (mp3, wav, ogg, m4a, ...), or leave audio out.");
}
