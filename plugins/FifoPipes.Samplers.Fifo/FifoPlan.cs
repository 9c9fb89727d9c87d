using FifoPipes.Abstractions;
using FifoPipes.Core.Diffusion;

namespace FifoPipes.Samplers.Fifo;

/// <summary>
/// Everything fixed for a run, resolved from the options and the model: queue geometry, per-slot step indices,
/// windows, the step table and how many pops are warm-up. Frame ids: at iteration i slot j holds frame i + j - Padding.
/// </summary>
public sealed class FifoPlan
{
    public required int WindowFrames { get; init; }
    public required int Partitions { get; init; }
    public required bool Lookahead { get; init; }
    public required double Guidance { get; init; }
    public required double Eta { get; init; }
    public required FrameStepTable Table { get; init; }
    public required QueueStart Start { get; init; }
    /// <summary>Pops at the start that are not output (base clip: S - f; noise: the warm-up).</summary>
    public required int Discarded { get; init; }
    /// <summary>Windows per model call (cond and uncond count as one window); 0 = all windows of an iteration.</summary>
    public required int WindowBatch { get; init; }
    /// <summary>How new tail frames start (fresh noise unless the options say lowfreq).</summary>
    public TailInit Tail { get; init; } = TailInit.Noise;
    /// <summary>Gaussian low-pass width for <see cref="TailInit.LowFrequency"/>, in normalised frequency (1 = Nyquist).</summary>
    public double TailCutoff { get; init; } = 0.25;
    /// <summary>windowBatch: auto — size the batch from free memory, and when a model call runs out of device memory anyway, halve it and retry.</summary>
    public bool ShrinkBatchOnOutOfMemory { get; init; }
    public required int Channels { get; init; }
    public required int Height { get; init; }
    public required int Width { get; init; }

    public int Steps => WindowFrames * Partitions;
    public int Padding => WindowPlan.Padding(WindowFrames, Lookahead);
    /// <summary>The slot popped after the windows: the first non-padding slot.</summary>
    public int PopSlot => Padding;
    public int QueueLength => Steps + Padding;
    public IReadOnlyList<FifoWindow> Windows => windows ??= WindowPlan.Create(WindowFrames, Partitions, Lookahead);
    IReadOnlyList<FifoWindow>? windows;

    /// <summary>Step index k of each slot: [0] * Padding ++ [0 .. S-1].</summary>
    public int SlotK(int slot) => Math.Max(0, slot - Padding);
    public long SlotTimestep(int slot) => Table.Timesteps[SlotK(slot)];
    /// <summary>Frame id held by <paramref name="slot"/> during <paramref name="iteration"/>.</summary>
    public long FrameId(long iteration, int slot) => iteration + slot - Padding;
    public long[] LatentShape => new long[] { Channels, Height, Width };

    /// <summary>The queue's geometry and step: what the options and the model decide, before it loads (<see cref="ISamplerFactory.Check(object?, ModelInfo, JobInputs, PluginContext)"/>).</summary>
    public readonly record struct Geometry(int WindowFrames, int Partitions, StepKind Step, double Eta, double Guidance)
    {
        public int Steps => WindowFrames * Partitions;
    }

    /// <summary>What the options and the model alone decide, refused where they do not fit.</summary>
    public static Geometry Fit(FifoOptions options, ModelInfo model)
    {
        var defaults = model.Defaults;
        int f = model.WindowFrames;
        int n = options.Partitions ?? defaults.Partitions;
        var kind = options.Step is { } s ? FifoOptions.ParseStep(s) ?? throw BadOption("step", $"'{s}' is unknown; use ddim or ddpm") : defaults.Step;
        // Also for the model's own rule, which options cannot see (Open-Sora Plan's is DDPM).
        if (FrameStepTable.EtaIgnored(kind, options.Eta) is { } ignored) throw BadOption("eta", ignored);
        if (f < 1) throw new FifoInputException("BadModelInfo", $"Model '{model.Name}' reports {f} window frames; it must be at least 1.");
        if (options.Lookahead && f < 2)
            throw BadOption("lookahead", $"lookahead needs a window of at least 2 frames, and model '{model.Name}' has {f}; set lookahead: false");
        if (n < 1) throw BadOption("partitions", $"must be at least 1, got {n}");
        if ((long)n * f > model.Schedule.TrainTimesteps)
            throw BadOption("partitions", $"{n} partitions x {f} frames = {(long)n * f} steps exceed the model's {model.Schedule.TrainTimesteps} training timesteps; use fewer partitions");
        var geometry = new Geometry(f, n, kind, options.Eta ?? defaults.Eta, options.Guidance ?? defaults.Guidance);
        RefuseEndlessWarmup(options, geometry.Steps);
        return geometry;
    }

    /// <summary>
    /// As <see cref="Fit(FifoOptions, ModelInfo)"/>, and the start the run's <paramref name="inputs"/> give the queue,
    /// refused where the options do not fit it: the one check of a job, before the model loads and when it samples.
    /// </summary>
    public static (Geometry Geometry, QueueStart Start) Fit(FifoOptions options, ModelInfo model, JobInputs inputs)
    {
        var geometry = Fit(options, model);
        var start = StartOf(options, inputs);
        // Checked against the start the run really takes: left out, start follows the start frames (or the source).
        if (options.UnusedBy(start).FirstOrDefault() is { } unused) throw FifoOptions.Refusal(unused);
        return (geometry, start);
    }

    /// <summary>
    /// Warm-up beyond a few queue passes makes no output frame better, only the first one later: each iteration is a
    /// model call per window, and a count in the millions spins for days without a frame or a word.
    /// </summary>
    static void RefuseEndlessWarmup(FifoOptions options, int steps)
    {
        long most = (long)WarmupPasses * steps;
        if (options.WarmupIterations is { } warmup && warmup > most)
            throw BadOption("warmupIterations", $"{warmup} is more than {WarmupPasses} times the queue's {steps} steps ({most}): after {steps} iterations every " +
                                                $"output frame has grown from tail noise, and each iteration beyond only delays the first frame by a model call per window; " +
                                                $"set at most {most}, or leave it out for {steps}");
    }

    /// <summary>The most warm-up iterations, in queue passes (of S steps each).</summary>
    public const int WarmupPasses = 4;

    /// <summary>
    /// Where the queue starts for a run with <paramref name="inputs"/>: a source restyles, start frames are continued,
    /// else the options' start (a base clip by default); a start the inputs cannot give is refused.
    /// </summary>
    static QueueStart StartOf(FifoOptions options, JobInputs inputs)
    {
        if (inputs.HasSource)
        {
            RefuseStartOptionsForSource(options, inputs);
            return QueueStart.Source;
        }
        var start = options.Start is { } st ? FifoOptions.ParseStart(st) ?? throw BadOption("start", $"'{st}' is unknown; use base, noise or latents")
            : inputs.HasStartFrames ? QueueStart.Latents : QueueStart.Base;
        if (start == QueueStart.Latents && !inputs.HasStartFrames)
            throw BadOption("start", "start: latents needs start frames, and none were given: give an image or video to start from (a recipe's init:, New-FifoVideo -InitImage), or leave start out");
        if (start != QueueStart.Latents && inputs.HasStartFrames)
            throw BadOption("start", $"start frames were given, but start is '{start.ToString().ToLowerInvariant()}'; set start: latents to use them or drop them");
        return start;
    }

    /// <summary>Video-to-video takes no start of its own and no tail but fresh noise (the start's own options are checked with every start's).</summary>
    static void RefuseStartOptionsForSource(FifoOptions options, JobInputs inputs)
    {
        if (options.Start is not null)
            throw BadOption("start", "does not apply when restyling a source video (every queue frame starts from its source frame); remove it");
        if (options.Tail is { } tail && FifoOptions.ParseTail(tail) != TailInit.Noise)
            throw BadOption("tail", "must be noise when restyling a source video: each new tail frame is its source frame noised; remove it");
        if (inputs.HasStartFrames)
            throw new FifoInputException("SourceWithStartFrames", "A run restyles a source video or continues start frames, not both: drop the start image (init) or the source.");
    }

    public static FifoPlan Resolve(FifoOptions options, ModelInfo model, SamplingJob job)
    {
        var (fit, start) = Fit(options, model, JobInputs.Of(job));
        var (f, n, kind, eta, guidance) = fit;
        var defaults = model.Defaults;
        int steps = fit.Steps;
        if (start == QueueStart.Source) CheckSource(job);
        int discarded = start switch
        {
            QueueStart.Noise => options.WarmupIterations ?? steps,
            QueueStart.Base => Math.Max(0, steps - f),
            QueueStart.Latents => Math.Max(0, steps - CheckInitLatents(job.InitLatents!, model, steps)),
            // Every queue slot and every new tail frame is its source frame noised to its level, on a table truncated to
            // the strength. The first S - 1 pops are discarded, so output frame 0 (source frame 0) entered at the tail and
            // took all S steps, as every later frame does.
            _ => steps - 1,
        };
        // Queue slot k starts as pure noise taken for level k: only the top one (k = S - 1) is right, so frames below it get
        // k + 1 of the S steps. A resume is past them (and said so when it began).
        if (start == QueueStart.Noise && discarded < steps - 1 && job.ResumeFrom is null)
            job.Log.Warning($"fifo: warmupIterations {discarded} leaves the first {steps - 1 - discarded} output frames short of steps: they start as pure noise " +
                            $"below the top noise level and keep noise they never lose (output frame 0 gets {discarded + 1} of the {steps} steps). Leave it out to warm up fully.");
        double strength = start == QueueStart.Source ? job.SourceStrength : 1;

        var tail = options.Tail is { } tl ? FifoOptions.ParseTail(tl) ?? throw BadOption("tail", $"'{tl}' is unknown; use noise or lowfreq") : TailInit.Noise;
        var windowBatch = ParseWindowBatch(options);
        return new FifoPlan
        {
            WindowFrames = f,
            Partitions = n,
            Lookahead = options.Lookahead,
            Guidance = guidance,
            Eta = eta,
            Table = FrameStepTable.ForModel(model.Schedule, kind, steps, eta, defaults.ClipSample, strength),
            Start = start,
            Discarded = discarded,
            WindowBatch = windowBatch.Windows,
            ShrinkBatchOnOutOfMemory = windowBatch.Auto,
            Tail = tail,
            TailCutoff = options.TailCutoff,
            Channels = model.LatentChannels,
            Height = model.LatentHeight,
            Width = model.LatentWidth,
        };
    }

    /// <summary>The source must cover the prompts, at a strength the schedule has (what the job holds, beyond its inputs' kinds).</summary>
    static void CheckSource(SamplingJob job)
    {
        if (job.Source!.Count < job.Frames)
        {
            string reason = SamplingJob.SourceTooShort(job.Source.Count, job.Frames);
            throw new FifoInputException("SourceTooShort", char.ToUpperInvariant(reason[0]) + reason[1..] + ".");
        }
        if (!(job.SourceStrength > 0 && job.SourceStrength <= 1))
            throw new FifoInputException("BadSourceStrength",
                $"Source strength {job.SourceStrength} is outside (0, 1]; {SamplingJob.DefaultSourceStrength} restyles and keeps the layout.");
    }

    /// <summary>
    /// The clean frame a frame id of the queue starts from, in a clip (start frames, a base clip, a source video) of
    /// <paramref name="frames"/>: output frame k is frame id k + <see cref="Discarded"/>, and ids outside the clip take
    /// its nearest end.
    /// </summary>
    public long ClipIndex(long frameId, long frames) => Math.Clamp(frameId - Discarded, 0, frames - 1);

    static (int Windows, bool Auto) ParseWindowBatch(FifoOptions options) =>
        FifoOptions.ParseWindowBatch(options.WindowBatch) is { } batch ? (batch.Windows, batch.Auto)
            : throw BadOption("windowBatch", $"'{options.WindowBatch}' is neither auto nor a window count >= 0");

    static int CheckInitLatents(TorchSharp.torch.Tensor latents, ModelInfo model, int steps)
    {
        var s = latents.shape;
        if (s.Length != 4 || s[0] != model.LatentChannels || s[2] != model.LatentHeight || s[3] != model.LatentWidth || s[1] < 1)
            throw new FifoInputException("BadStartLatents",
                $"Start latents have shape [{string.Join(", ", s)}], but model '{model.Name}' needs [{model.LatentChannels}, T, {model.LatentHeight}, {model.LatentWidth}] " +
                "with T >= 1; encode the start frames at the run's resolution.");
        // The queue noises start frame k to step S - T + k, so frames beyond S would have nowhere to go.
        if (s[1] > steps)
            throw new FifoInputException("BadStartLatents",
                $"Start latents hold {s[1]} frames, but the queue takes at most {steps} (one per denoising step); give the last {steps} of them.");
        return (int)s[1];
    }

    static FifoInputException BadOption(string option, string message) =>
        new("BadSamplerOption", $"fifo sampler option '{option}': {message}.") { Option = option };
}
