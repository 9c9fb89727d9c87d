using FifoPipes.Abstractions;
using FifoPipes.Core.Diffusion;

namespace FifoPipes.Samplers.Baselines;

/// <summary>What a baseline run fixes up front: window size, step table, guidance, latent shape.</summary>
public sealed class ClipPlan
{
    public required int WindowFrames { get; init; }
    public required double Guidance { get; init; }
    public required double Eta { get; init; }
    /// <summary>The same table FIFO's base clip uses: DDIM (or DDPM) on round(linspace(0, T-1, S)), k = 0 cleanest.</summary>
    public required FrameStepTable Table { get; init; }
    public required long[] LatentShape { get; init; }

    public int Steps => Table.Steps;

    public static ClipPlan Resolve(ClipSamplingOptions options, ModelInfo model, string sampler)
    {
        int f = model.WindowFrames;
        if (f < 1) throw new FifoInputException("BadModelInfo", $"Model '{model.Name}' reports {f} window frames; it must be at least 1.");
        int steps = options.Steps ?? model.Defaults.Partitions * f;
        if (steps < 1 || steps > model.Schedule.TrainTimesteps)
            throw BadOption(sampler, "steps", $"{steps} steps is outside 1..{model.Schedule.TrainTimesteps} (the model's training timesteps)");
        var kind = options.Step is { } s ? ClipSamplingOptions.ParseStep(s) ?? throw BadOption(sampler, "step", $"'{s}' is unknown; use ddim or ddpm")
            : model.Defaults.Step;
        if (FrameStepTable.EtaIgnored(kind, options.Eta) is { } ignored) throw BadOption(sampler, "eta", ignored);
        double eta = options.Eta ?? (kind == StepKind.Ddim ? options.MethodEta : null) ?? model.Defaults.Eta;
        return new ClipPlan
        {
            WindowFrames = f,
            Guidance = options.Guidance ?? model.Defaults.Guidance,
            Eta = eta,
            Table = FrameStepTable.ForModel(model.Schedule, kind, steps, eta, model.Defaults.ClipSample),
            LatentShape = new long[] { model.LatentChannels, model.LatentHeight, model.LatentWidth },
        };
    }

    /// <summary>Baselines sample whole clips from noise: they take no start frames, keep no resumable state and plan their prompts ahead.</summary>
    public static void RefuseFifoOnlyInputs(SamplingJob job, string sampler)
    {
        if (job.InitLatents is not null)
            throw new FifoInputException("BadSamplerOption", $"The {sampler} sampler cannot start from given frames; drop the start frames or use the fifo sampler (start: latents).");
        if (job.Source is not null)
            throw new FifoInputException("BadSamplerOption", $"The {sampler} sampler cannot restyle a source video; drop the source or use the fifo sampler.");
        if (job.LivePrompts is not null)
            throw new FifoInputException("BadSamplerOption", $"The {sampler} sampler plans every clip's prompt before the run, so prompts cannot change while it goes; drop 'livePrompt' (-LivePrompt) or use the fifo sampler.");
        if (job.Snapshots is not null || job.ResumeFrom is not null)
            throw new FifoInputException("BadSamplerOption", $"The {sampler} sampler keeps no resumable state, so it cannot write or resume snapshots; drop 'snapshot'/'resume' (-SnapshotPath/-Resume) or use the fifo sampler.");
    }

    /// <summary>Said once, by the sampler's check before the model loads, not again when it samples.</summary>
    public static void WarnOfUnusedNegativePrompt(ClipPlan plan, JobInputs inputs, PluginContext context)
    {
        if (inputs.NegativePromptUnused(plan.Guidance) is { } unused) context.Log.Warning(unused);
    }

    public static FifoInputException BadOption(string sampler, string option, string message) =>
        new("BadSamplerOption", $"{sampler} sampler option '{option}': {message}.") { Option = option };
}
