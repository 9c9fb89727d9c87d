using System.Management.Automation;
using FifoPipes.Abstractions;

namespace FifoPipes.PowerShell.Engine;

/// <summary>
/// Plugin messages (a sink's new-segment warning, ffmpeg's command line) as the cmdlet's warning and verbose streams.
/// Only for plugins the cmdlet calls on the pipeline thread: the run's worker reports through <see cref="RunPump"/>.
/// </summary>
sealed class CmdletLog(Cmdlet cmdlet) : IProgressSink
{
    public void Verbose(string message) => Write(() => cmdlet.WriteVerbose(message));

    public void Warning(string message) => Write(() => cmdlet.WriteWarning(message));

    // After Ctrl+C the sinks still finalise their files and may say so; a stopped pipeline takes no more messages.
    static void Write(Action write)
    {
        try { write(); }
        catch (PipelineStoppedException) { }
    }
}
