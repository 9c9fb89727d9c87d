using FifoPipes.Abstractions;
using FifoPipes.Core.Diffusion;

namespace FifoPipes.Samplers.Fifo;

/// <summary>Options of the "fifo" sampler. A fresh instance holds the defaults; null means "the model's default".</summary>
public sealed class FifoOptions : IValidatableOptions
{
    [Option("Partitions n of the queue; inference steps S = n x window frames. Default: the model's.", Min = 1, Max = 64)]
    public int? Partitions { get; set; }

    [Option("Lookahead denoising: 2n half-overlapping windows, each frame denoised while seeing f/2 cleaner frames ahead.")]
    public bool Lookahead { get; set; } = true;

    [Option("Classifier-free guidance scale w (1 = no unconditional pass). Default: the model's.", Min = 0, Max = 100)]
    public double? Guidance { get; set; }

    [Option("DDIM eta: 0 deterministic, 1 as VideoCrafter2's FIFO runs. Default: the model's.", Min = 0, Max = 1)]
    public double? Eta { get; set; }

    [Option("Per-frame update rule. Default: the model's.", Choices = "ddim,ddpm")]
    public string? Step { get; set; }

    [Option("Windows evaluated in one model call (cond and uncond batched together): auto (as many as fit in 80% of the " +
            "device's free memory, measured on the first window; halved and retried if it still runs out), 0 = all windows " +
            "of an iteration, or a positive count.", ChangesFrames = false)]
    public string WindowBatch { get; set; } = "auto";

    [Option("How the queue starts: base (sample an f-frame clip first, as the paper), noise (pure noise and warm-up), " +
            "latents (the run's start frames noised into the queue). Default: latents when start frames are given, else base.",
        Choices = "base,noise,latents")]
    public string? Start { get; set; }

    [Option("For start: noise, iterations run and discarded before the first output frame, at most 4 x S. Default: S (every output frame then grew from tail noise).", Min = 0)]
    public int? WarmupIterations { get; set; }

    [Option("How each new tail frame starts: noise (fresh N(0, I)), or lowfreq (Ouroboros-Diffusion: the low spatial frequencies of the " +
            "previous tail latent plus the high frequencies of fresh noise, so the tail is coherent with the queue).", Choices = "noise,lowfreq")]
    public string? Tail { get; set; }

    [Option("For tail: lowfreq, the width of the Gaussian low-pass in normalised frequency (1 = Nyquist): the previous tail keeps exp(-r^2 / 2c^2) of each frequency r.",
        Min = 0.01, Max = 4)]
    public double TailCutoff { get; set; } = DefaultTailCutoff;

    const double DefaultTailCutoff = 0.25;

    [Option("Folder that caches base clips by model, prompt, seed and settings, so reruns skip the base sampling. Optional.", ChangesFrames = false)]
    public string? BaseClipCache { get; set; }

    public IEnumerable<OptionProblem> Validate()
    {
        if (Partitions is < 1)
            yield return new OptionProblem("partitions", $"partitions must be at least 1, got {Partitions}.");
        if (Guidance is { } w && (double.IsNaN(w) || double.IsInfinity(w) || w < 0))
            yield return new OptionProblem("guidance", $"guidance must be a finite number >= 0, got {w}.");
        if (Eta is { } eta && !(eta >= 0 && eta <= 1))
            yield return new OptionProblem("eta", $"eta must be within 0..1 (above 1 the DDIM direction term becomes imaginary), got {eta}.");
        if (Step is { } step && ParseStep(step) is null)
            yield return new OptionProblem("step", $"step '{step}' is unknown; use 'ddim' or 'ddpm'.");
        else if (Step is { } rule && FrameStepTable.EtaIgnored(ParseStep(rule)!.Value, Eta) is { } ignored)
            yield return new OptionProblem("eta", $"eta {ignored}.");
        if (ParseWindowBatch(WindowBatch) is null)
            yield return new OptionProblem("windowBatch", $"windowBatch must be auto, 0 (all windows) or a positive count, got '{WindowBatch}'.");
        if (Start is { } start && ParseStart(start) is null)
            yield return new OptionProblem("start", $"start '{start}' is unknown; use 'base', 'noise' or 'latents'.");
        if (WarmupIterations is < 0)
            yield return new OptionProblem("warmupIterations", $"warmupIterations must be >= 0, got {WarmupIterations}.");
        // A start left out follows the run's inputs, which the sampler's check sees (FifoPlan.Fit).
        if (Start is { } given && ParseStart(given) is { } explicitStart)
            foreach (var unused in UnusedBy(explicitStart)) yield return unused;
        if (Tail is { } tail && ParseTail(tail) is null)
            yield return new OptionProblem("tail", $"tail '{tail}' is unknown; use 'noise' or 'lowfreq'.");
        if (!(TailCutoff >= 0.01 && TailCutoff <= 4))
            yield return new OptionProblem("tailCutoff", $"tailCutoff must be within 0.01..4, got {TailCutoff}.");
        // Its default cannot be told from a value given, and changes nothing either way.
        else if (TailCutoff != DefaultTailCutoff && (Tail is null || ParseTail(Tail) == TailInit.Noise))
            yield return new OptionProblem("tailCutoff", "tailCutoff only applies to tail: lowfreq; remove it or set tail: lowfreq.");
    }

    /// <summary>The options set that a run whose queue starts from <paramref name="start"/> would not use: warm-up is noise's, the cache base clips'.</summary>
    internal IEnumerable<OptionProblem> UnusedBy(QueueStart start)
    {
        if (WarmupIterations is not null && start != QueueStart.Noise)
            yield return new OptionProblem("warmupIterations", $"warmupIterations only applies to start: noise, and this run starts from {StartName(start)}; remove it or set start: noise.");
        if (BaseClipCache is not null && start != QueueStart.Base)
            yield return new OptionProblem("baseClipCache", $"baseClipCache only applies to start: base, and this run starts from {StartName(start)}; remove it or set start: base.");
    }

    static string StartName(QueueStart start) => start switch
    {
        QueueStart.Base => "a base clip (start: base, the default)",
        QueueStart.Latents => "the start frames (start: latents)",
        QueueStart.Source => "a source video (source:)",
        _ => "noise",
    };

    /// <summary>A problem of these options as the sampler refuses it, naming the option.</summary>
    internal static FifoInputException Refusal(OptionProblem problem) =>
        new("BadSamplerOption", $"fifo sampler option '{problem.Option}': {problem.Message}") { Option = problem.Option };

    internal static StepKind? ParseStep(string value) => value.Trim().ToLowerInvariant() switch
    {
        "ddim" => StepKind.Ddim,
        "ddpm" => StepKind.Ddpm,
        _ => null,
    };

    internal static TailInit? ParseTail(string value) => value.Trim().ToLowerInvariant() switch
    {
        "noise" => TailInit.Noise,
        "lowfreq" => TailInit.LowFrequency,
        _ => null,
    };

    /// <summary>(windows per call, 0 = all; shrink on out-of-memory) or null when the text is neither auto nor a count >= 0.</summary>
    public static (int Windows, bool Auto)? ParseWindowBatch(string? value)
    {
        var text = (value ?? "auto").Trim().ToLowerInvariant();
        if (text is "auto" or "") return (0, true);
        if (text == "all") return (0, false);
        return int.TryParse(text, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var n) && n >= 0
            ? (n, false) : null;
    }

    internal static QueueStart? ParseStart(string value) => value.Trim().ToLowerInvariant() switch
    {
        "base" => QueueStart.Base,
        "noise" => QueueStart.Noise,
        "latents" => QueueStart.Latents,
        _ => null,
    };
}

/// <summary>How the initial queue is filled; <see cref="Source"/> is taken, never named, when the job restyles a source video.</summary>
public enum QueueStart { Base, Noise, Latents, Source }

/// <summary>How a new tail frame is initialised.</summary>
public enum TailInit { Noise, LowFrequency }
