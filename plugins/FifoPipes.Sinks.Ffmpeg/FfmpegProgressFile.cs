using System.Globalization;

namespace FifoPipes.Sinks.Ffmpeg;

/// <summary>
/// ffmpeg's -progress report, written to a file of its own: how far its output has got, which the sink cannot tell from
/// its writes (ffmpeg reads ahead into its queue, and a listener's ffmpeg reads a few frames before its player comes).
/// </summary>
sealed class FfmpegProgressFile : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"fifopipes-progress-{Guid.NewGuid():N}.txt");

    /// <summary>ffmpeg's global options that make it report here, ten times a second.</summary>
    public IEnumerable<string> Arguments => new[] { "-progress", Path, "-stats_period", "0.1" };

    /// <summary>The output's time in the latest report, in seconds; null before the first (or where it cannot be read).</summary>
    public double? OutputSeconds()
    {
        try
        {
            using var file = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(file);
            double? seconds = null;
            while (reader.ReadLine() is { } line)
                if (line.StartsWith("out_time_us=", StringComparison.Ordinal) && long.TryParse(line.AsSpan(12), NumberStyles.Integer, CultureInfo.InvariantCulture, out var us))
                    seconds = us / 1e6;
            return seconds;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    public void Dispose()
    {
        try { File.Delete(Path); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { }
    }
}
