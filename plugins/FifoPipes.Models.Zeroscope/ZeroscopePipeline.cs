using FifoPipes.Abstractions;
using FifoPipes.Core.Diffusion;
using FifoPipes.Torch.Diffusers;
using FifoPipes.Torch.Text;
using FifoPipes.Torch.UNets;
using FifoPipes.Torch.Vae;
using TorchSharp;
using static TorchSharp.torch;

namespace FifoPipes.Models.Zeroscope;

/// <summary>
/// The parts of a diffusers <c>TextToVideoSDPipeline</c> folder (zeroscope_v2 576w / XL, ModelScope t2v):
/// UNet3DConditionModel, AutoencoderKL, CLIPTextModel + CLIPTokenizer and the scheduler config, loaded
/// onto our modules, with the pipeline's own steps (prompt encoding, UNet call, decode_latents).
/// </summary>
public sealed class ZeroscopePipeline : IDisposable
{
    public const string PipelineClass = "TextToVideoSDPipeline";

    readonly AutoencoderKL? vae;
    readonly OpenClipTextTransformer? textEncoder;

    ZeroscopePipeline(UNet3D unet, AutoencoderKL? vae, AutoencoderKLConfig vaeConfig, double vaeScalingFactor, OpenClipTextTransformer? textEncoder,
        HfClipTokenizer tokenizer, DiffusersSchedulerConfig scheduler)
    {
        UNet = unet;
        this.vae = vae;
        VaeConfig = vaeConfig;
        VaeScalingFactor = vaeScalingFactor;
        this.textEncoder = textEncoder;
        Tokenizer = tokenizer;
        Scheduler = scheduler;
    }

    public UNet3D UNet { get; }
    public AutoencoderKL Vae => vae ?? throw FifoPipes.Core.Devices.DenoiserOnlyReplica.HasNoVae("zeroscope");
    public AutoencoderKLConfig VaeConfig { get; }
    /// <summary>Latents are the VAE's mean times this (0.18215 for the SD VAE).</summary>
    public double VaeScalingFactor { get; }
    public OpenClipTextTransformer TextEncoder => textEncoder ?? throw FifoPipes.Core.Devices.DenoiserOnlyReplica.HasNoTextEncoder("zeroscope");
    /// <summary>Loaded with the UNet alone (a replica on another device).</summary>
    public bool DenoiserOnly => vae is null;
    public HfClipTokenizer Tokenizer { get; }
    public DiffusersSchedulerConfig Scheduler { get; }

    /// <summary>The parts the folder must hold, by component name and class (the scheduler's class is the folder's own).</summary>
    public static readonly IReadOnlyList<(string Component, string Class)> Components = new[]
    {
        ("unet", "UNet3DConditionModel"), ("vae", "AutoencoderKL"), ("text_encoder", "CLIPTextModel"), ("tokenizer", "CLIPTokenizer"),
    };

    /// <summary>What a load reads before its first tensor: the configs, checked against each other, the tokenizer, and each component's weight files.</summary>
    public sealed record Parts(DiffusersSchedulerConfig Scheduler, UNet3DConfig UNetConfig, DiffusersVaeSpec VaeSpec, OpenClipTextConfig TextConfig,
        HfClipTokenizer Tokenizer, DiffusersWeights UNetWeights, DiffusersWeights VaeWeights, DiffusersWeights TextWeights)
    {
        public IEnumerable<DiffusersWeights> Weights => new[] { UNetWeights, VaeWeights, TextWeights };

        /// <summary>
        /// Every weight file's index read (a damaged download fails here), and each config asking no more values than its
        /// files hold (an edited config): what the loads refuse before their first tensor, for Test-FifoRecipe -Model.
        /// </summary>
        public void CheckWeights()
        {
            foreach (var weights in Weights) weights.ReadIndexes();
            DiffusersUNet3D.RequireWeights(UNetWeights, UNetConfig);
            DiffusersAutoencoderKL.RequireWeights(VaeWeights, VaeSpec.Config);
            HfClipTextModel.RequireWeights(TextWeights, TextConfig);
        }
    }

    /// <summary>
    /// Reads the folder as a load does before its first tensor: every component there, configs that fit each other,
    /// the tokenizer, and the weight files of <paramref name="variant"/> (see <see cref="Load"/>). Config keys this port
    /// does not know are passed to <paramref name="log"/> as warnings.
    /// </summary>
    public static Parts Read(string folderPath, string? variant = null, IProgressSink? log = null)
    {
        log ??= NullProgressSink.Instance;
        var folder = DiffusersFolder.Open(folderPath);
        if (folder.PipelineClass != PipelineClass)
            log.Warning($"{Path.Combine(folder.Root, DiffusersFolder.ModelIndexFile)} names pipeline '{folder.PipelineClass}', not {PipelineClass}; loading its components anyway.");
        foreach (var (component, kind) in Components) folder.RequireComponent(component, kind);
        folder.RequireComponent("scheduler", folder.Component("scheduler")?.Class ?? "DDIMScheduler");

        void Warn(IReadOnlyList<string> warnings)
        {
            foreach (var w in warnings) log.Warning(w);
        }
        var schedulerConfig = ZeroscopeScheduler.ConfigFrom(folder.Config("scheduler", "scheduler_config.json"), out var w1);
        var unetConfig = DiffusersUNet3D.ConfigFrom(folder.Config("unet"), out var w2);
        var vaeSpec = DiffusersAutoencoderKL.ConfigFrom(folder.Config("vae"), out var w3);
        var textConfig = HfClipTextModel.ConfigFrom(folder.Config("text_encoder"), out var w4);
        Warn(w1); Warn(w2); Warn(w3); Warn(w4);
        var tokenizer = HfClipTokenizer.Load(Path.Combine(folder.Root, "tokenizer"));
        // The components of a folder assembled from several downloads must fit each other; found now, before any weights load.
        var misfits = new List<string>();
        if (tokenizer.MaxLength != textConfig.ContextLength)
            misfits.Add($"the tokenizer pads to {tokenizer.MaxLength} tokens but the text encoder has {textConfig.ContextLength} positions (tokenizer/, text_encoder/)");
        if (tokenizer.VocabSize > textConfig.VocabSize)
            misfits.Add($"the tokenizer has {tokenizer.VocabSize} tokens but the text encoder embeds only {textConfig.VocabSize} (tokenizer/, text_encoder/)");
        if (textConfig.Width != unetConfig.ContextDim)
            misfits.Add($"the text encoder's hidden_size {textConfig.Width} is not the UNet's cross_attention_dim {unetConfig.ContextDim} (text_encoder/, unet/)");
        if (vaeSpec.Config.EmbedDim != unetConfig.InChannels || unetConfig.OutChannels != unetConfig.InChannels)
            misfits.Add($"the VAE's latent_channels {vaeSpec.Config.EmbedDim} do not match the UNet's in/out channels {unetConfig.InChannels}/{unetConfig.OutChannels} (vae/, unet/)");
        if (misfits.Count > 0)
            throw new FifoInputException("DiffusersConfigUnsupported",
                $"The components of '{folder.Root}' do not belong together: {string.Join("; ", misfits)}. Download the whole model folder again from one repository.");

        // A requested variant must exist for the UNet (the bulk of the download); the small components may lack it.
        return new Parts(schedulerConfig, unetConfig, vaeSpec, textConfig, tokenizer,
            folder.Weights("unet", variant), folder.WeightsPreferring("vae", variant), folder.WeightsPreferring("text_encoder", variant));
    }

    /// <summary>
    /// Loads every component of the folder, weights cast to <paramref name="dtype"/> on <paramref name="device"/>.
    /// <paramref name="variant"/> picks e.g. the fp16 files (<c>diffusion_pytorch_model.fp16.safetensors</c>) of every
    /// component that has them; the others load their plain files.
    /// Config keys this port does not know are passed to <paramref name="log"/> as warnings. <paramref name="denoiserOnly"/>
    /// loads the UNet alone (a replica on another device); the other components are still checked.
    /// </summary>
    public static ZeroscopePipeline Load(string folderPath, ScalarType dtype = ScalarType.Float32, Device? device = null, string? variant = null,
        IProgressSink? log = null, bool denoiserOnly = false)
    {
        log ??= NullProgressSink.Instance;
        var (schedulerConfig, unetConfig, vaeSpec, textConfig, tokenizer, unetWeights, vaeWeights, textWeights) = Read(folderPath, variant, log);
        log.Verbose(denoiserOnly ? $"zeroscope: loading {unetWeights.Describe()} as {dtype} on {device ?? CPU}."
            : $"zeroscope: loading {unetWeights.Describe()}, {vaeWeights.Describe()}, {textWeights.Describe()} as {dtype} on {device ?? CPU}.");

        UNet3D? unet = null;
        AutoencoderKL? vae = null;
        try
        {
            unet = DiffusersUNet3D.Load(unetWeights, unetConfig, dtype, device);
            if (denoiserOnly) return new ZeroscopePipeline(unet, null, vaeSpec.Config, vaeSpec.ScalingFactor, null, tokenizer, schedulerConfig);
            vae = DiffusersAutoencoderKL.Load(vaeWeights, vaeSpec.Config, dtype, device);
            var text = HfClipTextModel.Load(textWeights, textConfig, dtype, device);
            return new ZeroscopePipeline(unet, vae, vaeSpec.Config, vaeSpec.ScalingFactor, text, tokenizer, schedulerConfig);
        }
        catch
        {
            unet?.Dispose();
            vae?.Dispose();
            throw;
        }
    }

    Device Device => UNet.parameters().First().device;

    /// <summary>Prompts → token ids [N, 77] (int64, on the CPU), as the pipeline's tokenizer call gives them.</summary>
    public Tensor Tokenize(IReadOnlyList<string> prompts) => Tokenizer.TokenizeBatch(prompts);

    /// <summary>Prompts → the text encoder's last_hidden_state [N, 77, D] (no attention mask), float32 on the model's device.</summary>
    public Tensor EncodePrompts(IReadOnlyList<string> prompts)
    {
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        var ids = Tokenize(prompts).to(Device);
        return TextEncoder.forward(ids).to(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// eps for latents [B, 4, F, h, w]: <paramref name="timesteps"/> (int64) is 0-d (one t for all), [B] or [B, F]
    /// (per frame, FIFO); <paramref name="context"/> [B, L, D]. Returns float32 on the input's device.
    /// </summary>
    public Tensor PredictNoise(Tensor latents, Tensor timesteps, Tensor context, TemporalWindows? windows = null)
    {
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        var t = timesteps.dim() == 0 ? timesteps.reshape(1).expand(latents.shape[0]) : timesteps;
        return UNet.Forward(latents, t, context, null, windows).to(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    /// <summary>The pipeline's decode_latents: latents [B, 4, F, h, w] / scaling → per-frame VAE decode → video [B, 3, F, H, W] in about [-1, 1] (no clamp).</summary>
    public Tensor DecodeLatents(Tensor latents)
    {
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        long b = latents.shape[0], c = latents.shape[1], f = latents.shape[2], h = latents.shape[3], w = latents.shape[4];
        var weights = Vae.parameters().First();
        var frames = (latents.to(weights.dtype, weights.device) / VaeScalingFactor).permute(0, 2, 1, 3, 4).reshape(b * f, c, h, w);
        var images = Vae.Decode(frames).to(ScalarType.Float32);
        return images.view(b, f, images.shape[1], images.shape[2], images.shape[3]).permute(0, 2, 1, 3, 4).contiguous().MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        UNet.Dispose();
        vae?.Dispose();
        textEncoder?.Dispose();
    }
}
