using System.Diagnostics;
using System.Text;
using FifoPipes.Abstractions;

namespace FifoPipes.Core.Media;

/// <summary>Finds the ffmpeg executable: <see cref="EnvironmentVariable"/> first, then PATH.</summary>
public static class FfmpegLocator
{
    /// <summary>The environment variable that names the ffmpeg executable to use instead of the one on PATH.</summary>
    public const string EnvironmentVariable = "FIFOPIPES_FFMPEG";
    /// <summary>The <see cref="FifoInputException"/> id when ffmpeg cannot be found or started.</summary>
    public const string NotFoundErrorId = "FfmpegNotFound";

    const string Fix = "Install ffmpeg: apt-get install ffmpeg (Debian/Ubuntu), brew install ffmpeg (macOS) or winget install ffmpeg (Windows), " +
                       "or set " + EnvironmentVariable + " to its path.";

    /// <summary>
    /// The ffmpeg to run: <see cref="EnvironmentVariable"/>'s file where it is set, otherwise the first ffmpeg among
    /// <see cref="FoldersToSearch"/>(PATH). Looks again on every call.
    /// </summary>
    /// <exception cref="FifoInputException"><see cref="NotFoundErrorId"/>: the variable names no file, or no ffmpeg was found; the message says how to install it.</exception>
    public static string Locate()
    {
        var configured = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(configured))
        {
            if (File.Exists(configured)) return Path.GetFullPath(configured);
            throw new FifoInputException(NotFoundErrorId,
                $"{EnvironmentVariable} is set to '{configured}', which is not a file. Point it at the ffmpeg executable or unset it to use the ffmpeg on PATH. {Fix}");
        }
        var name = OperatingSystem.IsWindows() ? "ffmpeg.exe" : "ffmpeg";
        foreach (var folder in FoldersToSearch(Environment.GetEnvironmentVariable("PATH")))
        {
            var candidate = Path.Combine(folder, name);
            if (File.Exists(candidate)) return candidate;
        }
        throw new FifoInputException(NotFoundErrorId, $"ffmpeg was not found on PATH; the video sinks (mp4, webm, mkv), video start clips and source videos need it. {Fix}");
    }

    /// <summary>
    /// PATH's folders (an entry in quotes, as Windows allows, without them), then where the installers the fix names put
    /// ffmpeg when this session's PATH does not have it yet: winget's links and the user's PATH as it is now on Windows
    /// (a session started before the install keeps the old PATH), Homebrew's folders on macOS (a shell that did not
    /// read ~/.zprofile lacks them).
    /// </summary>
    public static IEnumerable<string> FoldersToSearch(string? pathVariable)
    {
        var listed = Split(pathVariable);
        if (OperatingSystem.IsWindows())
        {
            var local = Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData);
            listed = listed.Concat(Split(Environment.GetEnvironmentVariable("PATH", EnvironmentVariableTarget.User)))
                .Append(Path.Combine(local, "Microsoft", "WinGet", "Links"));
        }
        else if (OperatingSystem.IsMacOS()) listed = listed.Concat(new[] { "/opt/homebrew/bin", "/usr/local/bin" });
        return listed.Distinct();

        static IEnumerable<string> Split(string? path) =>
            (path ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(folder => folder.Trim('"')).Where(folder => folder.Length > 0);
    }

    /// <summary>
    /// Starts the located ffmpeg with <paramref name="arguments"/>, its stdout and stderr redirected (see
    /// <see cref="StartInfo"/>); an ffmpeg that cannot be run is an input error saying so.
    /// </summary>
    public static Process StartReading(IEnumerable<string> arguments)
    {
        var ffmpeg = Locate();
        var start = StartInfo(ffmpeg, arguments);
        try { return Process.Start(start)!; }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException) { throw NotStartable(ffmpeg, ex); }
    }

    /// <summary>setsid, where there is one (Linux): see <see cref="StartInfo"/>.</summary>
    static readonly string? SessionLauncher = OperatingSystem.IsLinux() && File.Exists("/usr/bin/setsid") ? "/usr/bin/setsid" : null;

    /// <summary>Whether ffmpeg is started through setsid, whose own failure to run it ends the process with 126 or 127.</summary>
    public static bool StartsThroughLauncher => SessionLauncher is not null;

    /// <summary>
    /// How every ffmpeg is started: stdout and stderr redirected, text read as UTF-8 (which ffmpeg writes whatever the
    /// console's code page), and in a session of its own where setsid exists, with no console window on Windows. A
    /// terminal's Ctrl+C goes to its whole foreground process group: a writer would take it as its own order to stop and
    /// drop frames still in the pipe, a reader would die and be reported as a file it could not read. Alone, each is
    /// stopped as the run needs (a writer by closing its stdin, a reader killed). setsid execs in place, so the process
    /// id stays ffmpeg's own.
    /// </summary>
    public static ProcessStartInfo StartInfo(string executable, IEnumerable<string> arguments)
    {
        // Through setsid, an ffmpeg that is not executable would be setsid's failure, told in its words.
        if (SessionLauncher is not null && OperatingSystem.IsLinux() && (File.GetUnixFileMode(executable) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) == 0)
            throw NotStartable(executable, new UnauthorizedAccessException("the file is not executable"));
        var info = new ProcessStartInfo(SessionLauncher ?? executable)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, CreateNoWindow = true,
            StandardOutputEncoding = new UTF8Encoding(false), StandardErrorEncoding = new UTF8Encoding(false),
        };
        if (SessionLauncher is not null) info.ArgumentList.Add(executable);
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        return info;
    }

    /// <summary>For the case where the file exists but cannot be run (not executable, wrong architecture).</summary>
    public static FifoInputException NotStartable(string executable, Exception reason) =>
        new(NotFoundErrorId, $"ffmpeg at '{executable}' could not be started ({reason.Message}). {Fix}", reason);
}
