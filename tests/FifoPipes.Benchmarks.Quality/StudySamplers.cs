using FifoPipes.Abstractions;
using FifoPipes.Models.Analytic.Quality;
using FifoPipes.Samplers.Baselines;
using FifoPipes.Samplers.Fifo;

namespace FifoPipes.Benchmarks.Quality;

/// <summary>The named sampler configurations the study can run, created through the plugins' own factories.</summary>
public static class StudySamplers
{
    static readonly PluginContext Context = new();

    public static readonly IReadOnlyDictionary<string, (string Description, Func<QualityStudyOptions, QualityCandidate> Create)> All =
        new Dictionary<string, (string, Func<QualityStudyOptions, QualityCandidate>)>(StringComparer.OrdinalIgnoreCase)
        {
            ["exact"] = ("exact samples of the prior (the finite-sample floor)", _ => QualityCandidate.ExactPrior("exact")),
            ["fifo"] = ("fifo: lookahead, start: base, tail: noise (the paper's setting)",
                _ => Fifo("fifo", new FifoOptions())),
            ["fifo-nolookahead"] = ("fifo: lookahead off", _ => Fifo("fifo-nolookahead", new FifoOptions { Lookahead = false })),
            ["fifo-noise"] = ("fifo: start: noise (pure-noise queue, S warm-up iterations)",
                _ => Fifo("fifo-noise", new FifoOptions { Start = "noise" })),
            ["fifo-lowfreq"] = ("fifo: tail: lowfreq (Ouroboros-style tail initialisation)",
                _ => Fifo("fifo-lowfreq", new FifoOptions { Tail = "lowfreq" })),
            ["fifo-n16"] = ("fifo: 16 partitions (S = 16 f steps instead of 4 f)", _ => Fifo("fifo-n16", new FifoOptions { Partitions = 16 })),
            ["fifo-eta0"] = ("fifo: eta 0 (deterministic DDIM)", _ => Fifo("fifo-eta0", new FifoOptions { Eta = 0 })),
            ["chunked"] = ("independent f-frame clips", _ => Candidate("chunked", new ChunkedSamplerFactory(), new ChunkedOptions { ClipBatch = 8 })),
            ["chunked-4x"] = ("independent clips with 4x the steps (S = 16 f)",
                o => Candidate("chunked-4x", new ChunkedSamplerFactory(), new ChunkedOptions { ClipBatch = 8, Steps = 16 * o.WindowFrames })),
            ["gen-l-video"] = ("Gen-L-Video co-denoising, stride f/2, uniform weights",
                _ => Candidate("gen-l-video", new GenLVideoSamplerFactory(), new GenLVideoOptions())),
            ["freenoise"] = ("FreeNoise rescheduling (stride f/4, eta 0) + window co-denoising",
                _ => Candidate("freenoise", new FreeNoiseSamplerFactory(), new FreeNoiseOptions())),
        };

    static QualityCandidate Fifo(string name, FifoOptions options) => Candidate(name, new FifoSamplerFactory(), options);

    static QualityCandidate Candidate(string name, ISamplerFactory factory, object options) => new(name, factory.Create(options, Context));
}
