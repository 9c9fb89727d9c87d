using FifoPipes.Abstractions;
using FifoPipes.Core.Diffusion;
using FifoPipes.Torch.UNets;
using FifoPipes.Torch.Checkpoints;
using FifoPipes.Torch.Nn;
using FifoPipes.Torch.Text;
using FifoPipes.Torch.Vae;
using TorchSharp;
using static TorchSharp.torch;

namespace FifoPipes.Models.VideoCrafter;

/// <summary>A prompt's text embedding [1, 77, context_dim] (model dtype and device). The model owns the tensor and caches it per prompt.</summary>
public sealed class VideoCrafterConditioning : Conditioning
{
    Action? release;

    internal VideoCrafterConditioning(string prompt, Tensor context, Action? release = null) : base(prompt) => (Context, this.release) = (context, release);

    /// <summary>The embedding [1, L, C], the model's: valid until this conditioning is disposed.</summary>
    public Tensor Context { get; }

    /// <summary>Lets the model free the embedding once no conditioning holds it; twice is once.</summary>
    public override void Dispose()
    {
        var releasing = release;
        release = null;
        releasing?.Invoke();
    }
}

/// <summary>How to build a <see cref="VideoCrafterModel"/>: everything already resolved and checked by the adapter.</summary>
public sealed record VideoCrafterModelSettings
{
    public required VideoCrafterPreset Preset { get; init; }
    public required string CheckpointPath { get; init; }
    public required ClipTokenizer Tokenizer { get; init; }
    public Device Device { get; init; } = CPU;
    /// <summary>Devices to replicate the model on (the adapter's comma-separated device option); default: just <see cref="Device"/>.</summary>
    public IReadOnlyList<Device> Devices { get => devices ?? new[] { Device }; init => devices = value; }
    IReadOnlyList<Device>? devices;
    public ScalarType DType { get; init; } = ScalarType.Float32;
    public bool FreeTextEncoder { get; init; }
    /// <summary>
    /// Load the UNet alone (a replica on another device, <see cref="FifoPipes.Core.Devices.ReplicaRole.Denoiser"/>): prompts
    /// come embedded from the primary through <see cref="VideoCrafterModel.Adopt"/>, frames are decoded there.
    /// </summary>
    public bool DenoiserOnly { get; init; }
    public IProgressSink Log { get; init; } = NullProgressSink.Instance;
}

/// <summary>
/// VideoCrafter 1/2 as an <see cref="IVideoModel"/>: the 3D UNet as the eps denoiser (one timestep per frame), the
/// OpenCLIP-H text tower (penultimate layer, "" = the unconditional embedding) and the KL VAE, decoded frame by frame.
/// All three load from one checkpoint, tensor by tensor, cast to the chosen dtype as they are read; a denoiser-only
/// replica loads the UNet alone.
/// </summary>
public sealed class VideoCrafterModel : IVideoModel, IFusedTemporalAttention, IAdoptConditioning, IReusableModel
{
    readonly VideoCrafterModelSettings settings;
    readonly VideoCrafterPreset preset;
    readonly UNet3D unet;
    readonly AutoencoderKL? vae;
    OpenClipTextTransformer? text;
    // Each prompt's embedding with the number of conditionings that hold it. One no conditioning holds waits among the
    // last IdlePrompts such, for a prompt that comes back (a live prompt switched back, a schedule's refrain) to cost no
    // text-encoder reload, and is freed when it falls off: a run whose prompts keep changing holds a bounded few.
    readonly Dictionary<string, CachedContext> contexts = new(StringComparer.Ordinal);
    readonly List<string> idle = new();
    const int IdlePrompts = 32;

    sealed class CachedContext(Tensor context)
    {
        public Tensor Context { get; } = context;
        public int Holders;
    }

    /// <summary>Prompt embeddings held now, in use or waiting (the unconditional one included).</summary>
    public int CachedPrompts => contexts.Count;

    VideoCrafterModel(VideoCrafterModelSettings settings, UNet3D unet, AutoencoderKL? vae, OpenClipTextTransformer? text)
    {
        this.settings = settings;
        preset = settings.Preset;
        this.unet = unet;
        this.vae = vae;
        this.text = text;
        // The preset carries the configuration overrides, the frame size and the fps conditioning.
        Info = InfoFor(preset, settings.Device, settings.DType,
            FifoPipes.Core.ModelFingerprint.Of(FifoPipes.Core.ModelFingerprint.File(settings.CheckpointPath), settings.DType, preset,
                string.Join(",", settings.Tokenizer.Files.Select(FifoPipes.Core.ModelFingerprint.File))));
    }

    /// <summary>What a model of <paramref name="preset"/> reports: the adapter describes one before loading it with this.</summary>
    public static ModelInfo InfoFor(VideoCrafterPreset preset, Device device, ScalarType dtype, string fingerprint) => new()
    {
        Name = preset.Name,
        LatentChannels = preset.UNet.InChannels,
        LatentHeight = preset.Height / preset.SpatialScale,
        LatentWidth = preset.Width / preset.SpatialScale,
        WindowFrames = preset.WindowFrames,
        SpatialScale = preset.SpatialScale,
        Schedule = preset.Schedule,
        Defaults = preset.Defaults,
        Device = device,
        DType = dtype,
        Fingerprint = fingerprint,
        FusesTemporalAttention = true,
    };

    public ModelInfo Info { get; }
    public VideoCrafterPreset Preset => preset;
    /// <summary>Whether the text tower is in memory now (false after it was freed).</summary>
    public bool TextEncoderLoaded => text is not null;
    /// <summary>How many times the text tower was read from the checkpoint (1 unless it was freed and needed again).</summary>
    public int TextEncoderLoads { get; private set; }

    /// <summary>Whether the VAE is in memory (false for a denoiser-only replica).</summary>
    public bool VaeLoaded => vae is not null;

    /// <summary>Checks the checkpoint's keys against all three networks, then builds and loads them (the UNet alone for a denoiser-only replica).</summary>
    public static VideoCrafterModel Load(VideoCrafterModelSettings settings)
    {
        var preset = settings.Preset;
        using var weights = OpenChecked(settings);

        UNet3D? unet = null;
        AutoencoderKL? vae = null;
        OpenClipTextTransformer? text = null;
        try
        {
            // TorchSharp 0.107 cannot materialise meta modules (no Module.to_empty), so the networks are built
            // directly on the target device in the target dtype; streaming then keeps peak memory near their size.
            var dtype = settings.DType;
            settings.Log.Verbose($"videocrafter: loading the {preset.Name} UNet from '{weights.Path}' ({dtype}, {settings.Device}).");
            unet = new UNet3D(preset.UNet, settings.Device, dtype);
            weights.Load(unet, new StateDictMapping { Prefix = VideoCrafterCheckpoint.UNetPrefix }, dtype);
            if (settings.DenoiserOnly) return new VideoCrafterModel(settings, unet, null, null);
            settings.Log.Verbose("videocrafter: loading the VAE.");
            vae = new AutoencoderKL(preset.Vae, settings.Device, dtype);
            weights.Load(vae, VideoCrafterCheckpoint.VaeMapping, dtype);
            settings.Log.Verbose("videocrafter: loading the text encoder.");
            text = LoadText(weights, settings);
            var model = new VideoCrafterModel(settings, unet, vae, text) { TextEncoderLoads = 1 };
            return model;
        }
        catch
        {
            unet?.Dispose();
            vae?.Dispose();
            text?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The checkpoint opened and checked as a load checks it before its first tensor, without reading a weight: the
    /// preset valid, the tokenizer fitting the text encoder, every key and shape of the three networks, the schedule.
    /// </summary>
    internal static VideoCrafterWeights OpenChecked(VideoCrafterModelSettings settings)
    {
        var preset = settings.Preset;
        preset.Validate();
        if (settings.Tokenizer.VocabSize > preset.Text.VocabSize)
            throw new FifoInputException("TokenizerMismatch",
                $"The tokenizer has {settings.Tokenizer.VocabSize} tokens but the text encoder only {preset.Text.VocabSize}; use open_clip's bpe_simple_vocab_16e6.txt.gz. {ClipTokenizer.VocabHelp}");
        var weights = VideoCrafterWeights.Open(settings.CheckpointPath);
        try
        {
            CheckKeys(weights, preset);
            return weights;
        }
        catch
        {
            weights.Dispose();
            throw;
        }
    }

    static OpenClipTextTransformer LoadText(VideoCrafterWeights weights, VideoCrafterModelSettings settings)
    {
        var text = new OpenClipTextTransformer(settings.Preset.Text, settings.Device, settings.DType);
        try
        {
            weights.Load(text, VideoCrafterCheckpoint.TextMapping, settings.DType);
            return text;
        }
        catch
        {
            text.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Refuses a checkpoint that holds none of the keys of VideoCrafter's three networks: another kind of checkpoint, which
    /// one line says better than a missing-key list per network.
    /// </summary>
    internal static void RequireVideoCrafterKeys(VideoCrafterWeights weights)
    {
        var prefixes = new[] { VideoCrafterCheckpoint.UNetPrefix, VideoCrafterCheckpoint.VaePrefix, VideoCrafterCheckpoint.TextPrefix };
        if (prefixes.All(prefix => !weights.Shapes.Keys.Any(k => k.StartsWith(prefix, StringComparison.Ordinal))))
            throw new FifoInputException("CheckpointMismatch",
                $"'{weights.Path}' is not a VideoCrafter checkpoint: it holds none of the keys of its networks ({string.Join(", ", prefixes.Select(p => p + "*"))}); " +
                $"its keys start {KeyRoots(weights.Shapes.Keys)}. {VideoCrafterWeights.DownloadHelp}");
    }

    /// <summary>
    /// Compares the checkpoint's names and shapes with the three networks built on the meta device (no memory),
    /// so every missing, unexpected or misshapen key is reported in one error before anything is allocated.
    /// </summary>
    static void CheckKeys(VideoCrafterWeights weights, VideoCrafterPreset preset)
    {
        var meta = new Device(DeviceType.META);
        var parts = new (string Prefix, Func<nn.Module> Build)[]
        {
            (VideoCrafterCheckpoint.UNetPrefix, () => new UNet3D(preset.UNet, meta)),
            (VideoCrafterCheckpoint.VaePrefix, () => new AutoencoderKL(preset.Vae, meta)),
            (VideoCrafterCheckpoint.TextPrefix, () => new OpenClipTextTransformer(preset.Text, meta)),
        };
        RequireVideoCrafterKeys(weights);
        var report = new List<string>();
        foreach (var (prefix, build) in parts)
        {
            var shapes = weights.Shapes.Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal))
                .ToDictionary(kv => kv.Key[prefix.Length..], kv => kv.Value, StringComparer.Ordinal);
            using var module = build();
            var mismatch = StrictStateDict.Compare(module, shapes);
            if (mismatch.IsEmpty) continue;
            var prefixed = new StateDictMismatch(
                mismatch.Missing.Select(k => prefix + k).ToList(),
                mismatch.Unexpected.Select(k => prefix + k).ToList(),
                mismatch.WrongShape.Select(w => (prefix + w.Key, w.Expected, w.Actual)).ToList());
            report.Add(shapes.Count == 0 ? $"no '{prefix}*' keys at all" : prefixed.Describe());
        }
        if (report.Count == 0 && ScheduleProblem(weights, preset) is { } schedule) report.Add(schedule);
        if (report.Count == 0) return;
        throw new FifoInputException("CheckpointMismatch",
            $"'{weights.Path}' does not match the {preset.Name} model:{Environment.NewLine}{string.Join(Environment.NewLine, report)}{Environment.NewLine}" +
            PresetHint(weights, preset));
    }

    /// <summary>
    /// The DDPM buffers beside the three networks: exactly the 12, plus scale_arr with use_scale, one value per training
    /// step, holding the preset's schedule. A checkpoint trained on another schedule (or a wrong linear_end override)
    /// is refused here instead of sampled at the wrong noise levels; extra keys (model_ema.*) are refused as the
    /// reference's strict load refuses them.
    /// </summary>
    static string? ScheduleProblem(VideoCrafterWeights weights, VideoCrafterPreset preset)
    {
        var schedule = preset.Schedule;
        var mismatch = VideoCrafterCheckpoint.ScheduleKeyMismatch(weights.Shapes, schedule);
        if (!mismatch.IsEmpty)
            return mismatch.Describe() + (schedule.X0ScaleEnd != 1.0 ? "" : " (this preset has use_scale off, so no scale_arr)") +
                   (VideoCrafterCheckpoint.ScheduleBuffers.All(mismatch.Missing.Contains)
                       ? "; these are the noise schedule's buffers, which a whole model.ckpt holds beside the networks: a file of the networks' weights alone lacks them, so convert the whole model.ckpt (ConvertTo-FifoCheckpoint)"
                       : "");

        var expectedAlphas = AlphaSchedules.LdmAlphasCumprod(schedule);
        foreach (var (_, tensor) in weights.Stream("alphas_cumprod", ScalarType.Float32, name => name == "alphas_cumprod"))
        {
            using (tensor)
            {
                var stored = tensor.data<float>().ToArray();
                // A checkpoint converted to bfloat16 or float16 holds its schedule rounded to that type, off by up to its
                // unit roundoff (2^-8, 2^-11) of each value; sampling uses the schedule computed in float64, not the stored one.
                double precision = weights.StoredTypes["alphas_cumprod"] switch { ScalarType.BFloat16 => 1.0 / 256, ScalarType.Float16 => 1.0 / 2048, _ => 0 };
                double Off(int i) => Math.Abs(stored[i] - expectedAlphas[i]) - precision * Math.Abs(expectedAlphas[i]);
                int worst = Enumerable.Range(0, stored.Length).MaxBy(Off);
                if (Off(worst) > 1e-5)
                    return $"its alphas_cumprod is not the {preset.Name} schedule (at step {worst}: {stored[worst]:G6} stored, {expectedAlphas[worst]:G6} " +
                           $"from linear_start {schedule.BetaStart}, linear_end {schedule.BetaEnd}, {schedule.TrainTimesteps} steps); choose the preset it " +
                           "was trained as, or set configOverrides for model.linear_start, model.linear_end or model.timesteps";
            }
        }
        return null;
    }

    /// <summary>"with encoder.* (120 keys), decoder.* (98)": the first parts of a checkpoint's key names, the most common first.</summary>
    static string KeyRoots(IEnumerable<string> keys)
    {
        var roots = keys.GroupBy(k => k.Split('.')[0]).OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal).ToList();
        if (roots.Count == 0) return "nowhere: it holds no tensors";
        var shown = roots.Take(4).Select((g, i) => $"{g.Key}.* ({g.Count()}{(i == 0 ? " keys" : "")})");
        return "with " + string.Join(", ", shown) + (roots.Count > 4 ? $" and {roots.Count - 4} more" : "");
    }

    /// <summary>Names the preset the checkpoint's keys point to, when that is not the one chosen.</summary>
    static string PresetHint(VideoCrafterWeights weights, VideoCrafterPreset preset)
    {
        var keys = weights.Shapes.Keys;
        bool temporalConv = keys.Any(k => k.Contains(".temopral_conv.", StringComparison.Ordinal));
        bool relative = keys.Any(k => k.Contains(".relative_position_k.", StringComparison.Ordinal));
        bool fps = keys.Any(k => k.StartsWith(VideoCrafterCheckpoint.UNetPrefix + "fps_embedding.", StringComparison.Ordinal));
        bool any = keys.Any(k => k.StartsWith(VideoCrafterCheckpoint.UNetPrefix, StringComparison.Ordinal));
        string? guess = !any ? null
            : temporalConv && !relative && fps ? VideoCrafterPreset.VideoCrafter2Name
            : relative && !temporalConv && fps ? VideoCrafterPreset.VideoCrafter1_1024Name
            : relative && !temporalConv && !fps ? VideoCrafterPreset.VideoCrafter1_512Name
            : null;
        if (!any)
            return "It holds no model.diffusion_model.* keys, so it is not a VideoCrafter (LatentDiffusion) checkpoint. " + VideoCrafterWeights.DownloadHelp;
        if (guess is not null && guess != preset.Name)
            return $"Its keys look like {guess}: set preset: {guess}.";
        return "Check that the checkpoint, the preset and any configOverrides belong together; a damaged download can also cause this.";
    }

    /// <summary>
    /// Forgets the cached prompt embeddings: a fresh model embeds a run's first prompt in one batch with "", and a prompt
    /// embedded alone may differ in the last bits, so a cache kept from the last run could change this one's frames.
    /// </summary>
    public void BeginRun() => ForgetAll();

    void ForgetAll()
    {
        foreach (var cached in contexts.Values) cached.Context.Dispose();
        contexts.Clear();
        idle.Clear();
    }

    public Conditioning Encode(string prompt)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        if (settings.DenoiserOnly && !contexts.ContainsKey(prompt))
            throw FifoPipes.Core.Devices.DenoiserOnlyReplica.HasNoTextEncoder(preset.Name);
        if (!contexts.ContainsKey(prompt))
        {
            // The unconditional embedding comes along with the first prompt, so a freed text tower is not reloaded for it.
            var batch = new List<string> { prompt };
            if (prompt.Length > 0 && !contexts.ContainsKey("")) batch.Add("");
            EmbedAndCache(batch);
        }
        return Hold(prompt);
    }

    VideoCrafterConditioning Hold(string prompt)
    {
        var cached = contexts[prompt];
        if (cached.Holders++ == 0) idle.Remove(prompt);
        return new VideoCrafterConditioning(prompt, cached.Context, () => Release(prompt, cached));
    }

    void Release(string prompt, CachedContext cached)
    {
        // One from before BeginRun (or Dispose) is no longer the cache's.
        if (--cached.Holders > 0 || !contexts.TryGetValue(prompt, out var current) || !ReferenceEquals(current, cached)) return;
        // The unconditional embedding serves every prompt's guidance: it stays.
        if (prompt.Length == 0) return;
        idle.Add(prompt);
        if (idle.Count <= IdlePrompts) return;
        var oldest = idle[0];
        idle.RemoveAt(0);
        contexts.Remove(oldest, out var dropped);
        dropped!.Context.Dispose();
    }

    /// <summary>Takes the primary replica's embedding of a prompt: a copy on this replica's device, cached like an encoded one.</summary>
    public Conditioning Adopt(Conditioning fromAnotherReplica)
    {
        if (fromAnotherReplica is not VideoCrafterConditioning other)
            throw new ArgumentException($"A videocrafter replica cannot adopt a {fromAnotherReplica.GetType().Name}; it takes what another videocrafter replica encoded.", nameof(fromAnotherReplica));
        if (!contexts.ContainsKey(other.Prompt))
            contexts[other.Prompt] = new CachedContext(other.Context.to(settings.DType, settings.Device, copy: true).DetachFromDisposeScope());
        return Hold(other.Prompt);
    }

    void EmbedAndCache(IReadOnlyList<string> prompts)
    {
        var encoder = text ?? ReloadText();
        using (var scope = NewDisposeScope())
        using (inference_mode())
        {
            var tokens = settings.Tokenizer.TokenizeBatch(prompts, preset.Text.ContextLength).to(settings.Device);
            var embedded = encoder.forward(tokens).to(settings.DType);
            for (int i = 0; i < prompts.Count; i++)
                // The model owns its cache: detached, so no dispose scope of a caller that happened to encode can free it.
                contexts[prompts[i]] = new CachedContext(embedded.narrow(0, i, 1).contiguous().DetachFromDisposeScope());
        }
        if (settings.FreeTextEncoder)
        {
            text?.Dispose();
            text = null;
        }
    }

    OpenClipTextTransformer ReloadText()
    {
        settings.Log.Verbose($"videocrafter: a new prompt after the text encoder was freed; reloading it from '{settings.CheckpointPath}'.");
        using var weights = VideoCrafterWeights.Open(settings.CheckpointPath);
        text = LoadText(weights, settings);
        TextEncoderLoads++;
        return text;
    }

    public Tensor PredictNoise(Tensor x, Tensor timesteps, IReadOnlyList<Conditioning> conditioning) =>
        Predict(x, timesteps, conditioning, null);

    public Tensor PredictNoiseFused(Tensor x, Tensor timesteps, IReadOnlyList<Conditioning> conditioning, int stride) =>
        Predict(x, timesteps, conditioning, new TemporalWindows(Info.WindowFrames, stride));

    Tensor Predict(Tensor x, Tensor timesteps, IReadOnlyList<Conditioning> conditioning, TemporalWindows? windows)
    {
        CheckInputs(x, timesteps, conditioning);
        long rows = x.shape[0];
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        var context = cat(conditioning.Select(c => ((VideoCrafterConditioning)c).Context).ToList(), 0);
        var fps = preset.UNet.FpsCond ? full(new[] { rows }, (long)preset.FpsConditioning, ScalarType.Int64, settings.Device) : null;
        var eps = unet.Forward(x.to(settings.DType, settings.Device), timesteps.to(ScalarType.Int64, settings.Device), context, fps, windows);
        return eps.to(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    void CheckInputs(Tensor x, Tensor timesteps, IReadOnlyList<Conditioning> conditioning)
    {
        static string Shape(Tensor t) => "[" + string.Join(", ", t.shape) + "]";
        if (x.dim() != 5 || x.shape[1] != Info.LatentChannels || x.shape[3] != Info.LatentHeight || x.shape[4] != Info.LatentWidth)
            throw new ArgumentException($"Expected latents [B, {Info.LatentChannels}, T, {Info.LatentHeight}, {Info.LatentWidth}], got {Shape(x)}.", nameof(x));
        if (timesteps.dim() != 2 || timesteps.shape[0] != x.shape[0] || timesteps.shape[1] != x.shape[2])
            throw new ArgumentException($"Expected timesteps [{x.shape[0]}, {x.shape[2]}], got {Shape(timesteps)}.", nameof(timesteps));
        if (conditioning.Count != x.shape[0])
            throw new ArgumentException($"Expected {x.shape[0]} conditionings (one per batch row), got {conditioning.Count}.", nameof(conditioning));
        for (int i = 0; i < conditioning.Count; i++)
            if (conditioning[i] is not VideoCrafterConditioning)
                throw new ArgumentException($"Conditioning of row {i} was not made by this model's Encode.", nameof(conditioning));
    }

    public IFrameDecoder CreateDecoder() => new VaeFrameDecoder(Vae, preset.ScaleFactor);

    AutoencoderKL Vae => vae ?? throw FifoPipes.Core.Devices.DenoiserOnlyReplica.HasNoVae(preset.Name);

    /// <summary>RGB frames [T, 3, H, W] in [0, 1] at the model's frame size → latents [C, T, h, w] (posterior mean × scale factor), float32.</summary>
    public Tensor EncodeFrames(Tensor rgb)
    {
        if (rgb.dim() != 4 || rgb.shape[1] != 3 || rgb.shape[2] != Info.PixelHeight || rgb.shape[3] != Info.PixelWidth)
            throw new FifoInputException("StartFramesShape",
                $"Start frames must be RGB [T, 3, {Info.PixelHeight}, {Info.PixelWidth}] for this model (its frame size); got [{string.Join(", ", rgb.shape)}]. Resize the images to {Info.PixelWidth}x{Info.PixelHeight}.");
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        var latents = new List<Tensor>();
        for (long i = 0; i < rgb.shape[0]; i++)
        {
            var image = (rgb[i].unsqueeze(0).to(settings.DType, settings.Device) * 2.0) - 1.0;
            using var posterior = Vae.Encode(image);
            latents.Add((posterior.Mean.to(ScalarType.Float32) * preset.ScaleFactor)[0]);
        }
        return stack(latents, 1).MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        ForgetAll();
        unet.Dispose();
        vae?.Dispose();
        text?.Dispose();
        text = null;
    }
}
