using FifoPipes.Abstractions;
using FifoPipes.Core.Devices;

namespace FifoPipes.Models.Zeroscope;

/// <summary>A released zeroscope_v2 model: the frame size and clip length it was trained on.</summary>
public sealed record ZeroscopePreset(string Name, int Width, int Height, int Frames, string Repository)
{
    public static readonly ZeroscopePreset V2_576w = new("zeroscope-576w", 576, 320, 24, "cerspense/zeroscope_v2_576w");
    public static readonly ZeroscopePreset V2_XL = new("zeroscope-xl", 1024, 576, 24, "cerspense/zeroscope_v2_XL");
    public static IReadOnlyList<ZeroscopePreset> All { get; } = new[] { V2_576w, V2_XL };

    public static ZeroscopePreset? Find(string name) => All.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));
}

/// <summary>Options of the "zeroscope" model plugin; a fresh instance holds the defaults.</summary>
public sealed class ZeroscopeOptions : IValidatableOptions
{
    [Option("Which released model the folder holds: its frame size and training clip length.", Choices = "zeroscope-576w,zeroscope-xl")]
    public string Preset { get; set; } = ZeroscopePreset.V2_576w.Name;

    [Option("The diffusers model folder (holds model_index.json, unet/, vae/, text_encoder/, tokenizer/, scheduler/), e.g. a download of cerspense/zeroscope_v2_576w.")]
    public string Path { get; set; } = "";

    [Option("Weights variant, e.g. fp16 for diffusion_pytorch_model.fp16.safetensors: required for the UNet, used by the VAE and text encoder where they have it; empty for the plain files.")]
    public string Variant { get; set; } = "";

    [Option("Torch device: cpu, cuda or cuda:N, or a comma-separated list (cuda:0,cuda:1) to split every model call's windows across one replica per device.", ChangesFrames = false)]
    public string Device { get; set; } = "cpu";

    [Option("Weights and compute precision (float16 only on cuda).", Choices = "float32,bfloat16,float16")]
    public string DType { get; set; } = "float32";

    [Option("Default classifier-free guidance scale (the pipeline's default is 9).", Min = 0, Max = 50)]
    public double Guidance { get; set; } = 9.0;

    [Option("Frame width in pixels (multiple of 8); empty for the preset's.", Min = 1, Max = 4096, FrameSide = FrameSide.Width, PixelStep = 8)]
    public int? Width { get; set; }

    [Option("Frame height in pixels (multiple of 8); empty for the preset's.", Min = 1, Max = 4096, FrameSide = FrameSide.Height, PixelStep = 8)]
    public int? Height { get; set; }

    [Option("Frames per denoiser window (the sampler's f); empty for the preset's 24-frame training clips.", Min = 1, Max = 128)]
    public int? Frames { get; set; }

    /// <summary>Choices are matched case-insensitively, as the recipe binder does.</summary>
    internal string DeviceName => Device.Trim().ToLowerInvariant();
    internal string DTypeName => DType.Trim().ToLowerInvariant();

    public IEnumerable<OptionProblem> Validate()
    {
        string Device = DeviceName, DType = DTypeName;
        if (ZeroscopePreset.Find(Preset) is null)
            yield return new("preset", $"preset '{Preset}' is unknown; use one of {string.Join(", ", ZeroscopePreset.All.Select(p => p.Name))}.");
        if (string.IsNullOrWhiteSpace(Path))
            yield return new("path", "path is empty: give the downloaded diffusers folder (see docs/models/zeroscope.md), or let the store find it: Save-FifoModel zeroscope-576w, then use the model zeroscope-576w (a recipe's model: zeroscope-576w, New-FifoVideo -Model zeroscope-576w).");
        foreach (var problem in ModelDevices.Problems(Device, DType, "dtype")) yield return problem;
        if (!(Guidance >= 0) || double.IsInfinity(Guidance))
            yield return new("guidance", $"guidance is {Guidance}; use a finite scale >= 0 (default 9).");
        // The exact multiple is the VAE's scale (8 for zeroscope); the adapter checks it once the folder is read.
        if (Width is < 1) yield return new("width", $"width {Width} must be a positive number of pixels (a multiple of 8).");
        if (Height is < 1) yield return new("height", $"height {Height} must be a positive number of pixels (a multiple of 8).");
        if (Frames is < 1) yield return new("frames", $"frames is {Frames}; a window needs at least 1 frame.");
    }
}
