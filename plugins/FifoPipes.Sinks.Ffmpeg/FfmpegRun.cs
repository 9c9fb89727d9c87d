using FifoPipes.Core.Media;

namespace FifoPipes.Sinks.Ffmpeg;

/// <summary>Short ffmpeg runs a sink makes before the run: reading a sound file's header, trying its encoder.</summary>
static class FfmpegRun
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    /// <summary>Runs ffmpeg to its end, or kills it after <see cref="Patience"/>; what it said on stderr.</summary>
    public static (bool Finished, int ExitCode, string Errors) ToEnd(params string[] arguments)
    {
        using var process = FfmpegLocator.StartReading(arguments);
        var errors = process.StandardError.ReadToEndAsync();
        process.StandardOutput.ReadToEndAsync();
        if (!process.WaitForExit(Patience))
        {
            process.Kill(entireProcessTree: true);
            return (false, -1, "");
        }
        return (true, process.ExitCode, errors.Result);
    }

    /// <summary>The last line ffmpeg wrote on stderr: where it says why it stopped.</summary>
    public static string? LastLine(string errors) => Lines(errors).LastOrDefault();

    /// <summary>The first line ffmpeg wrote on stderr: at log level error, the cause, before the consequences.</summary>
    public static string? FirstLine(string errors) => Lines(errors).FirstOrDefault();

    static string[] Lines(string errors) => errors.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
