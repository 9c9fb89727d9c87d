using FifoPipes.Abstractions;
using FifoPipes.Core.Media;
using FifoPipes.Core.Sinks;
using System.ComponentModel;
using System.Diagnostics;

namespace FifoPipes.Sinks.Ffmpeg;

/// <summary>
/// A running ffmpeg fed on stdin. Its stderr is drained all the time (a full stderr pipe would
/// stall it) and the last lines are kept to explain a failure.
/// </summary>
internal sealed class FfmpegProcess : IDisposable
{
    const int KeptStderrLines = 15;
    static readonly TimeSpan WorkPollInterval = TimeSpan.FromMilliseconds(250);

    readonly Process process;
    readonly Stream stdin;
    readonly Queue<string> stderrTail = new();
    bool stdinClosed;

    FfmpegProcess(Process process)
    {
        this.process = process;
        stdin = process.StandardInput.BaseStream;
    }

    /// <summary>
    /// Starts ffmpeg fed on stdin, in a session of its own where setsid exists (<see cref="FfmpegLocator.StartInfo"/>):
    /// it finishes when the sink closes its stdin, with every frame, however the terminal's Ctrl+C went.
    /// </summary>
    public static FfmpegProcess Start(string executable, IEnumerable<string> arguments)
    {
        var info = FfmpegLocator.StartInfo(executable, arguments);
        info.RedirectStandardInput = true;
        var process = new Process { StartInfo = info };
        FfmpegProcess? started = null;
        process.ErrorDataReceived += (_, e) => started?.KeepStderrLine(e.Data);
        process.OutputDataReceived += (_, e) => started?.KeepProgressLine(e.Data);
        try
        {
            process.Start();
        }
        catch (Win32Exception ex)
        {
            process.Dispose();
            throw FfmpegLocator.NotStartable(executable, ex);
        }
        started = new FfmpegProcess(process);
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        return started;
    }

    public int Id => process.Id;

    /// <summary>Whether ffmpeg has ended (a dropped connection it gave up on, a crash).</summary>
    public bool HasExited => process.HasExited;

    /// <summary>ffmpeg's options that report its progress on stdout (<see cref="OutputTime"/>); nothing else is written there.</summary>
    public static readonly IReadOnlyList<string> ProgressArguments = new[] { "-progress", "pipe:1" };

    long outputMicroseconds = -1;

    /// <summary>How far ffmpeg's output has got, by its latest progress report; null before the first, or without <see cref="ProgressArguments"/>.</summary>
    public TimeSpan? OutputTime => Interlocked.Read(ref outputMicroseconds) is var us and >= 0 ? TimeSpan.FromMicroseconds(us) : null;

    void KeepProgressLine(string? line)
    {
        // "out_time_us=N/A" comes before the first packet.
        if (line is not null && line.StartsWith("out_time_us=", StringComparison.Ordinal) &&
            long.TryParse(line.AsSpan(12), System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var us))
            Interlocked.Exchange(ref outputMicroseconds, us);
    }

    /// <summary>The errors of a write that failed, as the C library words them in ffmpeg's messages.</summary>
    static readonly string[] WriteErrors = { "No space left on device", "File too large", "Disk quota exceeded", "Input/output error", "Read-only file system" };

    volatile string? writeFailure;

    /// <summary>
    /// Why a write of ffmpeg's output failed ("No space left on device"), from the first message that says so; null while
    /// none did. ffmpeg reports such a failure and goes on, so the sink has to look.
    /// </summary>
    public string? WriteFailure => writeFailure;

    /// <summary>ffmpeg's exit code where it has exited, else <paramref name="running"/>.</summary>
    public int ExitCodeOr(int running) => process.HasExited ? process.ExitCode : running;

    void KeepStderrLine(string? line)
    {
        if (string.IsNullOrWhiteSpace(line)) return;
        if (writeFailure is null && WriteErrors.FirstOrDefault(e => line.Contains(e, StringComparison.Ordinal)) is { } error) writeFailure = error;
        lock (stderrTail)
        {
            stderrTail.Enqueue(line);
            while (stderrTail.Count > KeptStderrLines) stderrTail.Dequeue();
        }
    }

    public IReadOnlyList<string> StderrTail()
    {
        lock (stderrTail) return stderrTail.ToArray();
    }

    /// <exception cref="IOException">ffmpeg has stopped reading (it exited or died).</exception>
    public void Write(byte[] data)
    {
        stdin.Write(data);
        stdin.Flush();
    }

    /// <summary>
    /// The launcher's complaint when it could not run ffmpeg at all (a binary for another machine, a noexec mount, a
    /// script whose interpreter is missing), which a direct start would have raised as an exception; null otherwise.
    /// </summary>
    public string? LaunchFailure =>
        FfmpegLocator.StartsThroughLauncher && process.HasExited && process.ExitCode is 126 or 127
            ? StderrTail().FirstOrDefault(l => l.StartsWith("setsid: failed to execute", StringComparison.Ordinal))
            : null;

    /// <summary>
    /// How ffmpeg ended and what it said last, for an error message; its words as <paramref name="shown"/> makes them
    /// (a stream's <see cref="StreamAddress.HiderOf"/>: ffmpeg names the address it sends to, stream key and all).
    /// </summary>
    public string LastWords(int exitCode, Func<string, string>? shown = null)
    {
        var tail = StderrTail();
        var how = KilledIdleAfter is { } idle ? $"ffmpeg did no work for {idle.TotalSeconds:F0} s after its input ended and was killed"
            : exitCode > 128 && exitCode < 160 ? $"ffmpeg was killed by signal {exitCode - 128}"
            : $"ffmpeg exited with code {exitCode}";
        var said = tail.Count > 0
            ? "Its last messages:" + Environment.NewLine + string.Join(Environment.NewLine, tail.Select(l => "  " + (shown is null ? l : shown(l))))
            : "It printed no error message.";
        return $"{how}. {said}";
    }

    /// <summary>The error for an ffmpeg the launcher could not run at all (see <see cref="LaunchFailure"/>); null when it ran.</summary>
    public FifoInputException? NotStarted(string executable, Exception? inner) =>
        LaunchFailure is { } launch ? FfmpegLocator.NotStartable(executable, new IOException(launch, inner)) : null;

    /// <summary>The idle limit after which <see cref="Finish"/> killed ffmpeg, if it did.</summary>
    public TimeSpan? KilledIdleAfter { get; private set; }

    /// <summary>
    /// Closes stdin (ffmpeg's signal to finish the file) and waits until it has exited: as long as it works (its CPU
    /// time grows: an encoder flushing a long lookahead at a slow preset), but no longer than
    /// <paramref name="idleLimit"/> without work (wedged, or blocked on a stalled disk), when it is killed.
    /// </summary>
    public int Finish(TimeSpan idleLimit)
    {
        CloseStdin();
        var cpu = CpuTime();
        var idle = Stopwatch.StartNew();
        while (!process.WaitForExit(WorkPollInterval))
        {
            var now = CpuTime();
            if (now > cpu) { cpu = now; idle.Restart(); }
            else if (idle.Elapsed >= idleLimit)
            {
                KilledIdleAfter = idleLimit;
                try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { } // exited meanwhile
                break;
            }
        }
        // The untimed wait also waits for the last stderr lines to be delivered.
        process.WaitForExit();
        return process.ExitCode;
    }

    TimeSpan CpuTime()
    {
        try
        {
            process.Refresh();
            return process.TotalProcessorTime;
        }
        // Exited (and possibly reaped, so /proc has nothing to read): the next wait returns at once.
        catch (Exception ex) when (ex is InvalidOperationException or Win32Exception) { return TimeSpan.MaxValue; }
    }

    void CloseStdin()
    {
        if (stdinClosed) return;
        stdinClosed = true;
        try { stdin.Dispose(); }
        catch (IOException) { } // ffmpeg already gone; its exit code tells the story
    }

    /// <summary>Kills ffmpeg now (from any thread): a stop that cannot wait for it to finish, such as a listener waiting for its player.</summary>
    public void Kill()
    {
        try { process.Kill(entireProcessTree: true); }
        catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception) { } // exited meanwhile
    }

    public void Dispose()
    {
        CloseStdin();
        if (!process.HasExited)
        {
            try { process.Kill(entireProcessTree: true); process.WaitForExit(); }
            catch (InvalidOperationException) { }
        }
        process.Dispose();
    }
}
