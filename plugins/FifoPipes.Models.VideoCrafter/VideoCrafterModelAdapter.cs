using FifoPipes.Abstractions;
using FifoPipes.Core.Devices;
using FifoPipes.Torch.Text;

namespace FifoPipes.Models.VideoCrafter;

[FifoPlugin(PluginKind.Model, "videocrafter", typeof(IModelAdapter),
    Description = "VideoCrafter2 and VideoCrafter1 (320x512, 576x1024) text-to-video models from their model.ckpt, as FIFO-Diffusion uses them.",
    OptionsType = typeof(VideoCrafterOptions))]
public sealed class VideoCrafterModelAdapter : IModelAdapter
{
    public IVideoModel Load(object? options, PluginContext context)
    {
        var o = OptionsOf(options);
        var settings = Resolve(o, context);
        if (o.FpsConditioning is not null && !settings.Preset.UNet.FpsCond)
            context.Log.Warning($"videocrafter: {settings.Preset.Name} takes no fps condition (its UNet has no fps embedding), so fpsConditioning {o.FpsConditioning} changes nothing; leave it out.");
        context.Log.Verbose($"videocrafter: {settings.Preset.Name} at {settings.Preset.Width}x{settings.Preset.Height}, window {settings.Preset.WindowFrames}, " +
                            $"{settings.DType} on {string.Join(", ", settings.Devices)}, checkpoint '{settings.CheckpointPath}'.");
        // Several devices: one replica each, every model call's rows split across them (ReplicatedModel); only the
        // primary loads the text encoder and the VAE.
        return ReplicatedModel.Create(settings.Devices, (device, role) =>
            VideoCrafterModel.Load(settings with { Device = device, Devices = new[] { device }, DenoiserOnly = role == ReplicaRole.Denoiser }));
    }

    /// <summary>
    /// The options checked as a load checks them before its first tensor: preset, checkpoint and tokenizer found,
    /// devices there, and the checkpoint's index read and compared with the preset's networks and schedule (a damaged
    /// or foreign file, or one of another preset, fails here, not after the check passed).
    /// </summary>
    public void Check(object? options, PluginContext context)
    {
        using (VideoCrafterModel.OpenChecked(Resolve(OptionsOf(options), context))) { }
    }

    /// <summary>The preset decides everything a sampler needs; the files are Check's and Load's.</summary>
    public ModelInfo? Describe(object? options, PluginContext context)
    {
        var o = OptionsOf(options);
        return VideoCrafterModel.InfoFor(PresetFor(o), TorchSharp.torch.CPU, ModelDevices.ParseDType(o.DType)!.Value, fingerprint: "");
    }

    static VideoCrafterOptions OptionsOf(object? options) => PluginOptions.As<VideoCrafterOptions>(options, "videocrafter model");

    /// <summary>Turns the options into load settings: preset with its overrides, files found, device and dtype checked.</summary>
    public static VideoCrafterModelSettings Resolve(VideoCrafterOptions o, PluginContext context)
    {
        var preset = PresetFor(o);
        var dtype = ModelDevices.ParseDType(o.DType)!.Value;
        var devices = ModelDevices.ResolveAll(o.Device, dtype, context.Log);
        var checkpoint = VideoCrafterWeights.ResolvePath(o.Path is null ? null : context.ResolvePath(o.Path));
        ClipTokenizer tokenizer;
        try { tokenizer = LoadTokenizer(o.Tokenizer is null ? null : context.ResolvePath(o.Tokenizer), checkpoint); }
        catch (FifoInputException ex) when (ex.ErrorId == "TokenizerNotFound" && o.Tokenizer is null)
        {
            // No tokenizer beside a file may mean the file is no VideoCrafter checkpoint (another model's weights): that says more.
            using (var weights = VideoCrafterWeights.Open(checkpoint)) VideoCrafterModel.RequireVideoCrafterKeys(weights);
            throw;
        }
        return new VideoCrafterModelSettings
        {
            Preset = preset,
            CheckpointPath = checkpoint,
            Tokenizer = tokenizer,
            Device = devices[0],
            Devices = devices,
            DType = dtype,
            FreeTextEncoder = o.FreeTextEncoder,
            Log = context.Log,
        };
    }

    /// <summary>The preset the options pick, with their overrides and frame size, refused where they do not fit it.</summary>
    static VideoCrafterPreset PresetFor(VideoCrafterOptions o)
    {
        // The checkpoint is not the preset's: Describe needs none, and Load's ResolvePath refuses a missing one as not found.
        var problems = o.Validate().Where(p => p.Option != "path").ToList();
        if (problems.Count > 0)
            throw new FifoInputException("VideoCrafterOptionInvalid", string.Join(" ", problems.Select(p => $"{p.Option}: {p.Message}"))) { Option = problems[0].Option };

        // The released presets are valid: what is refused here is the options', named as such (a recipe's problem, at its line).
        var preset = VideoCrafterPreset.Find(o.Preset)!;
        try
        {
            preset = VideoCrafterConfigOverrides.Apply(preset, o.ConfigOverrides ?? Array.Empty<string>());
            preset.ValidateConfiguration();
        }
        catch (FifoInputException refusal)
        {
            throw new FifoInputException("VideoCrafterOptionInvalid", refusal.Message, refusal) { Option = "configOverrides" };
        }
        preset = preset with
        {
            Height = o.Height ?? preset.Height,
            Width = o.Width ?? preset.Width,
            WindowFrames = o.WindowFrames ?? preset.WindowFrames,
            FpsConditioning = o.FpsConditioning ?? preset.FpsConditioning,
        };
        if (preset.SizeProblem() is { } size)
        {
            // The side at fault; where it is the preset's own, the overrides changed the size the networks need.
            bool widthOff = preset.Width % preset.SizeMultiple != 0 || preset.Width <= 0;
            string option = widthOff ? (o.Width is null ? "configOverrides" : "width") : (o.Height is null ? "configOverrides" : "height");
            throw new FifoInputException("VideoCrafterOptionInvalid", $"The {preset.Name} model cannot make these frames: {size}.") { Option = option };
        }
        return preset;
    }

    /// <summary>
    /// The tokenizer option, or else the first of: bpe_simple_vocab_16e6.txt.gz, vocab.json + merges.txt, or a
    /// tokenizer/ folder, beside the checkpoint.
    /// </summary>
    public static ClipTokenizer LoadTokenizer(string? option, string checkpointPath)
    {
        if (option is not null)
        {
            if (!File.Exists(option) && !Directory.Exists(option))
                throw new FifoInputException("TokenizerNotFound", $"The tokenizer '{option}' does not exist. {Help}");
            return ClipTokenizer.Load(option);
        }
        var folder = Path.GetDirectoryName(Path.GetFullPath(checkpointPath))!;
        var gz = Path.Combine(folder, "bpe_simple_vocab_16e6.txt.gz");
        if (File.Exists(gz)) return ClipTokenizer.FromOpenClipVocab(gz);
        foreach (var candidate in new[] { folder, Path.Combine(folder, "tokenizer") })
        {
            var vocab = Path.Combine(candidate, "vocab.json");
            if (File.Exists(vocab) && File.Exists(Path.Combine(candidate, "merges.txt"))) return ClipTokenizer.FromHuggingFace(vocab, Path.Combine(candidate, "merges.txt"));
        }
        throw new FifoInputException("TokenizerNotFound",
            $"No CLIP tokenizer was found beside the checkpoint: looked for '{gz}', vocab.json + merges.txt in '{folder}', and '{Path.Combine(folder, "tokenizer")}'. {Help}");
    }

    const string Help =
        "Get bpe_simple_vocab_16e6.txt.gz from the open_clip repository (github.com/mlfoundations/open_clip, file src/open_clip/bpe_simple_vocab_16e6.txt.gz), " +
        "or the tokenizer/ folder (vocab.json, merges.txt) of any Stable Diffusion 2 diffusers repository (e.g. stabilityai/stable-diffusion-2-1), " +
        "and put it beside model.ckpt or give its path as the model's tokenizer option (a recipe's model.with.tokenizer, New-FifoVideo -ModelOption @{ tokenizer = '...' }).";
}
