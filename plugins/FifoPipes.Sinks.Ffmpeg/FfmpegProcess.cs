using FifoPipes.Core.Media;
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

    readonly Process process;
    readonly Stream stdin;
    readonly Queue<string> stderrTail = new();
    bool stdinClosed;

    FfmpegProcess(Process process)
    {
        this.process = process;
        stdin = process.StandardInput.BaseStream;
    }

    public static FfmpegProcess Start(string executable, IEnumerable<string> arguments)
    {
        var info = new ProcessStartInfo(executable)
        {
            RedirectStandardInput = true,
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
            CreateNoWindow = true,
        };
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        var process = new Process { StartInfo = info };
        FfmpegProcess? started = null;
        process.ErrorDataReceived += (_, e) => started?.KeepStderrLine(e.Data);
        process.OutputDataReceived += (_, _) => { };
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

    void KeepStderrLine(string? line)
    {
        if (string.IsNullOrWhiteSpace(line)) return;
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

    /// <summary>Closes stdin (ffmpeg's signal to finish the file) and waits until it has exited.</summary>
    public int Finish(TimeSpan? timeout = null)
    {
        CloseStdin();
        if (timeout is { } limit && !process.WaitForExit(limit))
        {
            process.Kill(entireProcessTree: true);
        }
        // The untimed wait also waits for the last stderr lines to be delivered.
        process.WaitForExit();
        return process.ExitCode;
    }

    void CloseStdin()
    {
        if (stdinClosed) return;
        stdinClosed = true;
        try { stdin.Dispose(); }
        catch (IOException) { } // ffmpeg already gone; its exit code tells the story
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
