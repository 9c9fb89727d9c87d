using FifoPipes.Abstractions;
using FifoPipes.Core;
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
    readonly PromptEmbeddings prompts;

    public GuidedModel(IVideoModel model, PromptEmbeddings prompts, double guidance)
    {
        this.model = model;
        this.prompts = prompts;
        Guidance = guidance;
    }

    public double Guidance { get; }
    bool UsesUnconditional => Guidance != 1.0;

    /// <summary>x [B, C, F, h, w], one timestep per row; <paramref name="promptFrames"/> names each row's prompt by an output frame.</summary>
    public Tensor PredictNoise(Tensor x, long timestep, IReadOnlyList<long> promptFrames) =>
        Guide(x, timestep, promptFrames.Select(prompts.ForFrame).ToList(), model.PredictNoise);

    /// <summary>True when the model can fuse overlapping windows inside its temporal attention.</summary>
    public bool CanFuseInAttention => model is IFusedTemporalAttention;

    /// <summary>x [1, C, V, h, w], the whole video in one call, temporal attention in fused windows every <paramref name="stride"/> frames.</summary>
    public Tensor PredictNoiseFused(Tensor x, long timestep, long promptFrame, int stride)
    {
        var fused = model as IFusedTemporalAttention
            ?? throw new InvalidOperationException($"Model '{model.Info.Name}' has no window-fused temporal attention.");
        return Guide(x, timestep, Enumerable.Repeat(prompts.ForFrame(promptFrame), (int)x.shape[0]).ToList(),
            (input, t, conditioning) => fused.PredictNoiseFused(input, t, conditioning, stride));
    }

    Tensor Guide(Tensor x, long timestep, IReadOnlyList<Conditioning> cond, Func<Tensor, Tensor, IReadOnlyList<Conditioning>, Tensor> predict)
    {
        using var scope = NewDisposeScope();
        int batch = (int)x.shape[0];
        var t = full(new long[] { batch, x.shape[2] }, timestep, ScalarType.Int64, x.device);
        if (!UsesUnconditional) return Call(x, t, cond, predict).MoveToOuterDisposeScope();

        var both = cond.Concat(Enumerable.Repeat(prompts.Unconditional, batch)).ToList();
        var eps = Call(cat(new[] { x, x }, 0), cat(new[] { t, t }, 0), both, predict);
        var epsCond = eps.narrow(0, 0, batch);
        var epsUncond = eps.narrow(0, batch, batch);
        return epsUncond.add(epsCond.sub(epsUncond).mul(Guidance)).MoveToOuterDisposeScope();
    }

    Tensor Call(Tensor x, Tensor t, IReadOnlyList<Conditioning> conditioning, Func<Tensor, Tensor, IReadOnlyList<Conditioning>, Tensor> predict)
    {
        using var _ = no_grad();
        var eps = predict(x.to(model.Info.DType), t, conditioning);
        if (!eps.shape.SequenceEqual(x.shape))
            throw new InvalidOperationException($"Model '{model.Info.Name}' returned eps of shape [{string.Join(", ", eps.shape)}] for x [{string.Join(", ", x.shape)}].");
        return eps.to(ScalarType.Float32);
    }
}
