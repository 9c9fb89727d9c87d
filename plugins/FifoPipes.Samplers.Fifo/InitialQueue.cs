using FifoPipes.Abstractions;
using static TorchSharp.torch;

namespace FifoPipes.Samplers.Fifo;

/// <summary>Fills the queue before the first iteration.</summary>
public static class InitialQueue
{
    /// <summary>
    /// prepare_latents: every slot forward-noised from a clean clip z0 [C, T, h, w] at its own level a_k (no x0 scale).
    /// Slot j holds frame d = j - p and takes z0[clamp(d - (S - T), 0, T - 1)], so the cleanest S - T main slots and
    /// the padding are copies of z0[0] and the noisiest T slots hold the clip in order.
    /// </summary>
    public static SlotQueue FromClip(FifoPlan plan, Tensor clip, INoiseSource noise, Device device)
    {
        int frames = (int)clip.shape[1];
        var slots = new List<Tensor>(plan.QueueLength);
        for (int slot = 0; slot < plan.QueueLength; slot++)
        {
            using var scope = NewDisposeScope();
            long d = plan.FrameId(0, slot);
            int k = plan.SlotK(slot);
            long source = Math.Clamp(d - (plan.Steps - frames), 0, frames - 1);
            var z = noise.Normal(plan.LatentShape, d, NoisePurpose.QueueInit, 0, device);
            float sqrtA = MathF.Sqrt(plan.Table.Alphas[k]);
            var x0 = clip.select(1, source).to(ScalarType.Float32).to(device);
            slots.Add(x0.mul(sqrtA).add(z.mul(plan.Table.SqrtOneMinusAlpha(k))).MoveToOuterDisposeScope());
        }
        return new SlotQueue(slots);
    }

    /// <summary>Pure N(0, I) in every slot; the warm-up pops wash it out.</summary>
    public static SlotQueue FromNoise(FifoPlan plan, INoiseSource noise, Device device) =>
        new(Enumerable.Range(0, plan.QueueLength)
            .Select(slot => noise.Normal(plan.LatentShape, plan.FrameId(0, slot), NoisePurpose.QueueInit, 0, device)));
}
