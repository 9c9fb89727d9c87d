using FifoPipes.Abstractions;

namespace FifoPipes.Samplers.Fifo;

/// <summary>The FIFO-Diffusion sampler: yields each output frame as soon as it leaves the queue.</summary>
public sealed class FifoSampler : ISampler
{
    readonly FifoOptions options;
    readonly PluginContext context;

    public FifoSampler(FifoOptions options, PluginContext context)
    {
        this.options = options;
        this.context = context;
    }

    public FifoOptions Options => options;

    /// <summary>Checks the job at once (bad options, shapes, snapshot policy), then runs lazily.</summary>
    public IEnumerable<LatentFrame> Sample(SamplingJob job, CancellationToken cancellation)
    {
        var plan = FifoPlan.Resolve(options, job.Model.Info, job);
        _ = new FifoPipes.Core.PromptSchedule(job.Prompts);
        if (job.Snapshots is { EveryFrames: < 1 } bad)
            throw new FifoInputException("BadSnapshotPolicy", $"Snapshots every {bad.EveryFrames} frames is impossible; give a positive frame count.");
        var cache = plan.Start == QueueStart.Base ? BaseClipCache.For(options.BaseClipCache, context) : null;
        return Run(job, plan, cache, cancellation);
    }

    static IEnumerable<LatentFrame> Run(SamplingJob job, FifoPlan plan, BaseClipCache? cache, CancellationToken cancellation)
    {
        using var run = FifoRun.Create(job, plan, cancellation, cache);
        foreach (var kept in run.ReplayedLatents()) yield return kept;
        while (!run.Finished)
        {
            var frame = run.Advance(cancellation);
            if (frame is null) continue;
            // The last frame's too: a finished run then goes on from its end (RunExtension), whatever its length.
            if (job.Snapshots is { } policy && (run.Emitted % policy.EveryFrames == 0 || run.Finished))
            {
                var staged = policy.Stage(run.Emitted);
                try
                {
                    using var snapshot = run.Snapshot();
                    snapshot.Save(staged.StagedPath);
                    frame = frame with { Snapshot = staged };
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    // A full disk or a lost share costs a resume point, not the run and the frame it just finished.
                    staged.Discard();
                    job.Log.Warning($"fifo: the snapshot after {run.Emitted} frames could not be written to '{policy.Path}' ({ex.Message}); " +
                                    "the run goes on, and the last snapshot written stays its resume point.");
                }
                catch
                {
                    // A restart after a fault: the popped latent is device memory no one else will free.
                    frame.Latent.Dispose();
                    staged.Discard();
                    throw;
                }
            }
            yield return frame;
        }
    }
}
