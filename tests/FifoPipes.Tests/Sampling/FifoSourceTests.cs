using FifoPipes.Abstractions;
using FifoPipes.Core;
using FifoPipes.Core.Diffusion;
using FifoPipes.Samplers.Fifo;
using FifoPipes.Tests.Hosting;
using FifoPipes.Tests.Parity;
using Xunit;
using static TorchSharp.torch;

namespace FifoPipes.Tests.Sampling;

/// <summary>Video-to-video in the FIFO sampler: the queue and every new tail frame start from the source's frames.</summary>
public sealed class FifoSourceTests : IDisposable
{
    readonly string folder = Path.Combine(Path.GetTempPath(), "fifo-source-tests-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
    }

    /// <summary>A source whose frame i is the constant i / 2 - 2 (distinct frames), recording what is asked.</summary>
    sealed class RampSource(long count) : ISourceLatents
    {
        public List<long> Asked { get; } = new();
        public long Count => count;
        public Tensor Latent(long index)
        {
            Asked.Add(index);
            return full(new long[] { 2, 3, 4 }, Value(index));
        }
        public static float Value(long index) => index / 2f - 2f;
    }

    static SamplingJob Job(ISourceLatents source, double strength, int frames = 10, SnapshotPolicy? snapshots = null, string? resumeFrom = null) => new()
    {
        Model = DelegateVideoModel.Linear(),
        Prompts = new[] { new PromptSpan("slow clouds", frames) },
        Noise = new KeyedNoise(42),
        Seed = 42,
        Source = source,
        SourceStrength = strength,
        Snapshots = snapshots,
        ResumeFrom = resumeFrom,
        RunHash = "source-run",
    };

    static List<Tensor> Latents(SamplingJob job, FifoOptions? options = null, int? take = null)
    {
        var frames = new FifoSamplerFactory().Create(options ?? new FifoOptions(), new PluginContext()).Sample(job, CancellationToken.None);
        return (take is { } n ? frames.Take(n) : frames).Select(f => { f.Snapshot?.Commit(); return f.Latent; }).ToList();
    }

    static double MeanDistanceToSource(IReadOnlyList<Tensor> frames) =>
        frames.Select((frame, k) => (frame - RampSource.Value(k)).abs().mean().item<float>()).Average();

    [Fact]
    public void Output_frame_k_follows_source_frame_k_and_drifts_further_at_higher_strength()
    {
        // Deterministic steps (eta 0), so each frame's mean shows where it came from: the test model shrinks values
        // towards zero, but the outputs keep the source's order, one source frame per output frame.
        var gentle = Latents(Job(new RampSource(12), 0.1), new FifoOptions { Eta = 0 });
        Assert.Equal(10, gentle.Count);
        var means = gentle.Select(frame => frame.mean().item<float>()).ToList();
        Assert.True(means.Zip(means.Skip(1)).All(pair => pair.Second - pair.First > 0.1f), $"output means {string.Join(", ", means.Select(m => m.ToString("F3")))}");
        // At the lowest strength the output is its own source frame, well within half the spacing of the next.
        var faithful = Latents(Job(new RampSource(12), 0.01), new FifoOptions { Eta = 0 });
        for (int k = 0; k < faithful.Count; k++)
            Assert.InRange(faithful[k].mean().item<float>(), RampSource.Value(k) - 0.125f, RampSource.Value(k) + 0.125f);
        double low = MeanDistanceToSource(gentle), middle = MeanDistanceToSource(Latents(Job(new RampSource(12), 0.5))),
            high = MeanDistanceToSource(Latents(Job(new RampSource(12), 0.95)));
        Assert.True(low < middle && middle < high, $"distance to the source: {low:F3} at 0.1, {middle:F3} at 0.5, {high:F3} at 0.95");
    }

    [Fact]
    public void Source_frames_are_asked_for_in_order_from_the_first()
    {
        var source = new RampSource(10);
        _ = Latents(Job(source, 0.6));
        var plan = FifoPlan.Resolve(new FifoOptions(), DelegateVideoModel.Linear().Info, Job(source, 0.6));
        // The whole first queue starts from frame 0 (its frames are the discarded warm-up), then each tail brings the next.
        Assert.All(source.Asked.Take(plan.QueueLength), index => Assert.Equal(0, index));
        var tails = source.Asked.Skip(plan.QueueLength).ToList();
        Assert.Equal(Enumerable.Range(1, tails.Count).Select(i => (long)Math.Min(i, 9)), tails);
    }

    [Fact]
    public void The_schedule_stops_at_the_strength()
    {
        var info = DelegateVideoModel.Linear().Info;
        var full = FrameStepTable.ForModel(info.Schedule, StepKind.Ddim, 8, 1, false);
        var half = FrameStepTable.ForModel(info.Schedule, StepKind.Ddim, 8, 1, false, strength: 0.5);
        Assert.Equal(8, half.Steps);
        Assert.Equal(full.Timesteps, FrameStepTable.ForModel(info.Schedule, StepKind.Ddim, 8, 1, false, strength: 1).Timesteps);
        Assert.Equal(500, half.Timesteps[^1]);   // round(0.5 · 999) + 1 timesteps, the last 499.5 rounded to even
        // Nearby strengths give nearby tables, not the same one.
        Assert.NotEqual(FrameStepTable.ForModel(info.Schedule, StepKind.Ddim, 8, 1, false, strength: 0.8).Timesteps,
            FrameStepTable.ForModel(info.Schedule, StepKind.Ddim, 8, 1, false, strength: 0.85).Timesteps);
        Assert.True(half.Timesteps.Zip(half.Timesteps.Skip(1)).All(p => p.First < p.Second));
    }

    [Fact]
    public void A_truncated_ddpm_table_keeps_its_conventions()
    {
        var schedule = DelegateVideoModel.Linear().Info.Schedule;
        var table = FrameStepTable.ForModel(schedule, StepKind.Ddpm, 8, 0, false, strength: 0.4);
        Assert.Equal(8, table.Steps);
        Assert.Equal(0, table.Timesteps[0]);
        Assert.InRange(table.Timesteps[^1], 300, 400);
        Assert.True(table.Timesteps.Zip(table.Timesteps.Skip(1)).All(p => p.First < p.Second));
        Assert.Equal(1f, table.AlphasPrev[0]);
        for (int k = 1; k < 8; k++) Assert.Equal(table.Alphas[k - 1], table.AlphasPrev[k]);
        Assert.All(Enumerable.Range(0, 8), k => Assert.Equal(1f, table.X0Scale(k)));
    }

    [Fact]
    public void A_resumed_restyle_equals_the_uninterrupted_one()
    {
        var uninterrupted = Latents(Job(new RampSource(12), 0.6));
        var snapshot = Path.Combine(folder, "restyle.safetensors");
        _ = Latents(Job(new RampSource(12), 0.6, snapshots: new SnapshotPolicy(snapshot, 4)), take: 5);
        var resumed = Latents(Job(new RampSource(12), 0.6, resumeFrom: snapshot));
        TensorAssert.Identical(uninterrupted.Skip(4).ToList(), resumed, "after resuming");
    }

    [Fact]
    public void Inputs_that_do_not_fit_a_restyle_are_refused_by_name()
    {
        var shortSource = Assert.Throws<FifoInputException>(() => Latents(Job(new RampSource(6), 0.6)));
        Assert.Equal("SourceTooShort", shortSource.ErrorId);
        Assert.Contains("has 6 frames, and the prompts ask for 10", shortSource.Message);

        var start = Assert.Throws<FifoInputException>(() => Latents(Job(new RampSource(12), 0.6), new FifoOptions { Start = "noise" }));
        Assert.Contains("'start': does not apply when restyling a source video", start.Message);
        var tail = Assert.Throws<FifoInputException>(() => Latents(Job(new RampSource(12), 0.6), new FifoOptions { Tail = "lowfreq" }));
        Assert.Contains("'tail': must be noise when restyling", tail.Message);
        var both = Assert.Throws<FifoInputException>(() => Latents(Job(new RampSource(12), 0.6) with { InitLatents = zeros(2, 1, 3, 4) }));
        Assert.Equal("SourceWithStartFrames", both.ErrorId);

    }

    [Fact]
    public void Baselines_refuse_every_input_they_declare_they_do_not_take_even_past_the_host()
    {
        static string Refusal(SamplingJob job) =>
            Assert.Throws<FifoInputException>(() => FifoPipes.Samplers.Baselines.ClipPlan.RefuseFifoOnlyInputs(job, "chunked")).Message;
        var plain = Job(new RampSource(12), 0.6) with { Source = null };
        Assert.Contains("cannot restyle a source video", Refusal(Job(new RampSource(12), 0.6)));
        Assert.Contains("cannot start from given frames", Refusal(plain with { InitLatents = zeros(2, 1, 3, 4) }));
        Assert.Contains("cannot write or resume snapshots", Refusal(plain with { Snapshots = new SnapshotPolicy("x.snapshot", 8) }));
        Assert.Contains("cannot write or resume snapshots", Refusal(plain with { ResumeFrom = "x.snapshot" }));
        FifoPipes.Samplers.Baselines.ClipPlan.RefuseFifoOnlyInputs(plain, "chunked");
        // What the host reads to refuse them before a model loads says the same.
        var declared = TestPlugins.Host.Plugins.Where(p => p.Kind == PluginKind.Sampler && p.Name != "fifo").ToList();
        Assert.Equal(new[] { "chunked", "freenoise", "gen-l-video" }, declared.Select(p => p.Name).Order());
        Assert.All(declared, p => Assert.Equal(new[] { "init", "source", "livePrompt", "snapshot" }, p.Refuses));
        Assert.Empty(TestPlugins.Host.Plugins.Single(p => p.Kind == PluginKind.Sampler && p.Name == "fifo").Refuses);
        // A sampler built before an input existed would ignore it: it counts as refused.
        static FifoPipes.Hosting.Plugins.PluginDescriptor Built(PluginKind kind, int minor) => (FifoPipes.Hosting.Plugins.PluginDescriptor)Activator.CreateInstance(
            typeof(FifoPipes.Hosting.Plugins.PluginDescriptor), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance, null,
            new object[] { new PluginMetadata { Kind = kind, Name = "old" }, "old.dll", new Version(1, minor), (Func<object>)(() => new object()) }, null)!;
        Assert.Equal(new[] { "livePrompt" }, Built(PluginKind.Sampler, 3).Refuses);
        Assert.Equal(new[] { "source", "livePrompt" }, Built(PluginKind.Sampler, 1).Refuses);
        Assert.Equal(new[] { "source", "livePrompt", "negativePrompt" }, Built(PluginKind.Sampler, 0).Refuses);
        Assert.Empty(Built(PluginKind.Sink, 1).Refuses);
    }

}
