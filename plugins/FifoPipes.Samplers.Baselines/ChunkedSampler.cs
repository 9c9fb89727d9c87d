using FifoPipes.Abstractions;
using FifoPipes.Core;
using static TorchSharp.torch;

namespace FifoPipes.Samplers.Baselines;

/// <summary>
/// The naive long-video baseline: independent f-frame clips back to back, each sampled by the model's ordinary
/// S-step sampler. Every clip is exact for its own f frames, and nothing ties one clip to the next, so every f-th
/// frame is a seam. Frame m of the video draws its start and step noise under frame id m.
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
        using var prompts = new PromptEmbeddings(job.Model, schedule);
        var model = new GuidedModel(job.Model, prompts, plan.Guidance);
        int f = plan.WindowFrames;
        long total = schedule.TotalFrames;
        long clips = (total + f - 1) / f;
        for (long first = 0; first < clips; first += options.ClipBatch)
        {
            int count = (int)Math.Min(options.ClipBatch, clips - first);
            var starts = Enumerable.Range(0, count).Select(c => (first + c) * f).ToList();
            using var video = SampleClips(job, plan, model, starts, cancellation);
            for (int c = 0; c < count; c++)
                for (int m = 0; m < f && starts[c] + m < total; m++)
                {
                    long index = starts[c] + m;
                    yield return new LatentFrame(index, video[c, .., m].clone().DetachFromDisposeScope(), schedule.SpanAt(index).Prompt);
                }
        }
    }

    /// <summary>Clips starting at the given frames, sampled together: [B, C, f, h, w].</summary>
    static Tensor SampleClips(SamplingJob job, ClipPlan plan, GuidedModel model, IReadOnlyList<long> starts, CancellationToken cancellation)
    {
        int f = plan.WindowFrames;
        var device = job.Model.Info.Device;
        Tensor ClipNoise(NoisePurpose purpose, int step)
        {
            using var scope = NewDisposeScope();
            return stack(starts.Select(s => stack(Enumerable.Range(0, f)
                .Select(m => job.Noise.Normal(plan.LatentShape, s + m, purpose, step, device)).ToList(), 1)).ToList()).MoveToOuterDisposeScope();
        }

        var x = ClipNoise(NoisePurpose.BaseStart, 0);
        var ks = new int[starts.Count * f];
        for (int k = plan.Steps - 1; k >= 0; k--)
        {
            cancellation.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            var eps = model.PredictNoise(x, plan.Table.Timesteps[k], starts);
            var z = plan.Table.UsesNoise(k) ? ClipNoise(NoisePurpose.BaseStep, k) : null;
            Array.Fill(ks, k);
            var next = plan.Table.Step(x, eps, ks, z, applyX0Scale: true);
            x.Dispose();
            x = next.MoveToOuterDisposeScope();
        }
        return x;
    }
}

/// <summary>The "chunked" sampler plugin.</summary>
[FifoPlugin(PluginKind.Sampler, "chunked", typeof(ISamplerFactory),
    Description = "Baseline: independent f-frame clips back to back, each sampled with the model's ordinary S-step DDIM; a seam every f frames.",
    OptionsType = typeof(ChunkedOptions))]
public sealed class ChunkedSamplerFactory : ISamplerFactory
{
    public ISampler Create(object? options, PluginContext context) =>
        new ChunkedSampler(BaselineOptions.Check<ChunkedOptions>(options, "chunked"));
}
