using FifoPipes.Torch.Nn;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace FifoPipes.Models.OpenSoraPlan.Vae;

/// <summary>One encoder level: <c>block</c> resnets, then the optional <c>downsample</c> and <c>time_downsample</c>.</summary>
public sealed class VaeDownLevel : Module<Tensor, (Tensor Last, Tensor Out)>
{
    readonly ModuleList<VaeResnetBlock> block;
    readonly VaeSpatialDownsample? downsample;
    readonly VaeTimeDownsample? time_downsample;

    public VaeDownLevel(CausalVaeConfig config, int level, long inChannels, long outChannels, Device? device, ScalarType? dtype) : base(nameof(VaeDownLevel))
    {
        bool perFrame = config.EncoderResnetBlocks[level] == CausalVaeConfig.ResnetBlock2D;
        block = new ModuleList<VaeResnetBlock>(Enumerable.Range(0, config.NumResBlocks)
            .Select(i => new VaeResnetBlock(i == 0 ? inChannels : outChannels, outChannels, perFrame, device, dtype)).ToArray());
        register_module("block", block);
        if (config.EncoderSpatialDownsample[level].Length > 0)
        {
            downsample = new VaeSpatialDownsample(outChannels, device, dtype);
            register_module("downsample", downsample);
        }
        if (config.EncoderTemporalDownsample[level].Length > 0)
        {
            time_downsample = new VaeTimeDownsample(outChannels, device, dtype);
            register_module("time_downsample", time_downsample);
        }
    }

    /// <returns>The last resnet output (the reference's mid block reads it) and the level's output.</returns>
    public override (Tensor Last, Tensor Out) forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        foreach (var b in block) x = b.forward(x);
        var last = x;
        if (downsample is not null) x = downsample.forward(x);
        if (time_downsample is not null) x = time_downsample.forward(x);
        return (last.MoveToOuterDisposeScope(), x.MoveToOuterDisposeScope());
    }
}

/// <summary>One decoder level: <c>block</c> resnets (num_res_blocks + 1), then the optional <c>upsample</c> and <c>time_upsample</c>.</summary>
public sealed class VaeUpLevel : Module<Tensor, Tensor>
{
    readonly ModuleList<VaeResnetBlock> block;
    readonly VaeSpatialUpsample? upsample;
    readonly VaeTimeUpsample? time_upsample;

    public VaeUpLevel(CausalVaeConfig config, int level, long inChannels, long outChannels, Device? device, ScalarType? dtype) : base(nameof(VaeUpLevel))
    {
        block = new ModuleList<VaeResnetBlock>(Enumerable.Range(0, config.NumResBlocks + 1)
            .Select(i => new VaeResnetBlock(i == 0 ? inChannels : outChannels, outChannels, perFrame: false, device, dtype)).ToArray());
        register_module("block", block);
        if (config.DecoderSpatialUpsample[level].Length > 0)
        {
            upsample = new VaeSpatialUpsample(outChannels, device, dtype);
            register_module("upsample", upsample);
        }
        if (config.DecoderTemporalUpsample[level].Length > 0)
        {
            time_upsample = new VaeTimeUpsample(outChannels, device, dtype);
            register_module("time_upsample", time_upsample);
        }
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        foreach (var b in block) x = b.forward(x);
        if (upsample is not null) x = upsample.forward(x);
        if (time_upsample is not null) x = time_upsample.forward(x);
        return x.MoveToOuterDisposeScope();
    }
}

/// <summary>The mid section of both halves: <c>block_1</c>, <c>attn_1</c>, <c>block_2</c>.</summary>
public sealed class VaeMid : Module<Tensor, Tensor>
{
    readonly VaeResnetBlock block_1;
    readonly VaeAttentionBlock attn_1;
    readonly VaeResnetBlock block_2;

    public VaeMid(long channels, Device? device, ScalarType? dtype) : base(nameof(VaeMid))
    {
        block_1 = new VaeResnetBlock(channels, channels, perFrame: false, device, dtype);
        attn_1 = new VaeAttentionBlock(channels, device, dtype);
        block_2 = new VaeResnetBlock(channels, channels, perFrame: false, device, dtype);
        register_module("block_1", block_1);
        register_module("attn_1", attn_1);
        register_module("block_2", block_2);
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return block_2.forward(attn_1.forward(block_1.forward(x))).MoveToOuterDisposeScope();
    }
}

/// <summary>The encoder: per-frame <c>conv_in</c>, levels, mid, GroupNorm, SiLU, <c>conv_out</c> to the posterior moments.</summary>
public sealed class CausalVaeEncoder : Module<Tensor, Tensor>
{
    readonly Conv2d conv_in;
    readonly ModuleList<VaeDownLevel> down;
    readonly VaeMid mid;
    readonly Fp32GroupNorm norm_out;
    readonly CausalConv3d conv_out;

    public CausalVaeEncoder(CausalVaeConfig config, Device? device, ScalarType? dtype) : base(nameof(CausalVaeEncoder))
    {
        long hidden = config.HiddenSize;
        conv_in = Conv2d(3, hidden, 3, padding: 1, device: device, dtype: dtype);
        var levels = new List<VaeDownLevel>();
        long channels = hidden;
        for (int i = 0; i < config.Levels; i++)
        {
            long width = hidden * config.HiddenSizeMult[i];
            levels.Add(new VaeDownLevel(config, i, channels, width, device, dtype));
            channels = width;
        }
        down = new ModuleList<VaeDownLevel>(levels.ToArray());
        mid = new VaeMid(channels, device, dtype);
        norm_out = VaeOps.Norm(channels, device, dtype);
        conv_out = CausalConv3d.Cube(channels, (config.DoubleZ ? 2 : 1) * config.ZChannels, 3, device, dtype);
        register_module("conv_in", conv_in);
        register_module("down", down);
        register_module("mid", mid);
        register_module("norm_out", norm_out);
        register_module("conv_out", conv_out);
    }

    public override Tensor forward(Tensor video)
    {
        using var scope = NewDisposeScope();
        var x = VaeOps.Video(conv_in.forward(VaeOps.Frames(video)), video.shape[0]);
        Tensor last = x;
        foreach (var level in down) (last, x) = level.forward(x);
        // The reference feeds mid with the last resnet output, not with the last level's resampled output.
        var h = mid.forward(last);
        return conv_out.forward(norm_out.ForwardSilu(h)).MoveToOuterDisposeScope();
    }
}

/// <summary>The decoder: <c>conv_in</c>, mid, levels deepest first, GroupNorm, SiLU, <c>conv_out</c> to RGB.</summary>
public sealed class CausalVaeDecoder : Module<Tensor, Tensor>
{
    readonly CausalConv3d conv_in;
    readonly VaeMid mid;
    readonly ModuleList<VaeUpLevel> up;
    readonly Fp32GroupNorm norm_out;
    readonly CausalConv3d conv_out;

    public CausalVaeDecoder(CausalVaeConfig config, Device? device, ScalarType? dtype) : base(nameof(CausalVaeDecoder))
    {
        long hidden = config.HiddenSize;
        long channels = hidden * config.HiddenSizeMult[^1];
        conv_in = CausalConv3d.Cube(config.ZChannels, channels, 3, device, dtype);
        mid = new VaeMid(channels, device, dtype);
        var levels = new VaeUpLevel[config.Levels];
        for (int i = config.Levels - 1; i >= 0; i--)
        {
            long width = hidden * config.HiddenSizeMult[i];
            levels[i] = new VaeUpLevel(config, i, channels, width, device, dtype);
            channels = width;
        }
        up = new ModuleList<VaeUpLevel>(levels);
        norm_out = VaeOps.Norm(channels, device, dtype);
        conv_out = CausalConv3d.Cube(channels, 3, 3, device, dtype);
        register_module("conv_in", conv_in);
        register_module("mid", mid);
        register_module("up", up);
        register_module("norm_out", norm_out);
        register_module("conv_out", conv_out);
    }

    public override Tensor forward(Tensor z)
    {
        using var scope = NewDisposeScope();
        var h = mid.forward(conv_in.forward(z));
        for (int i = up.Count - 1; i >= 0; i--) h = up[i].forward(h);
        return conv_out.forward(norm_out.ForwardSilu(h)).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Open-Sora Plan v1.1's CausalVAEModel: <c>encoder</c>, <c>decoder</c>, <c>quant_conv</c>, <c>post_quant_conv</c>
/// (1×1×1 CausalConv3d). Videos are [B, 3, T, H, W] in [−1, 1]; latents are unscaled (the 0.18215 is the caller's).
/// </summary>
public sealed class CausalVae : Module
{
    readonly CausalVaeEncoder encoder;
    readonly CausalVaeDecoder decoder;
    readonly CausalConv3d quant_conv;
    readonly CausalConv3d post_quant_conv;

    public CausalVae(CausalVaeConfig config, Device? device = null, ScalarType? dtype = null) : base(nameof(CausalVae))
    {
        config.Validate();
        Config = config;
        encoder = new CausalVaeEncoder(config, device, dtype);
        decoder = new CausalVaeDecoder(config, device, dtype);
        quant_conv = CausalConv3d.Cube(2 * config.ZChannels, 2 * config.EmbedDim, 1, device, dtype);
        post_quant_conv = CausalConv3d.Cube(config.EmbedDim, config.ZChannels, 1, device, dtype);
        register_module("encoder", encoder);
        register_module("decoder", decoder);
        register_module("quant_conv", quant_conv);
        register_module("post_quant_conv", post_quant_conv);
    }

    public CausalVaeConfig Config { get; }

    /// <summary>Video [B, 3, T, H, W] → posterior mean and log-variance (clamped to [−30, 20]), each [B, embed_dim, T', h, w].</summary>
    public (Tensor Mean, Tensor LogVar) Encode(Tensor video)
    {
        using var scope = NewDisposeScope();
        var moments = quant_conv.forward(encoder.forward(video)).chunk(2, 1);
        var mean = moments[0].contiguous();
        var logvar = moments[1].clamp(-30.0, 20.0);
        return (mean.MoveToOuterDisposeScope(), logvar.MoveToOuterDisposeScope());
    }

    /// <summary>Latents [B, embed_dim, T, h, w] → video [B, 3, 1 + 2^k (T − 1), h·f, w·f], whole (no tiling, no clamp).</summary>
    public Tensor Decode(Tensor z)
    {
        using var scope = NewDisposeScope();
        return decoder.forward(post_quant_conv.forward(z)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The release's decode with tiling enabled: whole when the latents fit one tile in space and time,
    /// otherwise time chunks overlapping by one latent frame (later chunks drop their first decoded frame),
    /// each decoded in blended spatial tiles.
    /// </summary>
    public Tensor DecodeTiled(Tensor z, CausalVaeTiling tiling)
    {
        if (z.shape[3] <= tiling.LatentSize && z.shape[4] <= tiling.LatentSize && z.shape[2] <= tiling.LatentFrames)
            return Decode(z);
        using var scope = NewDisposeScope();
        var pieces = new List<Tensor>();
        var chunks = TimeChunks(z.shape[2], tiling.LatentFrames);
        for (int i = 0; i < chunks.Count; i++)
        {
            var (start, end) = chunks[i];
            var decoded = DecodeTiles(z.narrow(2, start, end - start), tiling);
            pieces.Add(i == 0 ? decoded : decoded.narrow(2, 1, decoded.shape[2] - 1));
        }
        return cat(pieces, 2).MoveToOuterDisposeScope();
    }

    /// <summary>The release's time chunks [start, end) of latent frames: starts every (chunk − 1), each reaching one past the next start.</summary>
    public static IReadOnlyList<(long Start, long End)> TimeChunks(long frames, int chunk)
    {
        var starts = new List<long>();
        for (long s = 0; s < frames; s += chunk - 1) starts.Add(s);
        if (starts.Count == 1) return new[] { (0L, frames) };
        var chunks = new List<(long, long)>();
        for (int i = 0; i + 1 < starts.Count; i++) chunks.Add((starts[i], starts[i + 1] + 1));
        var (lastStart, lastEnd) = chunks[^1];
        if (lastEnd > frames) chunks[^1] = (lastStart, frames);
        else if (lastEnd < frames) chunks.Add((starts[^1], frames));
        return chunks;
    }

    /// <summary>
    /// One time chunk decoded in spatial tiles, as the release's tiled_decode2d (which it runs on every chunk,
    /// whatever its size): tiles every LatentSize·(1 − overlap) latents, blended, cropped and joined.
    /// </summary>
    public Tensor DecodeTiles(Tensor z, CausalVaeTiling tiling)
    {
        using var scope = NewDisposeScope();
        int step = (int)(tiling.LatentSize * (1 - tiling.Overlap));
        int blend = (int)(tiling.SampleSize * tiling.Overlap);
        int keep = tiling.SampleSize - blend;
        var rows = new List<List<Tensor>>();
        for (long i = 0; i < z.shape[3]; i += step)
        {
            var row = new List<Tensor>();
            for (long j = 0; j < z.shape[4]; j += step)
            {
                long h = Math.Min(tiling.LatentSize, z.shape[3] - i), w = Math.Min(tiling.LatentSize, z.shape[4] - j);
                row.Add(Decode(z.narrow(3, i, h).narrow(4, j, w)));
            }
            rows.Add(row);
        }
        // In place and in order, as the reference: a tile is blended with the already-blended tiles above and to its left.
        var resultRows = new List<Tensor>();
        for (int i = 0; i < rows.Count; i++)
        {
            for (int j = 0; j < rows[i].Count; j++)
            {
                if (i > 0) BlendInto(rows[i - 1][j], rows[i][j], blend, dim: 3);
                if (j > 0) BlendInto(rows[i][j - 1], rows[i][j], blend, dim: 4);
            }
            resultRows.Add(cat(rows[i].Select(t => Crop(t, keep)).ToArray(), 4));
        }
        return cat(resultRows, 3).MoveToOuterDisposeScope();
    }

    static Tensor Crop(Tensor tile, int keep) =>
        tile.narrow(3, 0, Math.Min(keep, tile.shape[3])).narrow(4, 0, Math.Min(keep, tile.shape[4]));

    /// <summary>The first pixels of <paramref name="current"/> along <paramref name="dim"/> fade in from the last ones of <paramref name="previous"/>.</summary>
    static void BlendInto(Tensor previous, Tensor current, int extent, int dim)
    {
        extent = (int)Math.Min(Math.Min(previous.shape[dim], current.shape[dim]), extent);
        using var noGrad = no_grad();
        for (int y = 0; y < extent; y++)
        {
            double w = (double)y / extent;
            using var a = previous.select(dim, previous.shape[dim] - extent + y);
            using var b = current.select(dim, y);
            using var mixed = a * (1 - w) + b * w;
            b.copy_(mixed);
        }
    }
}
