using FifoPipes.Core.Devices;
using FifoPipes.Abstractions;

namespace FifoPipes.Models.VideoCrafter;

/// <summary>Options of the "videocrafter" model; a fresh instance holds the defaults (VideoCrafter2 on the CPU in float32).</summary>
public sealed class VideoCrafterOptions : IValidatableOptions
{
    [Option("Which model the checkpoint holds; sets the network, resolution, schedule and sampling defaults.",
        Choices = "videocrafter2,videocrafter1-512,videocrafter1-1024")]
    public string Preset { get; set; } = VideoCrafterPreset.VideoCrafter2Name;

    [Option("The checkpoint: model.ckpt (as downloaded), a .safetensors with the same keys, or a folder holding model.ckpt.")]
    public string? Path { get; set; }

    [Option("CLIP tokenizer: bpe_simple_vocab_16e6.txt.gz, or a folder with vocab.json + merges.txt. Default: looked for beside the checkpoint.")]
    public string? Tokenizer { get; set; }

    [Option("Torch device: cpu, cuda or cuda:N (cuda needs the CUDA build: -p:TorchBackend=cuda), or a comma-separated list " +
            "such as cuda:0,cuda:1: one model replica per device, each model call's batch split across them.", ChangesFrames = false)]
    public string Device { get; set; } = "cpu";

    [Option("Weight and compute dtype. float16 needs a GPU; bfloat16 halves memory on the CPU too.", Choices = "float32,bfloat16,float16")]
    public string DType { get; set; } = "float32";

    [Option("Frames-per-second value fed to fps-conditioned models (VideoCrafter2, VideoCrafter1-1024); lower means more motion. Default: 8, as FIFO-Diffusion.", Min = 1, Max = 1000)]
    public int? FpsConditioning { get; set; }

    [Option("Frame height in pixels (a multiple of 64 for the released models). Default: the preset's (320, or 576 for videocrafter1-1024).", Min = 8, Max = 4096, FrameSide = FrameSide.Height, PixelStep = 8)]
    public int? Height { get; set; }

    [Option("Frame width in pixels (a multiple of 64 for the released models). Default: the preset's (512, or 1024 for videocrafter1-1024).", Min = 8, Max = 4096, FrameSide = FrameSide.Width, PixelStep = 8)]
    public int? Width { get; set; }

    [Option("Frames per denoiser call (FIFO's f). Default: 16, what the models were trained on.", Min = 1, Max = 128)]
    public int? WindowFrames { get; set; }

    [Option("Free the text encoder after each new prompt is encoded (saves about 1.4 GB in float32); a later new prompt reloads it from the checkpoint.", ChangesFrames = false)]
    public bool FreeTextEncoder { get; set; }

    [Option("Overrides of the preset's configuration as section.key=value with the reference (yaml) names, e.g. unet.temporal_length=16, " +
            "vae.ch_mult=[1,2,4,4], text.layers=24, model.scale_factor=0.18215. Sections: unet, vae, text, model.")]
    public string[] ConfigOverrides { get; set; } = Array.Empty<string>();

    public IEnumerable<OptionProblem> Validate()
    {
        if (VideoCrafterPreset.Find(Preset) is null)
            yield return new("preset", $"preset '{Preset}' is unknown; use one of {string.Join(", ", VideoCrafterPreset.Names)}.");
        // Checked here, as zeroscope and opensora check theirs, so that a recipe without it fails its check at the
        // recipe's line and not only when the load begins; a stored preset has filled it in by now.
        if (string.IsNullOrWhiteSpace(Path))
            yield return new("path", $"path is {(Path is null ? "not set" : "empty")}: {VideoCrafterWeights.PathHelp}");
        if (Tokenizer is not null && string.IsNullOrWhiteSpace(Tokenizer))
            yield return new("tokenizer", "tokenizer is empty; give bpe_simple_vocab_16e6.txt.gz or a folder with vocab.json + merges.txt, or leave it out.");
        foreach (var problem in ModelDevices.Problems(Device, DType, "dType")) yield return problem;
        if (FpsConditioning is < 1)
            yield return new("fpsConditioning", $"fpsConditioning is {FpsConditioning}; use a positive frame rate (FIFO uses 8).");
        if (Height is { } h && (h < 8 || h % 8 != 0))
            yield return new("height", $"height {h} is not a positive multiple of 8 (the VAE works on 8x8 pixel blocks); the released models want multiples of 64, e.g. 320.");
        if (Width is { } w && (w < 8 || w % 8 != 0))
            yield return new("width", $"width {w} is not a positive multiple of 8 (the VAE works on 8x8 pixel blocks); the released models want multiples of 64, e.g. 512.");
        if (WindowFrames is < 1)
            yield return new("windowFrames", $"windowFrames is {WindowFrames}; a window needs at least 1 frame (default 16).");
        foreach (var entry in ConfigOverrides ?? Array.Empty<string>())
        {
            var problem = VideoCrafterConfigOverrides.CheckEntry(entry);
            if (problem is not null) yield return new("configOverrides", problem);
        }
    }
}
