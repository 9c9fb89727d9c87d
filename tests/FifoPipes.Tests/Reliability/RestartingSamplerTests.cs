using System.Runtime.InteropServices;
using FifoPipes.Abstractions;
using FifoPipes.Core;
using FifoPipes.Hosting.Engine;
using FifoPipes.Samplers.Fifo;
using FifoPipes.Tests.Sampling;
using FifoPipes.Tests.Parity;
using FifoPipes.Torch.Checkpoints;
using Xunit;
using static TorchSharp.torch;

namespace FifoPipes.Tests.Reliability;

/// <summary>
/// A TorchSharp scalar fault (docs/reliability.md) injected at chosen model calls: the run restarts from its newest
/// snapshot, or from the start, and its frames are bit for bit those of a run without faults.
/// </summary>
public sealed class RestartingSamplerTests : IDisposable
{
    const int Frames = 12;
    readonly string folder = Directory.CreateTempSubdirectory("fifo-restarts-").FullName;
    public void Dispose() => Directory.Delete(folder, recursive: true);

    internal static ExternalException ScalarFault() => new("Expected false to be true, but got false.\nException raised from toDouble at /pytorch/c10/core/Scalar.h:140 (most recent call first):");

    static SamplingJob Job(IVideoModel model, RecordingSink log, SnapshotPolicy? snapshots = null) => new()
    {
        Model = model,
        Prompts = new[] { new PromptSpan("slow clouds", Frames) },
        Noise = new KeyedNoise(4),
        Seed = 4,
        Snapshots = snapshots,
        RunHash = "restart-test",
        Log = log,
    };

    /// <summary>Takes every frame as the engine would: a staged snapshot is committed once its frame is taken.</summary>
    static List<LatentFrame> Take(ISampler sampler, SamplingJob job) =>
        sampler.Sample(job, CancellationToken.None).Select(f => { f.Snapshot?.Commit(); return f; }).ToList();

    /// <summary>
    /// Takes frames as the engine does when the sinks run behind: each staged snapshot is committed
    /// <paramref name="lag"/> frames after its frame was taken, and its file must still be there then.
    /// </summary>
    static List<LatentFrame> TakeCommittingLate(ISampler sampler, SamplingJob job, int lag)
    {
        var frames = new List<LatentFrame>();
        var held = new Queue<(StagedSnapshot Stage, int TakenAt)>();
        foreach (var frame in sampler.Sample(job, CancellationToken.None))
        {
            frames.Add(frame);
            if (frame.Snapshot is { } stage) held.Enqueue((stage, frames.Count));
            while (held.Count > 0 && held.Peek().TakenAt + lag <= frames.Count) CommitStillStaged(held.Dequeue().Stage);
        }
        while (held.Count > 0) CommitStillStaged(held.Dequeue().Stage);
        return frames;
    }

    static void CommitStillStaged(StagedSnapshot stage)
    {
        Assert.True(File.Exists(stage.StagedPath), $"the snapshot staged after {stage.FramesBefore} frames was deleted before the engine could commit it");
        stage.Commit();
    }

    /// <summary>The frames of a run without faults, and how many model calls it made.</summary>
    static (List<LatentFrame> Frames, int Calls) CleanRun()
    {
        var model = DelegateVideoModel.Linear();
        return (Take(Fifo(), Job(model, new RecordingSink())), model.Calls.Count);
    }

    static ISampler Fifo() => new FifoSamplerFactory().Create(new FifoOptions(), new PluginContext());

    /// <summary>Faults on the given model calls, counted over every attempt (a faulted call counts too).</summary>
    static DelegateVideoModel FaultingAt(params int[] calls)
    {
        var model = DelegateVideoModel.Linear();
        int attempts = 0;
        model.BeforeCall = _ => { if (calls.Contains(attempts++)) throw ScalarFault(); };
        return model;
    }

    static void AssertSameFrames(IReadOnlyList<LatentFrame> expected, IReadOnlyList<LatentFrame> actual)
    {
        Assert.Equal(expected.Select(f => f.Index), actual.Select(f => f.Index));
        TensorAssert.Identical(expected.Select(f => f.Latent).ToList(), actual.Select(f => f.Latent).ToList(), "after the restarts");
    }

    [Fact]
    public void Without_snapshots_it_restarts_from_the_start_and_skips_what_was_made()
    {
        var (clean, calls) = CleanRun();
        var log = new RecordingSink();
        var restarting = new RestartingSampler(Fifo(), maxStalls: 3);
        // One fault while the base clip is sampled, one late in the run (call numbers count the repeated work too).
        var frames = Take(restarting, Job(FaultingAt(3, 4 + 3 * calls / 4), log));
        AssertSameFrames(clean, frames);
        Assert.Equal(2, restarting.Restarts);
        Assert.All(log.Warnings, w => Assert.Contains("from the start", w));
    }

    [Fact]
    public void With_snapshots_it_restarts_from_the_newest_one()
    {
        var (clean, calls) = CleanRun();
        var log = new RecordingSink();
        var snapshot = Path.Combine(folder, "run.snapshot");
        var restarting = new RestartingSampler(Fifo(), maxStalls: 3);
        var frames = Take(restarting, Job(FaultingAt(calls - 3), log, new SnapshotPolicy(snapshot, 2)));
        AssertSameFrames(clean, frames);
        Assert.Equal(1, restarting.Restarts);
        Assert.Contains($"from '{snapshot}'", Assert.Single(log.Warnings));
    }

    [Fact]
    public void A_snapshot_left_by_an_earlier_run_is_never_taken_for_this_ones()
    {
        var (clean, _) = CleanRun();
        var snapshot = Path.Combine(folder, "earlier.snapshot");
        var policy = new SnapshotPolicy(snapshot, 2);
        // An earlier run of the same recipe went all the way and left its final snapshot behind.
        Take(Fifo(), Job(DelegateVideoModel.Linear(), new RecordingSink(), policy));
        Assert.True(File.Exists(snapshot));

        // This run faults while its base clip is sampled, before it has committed anything of its own.
        var log = new RecordingSink();
        var restarting = new RestartingSampler(Fifo(), maxStalls: 3);
        var frames = Take(restarting, Job(FaultingAt(3), log, policy));
        AssertSameFrames(clean, frames);
        Assert.Contains("from the start", Assert.Single(log.Warnings));
    }

    [Fact]
    public void Snapshots_the_engine_still_holds_survive_a_restart()
    {
        var (clean, calls) = CleanRun();
        var log = new RecordingSink();
        var snapshot = Path.Combine(folder, "held.snapshot");
        var restarting = new RestartingSampler(Fifo(), maxStalls: 3);
        // Committing three frames late, the stages of the last frames before the fault are still held when it comes;
        // the restarted sampler redoes those frames and must neither delete nor replace the held stages.
        var frames = TakeCommittingLate(restarting, Job(FaultingAt(calls - 3), log, new SnapshotPolicy(snapshot, 2)), lag: 3);
        AssertSameFrames(clean, frames);
        Assert.Equal(1, restarting.Restarts);
        Assert.Equal(Frames.ToString(System.Globalization.CultureInfo.InvariantCulture), SafetensorsFile.ReadMetadata(snapshot)["emitted"]);
        Assert.Empty(Directory.EnumerateFiles(folder, "*.staged"));
    }

    [Fact]
    public void A_fault_that_keeps_coming_back_without_progress_surfaces()
    {
        var model = DelegateVideoModel.Linear();
        model.BeforeCall = call => { if (call >= 5) throw ScalarFault(); };   // the failed call is not recorded: call 5 forever
        var restarting = new RestartingSampler(Fifo(), maxStalls: 3);
        Assert.Throws<ExternalException>(() => Take(restarting, Job(model, new RecordingSink())));
        Assert.Equal(3, restarting.Restarts);
    }

    [Fact]
    public void Any_other_failure_surfaces_at_once()
    {
        var model = DelegateVideoModel.Linear();
        model.BeforeCall = call => { if (call == 5) throw new InvalidOperationException("a real bug"); };
        var restarting = new RestartingSampler(Fifo(), maxStalls: 3);
        Assert.Equal("a real bug", Assert.Throws<InvalidOperationException>(() => Take(restarting, Job(model, new RecordingSink()))).Message);
        Assert.Equal(0, restarting.Restarts);
    }

    /// <summary>Each Sample call plays the next of its attempts.</summary>
    sealed class ScriptedSampler(params Func<IEnumerable<LatentFrame>>[] attempts) : ISampler
    {
        int attempt;
        public IEnumerable<LatentFrame> Sample(SamplingJob job, CancellationToken cancellation) => attempts[attempt++]();
    }

    static LatentFrame Latent(long index, bool replayed = false) => new(index, zeros(1), "slow clouds") { Replayed = replayed };

    static IEnumerable<LatentFrame> ReplaysThenFaults()
    {
        yield return Latent(3, replayed: true);
        yield return Latent(4, replayed: true);
        throw ScalarFault();
    }

    static IEnumerable<LatentFrame> ReplaysThenNew() => new[] { Latent(3, true), Latent(4, true), Latent(5), Latent(6) };

    [Fact]
    public void Replayed_latents_go_on_once_across_a_restart_and_never_hide_a_new_frame_of_their_index()
    {
        var restarting = new RestartingSampler(new ScriptedSampler(ReplaysThenFaults, ReplaysThenNew), maxStalls: 3);
        var frames = restarting.Sample(Job(DelegateVideoModel.Linear(), new RecordingSink()), CancellationToken.None).ToList();
        Assert.Equal(new[] { (3L, true), (4L, true), (5L, false), (6L, false) }, frames.Select(f => (f.Index, f.Replayed)));

        // A sampler that replays the latent at its resume point: its new latent of that index still goes on, for the engine to refuse.
        var ahead = new RestartingSampler(new ScriptedSampler(() => new[] { Latent(5, true), Latent(5), Latent(6) }), maxStalls: 3);
        var passed = ahead.Sample(Job(DelegateVideoModel.Linear(), new RecordingSink()), CancellationToken.None).ToList();
        Assert.Equal(new[] { (5L, true), (5L, false), (6L, false) }, passed.Select(f => (f.Index, f.Replayed)));
    }

    [Fact]
    public void Only_libtorchs_scalar_complaint_counts_as_the_race()
    {
        Assert.True(TorchSharpFaults.IsScalarFinalizerRace(new InvalidOperationException("wrapped", ScalarFault())));
        Assert.True(TorchSharpFaults.IsScalarFinalizerRace(new ExternalException("Unknown scalar type.")));
        Assert.False(TorchSharpFaults.IsScalarFinalizerRace(new ExternalException("CUDA out of memory.")));
        Assert.False(TorchSharpFaults.IsScalarFinalizerRace(new InvalidOperationException("c10/core/Scalar.h")));
    }
}
