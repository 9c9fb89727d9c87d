using FifoPipes.Abstractions;
using FifoPipes.Core;
using FifoPipes.Models.Analytic;
using FifoPipes.Samplers.Fifo;
using TorchSharp;
using static TorchSharp.torch;

namespace FifoPipes.Tests.Statistics;

/// <summary>Long streams of one latent channel, [T, h, w] float32, from a sampler or straight from the prior.</summary>
public static class Streams
{
    /// <summary>The FIFO sampler at guidance 1 (the conditional prior exactly), eta 1, on <paramref name="model"/>'s window and partitions.</summary>
    public static Tensor Fifo(IVideoModel model, bool lookahead, int frames, long seed)
    {
        var sampler = new FifoSamplerFactory().Create(new FifoOptions { Lookahead = lookahead, Guidance = 1, Eta = 1 }, new PluginContext());
        return Collect(sampler, model, frames, seed);
    }

    public static Tensor Collect(ISampler sampler, IVideoModel model, int frames, long seed)
    {
        var job = new SamplingJob
        {
            Model = model,
            Prompts = new[] { new PromptSpan("calibration", frames) },
            Seed = seed,
            Noise = new KeyedNoise(seed),
        };
        var channel = new List<Tensor>(frames);
        foreach (var frame in sampler.Sample(job, CancellationToken.None))
            using (frame.Latent) channel.Add(frame.Latent[0].clone());
        var stream = stack(channel);
        foreach (var t in channel) t.Dispose();
        return stream;
    }

    /// <summary>An exact sample of the prior (channel 0): the finite-sample floor of every statistic.</summary>
    public static Tensor Exact(PromptParameters prior, int size, int frames, long seed)
    {
        using var generator = new Generator((ulong)seed);
        using var sample = new SpectralPrior(prior, size, size).Sample(frames, generator);
        return sample[0].clone();
    }
}
