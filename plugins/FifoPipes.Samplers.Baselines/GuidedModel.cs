using FifoPipes.Abstractions;
using FifoPipes.Core;
using static TorchSharp.torch;

namespace FifoPipes.Samplers.Baselines;

/// <summary>
/// The baselines' view of <see cref="GuidedDenoiser"/>: one timestep for the whole batch and each row's prompt named
/// by an output frame.
/// </summary>
public sealed class GuidedModel
{
    readonly IVideoModel model;
    readonly PromptEmbeddings prompts;
    readonly GuidedDenoiser guided;

    public GuidedModel(IVideoModel model, PromptEmbeddings prompts, double guidance)
    {
        this.model = model;
        this.prompts = prompts;
        guided = new GuidedDenoiser(model, guidance);
    }

    public double Guidance => guided.Guidance;

    /// <summary>x [B, C, F, h, w], one timestep per row; <paramref name="promptFrames"/> names each row's prompt by an output frame.</summary>
    public Tensor PredictNoise(Tensor x, long timestep, IReadOnlyList<long> promptFrames)
    {
        using var t = Timesteps(x, timestep);
        var cond = promptFrames.Select(prompts.ForFrame).ToList();
        return guided.PredictNoise(x, t, cond, Unconditional(cond));
    }

    /// <summary>True when the model can fuse overlapping windows inside its temporal attention.</summary>
    public bool CanFuseInAttention => model is IFusedTemporalAttention;

    /// <summary>x [1, C, V, h, w], the whole video in one call, temporal attention in fused windows every <paramref name="stride"/> frames.</summary>
    public Tensor PredictNoiseFused(Tensor x, long timestep, long promptFrame, int stride)
    {
        var fused = model as IFusedTemporalAttention
            ?? throw new InvalidOperationException($"Model '{model.Info.Name}' has no window-fused temporal attention.");
        using var t = Timesteps(x, timestep);
        var cond = Enumerable.Repeat(prompts.ForFrame(promptFrame), (int)x.shape[0]).ToList();
        return guided.PredictNoise(x, t, cond, Unconditional(cond),
            (input, steps, conditioning) => fused.PredictNoiseFused(input, steps, conditioning, stride));
    }

    IReadOnlyList<Conditioning>? Unconditional(IReadOnlyList<Conditioning> cond) =>
        guided.UsesUnconditional ? cond.Select(prompts.UnconditionalFor).ToList() : null;

    static Tensor Timesteps(Tensor x, long timestep) => full(new long[] { x.shape[0], x.shape[2] }, timestep, ScalarType.Int64, x.device);
}
