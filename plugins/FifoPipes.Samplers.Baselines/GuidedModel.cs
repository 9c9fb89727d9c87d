using FifoPipes.Abstractions;
using static TorchSharp.torch;

namespace FifoPipes.Samplers.Baselines;

/// <summary>
/// Classifier-free guidance around a model, eps = eps_u + w (eps_c - eps_u), with one conditioning per batch row
/// (windows of a long video may fall under different prompts). Both halves go in one model call; w = 1 skips the
/// unconditional half.
/// </summary>
public sealed class GuidedModel
{
    readonly IVideoModel model;
    readonly PromptCache prompts;

    public GuidedModel(IVideoModel model, PromptCache prompts, double guidance)
    {
        this.model = model;
        this.prompts = prompts;
        Guidance = guidance;
    }

    public double Guidance { get; }
    bool UsesUnconditional => Guidance != 1.0;

    /// <summary>x [B, C, F, h, w], one timestep per row; <paramref name="promptFrames"/> names each row's prompt by an output frame.</summary>
    public Tensor PredictNoise(Tensor x, long timestep, IReadOnlyList<long> promptFrames)
    {
        using var scope = NewDisposeScope();
        int batch = (int)x.shape[0];
        var t = full(new long[] { batch, x.shape[2] }, timestep, ScalarType.Int64, x.device);
        var cond = promptFrames.Select(prompts.ForFrame).ToList();
        if (!UsesUnconditional) return Call(x, t, cond).MoveToOuterDisposeScope();

        var both = cond.Concat(Enumerable.Repeat(prompts.Unconditional, batch)).ToList();
        var eps = Call(cat(new[] { x, x }, 0), cat(new[] { t, t }, 0), both);
        var epsCond = eps.narrow(0, 0, batch);
        var epsUncond = eps.narrow(0, batch, batch);
        return epsUncond.add(epsCond.sub(epsUncond).mul(Guidance)).MoveToOuterDisposeScope();
    }

    Tensor Call(Tensor x, Tensor t, IReadOnlyList<Conditioning> conditioning)
    {
        using var _ = no_grad();
        var eps = model.PredictNoise(x.to(model.Info.DType), t, conditioning);
        if (!eps.shape.SequenceEqual(x.shape))
            throw new InvalidOperationException($"Model '{model.Info.Name}' returned eps of shape [{string.Join(", ", eps.shape)}] for x [{string.Join(", ", x.shape)}].");
        return eps.to(ScalarType.Float32);
    }
}
