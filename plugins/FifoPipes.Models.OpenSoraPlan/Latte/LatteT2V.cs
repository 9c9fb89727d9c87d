using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace FifoPipes.Models.OpenSoraPlan.Latte;

/// <summary>
/// Open-Sora Plan v1.1's LatteT2V as FIFO-Diffusion calls it: frames are patchified one by one, then pairs
/// of spatial (per frame, with text cross-attention) and temporal (per patch position) blocks run, all
/// modulated by adaLN-single with one timestep per frame. Module names are the checkpoint keys.
/// </summary>
public sealed class LatteT2V : Module
{
    /// <summary>The additive score bias for a dropped caption token (the reference's (1 − mask)·−10000).</summary>
    public const double MaskedTokenBias = -10000.0;

    readonly Parameter scale_shift_table;
    readonly PatchEmbed pos_embed;
    readonly ModuleList<LatteSpatialBlock> transformer_blocks;
    readonly ModuleList<LatteTemporalBlock> temporal_transformer_blocks;
    readonly Linear proj_out;
    readonly AdaLayerNormSingle adaln_single;
    readonly CaptionProjection caption_projection;
    readonly Dictionary<(long, long, ScalarType, DeviceType, int), Tensor> spatialTables = new();
    readonly Dictionary<(long, ScalarType, DeviceType, int), Tensor> temporalTables = new();

    public LatteT2V(LatteConfig config, Device? device = null, ScalarType? dtype = null) : base(nameof(LatteT2V))
    {
        Config = config;
        long d = config.Width;
        scale_shift_table = new Parameter(randn(new long[] { 2, d }, dtype: dtype, device: device) / Math.Sqrt(d), requires_grad: false);
        pos_embed = new PatchEmbed(config.InChannels, d, config.PatchSize, device, dtype);
        transformer_blocks = new ModuleList<LatteSpatialBlock>(
            Enumerable.Range(0, config.Layers).Select(_ => new LatteSpatialBlock(config, device, dtype)).ToArray());
        temporal_transformer_blocks = new ModuleList<LatteTemporalBlock>(
            Enumerable.Range(0, config.Layers).Select(_ => new LatteTemporalBlock(config, device, dtype)).ToArray());
        proj_out = Linear(d, (long)config.PatchSize * config.PatchSize * config.OutChannels, hasBias: true, device: device, dtype: dtype);
        adaln_single = new AdaLayerNormSingle(d, device, dtype);
        caption_projection = new CaptionProjection(config.CaptionChannels, d, config.CaptionTokens, device, dtype);
        register_parameter("scale_shift_table", scale_shift_table);
        register_module("pos_embed", pos_embed);
        register_module("transformer_blocks", transformer_blocks);
        register_module("temporal_transformer_blocks", temporal_transformer_blocks);
        register_module("proj_out", proj_out);
        register_module("adaln_single", adaln_single);
        register_module("caption_projection", caption_projection);
    }

    public LatteConfig Config { get; }

    /// <param name="x">Latents [B, C, F, H, W] with F = video_length.</param>
    /// <param name="timesteps">int64 [B] (one per row) or [B, F] (one per frame, FIFO).</param>
    /// <param name="caption">Text embedding [B, 1, L, caption_channels] (FIFO's layout) or [B, L, caption_channels].</param>
    /// <param name="captionMask">Optional [B, L], 1 = attend, 0 = drop; the pipeline passes none.</param>
    /// <returns>[B, out_channels, F, H, W]; channels 0..3 are ε, the rest the learned variance.</returns>
    public Tensor forward(Tensor x, Tensor timesteps, Tensor caption, Tensor? captionMask = null)
    {
        using var scope = NewDisposeScope();
        var (batch, frames, height, width) = CheckInputs(x, timesteps, caption, captionMask);
        int p = Config.PatchSize;
        long gridH = height / p, gridW = width / p, d = Config.Width;
        var dtype = scale_shift_table.dtype;

        var frameImages = x.permute(0, 2, 1, 3, 4).reshape(batch * frames, x.shape[1], height, width);
        var tokens = pos_embed.forward(frameImages) + SpatialTable(gridH, gridW, x);

        var perFrame = timesteps.dim() == 1 ? timesteps.unsqueeze(1).expand(batch, frames) : timesteps;
        var (t6, embT) = adaln_single.forward(perFrame.reshape(-1));
        var t6Frames = t6.view(batch, frames, 6 * d);

        var text = caption_projection.forward(caption.dim() == 4 ? caption.squeeze(1) : caption);
        Tensor? textBias = captionMask is null ? null
            : ((1 - captionMask.to(dtype)) * MaskedTokenBias).view(batch, 1, 1, captionMask.shape[1]);

        long patches = gridH * gridW;
        for (int i = 0; i < Config.Layers; i++)
        {
            tokens = transformer_blocks[i].forward(tokens, t6, text, textBias);
            // (b f) p d → (b p) f d
            var temporal = tokens.view(batch, frames, patches, d).transpose(1, 2).reshape(batch * patches, frames, d);
            if (i == 0) temporal = temporal + TemporalTable(frames, x);
            temporal = temporal_transformer_blocks[i].forward(temporal, t6Frames);
            tokens = temporal.view(batch, patches, frames, d).transpose(1, 2).reshape(batch * frames, patches, d);
        }

        var final = (scale_shift_table + embT.unsqueeze(1)).unbind(1);
        var normed = functional.layer_norm(tokens, new[] { d }, null, null, Config.NormEps);
        var projected = proj_out.forward(normed * (final[1].unsqueeze(1) + 1) + final[0].unsqueeze(1));
        return Unpatchify(projected, batch, frames, gridH, gridW).MoveToOuterDisposeScope();
    }

    /// <summary>[(B·F), h·w, p·p·C] (nhwpqc) → [B, C, F, h·p, w·p].</summary>
    Tensor Unpatchify(Tensor tokens, long batch, long frames, long gridH, long gridW)
    {
        int p = Config.PatchSize, c = Config.OutChannels;
        var grid = tokens.view(batch, frames, gridH, gridW, p, p, c);
        // b f h w p q c → b c f h p w q
        return grid.permute(0, 6, 1, 2, 4, 3, 5).reshape(batch, c, frames, gridH * p, gridW * p);
    }

    (long Batch, long Frames, long Height, long Width) CheckInputs(Tensor x, Tensor timesteps, Tensor caption, Tensor? mask)
    {
        static string Shape(Tensor t) => "[" + string.Join(", ", t.shape) + "]";
        if (x.dim() != 5 || x.shape[1] != Config.InChannels)
            throw new ArgumentException($"LatteT2V expects latents [B, {Config.InChannels}, F, H, W]; got {Shape(x)}.", nameof(x));
        long batch = x.shape[0], frames = x.shape[2], height = x.shape[3], width = x.shape[4];
        if (frames != Config.VideoLength)
            throw new ArgumentException($"LatteT2V was built for {Config.VideoLength} frames per call (video_length); got {frames}.", nameof(x));
        if (height % Config.PatchSize != 0 || width % Config.PatchSize != 0)
            throw new ArgumentException($"Latent size {height}x{width} is not a multiple of the patch size {Config.PatchSize}.", nameof(x));
        bool perRow = timesteps.dim() == 1 && timesteps.shape[0] == batch;
        bool perFrame = timesteps.dim() == 2 && timesteps.shape[0] == batch && timesteps.shape[1] == frames;
        if (!perRow && !perFrame)
            throw new ArgumentException($"Timesteps must be [B] or [B, F] = [{batch}, {frames}]; got {Shape(timesteps)}.", nameof(timesteps));
        bool captionOk = caption.shape[0] == batch && caption.shape[^1] == Config.CaptionChannels
            && (caption.dim() == 3 || (caption.dim() == 4 && caption.shape[1] == 1));
        if (!captionOk)
            throw new ArgumentException($"Caption must be [B, 1, L, {Config.CaptionChannels}] or [B, L, {Config.CaptionChannels}] with B = {batch}; got {Shape(caption)}.", nameof(caption));
        if (mask is not null && (mask.dim() != 2 || mask.shape[0] != batch || mask.shape[1] != caption.shape[^2]))
            throw new ArgumentException($"Caption mask must be [B, L] = [{batch}, {caption.shape[^2]}]; got {Shape(mask)}.", nameof(mask));
        return (batch, frames, height, width);
    }

    /// <summary>The 2-D table for this token grid (base size and interpolation scale as PatchEmbed sets them).</summary>
    public Tensor SpatialTable(long gridH, long gridW, Tensor like)
    {
        var key = (gridH, gridW, like.dtype, like.device_type, like.device_index);
        if (!spatialTables.TryGetValue(key, out var table))
        {
            int baseSize = Config.SampleHeight / Config.PatchSize;
            double interpolation = Math.Max(Config.SampleHeight / 64, 1);
            using var f32 = PositionTables.Spatial(Config.Width, (int)gridH, (int)gridW, baseSize, interpolation);
            table = f32.to(like.dtype, like.device).DetachFromDisposeScope();
            spatialTables[key] = table;
        }
        return table;
    }

    /// <summary>The temporal table added before temporal block 0.</summary>
    public Tensor TemporalTable(long frames, Tensor like)
    {
        var key = (frames, like.dtype, like.device_type, like.device_index);
        if (!temporalTables.TryGetValue(key, out var table))
        {
            using var f32 = PositionTables.Temporal(Config.Width, (int)frames);
            table = f32.to(like.dtype, like.device).DetachFromDisposeScope();
            temporalTables[key] = table;
        }
        return table;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            foreach (var t in spatialTables.Values.Concat(temporalTables.Values)) t.Dispose();
            spatialTables.Clear();
            temporalTables.Clear();
        }
        base.Dispose(disposing);
    }
}
