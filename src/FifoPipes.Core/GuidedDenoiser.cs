using FifoPipes.Abstractions;
using static TorchSharp.torch;

namespace FifoPipes.Core;

/// <summary>
/// Classifier-free guidance around a model, eps = eps_u + w (eps_c - eps_u), with the conditional and unconditional
/// halves in one batched model call; with w = 1 only the conditional pass runs, as in the reference. FIFO and the
/// baseline samplers share it.
/// </summary>
public sealed class GuidedDenoiser
{
    /// <summary>A model's noise prediction for x [B, ...] at timesteps t [B, F], one conditioning per row.</summary>
    public delegate Tensor NoisePredictor(Tensor x, Tensor t, IReadOnlyList<Conditioning> conditioning);

    readonly IVideoModel model;

    /// <param name="model">Not owned: the caller disposes it.</param>
    /// <param name="guidance">w; 1 runs the conditional branch alone.</param>
    public GuidedDenoiser(IVideoModel model, double guidance)
    {
        this.model = model;
        Guidance = guidance;
    }

    /// <summary>w in eps_u + w (eps_c - eps_u).</summary>
    public double Guidance { get; }
    /// <summary>Whether the unconditional branch runs (w ≠ 1): only then must callers embed and pass unconditional conditionings.</summary>
    public bool UsesUnconditional => Guidance != 1.0;

    /// <summary>
    /// A negative prompt steers the unconditional branch, which guidance 1 never runs: says so rather than ignore it. For
    /// a sampler whose factory does not say it in its check before the model loads (<see cref="JobInputs.NegativePromptUnused"/>).
    /// </summary>
    public static void WarnIfNegativePromptUnused(SamplingJob job, double guidance)
    {
        if (JobInputs.Of(job).NegativePromptUnused(guidance) is { } unused) job.Log.Warning(unused);
    }

    /// <summary>x [B, C, F, h, w] float32, t [B, F] int64, every row under <paramref name="cond"/>; returns eps [B, C, F, h, w] float32.</summary>
    public Tensor PredictNoise(Tensor x, Tensor t, Conditioning cond, Conditioning? uncond)
    {
        var rows = (int)x.shape[0];
        return PredictNoise(x, t, Enumerable.Repeat(cond, rows).ToList(), uncond is null ? null : Enumerable.Repeat(uncond, rows).ToList());
    }

    /// <summary>As below with one "" conditioning for every row, for samplers written before prompts were paired.</summary>
    [Obsolete("Pass one unconditional conditioning per row (PromptEmbeddings.UnconditionalFor each row's prompt).")]
    public Tensor PredictNoise(Tensor x, Tensor t, IReadOnlyList<Conditioning> cond, Conditioning? uncond, NoisePredictor? predict = null) =>
        PredictNoise(x, t, cond, uncond is null ? null : Enumerable.Repeat(uncond, cond.Count).ToList(), predict);

    /// <summary>
    /// As above with one conditioning, and one unconditional one to pair with it, per row (windows of a long video may
    /// fall under different prompts); <paramref name="predict"/> stands in for the model's own PredictNoise (a
    /// window-fused variant).
    /// </summary>
    public Tensor PredictNoise(Tensor x, Tensor t, IReadOnlyList<Conditioning> cond, IReadOnlyList<Conditioning>? uncond, NoisePredictor? predict = null)
    {
        predict ??= model.PredictNoise;
        using var scope = NewDisposeScope();
        int batch = (int)x.shape[0];
        if (!UsesUnconditional) return Call(x, t, cond, predict).MoveToOuterDisposeScope();
        if (uncond is null) throw new ArgumentNullException(nameof(uncond), "Guidance needs the unconditional embedding.");
        if (uncond.Count != batch) throw new ArgumentException($"{uncond.Count} unconditional embeddings for {batch} rows; give one per row.", nameof(uncond));

        var both = cond.Concat(uncond).ToList();
        var eps = Call(cat(new[] { x, x }, 0), cat(new[] { t, t }, 0), both, predict);
        var epsCond = eps.narrow(0, 0, batch);
        var epsUncond = eps.narrow(0, batch, batch);
        return epsUncond.add(epsCond.sub(epsUncond).mul(Guidance)).MoveToOuterDisposeScope();
    }

    Tensor Call(Tensor x, Tensor t, IReadOnlyList<Conditioning> conditioning, NoisePredictor predict)
    {
        using var _ = no_grad();
        var eps = predict(x.to(model.Info.DType), t, conditioning);
        if (!eps.shape.SequenceEqual(x.shape))
            throw new InvalidOperationException($"Model '{model.Info.Name}' returned eps of shape [{string.Join(", ", eps.shape)}] for x [{string.Join(", ", x.shape)}].");
        return eps.to(ScalarType.Float32);
    }
}
