using System.Collections.Concurrent;
using System.Management.Automation;
using FifoPipes.Abstractions;

namespace FifoPipes.PowerShell.Engine;

/// <summary>
/// Plugin messages (a sink's new-segment warning, ffmpeg's command line) as the cmdlet's warning and verbose streams.
/// For plugins the cmdlet calls on the pipeline thread: the run's worker reports through <see cref="RunPump"/>. A plugin
/// may still log from a thread of its own (a stream sink's timer): PowerShell refuses writes from other threads, so
/// those messages wait for the pipeline thread's next message or <see cref="Drain"/>.
/// </summary>
sealed class CmdletLog(Cmdlet cmdlet) : IProgressSink
{
    readonly int pipelineThread = Environment.CurrentManagedThreadId;
    readonly ConcurrentQueue<Action> fromOtherThreads = new();

    public void Verbose(string message) => Write(() => cmdlet.WriteVerbose(message));

    public void Warning(string message) => Write(() => cmdlet.WriteWarning(message));

    /// <summary>Writes what other threads said since the last message; on the pipeline thread only.</summary>
    public void Drain()
    {
        while (fromOtherThreads.TryDequeue(out var write)) Safely(write);
    }

    void Write(Action write)
    {
        if (Environment.CurrentManagedThreadId != pipelineThread)
        {
            fromOtherThreads.Enqueue(write);
            return;
        }
        Drain();
        Safely(write);
    }

    // After Ctrl+C the sinks still finalise their files and may say so; a stopped pipeline takes no more messages.
    static void Safely(Action write)
    {
        try { write(); }
        catch (PipelineStoppedException) { }
    }
}
