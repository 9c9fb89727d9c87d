using FifoPipes.Abstractions;
using FifoPipes.Core.Diffusion;

namespace FifoPipes.Samplers.Baselines;

/// <summary>
/// Options every baseline shares: how many steps, guidance, eta and the update rule. A fresh instance holds the
/// defaults; null means "the model's default" (steps: the S = partitions x window frames FIFO would use, so the
/// baselines are compared at the same step count).
/// </summary>
public abstract class ClipSamplingOptions : IValidatableOptions
{
    [Option("Inference steps S. Default: the model's partitions x window frames (the S that FIFO uses).", Min = 1, Max = 1000)]
    public int? Steps { get; set; }

    [Option("Classifier-free guidance scale w (1 = no unconditional pass). Default: the model's.", Min = 0, Max = 100)]
    public double? Guidance { get; set; }

    [Option("DDIM eta: 0 deterministic, 1 stochastic. Unset (~): the model's; freenoise's is 0 under ddim, as its paper samples.", Min = 0, Max = 1)]
    public double? Eta { get; set; }

    /// <summary>
    /// The eta a sampler's method samples DDIM with where the user sets none (null: the model's). A default, not a set
    /// value: under DDPM, where eta has no meaning, it must not read as one the user gave.
    /// </summary>
    internal virtual double? MethodEta => null;

    [Option("Update rule. Default: the model's.", Choices = "ddim,ddpm")]
    public string? Step { get; set; }

    public virtual IEnumerable<OptionProblem> Validate()
    {
        if (Steps is < 1)
            yield return new OptionProblem("steps", $"steps must be at least 1, got {Steps}.");
        if (Guidance is { } w && (double.IsNaN(w) || double.IsInfinity(w) || w < 0))
            yield return new OptionProblem("guidance", $"guidance must be a finite number >= 0, got {w}.");
        if (Eta is { } eta && !(eta >= 0 && eta <= 1))
            yield return new OptionProblem("eta", $"eta must be within 0..1, got {eta}.");
        if (Step is { } step && ParseStep(step) is null)
            yield return new OptionProblem("step", $"step '{step}' is unknown; use 'ddim' or 'ddpm'.");
        else if (Step is { } rule && FrameStepTable.EtaIgnored(ParseStep(rule)!.Value, Eta) is { } ignored)
            yield return new OptionProblem("eta", $"eta {ignored}.");
    }

    internal static StepKind? ParseStep(string value) => value.Trim().ToLowerInvariant() switch
    {
        "ddim" => StepKind.Ddim,
        "ddpm" => StepKind.Ddpm,
        _ => null,
    };
}

/// <summary>Options of the "chunked" sampler.</summary>
public sealed class ChunkedOptions : ClipSamplingOptions
{
    [Option("Clips denoised together in one model call.", Min = 1, Max = 1024, ChangesFrames = false)]
    public int ClipBatch { get; set; } = 1;

    public override IEnumerable<OptionProblem> Validate()
    {
        foreach (var problem in base.Validate()) yield return problem;
        if (ClipBatch < 1) yield return new OptionProblem("clipBatch", $"clipBatch must be at least 1, got {ClipBatch}.");
    }
}

/// <summary>Options of the samplers that co-denoise overlapping windows of the whole video at one noise level.</summary>
public abstract class WindowedOptions : ClipSamplingOptions
{
    [Option("Frames between the starts of neighbouring windows (1..window frames; window frames = no overlap). Default: see the sampler.", Min = 1)]
    public int? Stride { get; set; }

    [Option("How a frame's predictions from overlapping windows are averaged: uniform, or triangle (a window's edge frames count less).",
        Choices = "uniform,triangle")]
    public string Weighting { get; set; } = "uniform";

    [Option("Most windows evaluated in one model call; 0 = all windows of a step.", Min = 0, ChangesFrames = false)]
    public int WindowBatch { get; set; }

    public override IEnumerable<OptionProblem> Validate()
    {
        foreach (var problem in base.Validate()) yield return problem;
        if (Stride is < 1) yield return new OptionProblem("stride", $"stride must be at least 1, got {Stride}.");
        if (ParseWeighting(Weighting) is null)
            yield return new OptionProblem("weighting", $"weighting '{Weighting}' is unknown; use 'uniform' or 'triangle'.");
        if (WindowBatch < 0)
            yield return new OptionProblem("windowBatch", $"windowBatch must be 0 (all windows) or a positive count, got {WindowBatch}.");
    }

    internal static WindowWeighting? ParseWeighting(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        "uniform" => WindowWeighting.Uniform,
        "triangle" => WindowWeighting.Triangle,
        _ => null,
    };
}

/// <summary>Options of the "gen-l-video" sampler (default stride: half a window).</summary>
public sealed class GenLVideoOptions : WindowedOptions
{
}

/// <summary>Options of the "freenoise" sampler (default stride: a quarter window, as FreeNoise's 4 of 16).</summary>
public sealed class FreeNoiseOptions : WindowedOptions
{
    /// <summary>FreeNoise samples deterministic DDIM.</summary>
    internal override double? MethodEta => 0.0;

    [Option("Where overlapping windows meet: attention (FreeNoise's window-fused temporal attention inside the UNet, one call on the whole video, so memory grows with its length), " +
            "predictions (each window denoised alone, predictions averaged), or auto (attention where the model supports it and the video has one prompt).",
        Choices = "auto,attention,predictions")]
    public string Fusion { get; set; } = "auto";

    public override IEnumerable<OptionProblem> Validate()
    {
        foreach (var problem in base.Validate()) yield return problem;
        if (ParseFusion(Fusion) is null)
            yield return new OptionProblem("fusion", $"fusion '{Fusion}' is unknown; use auto, attention or predictions.");
    }

    internal static WindowFusion? ParseFusion(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        "auto" => WindowFusion.Auto,
        "attention" => WindowFusion.Attention,
        "predictions" => WindowFusion.Predictions,
        _ => null,
    };
}

public enum WindowFusion { Auto, Attention, Predictions }

public enum WindowWeighting { Uniform, Triangle }
