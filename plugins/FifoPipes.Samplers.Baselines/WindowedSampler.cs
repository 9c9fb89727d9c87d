using System.Globalization;
using FifoPipes.Abstractions;
using FifoPipes.Core;
using static TorchSharp.torch;

namespace FifoPipes.Samplers.Baselines;

/// <summary>
/// The shared run of the window co-denoising samplers: the whole video is denoised together, so frames come out
/// only after the last step (these samplers cannot stream, and hold every latent of the video in memory).
/// </summary>
public abstract class WindowedSampler : ISampler
{
    readonly WindowedOptions options;
    readonly string name;

    protected WindowedSampler(WindowedOptions options, string name)
    {
        this.options = options;
        this.name = name;
    }

    /// <summary>The stride when the options leave it unset, for window size <paramref name="window"/>.</summary>
    protected abstract int DefaultStride(int window);

    /// <summary>The frame id whose keyed start noise video frame <paramref name="frame"/> begins from.</summary>
    protected abstract Func<int, long> StartNoiseSource(SamplingJob job, int window, int stride);

    /// <summary>Whether the windows meet inside the model's temporal attention rather than in averaged predictions.</summary>
    protected virtual bool FusesInAttention(SamplingJob job, GuidedModel model) => false;

    /// <summary>
    /// Refuses a fusion the options ask for and the run cannot have: <paramref name="modelFuses"/> says whether the model
    /// has window-fused attention (null: not known before it loads).
    /// </summary>
    protected virtual void RefuseFusion(bool? modelFuses, string modelName, IReadOnlyList<PromptSpan> prompts) { }

    /// <summary>The step plan and the windows' stride for <paramref name="model"/>, refused where the options do not fit it.</summary>
    public (ClipPlan Plan, int Stride) Fit(ModelInfo model)
    {
        var plan = ClipPlan.Resolve(options, model, name);
        int stride = options.Stride ?? DefaultStride(plan.WindowFrames);
        if (stride < 1 || stride > plan.WindowFrames)
            throw ClipPlan.BadOption(name, "stride", $"{stride} is outside 1..{plan.WindowFrames} (the model's window frames); windows must overlap or touch");
        return (plan, stride);
    }

    /// <summary>
    /// As <see cref="Fit(ModelInfo)"/>, and refused where the run's <paramref name="inputs"/> do not fit: the one check of
    /// a job, before the model loads and when it samples.
    /// </summary>
    public (ClipPlan Plan, int Stride) Fit(ModelInfo model, JobInputs inputs)
    {
        var fit = Fit(model);
        RefuseVideoItCannotHold(model, inputs.Frames);
        RefuseFusion(model.FusesTemporalAttention, model.Name, inputs.Prompts);
        return fit;
    }

    /// <summary>The most frames these samplers take: they index the whole video's frames with an int.</summary>
    public const long MaxFrames = int.MaxValue;

    /// <summary>
    /// The whole video's latents, as many times as a step holds them at once: the start noise, the current latents, their
    /// noise prediction, the step noise and the next step's latents.
    /// </summary>
    const int LatentCopiesHeld = 5;

    /// <summary>
    /// These samplers denoise the whole video at once, so a video they cannot hold fails only after the model has loaded
    /// (an overflow, or out of memory after hours of steps): refused up front, with the sampler that streams any length.
    /// </summary>
    void RefuseVideoItCannotHold(ModelInfo model, long frames)
    {
        const string fix = "ask for fewer frames, or use the fifo sampler, which streams a video of any length in constant memory";
        if (frames > MaxFrames)
            throw new FifoInputException("VideoTooLong", string.Create(CultureInfo.InvariantCulture,
                $"The {name} sampler denoises the whole video at once and takes at most {MaxFrames:N0} frames; the prompts ask for {frames:N0}: {fix}."));
        long frameBytes = (long)model.LatentChannels * model.LatentHeight * model.LatentWidth * sizeof(float);
        long memory = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        // Decimal, not int64: frames x a large latent can pass long's range.
        decimal held = (decimal)Math.Max(frames, model.WindowFrames) * frameBytes * LatentCopiesHeld;
        if (memory > 0 && held > memory)
            throw new FifoInputException("VideoTooLong", string.Create(CultureInfo.InvariantCulture,
                $"The {name} sampler denoises the whole video at once, holding its latents {LatentCopiesHeld} times over: {frames:N0} frames of " +
                $"[{model.LatentChannels}, {model.LatentHeight}, {model.LatentWidth}] latents need about {Gigabytes(held)}, more than this machine's " +
                $"{Gigabytes(memory)} of memory (it holds at most {memory / (frameBytes * LatentCopiesHeld):N0} frames): {fix}."));
    }

    static string Gigabytes(decimal bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024m * 1024 * 1024):N1} GiB");

    public IEnumerable<LatentFrame> Sample(SamplingJob job, CancellationToken cancellation)
    {
        var (plan, stride) = Fit(job.Model.Info, JobInputs.Of(job));
        var schedule = new PromptSchedule(job.Prompts);
        ClipPlan.RefuseFifoOnlyInputs(job, name);
        var weighting = WindowedOptions.ParseWeighting(options.Weighting)!.Value;
        return Run(job, plan, schedule, stride, weighting, cancellation);
    }

    IEnumerable<LatentFrame> Run(SamplingJob job, ClipPlan plan, PromptSchedule schedule, int stride, WindowWeighting weighting, CancellationToken cancellation)
    {
        int total = checked((int)schedule.TotalFrames);
        // A video shorter than one window is sampled as one window and cut.
        int frames = Math.Max(total, plan.WindowFrames);
        Tensor video;
        string[] labels;
        using (var prompts = new PromptEmbeddings(job.Model, schedule, job.NegativePrompt))
        {
            var model = new GuidedModel(job.Model, prompts, plan.Guidance);
            bool fuse = FusesInAttention(job, model);
            labels = FrameLabels(job, schedule, total, WindowCoDenoiser.WindowStarts(frames, plan.WindowFrames, stride), plan.WindowFrames, fuse);
            var source = StartNoiseSource(job, plan.WindowFrames, stride);
            using var start = WindowCoDenoiser.FrameNoise(plan, job.Noise, frames, NoisePurpose.BaseStart, 0, source, job.Model.Info.Device);
            video = WindowCoDenoiser.Denoise(start, plan, model, job.Noise, stride, weighting, options.WindowBatch, cancellation, fuse);
        }
        using (video)
            for (int t = 0; t < total; t++)
                yield return new LatentFrame(t, WindowCoDenoiser.FrameOf(video, 0, t), labels[t]);
    }

    /// <summary>
    /// The prompt each frame is made under, warning about spans no window uses. Averaged windows take their middle
    /// frame's prompt, and a frame is labelled with that of the window centred nearest to it; fused attention
    /// conditions the whole video on the first prompt.
    /// </summary>
    string[] FrameLabels(SamplingJob job, PromptSchedule schedule, int total, IReadOnlyList<int> starts, int window, bool fused)
    {
        int SpanOfWindow(int start) => schedule.SpanIndexAt(Math.Min(start + window / 2, total - 1));
        if (fused)
        {
            ClipPrompts.WarnUnused(job.Log, schedule, new[] { schedule.SpanIndexAt(0) }, name, "fused attention denoises the whole video under its first prompt");
            return Enumerable.Repeat(schedule.Spans[schedule.SpanIndexAt(0)].Prompt, total).ToArray();
        }
        ClipPrompts.WarnUnused(job.Log, schedule, starts.Select(SpanOfWindow), name, $"each {window}-frame window takes its middle frame's prompt");
        return Enumerable.Range(0, total).Select(t =>
        {
            var nearest = starts.Where(s => s <= t && t < s + window).MinBy(s => Math.Abs(s + window / 2 - t));
            return schedule.Spans[SpanOfWindow(nearest)].Prompt;
        }).ToArray();
    }
}

/// <summary>Gen-L-Video style temporal co-denoising: overlapping windows at one noise level, predictions averaged.</summary>
public sealed class GenLVideoSampler : WindowedSampler
{
    public GenLVideoSampler(GenLVideoOptions options) : base(options, "gen-l-video") { }

    protected override int DefaultStride(int window) => Math.Max(1, window / 2);

    protected override Func<int, long> StartNoiseSource(SamplingJob job, int window, int stride) => t => t;
}

/// <summary>
/// FreeNoise's noise rescheduling: the first window's start noise repeats along the video, locally shuffled, so
/// every window begins from a permutation of the same noise frames; then the same window co-denoising as Gen-L-Video.
/// </summary>
public sealed class FreeNoiseSampler : WindowedSampler
{
    readonly WindowFusion fusion;

    public FreeNoiseSampler(FreeNoiseOptions options) : base(options, "freenoise") =>
        fusion = FreeNoiseOptions.ParseFusion(options.Fusion)!.Value;

    /// <summary>
    /// FreeNoise proper fuses windows in the temporal attention of a UNet, which runs the whole video under one
    /// prompt; models without such attention, and prompt schedules, get the rescheduling with averaged predictions.
    /// </summary>
    protected override bool FusesInAttention(SamplingJob job, GuidedModel model)
    {
        RefuseFusion(model.CanFuseInAttention, job.Model.Info.Name, job.Prompts);
        bool onePrompt = OnePrompt(job.Prompts);
        switch (fusion)
        {
            case WindowFusion.Predictions:
                return false;
            case WindowFusion.Attention:
                return true;
            default:
                bool fuse = model.CanFuseInAttention && onePrompt;
                job.Log.Verbose(fuse
                    ? $"freenoise: windows fused in the temporal attention of '{job.Model.Info.Name}'"
                    : $"freenoise: noise rescheduling with averaged window predictions ({(onePrompt ? $"'{job.Model.Info.Name}' has no window-fused temporal attention" : "a prompt schedule needs one call per window")})");
                return fuse;
        }
    }

    /// <summary>Asked before the model loads, from its description, and again with the loaded model.</summary>
    protected override void RefuseFusion(bool? modelFuses, string modelName, IReadOnlyList<PromptSpan> prompts)
    {
        if (fusion != WindowFusion.Attention) return;
        if (modelFuses == false)
            throw ClipPlan.BadOption("freenoise", "fusion", $"'attention' needs a model with window-fused temporal attention (videocrafter, zeroscope); '{modelName}' has none. Use fusion: predictions");
        if (!OnePrompt(prompts))
            throw ClipPlan.BadOption("freenoise", "fusion", "'attention' runs the whole video in one call under one prompt, and this video has a prompt schedule. Use fusion: predictions");
    }

    static bool OnePrompt(IReadOnlyList<PromptSpan> prompts) => prompts.Select(p => p.Prompt).Distinct().Count() == 1;

    protected override int DefaultStride(int window) => Math.Max(1, window / 4);

    protected override Func<int, long> StartNoiseSource(SamplingJob job, int window, int stride)
    {
        var sources = new Dictionary<int, long>();
        return t => NoiseRescheduling.Source(t, window, stride, job.Noise.Seed, sources);
    }
}

/// <summary>
/// Which of the first f frames' start noise frame t reuses: frames [i, i + stride) for i = f, f + stride, ... take
/// the sources of frames [i - f, i - f + stride) in a shuffled order. The shuffle is keyed by (seed, i), so it is the
/// same whatever order frames are asked for.
/// </summary>
public static class NoiseRescheduling
{
    public static long Source(int frame, int window, int stride, long seed, Dictionary<int, long>? memo = null)
    {
        if (stride < 1 || stride > window) throw new ArgumentOutOfRangeException(nameof(stride), $"The stride must be within 1..{window}, got {stride}.");
        if (frame < window) return frame;
        if (memo is not null && memo.TryGetValue(frame, out var known)) return known;
        int offset = (frame - window) % stride;
        int chunk = frame - offset;                       // first frame of this chunk
        var order = Permutation(stride, KeyedNoise.Key(seed, chunk, NoisePurpose.Other, 0));
        long source = Source(chunk - window + order[offset], window, stride, seed, memo);
        if (memo is not null) memo[frame] = source;
        return source;
    }

    /// <summary>A Fisher-Yates permutation of 0..n-1 driven by SplitMix64 from <paramref name="key"/>.</summary>
    public static int[] Permutation(int n, long key)
    {
        var order = Enumerable.Range(0, n).ToArray();
        ulong state = unchecked((ulong)key);
        for (int i = n - 1; i > 0; i--)
        {
            state += 0x9E3779B97F4A7C15UL;
            ulong z = state;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            z ^= z >> 31;
            int j = (int)(z % (ulong)(i + 1));
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }
}

/// <summary>The "gen-l-video" sampler plugin.</summary>
[FifoPlugin(PluginKind.Sampler, "gen-l-video", typeof(ISamplerFactory),
    Refuses = SamplerInputs.All,
    Description = "Baseline: Gen-L-Video temporal co-denoising; overlapping f-frame windows of the whole video at one noise level, each frame's predictions averaged with weights. Not streaming: frames come out after the last step.",
    OptionsType = typeof(GenLVideoOptions))]
public sealed class GenLVideoSamplerFactory : ISamplerFactory
{
    public ISampler Create(object? options, PluginContext context) =>
        new GenLVideoSampler(BaselineOptions.Check<GenLVideoOptions>(options, "gen-l-video"));

    public void Check(object? options, ModelInfo model, PluginContext context) => ((GenLVideoSampler)Create(options, context)).Fit(model);

    public void Check(object? options, ModelInfo model, JobInputs inputs, PluginContext context) =>
        ClipPlan.WarnOfUnusedNegativePrompt(((GenLVideoSampler)Create(options, context)).Fit(model, inputs).Plan, inputs, context);
}

/// <summary>The "freenoise" sampler plugin.</summary>
[FifoPlugin(PluginKind.Sampler, "freenoise", typeof(ISamplerFactory),
    Refuses = SamplerInputs.All,
    Description = "Baseline: FreeNoise: noise rescheduling (the first window's start noise repeated along the video, locally shuffled; eta 0) and " +
                  "window-fused temporal attention inside the UNet (videocrafter, zeroscope: one call on the whole video per step). On other models, " +
                  "and for prompt schedules, the rescheduling alone with Gen-L-Video style averaged window predictions (option fusion). Not streaming.",
    OptionsType = typeof(FreeNoiseOptions))]
public sealed class FreeNoiseSamplerFactory : ISamplerFactory
{
    public ISampler Create(object? options, PluginContext context) =>
        new FreeNoiseSampler(BaselineOptions.Check<FreeNoiseOptions>(options, "freenoise"));

    public void Check(object? options, ModelInfo model, PluginContext context) => ((FreeNoiseSampler)Create(options, context)).Fit(model);

    public void Check(object? options, ModelInfo model, JobInputs inputs, PluginContext context) =>
        ClipPlan.WarnOfUnusedNegativePrompt(((FreeNoiseSampler)Create(options, context)).Fit(model, inputs).Plan, inputs, context);
}
