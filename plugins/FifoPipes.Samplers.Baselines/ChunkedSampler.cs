using FifoPipes.Abstractions;
using FifoPipes.Core;
using static TorchSharp.torch;

namespace FifoPipes.Samplers.Baselines;

/// <summary>
/// The naive long-video baseline: independent f-frame clips back to back, each sampled by the model's ordinary
/// S-step sampler. Every clip is exact for its own f frames, and nothing ties one clip to the next, so every f-th
/// frame is a seam. Frame m of the video draws its start and step noise under frame id m. Each clip is conditioned
/// on the prompt that covers most of its frames, and all its frames carry that prompt.
/// </summary>
public sealed class ChunkedSampler : ISampler
{
    readonly ChunkedOptions options;

    public ChunkedSampler(ChunkedOptions options) => this.options = options;

    public IEnumerable<LatentFrame> Sample(SamplingJob job, CancellationToken cancellation)
    {
        var plan = ClipPlan.Resolve(options, job.Model.Info, "chunked");
        var schedule = new PromptSchedule(job.Prompts);
        ClipPlan.RefuseFifoOnlyInputs(job, "chunked");
        return Run(job, plan, schedule, cancellation);
    }

    IEnumerable<LatentFrame> Run(SamplingJob job, ClipPlan plan, PromptSchedule schedule, CancellationToken cancellation)
    {
        using var prompts = new PromptEmbeddings(job.Model, schedule, job.NegativePrompt);
        var model = new GuidedModel(job.Model, prompts, plan.Guidance);
        int f = plan.WindowFrames;
        long total = schedule.TotalFrames;
        long clips = (total + f - 1) / f;
        var clipSpans = Enumerable.Range(0, (int)clips).Select(c => ClipPrompts.MostOf(schedule, c * (long)f, f)).ToList();
        ClipPrompts.WarnUnused(job.Log, schedule, clipSpans, "chunked", $"each {f}-frame clip takes the prompt covering most of its frames");
        ClipPrompts.WarnMoved(job.Log, schedule, clipSpans, f, "chunked");
        for (long first = 0; first < clips; first += options.ClipBatch)
        {
            int count = (int)Math.Min(options.ClipBatch, clips - first);
            var starts = Enumerable.Range(0, count).Select(c => (first + c) * f).ToList();
            var spans = starts.Select(s => ClipPrompts.MostOf(schedule, s, f)).ToList();
            using var video = SampleClips(job, plan, model, starts, spans.Select(schedule.StartOf).ToList(), cancellation);
            for (int c = 0; c < count; c++)
                for (int m = 0; m < f && starts[c] + m < total; m++)
                    yield return new LatentFrame(starts[c] + m, WindowCoDenoiser.FrameOf(video, c, m), schedule.Spans[spans[c]].Prompt);
        }
    }

    /// <summary>Clips starting at the given frames, sampled together, each under the prompt of a frame: [B, C, f, h, w].</summary>
    static Tensor SampleClips(SamplingJob job, ClipPlan plan, GuidedModel model, IReadOnlyList<long> starts, IReadOnlyList<long> promptFrames,
        CancellationToken cancellation)
    {
        int f = plan.WindowFrames;
        var device = job.Model.Info.Device;
        Tensor ClipNoise(NoisePurpose purpose, int step)
        {
            using var scope = NewDisposeScope();
            return stack(starts.Select(s => job.Noise.StackedFrames(plan.LatentShape, Enumerable.Range(0, f).Select(m => s + m), purpose, step, device)).ToList())
                .MoveToOuterDisposeScope();
        }

        using var start = ClipNoise(NoisePurpose.BaseStart, 0);
        return plan.Table.SampleInLockstep(start, (x, k) => model.PredictNoise(x, plan.Table.Timesteps[k], promptFrames),
            k => ClipNoise(NoisePurpose.BaseStep, k), cancellation);
    }
}

/// <summary>The "chunked" sampler plugin.</summary>
[FifoPlugin(PluginKind.Sampler, "chunked", typeof(ISamplerFactory),
    Refuses = SamplerInputs.All,
    Description = "Baseline: independent f-frame clips back to back, each sampled with the model's ordinary S-step DDIM; a seam every f frames.",
    OptionsType = typeof(ChunkedOptions))]
public sealed class ChunkedSamplerFactory : ISamplerFactory
{
    public ISampler Create(object? options, PluginContext context) =>
        new ChunkedSampler(BaselineOptions.Check<ChunkedOptions>(options, "chunked"));

    public void Check(object? options, ModelInfo model, PluginContext context) =>
        ClipPlan.Resolve(BaselineOptions.Check<ChunkedOptions>(options, "chunked"), model, "chunked");

    public void Check(object? options, ModelInfo model, JobInputs inputs, PluginContext context) =>
        ClipPlan.WarnOfUnusedNegativePrompt(ClipPlan.Resolve(BaselineOptions.Check<ChunkedOptions>(options, "chunked"), model, "chunked"), inputs, context);
}
