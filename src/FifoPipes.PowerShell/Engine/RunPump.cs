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

    /// <summary>Cancelled by <see cref="Stop"/>: for the sinks the command writes (a stream pausing before it connects again).</summary>
    public CancellationToken Stopping => stop.Token;

    /// <param name="models">Where a command of several runs keeps a model for the next one; null to load one per run.</param>
    public void Run(Recipe recipe, Action<FifoFrame> onFrame, LoadedModels? models = null)
    {
        var run = new VideoRun(recipe, models: models);
        var activity = $"FIFO video: {recipe.Frames} frames";
        // A record per report, so what a host keeps of the stream is what was shown at the time.
        var progress = new ProgressRecord(1, activity, "loading the model");
        void Report(string status, int percent = -1, int secondsRemaining = -1)
        {
            progress = new ProgressRecord(1, activity, status) { PercentComplete = percent, SecondsRemaining = secondsRemaining };
            cmdlet.WriteProgress(progress);
        }
        // The rate is timed from the first frame: before it lie the model's loading and the queue's first window.
        var sinceFirstFrame = new Stopwatch();
        // Read here, on the pipeline thread: frames resolve their Save paths against the session's location.
        var location = cmdlet is PSCmdlet ps ? ps.SessionState.Path.CurrentFileSystemLocation.ProviderPath : null;
        var lastProgress = -ProgressInterval;
        long made = 0;
        try
        {
            // Shown at once: a real model takes minutes to load before the worker reports anything.
            cmdlet.WriteProgress(progress);
            foreach (var e in run.Events(stop.Token))
            {
                switch (e)
                {
                    case RunStarted started:
                        cmdlet.WriteVerbose($"Model {started.Model.Name}: latents {started.Model.LatentChannels}x{started.Model.LatentHeight}x{started.Model.LatentWidth}, " +
                                            $"window {started.Model.WindowFrames}, {started.Fps} fps, run {started.RunId}");
                        Report($"{started.Model.Name}: filling the queue (the first frame comes after the first window is denoised)");
                        break;
                    case FrameProduced produced:
                        if (made++ == 0) sinceFirstFrame.Start();
                        // A resumed run starts at its snapshot's frame: progress is of the video, the rate of this run.
                        long done = produced.Frame.Index + 1;
                        onFrame(new FifoFrame(produced.Frame, location) { SnapshotPath = recipe.Snapshot?.Path, OutputRunHash = recipe.ResumedRunHash });
                        var now = sinceFirstFrame.Elapsed;
                        if (made == 1 || now - lastProgress >= ProgressInterval || done == recipe.Frames)
                        {
                            lastProgress = now;
                            double? rate = made > 1 ? (made - 1) / Math.Max(now.TotalSeconds, 1e-9) : null;
                            Report($"{done} of {recipe.Frames} frames" + (rate is { } r ? $", {r:F2} frames/s" : ""),
                                (int)Math.Min(100, 100 * done / Math.Max(1, recipe.Frames)),
                                rate is { } known ? (int)Math.Clamp((recipe.Frames - done) / Math.Max(known, 1e-6), 0, 360_000) : -1);
                        }
                        break;
                    case SnapshotSaved saved:
                        cmdlet.WriteVerbose($"Snapshot after {saved.Frames} frames: {saved.Snapshot.Path}");
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
            cmdlet.WriteProgress(new ProgressRecord(1, activity, progress.StatusDescription)
                { PercentComplete = progress.PercentComplete, RecordType = ProgressRecordType.Completed });
        }
    }
}
