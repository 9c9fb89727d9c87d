using FifoPipes.Abstractions;
using FifoPipes.Core;
using FifoPipes.Models.Analytic;
using FifoPipes.Samplers.Fifo;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace FifoPipes.Tests.Baselines;

/// <summary>FIFO's tail: lowfreq initialisation (Ouroboros-Diffusion).</summary>
public sealed class FifoTailTests
{
    static SamplingJob Job(IVideoModel model, int frames, long seed = 3) => new()
    {
        Model = model,
        Prompts = new[] { new PromptSpan("slow clouds", frames) },
        Noise = new KeyedNoise(seed),
        Seed = seed,
    };

    static List<Tensor> Run(IVideoModel model, FifoOptions options, int frames = 10) =>
        new FifoSamplerFactory().Create(options, new PluginContext()).Sample(Job(model, frames), CancellationToken.None).Select(f => f.Latent).ToList();

    static AnalyticModel Model() => new(new AnalyticOptions { Channels = 2, Height = 4, Width = 6, Frames = 4, Partitions = 2 });

    [Fact]
    public void Lowfreq_tail_runs_deterministically_and_changes_the_video()
    {
        using var model = Model();
        var low = Run(model, new FifoOptions { Tail = "lowfreq" });
        var again = Run(model, new FifoOptions { Tail = "lowfreq", WindowBatch = "1" });
        var noise = Run(model, new FifoOptions { Tail = "noise" });
        Assert.Equal(10, low.Count);
        for (int i = 0; i < low.Count; i++) Assert.True(low[i].eq(again[i]).all().item<bool>(), $"frame {i} differs between runs");
        Assert.All(low, t => Assert.True(t.isfinite().all().item<bool>()));
        Assert.False(low[^1].allclose(noise[^1], rtol: 1e-3, atol: 1e-4), "the lowfreq tail changed nothing");
    }

    [Fact]
    public void Low_frequency_mix_keeps_the_previous_mean_and_the_fresh_fine_detail()
    {
        var generator = new TorchSharp.torch.Generator(5);
        using var previous = randn(new long[] { 3, 32, 32 }, generator: generator);
        using var fresh = randn(new long[] { 3, 32, 32 }, generator: generator);
        using var narrow = TailInitialiser.LowFrequency(previous, fresh, 0.01);
        // H(0) = 1: the DC bin (the frame mean) comes from the previous latent; all other bins, nearly all from fresh noise.
        Assert.True(narrow.mean(new long[] { 1, 2 }).allclose(previous.mean(new long[] { 1, 2 }), atol: 1e-5));
        Assert.True((narrow - fresh).abs().max().item<float>() < 0.2f);

        using var wide = TailInitialiser.LowFrequency(previous, fresh, 0.25);
        double variance = wide.var().item<float>();
        Assert.InRange(variance, 0.9, 1.1);   // sqrt(1 - H^2) keeps white noise white with unit variance
        Assert.True((wide - fresh).abs().mean().item<float>() > 0.1f, "the low frequencies of the previous latent were not used");

        // Bin by bin: H of the previous latent and sqrt(1 - H^2) of the fresh noise, not the other way round.
        using var h = TailInitialiser.LowPass(32, 32, 0.25);
        Assert.Equal(1f, h[0, 0].item<float>());
        Assert.Equal(Math.Exp(-Math.Pow(2.0 * 4 / 32, 2) / (2 * 0.25 * 0.25)), h[0, 4].item<float>(), 1e-6);
        using var expected = fft.rfft2(previous, norm: FFTNormType.Ortho) * h + fft.rfft2(fresh, norm: FFTNormType.Ortho) * (1 - h.square()).sqrt();
        using var spectrum = fft.rfft2(wide, norm: FFTNormType.Ortho);
        Assert.True((spectrum - expected).abs().max().item<float>() < 1e-4f, "the mix is not H * previous + sqrt(1 - H^2) * fresh");
    }

    [Fact]
    public void Unknown_tail_is_refused_with_the_option_named()
    {
        var problems = new FifoOptions { Tail = "ouroboros" }.Validate().ToList();
        Assert.Contains(problems, p => p.Option == "tail");
        Assert.Contains(new FifoOptions { TailCutoff = 0 }.Validate(), p => p.Option == "tailCutoff");
        // A cutoff without the low-pass tail would change the run's hash and nothing else.
        Assert.Equal(new[] { "tailCutoff" }, new FifoOptions { TailCutoff = 1 }.Validate().Select(p => p.Option));
        Assert.Empty(new FifoOptions { TailCutoff = 1, Tail = "lowfreq" }.Validate());
        Assert.Empty(new FifoOptions { Tail = "LowFreq" }.Validate());
    }
}
