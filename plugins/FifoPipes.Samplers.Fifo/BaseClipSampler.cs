using FifoPipes.Abstractions;
using FifoPipes.Core;
using static TorchSharp.torch;

namespace FifoPipes.Samplers.Fifo;

/// <summary>
/// The base clip: an ordinary S-step sampler over one f-frame clip (every frame at the same k), with the model's x0
/// scale applied as LDM's p_sample_ddim does. Frame m of the clip draws its noise under frame id m.
/// </summary>
public static class BaseClipSampler
{
    /// <summary>Returns the clean clip [C, f, h, w].</summary>
    public static Tensor Sample(FifoPlan plan, GuidedDenoiser denoiser, Conditioning cond, Conditioning? uncond,
        INoiseSource noise, Device device, CancellationToken cancellation)
    {
        int f = plan.WindowFrames;
        using var start = FrameNoise(plan, noise, NoisePurpose.BaseStart, 0, device);
        using var clip = plan.Table.SampleInLockstep(start,
            (x, k) => denoiser.PredictNoise(x, full(new long[] { 1, f }, plan.Table.Timesteps[k], ScalarType.Int64, device), cond, uncond),
            k => FrameNoise(plan, noise, NoisePurpose.BaseStep, k, device), cancellation);
        return clip.squeeze(0);
    }

    /// <summary>[1, C, f, h, w] noise, one keyed draw per clip frame.</summary>
    static Tensor FrameNoise(FifoPlan plan, INoiseSource noise, NoisePurpose purpose, int step, Device device)
    {
        using var scope = NewDisposeScope();
        return noise.StackedFrames(plan.LatentShape, Enumerable.Range(0, plan.WindowFrames).Select(m => (long)m), purpose, step, device).unsqueeze(0).MoveToOuterDisposeScope();
    }
}
