using FifoPipes.Abstractions;
using FifoPipes.Core;
using FifoPipes.Tests.Parity;
using Xunit;
using static TorchSharp.torch;

namespace FifoPipes.Tests.Sampling;

/// <summary>Guidance with one "" conditioning per row, and the older single-"" calls that samplers outside the repository may still make.</summary>
public sealed class GuidedDenoiserTests
{
    [Fact]
    public void The_single_unconditional_calls_kept_for_older_samplers_give_the_paired_calls_result()
    {
        var model = DelegateVideoModel.Linear();
        var schedule = new PromptSchedule(new[] { new PromptSpan("slow clouds", 2), new PromptSpan("red fire", 2) });
        using var prompts = new PromptEmbeddings(model, schedule);
        var guided = new GuidedDenoiser(model, guidance: 3);
        var info = model.Info;
        var x = randn(new long[] { 2, info.LatentChannels, info.WindowFrames, info.LatentHeight, info.LatentWidth }, generator: new Generator(3));
        var t = full(new long[] { 2, info.WindowFrames }, 400L);
        var cond = new[] { prompts.ForFrame(0), prompts.ForFrame(3) };

        using var paired = guided.PredictNoise(x, t, cond, cond.Select(prompts.UnconditionalFor).ToList());
#pragma warning disable CS0618 // the obsolete members are what this test is about
        using var older = guided.PredictNoise(x, t, cond, prompts.Unconditional);
#pragma warning restore CS0618
        TensorAssert.Identical(new[] { paired }, new[] { older }, "older single-\"\" call");
        Assert.Throws<ArgumentException>(() => guided.PredictNoise(x, t, cond, new[] { prompts.UnconditionalFor(cond[0]) }));
    }
}
