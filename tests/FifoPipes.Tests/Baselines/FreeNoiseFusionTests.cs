using FifoPipes.Abstractions;
using FifoPipes.Core;
using FifoPipes.Samplers.Baselines;
using FifoPipes.Tests.Sampling;
using FifoPipes.Tests.VideoCrafter;
using FifoPipes.Torch.UNets;
using FifoPipes.Tests.Parity;
using Xunit;
using static TorchSharp.torch;

namespace FifoPipes.Tests.Baselines;

/// <summary>FreeNoise's window-fused temporal attention: the fusion arithmetic, and the sampler choosing it.</summary>
public sealed class FreeNoiseFusionTests : IClassFixture<TinyVideoCrafterCheckpoint>
{
    const int F = 4;
    readonly TinyVideoCrafterCheckpoint tiny;
    public FreeNoiseFusionTests(TinyVideoCrafterCheckpoint tiny) => this.tiny = tiny;

    static TemporalTransformer Block()
    {
        manual_seed(11);
        return new TemporalTransformer(channels: 8, heads: 2, headDim: 4, depth: 1, useLinear: true, relativePositionLength: null, normGroups: 2);
    }

    /// <summary>The block on per-frame features [(1 t), 8, 2, 3]; null windows = plain attention over all t frames.</summary>
    static Tensor Run(TemporalTransformer block, Tensor video, TemporalWindows? windows)
    {
        long t = video.shape[2];
        var frames = video.permute(0, 2, 1, 3, 4).reshape(t, 8, 2, 3);
        var cond = new FrameConditioning(zeros(new[] { t, 1L }), zeros(new[] { t, 1L, 1L }), 1, t) { Windows = windows };
        return block.forward(frames, cond).view(1, t, 8, 2, 3).permute(0, 2, 1, 3, 4);
    }

    [Fact]
    public void A_video_no_longer_than_a_window_is_attended_as_one()
    {
        using var block = Block();
        var video = randn(new long[] { 1, 8, F, 2, 3 });
        TensorAssert.Close(Run(block, video, null), Run(block, video, new TemporalWindows(F, 1)), 1e-5, 1e-5, "f frames");
    }

    [Fact]
    public void Windows_that_do_not_overlap_attend_each_half_on_its_own()
    {
        using var block = Block();
        var video = randn(new long[] { 1, 8, 2 * F, 2, 3 });
        var fused = Run(block, video, new TemporalWindows(F, F));
        var halves = cat(new[] { Run(block, video.narrow(2, 0, F), null), Run(block, video.narrow(2, F, F), null) }, 2);
        TensorAssert.Close(halves, fused, 1e-5, 1e-5, "disjoint windows");
        Assert.False(fused.allclose(Run(block, video, null), rtol: 1e-4, atol: 1e-4), "windows made no difference to attention over all frames");
    }

    [Fact]
    public void Overlapping_windows_are_averaged_with_weights_rising_to_the_middle()
    {
        using var block = Block();
        var video = randn(new long[] { 1, 8, F + 1, 2, 3 });
        var first = Run(block, video.narrow(2, 0, F), null) - video.narrow(2, 0, F);
        var second = Run(block, video.narrow(2, 1, F), null) - video.narrow(2, 1, F);
        var w = new[] { 1f, 2f, 2f, 1f };   // positions 0..3 of a 4-frame window
        var expected = video.clone();
        for (int t = 0; t <= F; t++)
        {
            double sum = 0;
            var mixed = zeros(new long[] { 1, 8, 1, 2, 3 });
            if (t < F) { mixed += first.narrow(2, t, 1) * w[t]; sum += w[t]; }
            if (t >= 1) { mixed += second.narrow(2, t - 1, 1) * w[t - 1]; sum += w[t - 1]; }
            expected.narrow(2, t, 1).add_(mixed / sum);
        }
        TensorAssert.Close(expected, Run(block, video, new TemporalWindows(F, 1)), 1e-5, 1e-5, "stride 1");
    }

    [Fact]
    public void Window_starts_cover_the_video_with_the_last_flush_with_its_end()
    {
        Assert.Equal(new[] { 0, 2, 4, 6 }, new TemporalWindows(4, 2).Starts(10));
        Assert.Equal(new[] { 0, 3, 6, 7 }, new TemporalWindows(4, 3).Starts(11));
        Assert.Equal(new[] { 0 }, new TemporalWindows(4, 1).Starts(3));
    }

    /// <summary>The linear test model, told it can fuse: records the length of each fused call and its stride.</summary>
    sealed class FusingModel(DelegateVideoModel inner) : IVideoModel, IFusedTemporalAttention
    {
        public List<(long Frames, int Stride)> FusedCalls { get; } = new();
        public ModelInfo Info => inner.Info;
        public DelegateVideoModel Inner => inner;
        public Conditioning Encode(string prompt) => inner.Encode(prompt);
        public Tensor PredictNoise(Tensor x, Tensor t, IReadOnlyList<Conditioning> c) => inner.PredictNoise(x, t, c);
        public Tensor PredictNoiseFused(Tensor x, Tensor t, IReadOnlyList<Conditioning> c, int stride)
        {
            FusedCalls.Add((x.shape[2], stride));
            return inner.PredictNoise(x, t, c);
        }
        public IFrameDecoder CreateDecoder() => inner.CreateDecoder();
        public Tensor EncodeFrames(Tensor rgb) => inner.EncodeFrames(rgb);
        public void Dispose() => inner.Dispose();
    }

    static List<LatentFrame> Sample(IVideoModel model, FreeNoiseOptions options, params PromptSpan[] prompts) =>
        new FreeNoiseSamplerFactory().Create(options, new PluginContext()).Sample(new SamplingJob
        {
            Model = model,
            Prompts = prompts,
            Noise = new KeyedNoise(5),
            Seed = 5,
        }, CancellationToken.None).ToList();

    [Fact]
    public void Auto_fuses_in_attention_on_a_model_that_can_with_one_call_per_step()
    {
        var model = new FusingModel(DelegateVideoModel.Linear(frames: F, partitions: 2));
        var frames = Sample(model, new FreeNoiseOptions { Steps = 6 }, new PromptSpan("slow clouds", 11));
        Assert.Equal(11, frames.Count);
        Assert.Equal(Enumerable.Repeat((11L, 1), 6), model.FusedCalls);   // stride: a quarter of f = 4
        Assert.All(model.Inner.Calls, c => Assert.Equal(2, c.Batch));      // conditional and unconditional rows together
    }

    [Fact]
    public void Predictions_and_prompt_schedules_use_one_call_per_window_instead()
    {
        var model = new FusingModel(DelegateVideoModel.Linear(frames: F, partitions: 2));
        Sample(model, new FreeNoiseOptions { Steps = 2, Fusion = "predictions" }, new PromptSpan("slow clouds", 11));
        Sample(model, new FreeNoiseOptions { Steps = 2 }, new PromptSpan("slow clouds", 6), new PromptSpan("red fire", 5));
        Assert.Empty(model.FusedCalls);
    }

    [Fact]
    public void Attention_on_a_model_without_it_or_with_a_prompt_schedule_is_refused_naming_the_option()
    {
        var plain = Assert.Throws<FifoInputException>(() => Sample(DelegateVideoModel.Linear(frames: F), new FreeNoiseOptions { Fusion = "attention" }, new PromptSpan("a", 8)));
        Assert.Contains("fusion", plain.Message);
        Assert.Contains("linear-test", plain.Message);
        var schedule = Assert.Throws<FifoInputException>(() => Sample(new FusingModel(DelegateVideoModel.Linear(frames: F)), new FreeNoiseOptions { Fusion = "attention" },
            new PromptSpan("a", 4), new PromptSpan("b", 4)));
        Assert.Contains("prompt schedule", schedule.Message);
    }

    [Fact]
    public void The_tiny_videocrafter_runs_freenoise_with_fused_attention_end_to_end()
    {
        using var model = tiny.Load(tiny.Options());
        Assert.IsAssignableFrom<IFusedTemporalAttention>(model);
        var fused = Sample(model, new FreeNoiseOptions { Steps = 3, Fusion = "attention" }, new PromptSpan("a red panda in the snow", 9));
        var averaged = Sample(model, new FreeNoiseOptions { Steps = 3, Fusion = "predictions" }, new PromptSpan("a red panda in the snow", 9));
        Assert.Equal(Enumerable.Range(0, 9).Select(i => (long)i), fused.Select(f => f.Index));
        Assert.All(fused, f => Assert.True(f.Latent.isfinite().all().item<bool>(), $"frame {f.Index} is not finite"));
        Assert.Contains(Enumerable.Range(0, 9), i => !fused[i].Latent.allclose(averaged[i].Latent, rtol: 1e-4, atol: 1e-4));
    }
}
