using FifoPipes.Abstractions;
using static TorchSharp.torch;

namespace FifoPipes.Samplers.Fifo;

/// <summary>Fills the queue before the first iteration.</summary>
public static class InitialQueue
{
    /// <summary>
    /// prepare_latents: every slot forward-noised from a clean clip z0 [C, T, h, w] at its own level a_k (no x0 scale).
    /// Slot j holds frame d = j - p and takes z0[clamp(d - (S - T), 0, T - 1)] (<see cref="FifoPlan.ClipIndex"/>, as
    /// the plan discards S - T pops), so the cleanest S - T main slots and the padding are copies of z0[0] and the
    /// noisiest T slots hold the clip in order.
    /// </summary>
    public static SlotQueue FromClip(FifoPlan plan, Tensor clip, INoiseSource noise, Device device) =>
        Fill(plan, noise, device, (d, z, k) => Noised(plan, clip.select(1, plan.ClipIndex(d, clip.shape[1])), z, k));

    /// <summary>Video-to-video: slot j holds the source frame of its frame id (<see cref="FifoPlan.ClipIndex"/>), forward-noised to its level.</summary>
    public static SlotQueue FromSource(FifoPlan plan, ISourceLatents source, INoiseSource noise, Device device) =>
        Fill(plan, noise, device, (d, z, k) => FromSourceFrame(plan, source.Latent(plan.ClipIndex(d, source.Count)), z, k));

    /// <summary>Each slot from its frame id, its keyed queue noise and its step index; temporaries freed per slot.</summary>
    static SlotQueue Fill(FifoPlan plan, INoiseSource noise, Device device, Func<long, Tensor, int, Tensor> slotFrom)
    {
        var slots = new List<Tensor>(plan.QueueLength);
        for (int slot = 0; slot < plan.QueueLength; slot++)
        {
            using var scope = NewDisposeScope();
            long d = plan.FrameId(0, slot);
            var z = noise.Normal(plan.LatentShape, d, NoisePurpose.QueueInit, 0, device);
            slots.Add(slotFrom(d, z, plan.SlotK(slot)).MoveToOuterDisposeScope());
        }
        return new SlotQueue(slots);
    }

    /// <summary>
    /// A source frame at step k as training noised clean latents: sqrt(a_k) s_k x0 + sqrt(1 - a_k) noise, with the
    /// model's x0 scale s_k where it has one (VideoCrafter2 trained on x0 scaled down to 0.7 at the noisiest step; the
    /// start-frame path above leaves it out, as the reference's prepare_latents does). Temporaries go to the caller's scope.
    /// </summary>
    public static Tensor FromSourceFrame(FifoPlan plan, Tensor x0, Tensor noise, int k) =>
        Noised(plan, x0.mul(plan.Table.X0Scale(k)), noise, k);

    /// <summary>q(x_k | x0): sqrt(a_k) x0 + sqrt(1 - a_k) noise, in float32 on the noise's device (no x0 scale). Temporaries go to the caller's scope.</summary>
    static Tensor Noised(FifoPlan plan, Tensor x0, Tensor noise, int k) =>
        x0.to(ScalarType.Float32).to(noise.device).mul(MathF.Sqrt(plan.Table.Alphas[k])).add_(noise.mul(plan.Table.SqrtOneMinusAlpha(k)));

    /// <summary>Pure N(0, I) in every slot; the warm-up pops wash it out.</summary>
    public static SlotQueue FromNoise(FifoPlan plan, INoiseSource noise, Device device) =>
        new(Enumerable.Range(0, plan.QueueLength)
            .Select(slot => noise.Normal(plan.LatentShape, plan.FrameId(0, slot), NoisePurpose.QueueInit, 0, device)));
}
