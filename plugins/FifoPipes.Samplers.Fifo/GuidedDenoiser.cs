using FifoPipes.Abstractions;
using static TorchSharp.torch;

namespace FifoPipes.Samplers.Fifo;

/// <summary>
/// Classifier-free guidance around a model: eps = eps_u + w (eps_c - eps_u), with the conditional and unconditional
/// halves in one batched model call. With w = 1 only the conditional pass runs, as in the reference.
/// </summary>
public sealed class GuidedDenoiser
{
    readonly IVideoModel model;

    public GuidedDenoiser(IVideoModel model, double guidance)
    {
        this.model = model;
        Guidance = guidance;
    }

    public double Guidance { get; }
    public bool UsesUnconditional => Guidance != 1.0;

    /// <summary>x [B, C, F, h, w] float32, t [B, F] int64; returns eps [B, C, F, h, w] float32.</summary>
    public Tensor PredictNoise(Tensor x, Tensor t, Conditioning cond, Conditioning? uncond)
    {
        using var scope = NewDisposeScope();
        int batch = (int)x.shape[0];
        var dtype = model.Info.DType;
        if (!UsesUnconditional)
            return Call(x, t, Enumerable.Repeat(cond, batch).ToList(), dtype).MoveToOuterDisposeScope();
        if (uncond is null) throw new ArgumentNullException(nameof(uncond), "Guidance needs the unconditional embedding.");

        var conditioning = Enumerable.Repeat(cond, batch).Concat(Enumerable.Repeat(uncond, batch)).ToList();
        var eps = Call(cat(new[] { x, x }, 0), cat(new[] { t, t }, 0), conditioning, dtype);
        var epsCond = eps.narrow(0, 0, batch);
        var epsUncond = eps.narrow(0, batch, batch);
        return epsUncond.add(epsCond.sub(epsUncond).mul(Guidance)).MoveToOuterDisposeScope();
    }

    Tensor Call(Tensor x, Tensor t, IReadOnlyList<Conditioning> conditioning, ScalarType dtype)
    {
        using var _ = no_grad();
        var eps = model.PredictNoise(x.to(dtype), t, conditioning);
        if (!eps.shape.SequenceEqual(x.shape))
            throw new InvalidOperationException($"Model '{model.Info.Name}' returned eps of shape [{string.Join(", ", eps.shape)}] for x [{string.Join(", ", x.shape)}].");
        return eps.to(ScalarType.Float32);
    }
}
