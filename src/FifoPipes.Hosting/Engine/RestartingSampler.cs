using FifoPipes.Abstractions;
using FifoPipes.Core;

namespace FifoPipes.Hosting.Engine;

/// <summary>
/// Runs a sampler and, when it fails with a fault that repeating the work cures (<see cref="TorchSharpFaults"/>),
/// restarts it from the newest snapshot this run committed (or from where the run began: a snapshot file left by an
/// earlier run is never taken for this one's) and skips the frames already yielded.
/// Keyed noise makes the restarted frames bit for bit those of an uninterrupted run, so the consumer, its decoder
/// included, sees one unbroken stream. An endless run may fault now and then, so restarts are unlimited as long as
/// each one gets past the frame where the last one faulted; any other failure, or <paramref name="maxStalls"/> faults in a
/// row without a new frame, surfaces as it is.
/// </summary>
public sealed class RestartingSampler(ISampler inner, int maxStalls) : ISampler
{
    /// <summary>Restarts made so far (all runs of this instance).</summary>
    public int Restarts { get; private set; }

    public IEnumerable<LatentFrame> Sample(SamplingJob job, CancellationToken cancellation)
    {
        long next = long.MinValue, nextReplayed = long.MinValue, nextAtLastFault = long.MinValue;
        int stalls = 0;
        var attempt = job;
        // This run's stages not yet seen committed, oldest first; once one is, the policy's file is this run's.
        var uncommitted = new Queue<StagedSnapshot>();
        bool committedByThisRun = false;
        void NoteCommits()
        {
            if (committedByThisRun || !uncommitted.Any(stage => stage.Committed)) return;
            committedByThisRun = true;
            uncommitted.Clear();
        }
        while (true)
        {
            bool restart = false;
            using (var frames = inner.Sample(attempt, cancellation).GetEnumerator())
            {
                while (true)
                {
                    LatentFrame frame;
                    try
                    {
                        if (!frames.MoveNext()) yield break;
                        frame = frames.Current;
                    }
                    catch (Exception error) when (TorchSharpFaults.IsScalarFinalizerRace(error) && !cancellation.IsCancellationRequested
                                                  && (next > nextAtLastFault ? 1 : stalls + 1) <= maxStalls)
                    {
                        stalls = next > nextAtLastFault ? 1 : stalls + 1;
                        nextAtLastFault = next;
                        Restarts++;
                        NoteCommits();
                        attempt = RestartOf(job, committedByThisRun);
                        job.Log.Warning($"Restarting the sampler after a TorchSharp scalar fault (restart {Restarts}; {stalls} of at most {maxStalls} without a new frame) " +
                                        $"{(attempt.ResumeFrom is { } from ? $"from '{from}'" : "from the start")}; frames already made are not repeated. " +
                                        ExceptionChain.FirstLine(error));
                        restart = true;
                        break;
                    }
                    // A replayed latent (from before the resume point) goes on once and is no frame made: a new frame of
                    // the same index after it is still the sampler's next one, left for the engine to check, not skipped.
                    if (frame.Index < (frame.Replayed ? Math.Max(next, nextReplayed) : next))
                    {
                        frame.Latent.Dispose();
                        frame.Snapshot?.Discard();
                        continue;
                    }
                    if (frame.Replayed) nextReplayed = frame.Index + 1;
                    else next = frame.Index + 1;
                    if (!committedByThisRun && frame.Snapshot is { } stage)
                    {
                        NoteCommits();
                        if (!committedByThisRun) uncommitted.Enqueue(stage);
                    }
                    yield return frame;
                }
            }
            if (!restart) yield break;
        }
    }

    /// <summary>The same job resumed from the newest snapshot this run committed, else from where it first began.</summary>
    static SamplingJob RestartOf(SamplingJob job, bool committedByThisRun) =>
        job with { ResumeFrom = committedByThisRun && job.Snapshots is { } policy && File.Exists(policy.Path) ? policy.Path : job.ResumeFrom };
}
