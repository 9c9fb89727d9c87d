using FifoPipes.Abstractions;
using FifoPipes.Hosting.Engine;
using Xunit;

namespace FifoPipes.Tests.Reliability;

/// <summary>
/// The registry that keeps a run's snapshots from becoming its resume point before every sink holds their frames,
/// whichever comes first of the run's end and its sinks' finish, and whatever number of frames a latent decodes to.
/// </summary>
public sealed class HeldFramesTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("fifo-held-").FullName;
    public void Dispose() => Directory.Delete(dir, recursive: true);

    /// <summary>As an ffmpeg sink answers: given every frame, its file holds the first <see cref="Held"/>.</summary>
    sealed class HoldingSink : IFrameSink
    {
        public long Held;
        public void Write(VideoFrame frame) { }
        public IReadOnlyList<string> Complete() => Array.Empty<string>();
        public long? FramesHeld => Held;
        public void Dispose() { }
    }

    /// <summary>A staged snapshot after <paramref name="latents"/> latents, as a sampler stages one.</summary>
    StagedSnapshot Stage(long latents)
    {
        var stage = new StagedSnapshot(Path.Combine(dir, $"run.snapshot.{latents}.staged"), Path.Combine(dir, "run.snapshot"), latents);
        // Its last byte says which stage it is, once it is the snapshot.
        File.WriteAllBytes(stage.StagedPath, [2, 0, 0, 0, 0, 0, 0, 0, (byte)'{', (byte)'}', (byte)latents]);
        return stage;
    }

    static Guid RunWith(HoldingSink sink, long frames)
    {
        var run = Guid.NewGuid();
        HeldFrames.Started(run);
        for (long i = 0; i < frames; i++) HeldFrames.Wrote(run, sink, i, i);
        return run;
    }

    [Fact]
    public void A_stage_the_sinks_do_not_hold_never_becomes_the_resume_point_whether_the_run_ends_or_the_sink_finishes_first()
    {
        foreach (bool sinkFirst in new[] { false, true })
        {
            var sink = new HoldingSink { Held = 10 };
            var run = RunWith(sink, 40);
            var (held, unheld) = (Stage(8), Stage(32));
            // A sink that fails finishes first (Export-FifoFrames ends its sinks before its error reaches New-FifoVideo).
            if (sinkFirst) HeldFrames.Finished(sink, NullProgressSink.Instance);
            HeldFrames.Staged(run, new(held, 8));
            HeldFrames.Staged(run, new(unheld, 32));
            HeldFrames.Ended(run);
            if (!sinkFirst) HeldFrames.Finished(sink, NullProgressSink.Instance);
            Assert.True(File.Exists(held.Path));
            Assert.True(8 == File.ReadAllBytes(held.Path)[^1], $"the stage at 8 frames, which the sink holds, is the resume point, not the one at 32 (sink first: {sinkFirst})");
            Assert.False(File.Exists(unheld.StagedPath), "the stage the sink does not hold is dropped");
            Assert.Null(HeldFrames.HeldBefore(run));
            File.Delete(held.Path);
        }
    }

    [Fact]
    public void A_stage_is_held_by_the_frames_it_covers_not_its_latents()
    {
        // Open-Sora Plan's causal VAE makes 1 + 4(n - 1) frames of n latents: 17 latents are 65 frames, and the file holds 25.
        var sink = new HoldingSink { Held = 25 };
        var run = RunWith(sink, 65);
        var stage = Stage(17);
        HeldFrames.Staged(run, new(stage, 65));
        HeldFrames.Ended(run);
        Assert.False(File.Exists(stage.Path));
        sink.Held = 65;
        HeldFrames.Finished(sink, NullProgressSink.Instance);
        Assert.True(File.Exists(stage.Path), "once the sink holds all 65 frames, the stage is the resume point");
    }

    [Fact]
    public void Frames_exported_after_their_run_ended_leave_nothing_behind()
    {
        var sink = new HoldingSink { Held = 3 };
        var run = Guid.NewGuid();
        for (long i = 0; i < 3; i++) HeldFrames.Wrote(run, sink, i, i);
        HeldFrames.Finished(sink, NullProgressSink.Instance);
        Assert.Null(HeldFrames.HeldBefore(run));
    }
}
