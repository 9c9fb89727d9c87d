using System.Diagnostics;
using System.Text;
using FifoPipes.Abstractions;

namespace FifoPipes.Core.Media;

/// <summary>Finds the ffmpeg executable: <see cref="EnvironmentVariable"/> first, then PATH.</summary>
public static class FfmpegLocator
{
    public const string EnvironmentVariable = "FIFOPIPES_FFMPEG";
    public const string NotFoundErrorId = "FfmpegNotFound";

    const string Fix = "Install ffmpeg: apt-get install ffmpeg (Debian/Ubuntu), brew install ffmpeg (macOS) or winget install ffmpeg (Windows), " +
                       "or set " + EnvironmentVariable + " to its path.";

    public static string Locate()
    {
        var configured = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(configured))
        {
            if (File.Exists(configured)) return Path.GetFullPath(configured);
            throw new FifoInputException(NotFoundErrorId,
                $"{EnvironmentVariable} is set to '{configured}', which is not a file. Point it at the ffmpeg executable or unset it to use the ffmpeg on PATH. {Fix}");
        }
        var names = OperatingSystem.IsWindows() ? new[] { "ffmpeg.exe" } : new[] { "ffmpeg" };
        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        foreach (var folder in path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            foreach (var name in names)
            {
                var candidate = Path.Combine(folder, name);
                if (File.Exists(candidate)) return candidate;
            }
        throw new FifoInputException(NotFoundErrorId, $"ffmpeg was not found on PATH; the video sinks (mp4, webm, mkv), video start clips and source videos need it. {Fix}");
    }

    /// <summary>
    /// Starts the located ffmpeg with <paramref name="arguments"/>, its stdout and stderr redirected (text read as UTF-8,
    /// which ffmpeg writes whatever the console's code page); an ffmpeg that cannot be run is an input error saying so.
    /// </summary>
    public static Process StartReading(IEnumerable<string> arguments)
    {
        var ffmpeg = Locate();
        var start = new ProcessStartInfo(ffmpeg)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            StandardOutputEncoding = new UTF8Encoding(false), StandardErrorEncoding = new UTF8Encoding(false),
        };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        try { return Process.Start(start)!; }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException) { throw NotStartable(ffmpeg, ex); }
    }

    /// <summary>For the case where the file exists but cannot be run (not executable, wrong architecture).</summary>
    public static FifoInputException NotStartable(string executable, Exception reason) =>
        new(NotFoundErrorId, $"ffmpeg at '{executable}' could not be started ({reason.Message}). {Fix}", reason);
}
