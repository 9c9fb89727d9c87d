using FifoPipes.Abstractions;
using FifoPipes.Core;
using FifoPipes.Core.Diffusion;
using static TorchSharp.torch;

namespace ClipSampler;

/// <summary>The plugin: the host constructs one as it loads the folder (to find a constructor that throws) and one for each use after, and asks it for a sampler per run.</summary>
[FifoPlugin(PluginKind.Sampler, "example-clips", typeof(ISamplerFactory),
    // The host refuses a recipe with start frames, a source, live prompts or snapshots at its line, before any model loads.
    Refuses = SamplerInputs.All,
    Description = "Example third-party sampler: independent f-frame clips back to back, each sampled with DDIM from its own keyed noise.",
    OptionsType = typeof(ClipOptions))]
public sealed class ClipSamplerFactory : ISamplerFactory
{
    // Options arrive bound and validated (null: every default).
    public ISampler Create(object? options, PluginContext context) => new ClipSampler(OptionsOf(options));

    // Asked before the model loads, with what its adapter describes (else once it is loaded): what options and model alone
    // decide. Explicit, as every member with a default: a signature typed wrong is then a compiler error, not a method never called.
    void ISamplerFactory.Check(object? options, ModelInfo model, PluginContext context) => ClipSampler.Steps(OptionsOf(options), model);

    static ClipOptions OptionsOf(object? options) => PluginOptions.As<ClipOptions>(options, "example-clips sampler");
}

/// <summary>
/// The video as independent clips of the model's window length, each denoised from pure noise by the model's own DDIM
/// loop: the simplest long-video sampler, with a seam every f frames (FIFO-Diffusion exists to remove them).
/// </summary>
public sealed class ClipSampler(ClipOptions options) : ISampler
{
    public IEnumerable<LatentFrame> Sample(SamplingJob job, CancellationToken cancellation)
    {
        // Checked now, before the first frame is asked for: an iterator method would only throw once enumerated.
        if (job.InitLatents is not null || job.Source is not null || job.LivePrompts is not null || job.Snapshots is not null || job.ResumeFrom is not null)
            throw new FifoInputException("SamplerInputUnsupported",
                "The example-clips sampler makes every clip from noise: it takes no start frames, source video, live prompts or snapshots. Use the fifo sampler for those.");
        var info = job.Model.Info;
        int steps = Steps(options, info);
        var table = FrameStepTable.ForModel(info.Schedule, StepKind.Ddim, steps, options.Eta ?? info.Defaults.Eta, info.Defaults.ClipSample);
        return Clips(job, table, options.Guidance ?? info.Defaults.Guidance, cancellation);
    }

    /// <summary>
    /// The steps per clip, refused where the model's schedule has fewer timesteps: the host asks it through Check before
    /// sampling, and Sample asks again for a caller that did not (a test, a host of one's own).
    /// </summary>
    public static int Steps(ClipOptions options, ModelInfo info)
    {
        int steps = options.Steps ?? info.Defaults.Partitions * info.WindowFrames;
        if (steps > info.Schedule.TrainTimesteps)
            throw new FifoInputException("BadSamplerOption", $"example-clips sampler option 'steps': {steps} is more than the model's {info.Schedule.TrainTimesteps} training timesteps.") { Option = "steps" };
        return steps;
    }

    static IEnumerable<LatentFrame> Clips(SamplingJob job, FrameStepTable table, double guidance, CancellationToken cancellation)
    {
        var info = job.Model.Info;
        int f = info.WindowFrames;
        var frameShape = new long[] { info.LatentChannels, info.LatentHeight, info.LatentWidth };
        var schedule = new PromptSchedule(job.Prompts);
        using var prompts = new PromptEmbeddings(job.Model, schedule, job.NegativePrompt);
        var denoiser = new GuidedDenoiser(job.Model, guidance);
        for (long first = 0; first < schedule.TotalFrames; first += f)
        {
            // A clip is conditioned on the prompt of its first frame (PromptEmbeddings encodes each prompt once).
            var cond = prompts.ForFrame(first);
            var uncond = denoiser.UsesUnconditional ? prompts.UnconditionalFor(cond) : null;
            long clipStart = first;
            // Keyed noise: frame m of the video draws the same noise whatever else the run does. [1, C, f, h, w].
            Tensor Noise(NoisePurpose purpose, int step)
            {
                using var scope = NewDisposeScope();
                return job.Noise.StackedFrames(frameShape, Enumerable.Range(0, f).Select(m => clipStart + m), purpose, step, info.Device)
                    .unsqueeze(0).MoveToOuterDisposeScope();
            }
            Tensor PredictNoise(Tensor x, int k)
            {
                using var t = full(new long[] { 1, f }, table.Timesteps[k], ScalarType.Int64, x.device);
                return denoiser.PredictNoise(x, t, cond, uncond);
            }
            using var start = Noise(NoisePurpose.BaseStart, 0);
            using var clip = table.SampleInLockstep(start, PredictNoise, k => Noise(NoisePurpose.BaseStep, k), cancellation);
            var prompt = schedule.SpanAt(first).Prompt;
            // One new [C, h, w] tensor per frame, in order, owned by no scope of ours: the engine decodes it and disposes it.
            for (int m = 0; m < f && first + m < schedule.TotalFrames; m++)
                using (var view = clip[0, .., m])
                    yield return new LatentFrame(first + m, view.clone().DetachFromDisposeScope(), prompt);
        }
    }
}

/// <summary>The options a recipe sets under <c>sampler: { use: example-clips, with: { ... } }</c>, in camelCase.</summary>
public sealed class ClipOptions
{
    [Option("DDIM steps per clip. Default: the model's partitions x window frames, as FIFO takes.", Min = 1, Max = 1000)]
    public int? Steps { get; set; }

    [Option("Classifier-free guidance scale (1: no unconditional pass). Default: the model's.", Min = 0, Max = 100)]
    public double? Guidance { get; set; }

    [Option("DDIM eta: 0 deterministic, 1 the most fresh noise per step. Default: the model's.", Min = 0, Max = 1)]
    public double? Eta { get; set; }
}
