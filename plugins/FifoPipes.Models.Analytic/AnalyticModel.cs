using FifoPipes.Abstractions;
using FifoPipes.Core.Devices;
using TorchSharp;
using static TorchSharp.torch;

namespace FifoPipes.Models.Analytic;

/// <summary>A prompt's prior parameters, as the analytic model's conditioning.</summary>
public sealed class AnalyticConditioning : Conditioning
{
    public AnalyticConditioning(string prompt, PromptParameters parameters) : base(prompt) => Parameters = parameters;
    public PromptParameters Parameters { get; }
}

/// <summary>
/// The built-in video model: a procedural Gaussian prior whose optimal denoiser is exact (see
/// <see cref="ExactDenoiser"/>), a prompt-to-parameters "text encoder" and a palette decoder.
/// </summary>
public sealed class AnalyticModel : IVideoModel, IReusableModel
{
    public static readonly NoiseSchedule VideoCrafterSchedule = new(BetaSchedule.ScaledLinear, 0.00085, 0.012);

    readonly double[] alphasCumprod;
    readonly ExactDenoiser denoiser;
    readonly Dictionary<string, PromptParameters> looks = new(StringComparer.Ordinal);
    PromptParameters? currentLook;
    long cleanestSincePush = long.MaxValue;

    /// <summary>The device the options name, refused by name where this machine lacks it (float32: the prior is cheap, and exact).</summary>
    public static Device DeviceFor(AnalyticOptions options) => ModelDevices.Resolve(options.Device, ScalarType.Float32);

    public AnalyticModel(AnalyticOptions options)
    {
        var device = DeviceFor(Validated(options));
        Info = InfoFor(options, device);
        alphasCumprod = DiffusionSchedule.AlphasCumprod(Info.Schedule);
        denoiser = new ExactDenoiser(options.Height, options.Width, device, options.OperatorCache ?? 24, grows: options.OperatorCache is null);
    }

    /// <summary>The options, refused when out of range.</summary>
    public static AnalyticOptions Validated(AnalyticOptions options)
    {
        var problems = options.Validate().ToList();
        if (problems.Count > 0) throw new FifoInputException("AnalyticOptionInvalid", string.Join(" ", problems.Select(p => p.Message))) { Option = problems[0].Option };
        return options;
    }

    /// <summary>What the model with these (valid) options reports, on <paramref name="device"/>.</summary>
    public static ModelInfo InfoFor(AnalyticOptions options, Device device) =>
        new()
        {
            Name = "analytic",
            LatentChannels = options.Channels,
            LatentHeight = options.Height,
            LatentWidth = options.Width,
            WindowFrames = options.Frames,
            SpatialScale = AnalyticPalette.Scale,
            Schedule = VideoCrafterSchedule,
            Defaults = new SamplingDefaults { Guidance = options.Guidance, Eta = options.Eta, Step = StepKind.Ddim, Partitions = options.Partitions, Fps = options.Fps },
            Device = device,
            DType = ScalarType.Float32,
            Fingerprint = FifoPipes.Core.ModelFingerprint.Of(options),
            // A closed-form prior, no attention to fuse windows in.
            FusesTemporalAttention = false,
        };

    public ModelInfo Info { get; }
    public ExactDenoiser Denoiser => denoiser;
    public IReadOnlyList<double> AlphasCumprod => alphasCumprod;

    /// <summary>The prior parameters of a prompt ("" gives the neutral, unconditional ones).</summary>
    public PromptParameters Look(string prompt)
    {
        if (!looks.TryGetValue(prompt, out var look))
            looks[prompt] = look = PromptMapping.FromPrompt(prompt, Info.LatentChannels);
        return look;
    }

    /// <summary>
    /// Pins the prior of <paramref name="prompt"/> to <paramref name="parameters"/> instead of the prompt mapping's
    /// (quality studies choose exact parameters). Call it before the prompt is first encoded.
    /// </summary>
    public void UsePrior(string prompt, PromptParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        if (parameters.Channels != Info.LatentChannels)
            throw new ArgumentException($"The prior has {parameters.Channels} channels, the model {Info.LatentChannels}.", nameof(parameters));
        looks[prompt] = parameters;
    }

    public Conditioning Encode(string prompt)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        var look = Look(prompt);
        if (prompt.Length > 0) currentLook ??= look;
        return new AnalyticConditioning(prompt, look);
    }

    public Tensor PredictNoise(Tensor x, Tensor timesteps, IReadOnlyList<Conditioning> conditioning)
    {
        var info = Info;
        if (x.dim() != 5 || x.shape[1] != info.LatentChannels || x.shape[3] != info.LatentHeight || x.shape[4] != info.LatentWidth)
            throw new ArgumentException($"Expected latents [B, {info.LatentChannels}, T, {info.LatentHeight}, {info.LatentWidth}], got [{string.Join(", ", x.shape)}].", nameof(x));
        long rows = x.shape[0], frames = x.shape[2];
        if (timesteps.dim() != 2 || timesteps.shape[0] != rows || timesteps.shape[1] != frames)
            throw new ArgumentException($"Expected timesteps [{rows}, {frames}], got [{string.Join(", ", timesteps.shape)}].", nameof(timesteps));
        if (conditioning.Count != rows)
            throw new ArgumentException($"Expected {rows} conditionings (one per batch row), got {conditioning.Count}.", nameof(conditioning));
        var steps = timesteps.to(ScalarType.Int64).cpu().data<long>().ToArray();
        using var scope = NewDisposeScope();
        var eps = new List<Tensor>((int)rows);
        for (int b = 0; b < rows; b++)
        {
            var parameters = conditioning[b] is AnalyticConditioning ac ? ac.Parameters
                : throw new ArgumentException($"Conditioning of row {b} was not made by the analytic model's Encode.", nameof(conditioning));
            var rowSteps = steps.Skip(b * (int)frames).Take((int)frames).ToArray();
            var abar = rowSteps.Select(t => t >= 0 && t < alphasCumprod.Length ? alphasCumprod[t]
                : throw new ArgumentOutOfRangeException(nameof(timesteps), $"Timestep {t} is outside 0..{alphasCumprod.Length - 1}.")).ToArray();
            NoteLook(conditioning[b], parameters, rowSteps.Min());
            eps.Add(denoiser.PredictNoise(x[b], abar, parameters));
        }
        return stack(eps).MoveToOuterDisposeScope();
    }

    // The frame that pops next was last denoised in the cleanest conditional window; its prompt picks
    // the palette for the next decoded frame (a real model carries colour in the latents instead).
    void NoteLook(Conditioning row, PromptParameters parameters, long cleanestStep)
    {
        if (row.IsNegative || row.Prompt.Length == 0 || cleanestStep > cleanestSincePush) return;
        cleanestSincePush = cleanestStep;
        currentLook = parameters;
    }

    PromptParameters LookForNextFrame()
    {
        cleanestSincePush = long.MaxValue;
        return currentLook ?? Look("");
    }

    public IFrameDecoder CreateDecoder() => new AnalyticDecoder(LookForNextFrame, Look);

    /// <summary>The look follows the run's own prompts: the last run's must not colour this one's start frames or first frame.</summary>
    public void BeginRun()
    {
        currentLook = null;
        cleanestSincePush = long.MaxValue;
    }

    /// <summary>RGB [T, 3, H, W] to latents [C, T, H/8, W/8] with the current prompt's palette (the first prompt encoded, or neutral).</summary>
    public Tensor EncodeFrames(Tensor rgb) => AnalyticPalette.Encode(rgb, currentLook ?? Look(""));

    /// <summary>Start frames in the palette of the prompt they start, which the decoder will show them in.</summary>
    public Tensor EncodeFrames(Tensor rgb, string prompt) => AnalyticPalette.Encode(rgb, Look(prompt));

    public void Dispose() => denoiser.Dispose();
}
