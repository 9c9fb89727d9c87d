using System.Management.Automation;

namespace FifoPipes.PowerShell.Engine;

/// <summary>
/// Runs async work on the thread pool while the pipeline thread (the only one allowed to write) shows
/// its progress; StopProcessing cancels it.
/// </summary>
sealed class BackgroundWork
{
    static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(250);
    readonly CancellationTokenSource stop = new();

    public void Stop() => stop.Cancel();

    /// <param name="progress">Called on the pipeline thread every 250 ms; returns the record to show, or null.</param>
    public T Run<T>(Cmdlet cmdlet, Func<CancellationToken, Task<T>> work, Func<ProgressRecord?> progress)
    {
        var task = Task.Run(() => work(stop.Token));
        ProgressRecord? last = null;
        try
        {
            while (!task.Wait(Poll))
            {
                if (progress() is { } record) cmdlet.WriteProgress(last = record);
            }
        }
        catch (AggregateException) { /* observed below */ }
        finally
        {
            if ((last ?? progress()) is { } done)
            {
                done.RecordType = ProgressRecordType.Completed;
                cmdlet.WriteProgress(done);
            }
        }
        if (task.IsCanceled || stop.IsCancellationRequested && task.IsFaulted && task.Exception!.InnerException is OperationCanceledException)
            throw new PipelineStoppedException();
        return task.GetAwaiter().GetResult();
    }
}
