using FifoPipes.Abstractions;
using FifoPipes.Torch.Nn;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace FifoPipes.Torch.UNets;

/// <summary>
/// lvdm's 3D UNet (VideoCrafter 1/2; zeroscope after a key rename), with submodules registered under
/// the checkpoint's own names (<c>input_blocks.N.M</c>, <c>init_attn.0</c>, <c>temopral_conv</c>, ...),
/// so its state dict equals the reference one without the <c>model.diffusion_model.</c> prefix.
/// All 2D work runs on per-frame features [(b t), C, H, W]; temporal layers regroup internally.
/// </summary>
public sealed class UNet3D : Module<Tensor, Tensor, Tensor, Tensor?, Tensor>
{
    /// <summary>The prefix of the UNet's keys inside a VideoCrafter LatentDiffusion checkpoint.</summary>
    public const string CheckpointPrefix = "model.diffusion_model.";

    readonly Sequential time_embed;
    readonly Sequential? fps_embedding;
    readonly ModuleList<FrameBlock> input_blocks;
    readonly FrameBlock? init_attn;
    readonly FrameBlock middle_block;
    readonly ModuleList<FrameBlock> output_blocks;
    readonly NormSiluConv @out;

    /// <param name="device">Where the parameters live; <c>torch.META</c> builds the structure without memory.</param>
    public UNet3D(UNet3DConfig config, Device? device = null, ScalarType? dtype = null) : base(nameof(UNet3D))
    {
        config.Validate();
        Config = config;
        int mc = config.ModelChannels, embDim = config.TimeEmbedDim;
        int? relative = config.UseRelativePosition ? config.TemporalLength : null;

        Sequential EmbeddingMlp() => Sequential(
            ("0", Linear(mc, embDim, device: device, dtype: dtype)),
            ("1", SiLU()),
            ("2", Linear(embDim, embDim, device: device, dtype: dtype)));
        ResBlock Res(int from, int to) => new(from, embDim, to, config.TemporalConv, config.TempspatialAware, device, dtype, config.NormGroups);
        IEnumerable<Module> Transformers(int channels)
        {
            var (heads, headDim) = config.HeadsAt(channels);
            yield return new SpatialTransformer(channels, heads, headDim, config.TransformerDepth, config.ContextDim, config.UseLinear, device, dtype, config.NormGroups);
            if (config.TemporalAttention)
                yield return new TemporalTransformer(channels, heads, headDim, config.TemporalTransformerDepth, config.UseLinear, relative, device, dtype, config.NormGroups);
        }

        time_embed = EmbeddingMlp();
        if (config.FpsCond) fps_embedding = EmbeddingMlp();

        var inputs = new List<FrameBlock> { new(Conv2d(config.InChannels, mc, 3, padding: 1, device: device, dtype: dtype)) };
        if (config.AdditionAttention)
            // init_attn: 8 heads of num_head_channels and 1×1 Conv1d projections, whatever use_linear says.
            init_attn = new FrameBlock(new TemporalTransformer(mc, 8, config.NumHeadChannels, config.TransformerDepth, false, relative, device, dtype, config.NormGroups));
        var skipChannels = new Stack<int>();
        skipChannels.Push(mc);
        int ch = mc, ds = 1;
        for (int level = 0; level < config.Levels; level++)
        {
            for (int r = 0; r < config.NumResBlocks; r++)
            {
                int outCh = config.ChannelsAt(level);
                var layers = new List<Module> { Res(ch, outCh) };
                ch = outCh;
                if (config.AttentionResolutions.Contains(ds)) layers.AddRange(Transformers(ch));
                inputs.Add(new FrameBlock(layers.ToArray()));
                skipChannels.Push(ch);
            }
            if (level != config.Levels - 1)
            {
                inputs.Add(new FrameBlock(new Downsample(ch, device, dtype)));
                skipChannels.Push(ch);
                ds *= 2;
            }
        }

        var middle = new List<Module> { Res(ch, ch) };
        middle.AddRange(Transformers(ch));
        middle.Add(Res(ch, ch));

        var outputs = new List<FrameBlock>();
        for (int level = config.Levels - 1; level >= 0; level--)
        {
            for (int i = 0; i <= config.NumResBlocks; i++)
            {
                int outCh = config.ChannelsAt(level);
                var layers = new List<Module> { Res(ch + skipChannels.Pop(), outCh) };
                ch = outCh;
                if (config.AttentionResolutions.Contains(ds)) layers.AddRange(Transformers(ch));
                if (level > 0 && i == config.NumResBlocks)
                {
                    layers.Add(new Upsample(ch, device, dtype));
                    ds /= 2;
                }
                outputs.Add(new FrameBlock(layers.ToArray()));
            }
        }

        input_blocks = new ModuleList<FrameBlock>(inputs.ToArray());
        middle_block = new FrameBlock(middle.ToArray());
        output_blocks = new ModuleList<FrameBlock>(outputs.ToArray());
        @out = new NormSiluConv(new Fp32GroupNorm(config.NormGroups, ch, 1e-5, device, dtype),
            "2", Conv2d(mc, config.OutChannels, 3, padding: 1, device: device, dtype: dtype));

        // Registration order = the reference state-dict order.
        register_module("time_embed", time_embed);
        if (fps_embedding is not null) register_module("fps_embedding", fps_embedding);
        register_module("input_blocks", input_blocks);
        if (init_attn is not null) register_module("init_attn", init_attn);
        register_module("middle_block", middle_block);
        register_module("output_blocks", output_blocks);
        register_module("out", @out);
    }

    /// <summary>The configuration it was built from (validated).</summary>
    public UNet3DConfig Config { get; }

    /// <summary>
    /// Predicts eps for <paramref name="x"/> [B, C, T, H, W]. <paramref name="timesteps"/> (int64) is either
    /// [B, T], one timestep per frame (FIFO), or [B], one per sample. <paramref name="context"/> is the text
    /// embedding [B, L, context_dim]; <paramref name="fps"/> [B] (int64) is required with fps conditioning
    /// and ignored without. Inputs are moved to the parameters' device and dtype; eps comes back in x's dtype.
    /// </summary>
    public override Tensor forward(Tensor x, Tensor timesteps, Tensor context, Tensor? fps) => Forward(x, timesteps, context, fps, null);

    /// <summary>
    /// As <see cref="forward"/>, with every temporal transformer attending within fused <paramref name="windows"/>
    /// (FreeNoise), so a video longer than the training clip goes through in one call.
    /// </summary>
    public Tensor Forward(Tensor x, Tensor timesteps, Tensor context, Tensor? fps, TemporalWindows? windows)
    {
        CheckInputs(x, timesteps, context, fps);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var weight = time_embed.parameters().First();
        var (device, dtype) = (weight.device, weight.dtype);
        long b = x.shape[0], c = x.shape[1], t = x.shape[2], height = x.shape[3], width = x.shape[4];

        var emb = FrameEmbedding(timesteps.to(device), fps?.to(device), b, t, dtype);
        var text = context.to(dtype, device);
        text = text.unsqueeze(1).expand(b, t, text.shape[1], text.shape[2]).reshape(b * t, text.shape[1], text.shape[2]);
        var cond = new FrameConditioning(emb, text, b, t) { Windows = windows };

        var h = x.to(dtype, device).permute(0, 2, 1, 3, 4).reshape(b * t, c, height, width);
        var skips = new Stack<Tensor>();
        for (int i = 0; i < input_blocks.Count; i++)
        {
            h = input_blocks[i].forward(h, cond);
            if (i == 0 && init_attn is not null) h = init_attn.forward(h, cond);
            skips.Push(h);
        }
        h = middle_block.forward(h, cond);
        foreach (var block in output_blocks)
        {
            var skip = skips.Pop();
            var joined = cat(new[] { h, skip }, 1);
            h.Dispose();
            skip.Dispose();
            // An upsampler grows to the size of the skip it meets next (only differs from ×2 for odd sizes).
            var blockCond = Config.UpsampleToSkipSize && skips.Count > 0 ? cond with { UpsampleSize = (skips.Peek().shape[2], skips.Peek().shape[3]) } : cond;
            h = block.forward(joined, blockCond);
            joined.Dispose();
        }
        var eps = @out.forward(h);
        long outC = eps.shape[1];
        return eps.view(b, t, outC, height, width).permute(0, 2, 1, 3, 4).to(x.dtype).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>time_embed(sin t) (+ fps_embedding(sin fps)) as one row per frame [B·T, E].</summary>
    Tensor FrameEmbedding(Tensor timesteps, Tensor? fps, long b, long t, ScalarType dtype)
    {
        int mc = Config.ModelChannels;
        bool perFrame = timesteps.dim() == 2;
        var emb = time_embed.forward(TimestepSinusoid.Embed(timesteps.flatten(), mc).to(dtype));
        if (fps_embedding is not null)
        {
            var fpsEmb = fps_embedding.forward(TimestepSinusoid.Embed(fps!, mc).to(dtype));
            emb = emb + (perFrame ? PerFrame(fpsEmb, b, t) : fpsEmb);
        }
        return perFrame ? emb : PerFrame(emb, b, t);
    }

    /// <summary>[B, E] → [B·T, E], each sample's row repeated for its frames.</summary>
    static Tensor PerFrame(Tensor rows, long b, long t) => rows.unsqueeze(1).expand(b, t, rows.shape[1]).reshape(b * t, rows.shape[1]);

    /// <summary>
    /// The caller's contract (a sampler's or an adapter's bug if broken, so the engine names that plugin), apart from a
    /// latent size the levels cannot halve, which is the user's model height and width.
    /// </summary>
    void CheckInputs(Tensor x, Tensor timesteps, Tensor context, Tensor? fps)
    {
        static string Shape(Tensor v) => "[" + string.Join(", ", v.shape) + "]";
        if (x.dim() != 5 || x.shape[1] != Config.InChannels)
            throw new ArgumentException($"UNet input x must be [B, {Config.InChannels}, T, H, W]; got {Shape(x)}.");
        long b = x.shape[0], t = x.shape[2];
        int factor = 1 << (Config.Levels - 1);
        if (!Config.UpsampleToSkipSize && (x.shape[3] % factor != 0 || x.shape[4] % factor != 0))
            throw new FifoInputException("UNetInputShape", $"UNet latent height and width must be multiples of {factor}; got {x.shape[3]}×{x.shape[4]}.");
        bool timestepsOk = timesteps.dim() switch
        {
            1 => timesteps.shape[0] == b,
            2 => timesteps.shape[0] == b && timesteps.shape[1] == t,
            _ => false,
        };
        if (!timestepsOk)
            throw new ArgumentException($"UNet timesteps must be [B, T] = [{b}, {t}] (per frame) or [B] = [{b}] (per sample); got {Shape(timesteps)}.");
        if (timesteps.is_floating_point())
            throw new ArgumentException("UNet timesteps must be integer timestep indices (int64), not floating point.");
        if (context.dim() != 3 || context.shape[0] != b || context.shape[2] != Config.ContextDim)
            throw new ArgumentException($"UNet context must be [B, L, {Config.ContextDim}] with B = {b}; got {Shape(context)}.");
        if (Config.FpsCond && (fps is null || fps.dim() != 1 || fps.shape[0] != b))
            throw new ArgumentException($"This UNet is fps-conditioned: fps must be [B] = [{b}] (int64 frames per second); got {(fps is null ? "none" : Shape(fps))}.");
    }

    /// <summary>
    /// Loads a state dict whose keys are this module's (prefix already removed) after a strict key and
    /// shape check; throws <see cref="FifoInputException"/> "CheckpointKeysMismatch" listing every difference.
    /// </summary>
    public void LoadStrict(IReadOnlyDictionary<string, Tensor> weights, string source) => StrictStateDict.Load(this, weights, source);

    /// <summary>
    /// Runs every GroupNorm (with the SiLU after it, where one follows) and every GEGLU gate through
    /// <see cref="PointwiseScript"/>s, which CUDA fuses into single passes; off by default (a GPU speed candidate).
    /// </summary>
    public void ScriptPointwise(bool enabled)
    {
        foreach (var norm in modules().OfType<Fp32GroupNorm>()) norm.Scripted = enabled;
        foreach (var geglu in modules().OfType<Geglu>()) geglu.Scripted = enabled;
    }

    /// <summary>Packs the temporal layers' short sequences into long rows (<see cref="Attention.PackShortSequences"/>); off by default.</summary>
    public void PackTemporalAttention(bool enabled)
    {
        foreach (var attention in modules().OfType<TemporalTransformer>().SelectMany(layer => layer.modules().OfType<Attention>()))
            attention.PackShortSequences = enabled;
    }
}
