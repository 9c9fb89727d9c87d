using FifoPipes.Abstractions;
using FifoPipes.Core;
using Xunit;
using static TorchSharp.torch;

namespace FifoPipes.Tests.Sampling;

/// <summary>What a long prompt schedule keeps embedded.</summary>
public sealed class PromptEmbeddingsTests
{
    internal sealed class Tracked(string prompt) : Conditioning(prompt)
    {
        public bool Disposed { get; private set; }
        public override void Dispose() => Disposed = true;
    }

    internal sealed class CountingModel : IVideoModel
    {
        public List<Tracked> Encoded { get; } = new();
        public ModelInfo Info => DelegateVideoModel.Linear().Info;
        public Conditioning Encode(string prompt) { var c = new Tracked(prompt); Encoded.Add(c); return c; }
        public Tensor PredictNoise(Tensor x, Tensor timesteps, IReadOnlyList<Conditioning> conditioning) => throw new NotSupportedException();
        public IFrameDecoder CreateDecoder() => throw new NotSupportedException();
        public Tensor EncodeFrames(Tensor rgb) => throw new NotSupportedException();
        public void Dispose() { }
    }

    [Fact]
    public void Spans_behind_the_head_are_freed_and_spans_alive_together_share_a_prompts_embedding()
    {
        var model = new CountingModel();
        var schedule = new PromptSchedule(new[] { new PromptSpan("fire", 2), new PromptSpan("ocean", 2), new PromptSpan("fire", 2) });
        using var prompts = new PromptEmbeddings(model, schedule);

        var fire = prompts.ForFrame(0);
        Assert.Same(fire, prompts.ForFrame(5));          // the third span, while the first is still held
        var ocean = prompts.ForFrame(2);
        Assert.Equal(new[] { "fire", "ocean" }, model.Encoded.Select(c => c.Prompt));

        prompts.ReleaseBefore(2);
        Assert.False(((Tracked)fire).Disposed, "the third span still uses the first span's embedding");
        prompts.ReleaseBefore(4);
        Assert.True(((Tracked)ocean).Disposed);
        Assert.False(((Tracked)fire).Disposed);
        prompts.ReleaseBefore(6);
        Assert.True(((Tracked)fire).Disposed);
    }

    /// <summary>Pairs as Open-Sora does: a copy of the negative's embedding, told which prompt it goes with.</summary>
    sealed class PairingModel : IVideoModel, IPairedUnconditional
    {
        public CountingModel Inner { get; } = new();
        public List<(string Negative, string Prompt)> Pairs { get; } = new();
        public ModelInfo Info => Inner.Info;
        public Conditioning Encode(string prompt) => Inner.Encode(prompt);
        public Conditioning UnconditionalFor(Conditioning conditional) => Pair(Inner.Encode(""), conditional);
        public Conditioning Pair(Conditioning negative, Conditioning conditional)
        {
            Pairs.Add((negative.Prompt, conditional.Prompt));
            return new Tracked(negative.Prompt);
        }
        public Tensor PredictNoise(Tensor x, Tensor timesteps, IReadOnlyList<Conditioning> conditioning) => throw new NotSupportedException();
        public IFrameDecoder CreateDecoder() => throw new NotSupportedException();
        public Tensor EncodeFrames(Tensor rgb) => throw new NotSupportedException();
        public void Dispose() { }
    }

    /// <summary>A pairing model built before negative prompts: it pairs "" only.</summary>
    sealed class EmptyOnlyPairingModel : IVideoModel, IPairedUnconditional
    {
        readonly CountingModel inner = new();
        public ModelInfo Info => inner.Info;
        public Conditioning Encode(string prompt) => inner.Encode(prompt);
        public Conditioning UnconditionalFor(Conditioning conditional) => inner.Encode("");
        public Tensor PredictNoise(Tensor x, Tensor timesteps, IReadOnlyList<Conditioning> conditioning) => throw new NotSupportedException();
        public IFrameDecoder CreateDecoder() => throw new NotSupportedException();
        public Tensor EncodeFrames(Tensor rgb) => throw new NotSupportedException();
        public void Dispose() { }
    }

    [Fact]
    public void A_negative_prompt_takes_the_place_of_the_empty_prompt_and_is_embedded_once()
    {
        var schedule = new PromptSchedule(new[] { new PromptSpan("fire", 2), new PromptSpan("ocean", 2) });
        var plain = new CountingModel();
        using (var prompts = new PromptEmbeddings(plain, schedule, "blurry"))
        {
            Assert.Equal("blurry", prompts.UnconditionalFor(prompts.ForFrame(0)).Prompt);
            Assert.Same(prompts.UnconditionalFor(prompts.ForFrame(0)), prompts.UnconditionalFor(prompts.ForFrame(2)));
        }
        Assert.Single(plain.Encoded, c => c.Prompt == "blurry");

        var pairing = new PairingModel();
        using (var prompts = new PromptEmbeddings(pairing, schedule, "blurry"))
        {
            Assert.Equal("blurry", prompts.UnconditionalFor(prompts.ForFrame(0)).Prompt);
            Assert.Equal("blurry", prompts.UnconditionalFor(prompts.ForFrame(2)).Prompt);
        }
        Assert.Equal(new[] { ("blurry", "fire"), ("blurry", "ocean") }, pairing.Pairs);
        Assert.Single(pairing.Inner.Encoded, c => c.Prompt == "blurry");

        using var old = new PromptEmbeddings(new EmptyOnlyPairingModel(), schedule, "blurry");
        var refused = Assert.Throws<FifoInputException>(() => old.UnconditionalFor(old.ForFrame(0)));
        Assert.Equal("NegativePromptUnsupported", refused.ErrorId);
        Assert.Contains("negativePrompt", refused.Message);
    }

    [Fact]
    public void A_fifo_run_holds_only_the_prompts_around_its_head()
    {
        var model = new CountingModel();
        var spans = Enumerable.Range(0, 12).Select(i => new PromptSpan($"look {i}", 2)).ToList();
        var linear = DelegateVideoModel.Linear();
        var job = new SamplingJob
        {
            Model = new ForwardingModel(linear, model), Prompts = spans, Noise = new KeyedNoise(1), Seed = 1,
        };
        var frames = new FifoPipes.Samplers.Fifo.FifoSamplerFactory().Create(new FifoPipes.Samplers.Fifo.FifoOptions(), new PluginContext())
            .Sample(job, CancellationToken.None).ToList();
        foreach (var f in frames) f.Latent.Dispose();

        Assert.Equal(24, frames.Count);
        // By the last frame every span but the last was freed as the head passed it.
        Assert.All(model.Encoded.Where(c => c.Prompt != "look 11" && c.Prompt != ""), c => Assert.True(c.Disposed, $"'{c.Prompt}' was kept"));
    }

    /// <summary>The linear test model's denoiser with the counting model's prompts.</summary>
    sealed class ForwardingModel(DelegateVideoModel denoiser, CountingModel prompts) : IVideoModel
    {
        public ModelInfo Info => denoiser.Info;
        public Conditioning Encode(string prompt) => prompts.Encode(prompt);
        public Tensor PredictNoise(Tensor x, Tensor timesteps, IReadOnlyList<Conditioning> conditioning) => denoiser.PredictNoise(x, timesteps, conditioning);
        public IFrameDecoder CreateDecoder() => throw new NotSupportedException();
        public Tensor EncodeFrames(Tensor rgb) => throw new NotSupportedException();
        public void Dispose() { }
    }
}
