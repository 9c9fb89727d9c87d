using FifoPipes.Abstractions;
using FifoPipes.Torch.UNets;
using FifoPipes.Torch.Text;
using FifoPipes.Torch.Vae;

namespace FifoPipes.Models.VideoCrafter;

/// <summary>
/// Everything that differs between the released VideoCrafter checkpoints (inference_t2v_512_v2.0, _512_v1.0,
/// _1024_v1.0 yaml files): the networks' configurations, the frame size, the noise schedule and the
/// sampling defaults FIFO-Diffusion uses with them.
/// </summary>
public sealed record VideoCrafterPreset
{
    public const string VideoCrafter2Name = "videocrafter2";
    public const string VideoCrafter1_512Name = "videocrafter1-512";
    public const string VideoCrafter1_1024Name = "videocrafter1-1024";
    public static IReadOnlyList<string> Names { get; } = new[] { VideoCrafter2Name, VideoCrafter1_512Name, VideoCrafter1_1024Name };

    public required string Name { get; init; }
    public required UNet3DConfig UNet { get; init; }
    public AutoencoderKLConfig Vae { get; init; } = AutoencoderKLConfig.StableDiffusion;
    public OpenClipTextConfig Text { get; init; } = OpenClipTextConfig.VitH14;
    /// <summary>Frame size in pixels.</summary>
    public required int Height { get; init; }
    public required int Width { get; init; }
    /// <summary>Frames per denoiser call (the yaml's temporal_length / video_length).</summary>
    public int WindowFrames { get; init; } = 16;
    /// <summary>Latents are the VAE's posterior times this (LDM's scale_factor).</summary>
    public double ScaleFactor { get; init; } = 0.18215;
    /// <summary>The fps condition FIFO-Diffusion feeds fps-conditioned models (VideoCrafter's own scripts use 28).</summary>
    public int FpsConditioning { get; init; } = 8;
    public required NoiseSchedule Schedule { get; init; }
    public SamplingDefaults Defaults { get; init; } = new() { Guidance = 12, Eta = 1, Step = StepKind.Ddim, Partitions = 4, Fps = 8 };

    /// <summary>LDM "linear" betas: linspace(sqrt(0.00085), sqrt(0.012), 1000)^2.</summary>
    static NoiseSchedule Ldm(double x0ScaleEnd) => new(BetaSchedule.ScaledLinear, 0.00085, 0.012) { X0ScaleEnd = x0ScaleEnd, X0ScaleSteps = 400 };

    /// <summary>VideoCrafter2, 320x512: temporal convs, fps conditioning, use_scale with scale_b 0.7.</summary>
    public static VideoCrafterPreset VideoCrafter2() => new()
    {
        Name = VideoCrafter2Name, UNet = UNet3DConfig.VideoCrafter2(), Height = 320, Width = 512, Schedule = Ldm(0.7),
    };

    /// <summary>VideoCrafter1 text-to-video 320x512: relative-position temporal attention, no fps, no x0 scale.</summary>
    public static VideoCrafterPreset VideoCrafter1_512() => new()
    {
        Name = VideoCrafter1_512Name, UNet = UNet3DConfig.VideoCrafter1_512(), Height = 320, Width = 512, Schedule = Ldm(1.0),
    };

    /// <summary>VideoCrafter1 text-to-video 576x1024: relative position, fps conditioning, use_scale with scale_b 0.3 (fix_scale_bug).</summary>
    public static VideoCrafterPreset VideoCrafter1_1024() => new()
    {
        Name = VideoCrafter1_1024Name, UNet = UNet3DConfig.VideoCrafter1_1024(), Height = 576, Width = 1024, Schedule = Ldm(0.3),
    };

    /// <summary>The preset called <paramref name="name"/> (case-insensitive), or null.</summary>
    public static VideoCrafterPreset? Find(string? name) => name?.Trim().ToLowerInvariant() switch
    {
        VideoCrafter2Name => VideoCrafter2(),
        VideoCrafter1_512Name => VideoCrafter1_512(),
        VideoCrafter1_1024Name => VideoCrafter1_1024(),
        _ => null,
    };

    /// <summary>Pixels per latent pixel: the VAE's downscale factor.</summary>
    public int SpatialScale => Vae.DownscaleFactor;

    /// <summary>Latent height and width must divide by this: the VAE factor times the UNet's downsampling.</summary>
    public int SizeMultiple => SpatialScale * (1 << (UNet.ChannelMult.Count - 1));

    IEnumerable<string> PartProblems()
    {
        if (Text.Width < 1 || Text.Layers < 1 || Text.Heads < 1 || Text.EmbedDim < 1)
            yield return $"text.width, text.layers, text.heads and text.embed_dim must be at least 1 (got {Text.Width}, {Text.Layers}, {Text.Heads}, {Text.EmbedDim})";
        if (Vae.ChMult.Length == 0 || Vae.ChMult.Any(m => m < 1))
            yield return $"vae.ch_mult [{string.Join(", ", Vae.ChMult)}] needs at least one multiplier, each at least 1";
        if (Vae.Ch < 1 || Vae.NumResBlocks < 1 || Vae.ZChannels < 1 || Vae.EmbedDim < 1)
            yield return $"vae.ch, vae.num_res_blocks, vae.z_channels and vae.embed_dim must be at least 1 (got {Vae.Ch}, {Vae.NumResBlocks}, {Vae.ZChannels}, {Vae.EmbedDim})";
        else if (Vae.NormGroups < 1 || Vae.ChMult.Any(m => Vae.Ch * m % Vae.NormGroups != 0))
            yield return $"every VAE width vae.ch x vae.ch_mult ({Vae.Ch} x [{string.Join(", ", Vae.ChMult)}]) must divide into its {Vae.NormGroups} GroupNorm groups";
    }

    /// <summary>Checks that the parts fit together and the frame size suits them; throws <see cref="FifoInputException"/> "VideoCrafterConfigInvalid".</summary>
    public void Validate()
    {
        ValidateConfiguration();
        if (SizeProblem() is { } size)
            throw new FifoInputException("VideoCrafterConfigInvalid", $"The {Name} configuration cannot be used: {size}.");
    }

    /// <summary>
    /// The frame size against the networks: null, or why a side is refused. Kept apart from the configuration so that a
    /// refusal can name the option at fault (width or height, or the overrides that changed the networks).
    /// </summary>
    public string? SizeProblem() => Height % SizeMultiple != 0 || Width % SizeMultiple != 0 || Height <= 0 || Width <= 0
        ? $"the frame size {Width}x{Height} must be a multiple of {SizeMultiple} in both directions for this model " +
          $"(VAE factor {SpatialScale} x UNet downsampling {1 << (UNet.ChannelMult.Count - 1)}), e.g. {Math.Max(1, Width / SizeMultiple) * SizeMultiple}x{Math.Max(1, Height / SizeMultiple) * SizeMultiple}"
        : null;

    /// <summary>Checks that the parts fit together, whatever the frame size; throws <see cref="FifoInputException"/> "VideoCrafterConfigInvalid" (or the UNet's "UNetConfigInvalid").</summary>
    public void ValidateConfiguration()
    {
        UNet.Validate();
        // The parts' own sizes first: the checks below divide by them.
        var problems = PartProblems().ToList();
        if (problems.Count > 0)
            throw new FifoInputException("VideoCrafterConfigInvalid", $"The {Name} configuration cannot be used: " + string.Join("; ", problems) + ".");
        if (Text.Width != UNet.ContextDim)
            problems.Add($"the text encoder's width ({Text.Width}) differs from the UNet's context_dim ({UNet.ContextDim}); set text.width or unet.context_dim so they match");
        if (Vae.EmbedDim != UNet.InChannels || UNet.OutChannels != UNet.InChannels)
            problems.Add($"the VAE's latent channels ({Vae.EmbedDim}) differ from the UNet's in/out channels ({UNet.InChannels}/{UNet.OutChannels})");
        if (Text.Width % Text.Heads != 0)
            problems.Add($"text.width {Text.Width} is not divisible by text.heads {Text.Heads}");
        if (Text.SkipLastLayers < 0 || Text.SkipLastLayers >= Text.Layers)
            problems.Add($"text.skip_last_layers {Text.SkipLastLayers} must be within 0..{Text.Layers - 1}");
        if (!(ScaleFactor > 0) || double.IsInfinity(ScaleFactor)) problems.Add($"model.scale_factor {ScaleFactor} must be a positive number");
        if (!(Schedule.BetaStart > 0 && Schedule.BetaEnd > Schedule.BetaStart && Schedule.BetaEnd < 1))
            problems.Add($"the beta schedule {Schedule.BetaStart}..{Schedule.BetaEnd} must satisfy 0 < linear_start < linear_end < 1");
        if (Schedule.TrainTimesteps < 2) problems.Add("model.timesteps must be at least 2");
        if (Schedule.X0ScaleSteps < 1 || !(Schedule.X0ScaleEnd > 0)) problems.Add("model.mid_step must be at least 1 and model.scale_b positive");
        if (problems.Count > 0)
            throw new FifoInputException("VideoCrafterConfigInvalid", $"The {Name} configuration cannot be used: " + string.Join("; ", problems) + ".");
    }
}
