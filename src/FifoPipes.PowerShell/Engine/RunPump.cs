using System.Diagnostics;
using System.Management.Automation;
using FifoPipes.Hosting.Engine;
using FifoPipes.Hosting.Recipes;

namespace FifoPipes.PowerShell.Engine;

/// <summary>
/// Drives a <see cref="VideoRun"/> from a cmdlet: the worker computes, this loop (on the pipeline
/// thread, the only one allowed to write) forwards frames, progress and messages.
/// </summary>
sealed class RunPump
{
    static readonly TimeSpan ProgressInterval = TimeSpan.FromMilliseconds(250);

    readonly Cmdlet cmdlet;
    readonly CancellationTokenSource stop = new();

    public RunPump(Cmdlet cmdlet) => this.cmdlet = cmdlet;

    /// <summary>Called from StopProcessing (Ctrl+C): the worker stops within one iteration.</summary>
    public void Stop() => stop.Cancel();

    public void Run(Recipe recipe, Action<FifoFrame> onFrame)
    {
        var run = new VideoRun(recipe);
        var activity = $"FIFO video: {recipe.Frames} frames";
        var progress = new ProgressRecord(1, activity, "loading the model");
        var clock = Stopwatch.StartNew();
        // Read here, on the pipeline thread: frames resolve their Save paths against the session's location.
        var location = cmdlet is PSCmdlet ps ? ps.SessionState.Path.CurrentFileSystemLocation.ProviderPath : null;
        var lastProgress = -ProgressInterval;
        long made = 0;
        try
        {
            foreach (var e in run.Events(stop.Token))
            {
                switch (e)
                {
                    case RunStarted started:
                        cmdlet.WriteVerbose($"Model {started.Model.Name}: latents {started.Model.LatentChannels}x{started.Model.LatentHeight}x{started.Model.LatentWidth}, " +
                                            $"window {started.Model.WindowFrames}, {started.Fps} fps, run {started.RunId}");
                        clock.Restart();
                        break;
                    case FrameProduced produced:
                        made++;
                        // A resumed run starts at its snapshot's frame: progress is of the video, the rate of this run.
                        long done = produced.Frame.Index + 1;
                        onFrame(new FifoFrame(produced.Frame, location));
                        if (clock.Elapsed - lastProgress >= ProgressInterval || done == recipe.Frames)
                        {
                            lastProgress = clock.Elapsed;
                            double rate = made / Math.Max(clock.Elapsed.TotalSeconds, 1e-9);
                            progress.StatusDescription = $"{done} of {recipe.Frames} frames, {rate:F2} frames/s";
                            progress.PercentComplete = (int)Math.Min(100, 100 * done / Math.Max(1, recipe.Frames));
                            progress.SecondsRemaining = (int)Math.Clamp((recipe.Frames - done) / Math.Max(rate, 1e-6), 0, 360_000);
                            cmdlet.WriteProgress(progress);
                        }
                        break;
                    case SnapshotSaved saved:
                        cmdlet.WriteVerbose($"Snapshot after {saved.Snapshot.FramesBefore} frames: {saved.Snapshot.Path}");
                        break;
                    case RunMessage { Level: MessageLevel.Warning } warning:
                        cmdlet.WriteWarning(warning.Text);
                        break;
                    case RunMessage verbose:
                        cmdlet.WriteVerbose(verbose.Text);
                        break;
                }
            }
        }
        finally
        {
            progress.RecordType = ProgressRecordType.Completed;
            cmdlet.WriteProgress(progress);
        }
    }
}
