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

    static FifoInputException Unreadable(string path, string sink, string why) =>
        new(UnreadableErrorId, $"The {sink} sink's audio file '{path}' has no sound ffmpeg can read ({why}). Give a sound file (mp3, wav, ogg, m4a, ...), or leave audio out.");
}
