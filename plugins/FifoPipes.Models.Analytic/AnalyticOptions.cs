using FifoPipes.Abstractions;
using FifoPipes.Core.Devices;

namespace FifoPipes.Models.Analytic;

/// <summary>Options of the built-in analytic model; a fresh instance holds the defaults.</summary>
public sealed class AnalyticOptions : IValidatableOptions
{
    [Option("Latent channels (each an independent random field).", Min = 1, Max = 64)]
    public int Channels { get; set; } = 4;

    [Option("Latent height; frames are 8x taller (40 gives 320 pixels).", Min = 1, Max = 512, FrameSide = FrameSide.Height, PixelsPerUnit = 8)]
    public int Height { get; set; } = 40;

    [Option("Latent width; frames are 8x wider (64 gives 512 pixels).", Min = 1, Max = 512, FrameSide = FrameSide.Width, PixelsPerUnit = 8)]
    public int Width { get; set; } = 64;

    [Option("Frames per denoiser window (the sampler's f).", Min = 1, Max = 128)]
    public int Frames { get; set; } = 16;

    [Option("Playback rate the model's motion is tuned for.", Min = 0.1, Max = 240)]
    public double Fps { get; set; } = 8;

    [Option("Default classifier-free guidance scale (1 samples the prompt's prior exactly).", Min = 0, Max = 30)]
    public double Guidance { get; set; } = 1.5;

    [Option("Default FIFO partitions n (steps = frames x partitions).", Min = 1, Max = 64)]
    public int Partitions { get; set; } = 4;

    [Option("Default DDIM eta (1 = stochastic, 0 = deterministic).", Min = 0, Max = 1)]
    public double Eta { get; set; } = 1.0;

    [Option("Torch device: cpu, cuda or cuda:N.", ChangesFrames = false)]
    public string Device { get; set; } = "cpu";

    [Option("Denoiser operators kept (one per prompt and window position; about 11 MB each at the default size). Unset: 24, " +
            "growing while a run keeps asking for operators it evicted, up to 1 GiB of them.", Min = 1, Max = 1024, ChangesFrames = false)]
    public int? OperatorCache { get; set; }

    /// <summary>Per operator: FIFO holds about 4n of them, so this keeps a run to a few GiB.</summary>
    public const long MaxOperatorBytes = 256L << 20;

    public IEnumerable<OptionProblem> Validate()
    {
        if (Channels < 1) yield return new("channels", $"channels is {Channels}; use at least 1 (the default is 4).");
        if (Height < 1 || Width < 1) yield return new(Height < 1 ? "height" : "width", $"The latent size {Height}x{Width} is empty; use positive sizes (default 40x64).");
        if (Frames < 1) yield return new("frames", $"frames is {Frames}; a window needs at least 1 frame (default 16).");
        if (!(Fps > 0) || double.IsInfinity(Fps)) yield return new("fps", $"fps is {Fps}; use a positive rate (default 8).");
        if (!(Guidance >= 0) || double.IsInfinity(Guidance)) yield return new("guidance", $"guidance is {Guidance}; use a finite scale >= 0 (default 1.5).");
        if (Partitions < 1) yield return new("partitions", $"partitions is {Partitions}; use at least 1 (default 4).");
        if (!(Eta >= 0 && Eta <= 1)) yield return new("eta", $"eta is {Eta}; use a value in [0, 1].");
        if (OperatorCache is < 1) yield return new("operatorCache", $"operatorCache is {OperatorCache}; keep at least 1 operator.");
        // Each denoiser operator is frames x frames complex64 per channel and rfft bin, and FIFO keeps a dozen or more.
        long operatorBytes = ExactDenoiser.OperatorBytes(Math.Max(Frames, 1), Math.Max(Channels, 1), Math.Max(Height, 1), Math.Max(Width, 1));
        if (operatorBytes > MaxOperatorBytes)
            yield return new(Frames > 16 ? "frames" : "height",
                $"frames {Frames} at {Height}x{Width}x{Channels} makes each denoiser operator {operatorBytes >> 20} MiB (at most {MaxOperatorBytes >> 20} MiB); " +
                "use fewer frames per window or a smaller latent (the default, 16 frames at 40x64x4, takes 10 MiB).");
        if (ModelDevices.ParseDevice(Device) is null)
            yield return new("device", ModelDevices.ParseDevices(Device) is { Count: > 1 }
                // Its decoder follows the rows it denoised, so its work cannot be split across replicas.
                ? $"device '{Device}' lists several devices, but the analytic model runs on one (it is cheap; several GPUs are for videocrafter, zeroscope and opensora); give cpu, cuda or cuda:N."
                : $"device '{Device}' is not one of cpu, cuda, cuda:N.");
    }
}
