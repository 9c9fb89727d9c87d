using FifoPipes.Abstractions;
using FifoPipes.Core.Diffusion;
using static TorchSharp.torch;

namespace FifoPipes.Tests.Statistics;

/// <summary>
/// Standard DDIM on independent f-frame clips, concatenated: every frame of a clip sits at the same step k, and
/// clips share nothing. With the same S steps as FIFO it is the power baseline (what plain sampling with this
/// step count loses) and, as a video sampler, the broken one: consecutive clips are independent at the seams.
/// </summary>
public sealed class ChunkedSampler : ISampler
{
    readonly int steps;
    readonly double eta;

    public ChunkedSampler(int steps, double eta = 1.0)
    {
        this.steps = steps;
        this.eta = eta;
    }

    public IEnumerable<LatentFrame> Sample(SamplingJob job, CancellationToken cancellation)
    {
        var info = job.Model.Info;
        var table = FrameStepTable.ForModel(info.Schedule, StepKind.Ddim, steps, eta, clipSample: false);
        int f = info.WindowFrames;
        string prompt = job.Prompts[0].Prompt;
        var cond = job.Model.Encode(prompt);
        var shape = new long[] { info.LatentChannels, info.LatentHeight, info.LatentWidth };
        for (long first = 0; first < job.Frames; first += f)
        {
            var clip = Clip(job, table, cond, shape, first, f, cancellation);
            for (int m = 0; m < f && first + m < job.Frames; m++)
                yield return new LatentFrame(first + m, clip[0, .., m].clone(), prompt);
            clip.Dispose();
        }
    }

    Tensor Clip(SamplingJob job, FrameStepTable table, Conditioning cond, long[] shape, long first, int f, CancellationToken cancellation)
    {
        Tensor Noise(NoisePurpose purpose, int k) =>
            stack(Enumerable.Range(0, f).Select(m => job.Noise.Normal(shape, first + m, purpose, k)).ToList(), 1).unsqueeze(0);

        var x = Noise(NoisePurpose.BaseStart, 0);
        for (int k = steps - 1; k >= 0; k--)
        {
            cancellation.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            var t = full(new long[] { 1, f }, table.Timesteps[k], ScalarType.Int64);
            var eps = job.Model.PredictNoise(x, t, new[] { cond });
            var next = table.Step(x, eps, Enumerable.Repeat(k, f).ToArray(), table.UsesNoise(k) ? Noise(NoisePurpose.BaseStep, k) : null);
            x.Dispose();
            x = next.MoveToOuterDisposeScope();
        }
        return x;
    }
}
