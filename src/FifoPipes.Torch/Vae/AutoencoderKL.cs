using FifoPipes.Torch.Nn;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace FifoPipes.Torch.Vae;

/// <summary>LDM's ddconfig plus embed_dim (defaults: the SD KL-f8 VAE that VideoCrafter uses).</summary>
public sealed record AutoencoderKLConfig
{
    /// <summary>Channels of the first level (LDM's <c>ch</c>; diffusers' <c>block_out_channels[0]</c>).</summary>
    public int Ch { get; init; } = 128;
    /// <summary>Each level's channels as a multiple of <see cref="Ch"/> (<c>ch_mult</c>); its length is the number of levels, so latents are 2^(length − 1) times smaller.</summary>
    public int[] ChMult { get; init; } = { 1, 2, 4, 4 };
    /// <summary>ResNet blocks per encoder level (<c>num_res_blocks</c>; diffusers' <c>layers_per_block</c>); decoder levels have one more, as in LDM.</summary>
    public int NumResBlocks { get; init; } = 2;
    /// <summary>Latent channels at the encoder's <c>conv_out</c> (twice this with <see cref="DoubleZ"/>) and the decoder's <c>conv_in</c> (<c>z_channels</c>).</summary>
    public int ZChannels { get; init; } = 4;
    /// <summary>The encoder emits mean and logvar, 2·<see cref="ZChannels"/> channels (<c>double_z</c>); true in every KL VAE (LDM's AutoencoderKL asserts it).</summary>
    public bool DoubleZ { get; init; } = true;
    /// <summary>Image channels the encoder reads (<c>in_channels</c>, 3 for RGB).</summary>
    public int InChannels { get; init; } = 3;
    /// <summary>Image channels the decoder writes (<c>out_ch</c>).</summary>
    public int OutCh { get; init; } = 3;
    /// <summary>Only decides at which levels attention blocks exist (with <see cref="AttnResolutions"/>).</summary>
    public int Resolution { get; init; } = 256;
    /// <summary>Feature sizes (counted down from <see cref="Resolution"/>) whose levels get an attention block after each ResNet block (<c>attn_resolutions</c>); empty in SD's VAE, where only the mid blocks attend.</summary>
    public int[] AttnResolutions { get; init; } = Array.Empty<int>();
    /// <summary>Latent channels between <c>quant_conv</c> and <c>post_quant_conv</c> (LDM's <c>embed_dim</c>): latents are [N, embed_dim, h, w].</summary>
    public int EmbedDim { get; init; } = 4;
    /// <summary>Groups of every GroupNorm (32 in SD's VAE; diffusers' norm_num_groups).</summary>
    public int NormGroups { get; init; } = 32;

    /// <summary>The SD KL-f8 VAE (VideoCrafter's <c>first_stage_model</c>): 128·[1, 2, 4, 4] channels, 2 blocks per level, 4 latent channels.</summary>
    public static AutoencoderKLConfig StableDiffusion { get; } = new();
    /// <summary>Pixels per latent pixel.</summary>
    public int DownscaleFactor => 1 << (ChMult.Length - 1);
}

/// <summary>A diagonal Gaussian posterior as LDM parametrises it: moments = cat(mean, logvar) on channels.</summary>
/// <param name="Moments">quant_conv's output [N, 2·embed_dim, h, w].</param>
/// <param name="Mean">The first half of the moments [N, embed_dim, h, w].</param>
/// <param name="LogVar">The second half [N, embed_dim, h, w], clamped to [-30, 20] by <see cref="AutoencoderKL.Encode"/>.</param>
public sealed record DiagonalGaussian(Tensor Moments, Tensor Mean, Tensor LogVar) : IDisposable
{
    /// <summary>The posterior's mode: <see cref="Mean"/> itself, not a copy, so disposing the posterior disposes it too.</summary>
    public Tensor Mode() => Mean;
    /// <summary>A new latent Mean + exp(LogVar / 2)·ε, ε ~ N(0, 1) drawn from <paramref name="generator"/> (torch's default generator when null), in Mean's dtype and device.</summary>
    public Tensor Sample(Generator? generator = null)
    {
        using var scope = NewDisposeScope();
        var eps = randn(Mean.shape, Mean.dtype, Mean.device, generator: generator);
        return (Mean + (0.5 * LogVar).exp() * eps).MoveToOuterDisposeScope();
    }

    /// <summary>Disposes <see cref="Moments"/>, <see cref="Mean"/> and <see cref="LogVar"/>.</summary>
    public void Dispose()
    {
        Moments.Dispose();
        Mean.Dispose();
        LogVar.Dispose();
    }
}

/// <summary>
/// LDM's AutoencoderKL (encoder.*, decoder.*, quant_conv, post_quant_conv), state-dict compatible with
/// first_stage_model.* of LDM / VideoCrafter checkpoints. Images are [N, 3, H, W] in [-1, 1]; latents
/// are unscaled (the 0.18215 scale factor is the caller's).
/// </summary>
public sealed class AutoencoderKL : Module
{
    readonly LdmEncoder encoder;
    readonly LdmDecoder decoder;
    readonly Conv2d quant_conv;
    readonly Conv2d post_quant_conv;

    /// <summary>Builds the VAE on <paramref name="device"/> in <paramref name="dtype"/> with fresh weights; load a checkpoint's <c>first_stage_model.*</c> (prefix removed) into it.</summary>
    public AutoencoderKL(AutoencoderKLConfig config, Device? device = null, ScalarType? dtype = null) : base(nameof(AutoencoderKL))
    {
        Config = config;
        int zMoments = (config.DoubleZ ? 2 : 1) * config.ZChannels;
        encoder = new LdmEncoder(config, device, dtype);
        decoder = new LdmDecoder(config, device, dtype);
        quant_conv = Conv2d(zMoments, 2 * config.EmbedDim, 1, device: device, dtype: dtype);
        post_quant_conv = Conv2d(config.EmbedDim, config.ZChannels, 1, device: device, dtype: dtype);
        RegisterComponents();
    }

    /// <summary>The configuration it was built from.</summary>
    public AutoencoderKLConfig Config { get; }

    /// <summary>z [N, embed_dim, h, w] → image [N, out_ch, h·f, w·f] (no clamp).</summary>
    public Tensor Decode(Tensor z)
    {
        using var scope = NewDisposeScope();
        return decoder.forward(post_quant_conv.forward(z)).MoveToOuterDisposeScope();
    }

    /// <summary>image [N, in_ch, H, W] → posterior with logvar clamped to [-30, 20].</summary>
    public DiagonalGaussian Encode(Tensor image)
    {
        using var scope = NewDisposeScope();
        var moments = quant_conv.forward(encoder.forward(image));
        var halves = moments.chunk(2, dim: 1);
        var mean = halves[0].contiguous();
        var logvar = halves[1].clamp(-30.0, 20.0);
        return new DiagonalGaussian(moments.MoveToOuterDisposeScope(), mean.MoveToOuterDisposeScope(), logvar.MoveToOuterDisposeScope());
    }
}

static class VaeLayers
{
    public const double GroupNormEps = 1e-6;
    public static Fp32GroupNorm Norm(int channels, Device? device, ScalarType? dtype, int groups = 32) => new(groups, channels, GroupNormEps, device, dtype);
}

/// <summary>
/// LDM's ResnetBlock without a time embedding: <c>norm1</c>, SiLU, <c>conv1</c>, <c>norm2</c>, SiLU, <c>conv2</c> (3×3), plus
/// a 1×1 <c>nin_shortcut</c> on the skip when the channel count changes.
/// </summary>
public sealed class VaeResnetBlock : Module<Tensor, Tensor>
{
    readonly Fp32GroupNorm norm1;
    readonly Conv2d conv1;
    readonly Fp32GroupNorm norm2;
    readonly Conv2d conv2;
    readonly Conv2d? nin_shortcut;

    /// <summary>A block from <paramref name="inChannels"/> to <paramref name="outChannels"/>; both GroupNorms (eps 1e-6, float32 statistics) have <paramref name="normGroups"/> groups.</summary>
    public VaeResnetBlock(int inChannels, int outChannels, Device? device, ScalarType? dtype, int normGroups = 32) : base(nameof(VaeResnetBlock))
    {
        norm1 = VaeLayers.Norm(inChannels, device, dtype, normGroups);
        conv1 = Conv2d(inChannels, outChannels, 3, padding: 1, device: device, dtype: dtype);
        norm2 = VaeLayers.Norm(outChannels, device, dtype, normGroups);
        conv2 = Conv2d(outChannels, outChannels, 3, padding: 1, device: device, dtype: dtype);
        if (inChannels != outChannels) nin_shortcut = Conv2d(inChannels, outChannels, 1, device: device, dtype: dtype);
        RegisterComponents();
    }

    /// <summary>[N, in, H, W] → [N, out, H, W].</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = conv1.forward(norm1.ForwardSilu(x));
        h = conv2.forward(norm2.ForwardSilu(h));
        var skip = nin_shortcut is null ? x : nin_shortcut.forward(x);
        return (skip + h).MoveToOuterDisposeScope();
    }
}

/// <summary>Single-head spatial self-attention with 1×1-conv q/k/v/proj_out.</summary>
public sealed class VaeAttnBlock : Module<Tensor, Tensor>
{
    readonly Fp32GroupNorm norm;
    readonly Conv2d q, k, v, proj_out;

    /// <summary>Attention over <paramref name="channels"/> channels; its GroupNorm (eps 1e-6) has <paramref name="normGroups"/> groups.</summary>
    public VaeAttnBlock(int channels, Device? device, ScalarType? dtype, int normGroups = 32) : base(nameof(VaeAttnBlock))
    {
        norm = VaeLayers.Norm(channels, device, dtype, normGroups);
        q = Conv2d(channels, channels, 1, device: device, dtype: dtype);
        k = Conv2d(channels, channels, 1, device: device, dtype: dtype);
        v = Conv2d(channels, channels, 1, device: device, dtype: dtype);
        proj_out = Conv2d(channels, channels, 1, device: device, dtype: dtype);
        RegisterComponents();
    }

    /// <summary>x + proj_out(attention(norm x)) over all H·W pixels of each image: [N, C, H, W] → [N, C, H, W].</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], c = x.shape[1], hgt = x.shape[2], wid = x.shape[3];
        var h = norm.forward(x);
        Tensor Tokens(Conv2d proj) => proj.forward(h).reshape(b, 1, c, hgt * wid).transpose(2, 3);
        // One head over all pixels; SDPA's default scale 1/sqrt(C) is the reference's C^-0.5.
        var o = functional.scaled_dot_product_attention(Tokens(q), Tokens(k), Tokens(v));
        o = o.transpose(2, 3).reshape(b, c, hgt, wid);
        return (x + proj_out.forward(o)).MoveToOuterDisposeScope();
    }
}

/// <summary>Pads right and bottom by one (zeros), then a stride-2 3×3 conv without padding.</summary>
public sealed class VaeDownsample : Module<Tensor, Tensor>
{
    readonly Conv2d conv;

    /// <summary>A downsampler that keeps <paramref name="channels"/>.</summary>
    public VaeDownsample(int channels, Device? device, ScalarType? dtype) : base(nameof(VaeDownsample))
    {
        conv = Conv2d(channels, channels, 3, stride: 2, padding: 0L, device: device, dtype: dtype);
        RegisterComponents();
    }

    /// <summary>[N, C, H, W] → [N, C, ⌊H/2⌋, ⌊W/2⌋].</summary>
    public override Tensor forward(Tensor x)
    {
        using var padded = functional.pad(x, new long[] { 0, 1, 0, 1 });
        return conv.forward(padded);
    }
}

/// <summary>Nearest ×2 then a 3×3 conv.</summary>
public sealed class VaeUpsample : Module<Tensor, Tensor>
{
    readonly Conv2d conv;

    /// <summary>An upsampler that keeps <paramref name="channels"/>.</summary>
    public VaeUpsample(int channels, Device? device, ScalarType? dtype) : base(nameof(VaeUpsample))
    {
        conv = Conv2d(channels, channels, 3, padding: 1, device: device, dtype: dtype);
        RegisterComponents();
    }

    /// <summary>[N, C, H, W] → [N, C, 2H, 2W].</summary>
    public override Tensor forward(Tensor x)
    {
        using var up = functional.interpolate(x, scale_factor: new[] { 2.0, 2.0 }, mode: InterpolationMode.Nearest);
        return conv.forward(up);
    }
}

/// <summary>One resolution level: block.N, attn.N (when that resolution has attention), then down- or upsample.</summary>
public sealed class VaeLevel : Module<Tensor, Tensor>
{
    readonly ModuleList<VaeResnetBlock> block;
    readonly ModuleList<VaeAttnBlock> attn;
    readonly Module<Tensor, Tensor>? resample;

    /// <param name="blocks">(in, out) channels of each ResNet block, registered as <c>block.N</c>.</param>
    /// <param name="withAttention">Adds an attention block (<c>attn.N</c>) after each ResNet block.</param>
    /// <param name="resampleName">The resampler's key (<c>downsample</c> or <c>upsample</c>); null, like <paramref name="makeResample"/>, for none.</param>
    /// <param name="makeResample">Builds the resampler that ends the level.</param>
    public VaeLevel(IReadOnlyList<(int In, int Out)> blocks, bool withAttention, string? resampleName, Func<Module<Tensor, Tensor>>? makeResample,
        Device? device, ScalarType? dtype, int normGroups = 32) : base(nameof(VaeLevel))
    {
        block = new ModuleList<VaeResnetBlock>(blocks.Select(b => new VaeResnetBlock(b.In, b.Out, device, dtype, normGroups)).ToArray());
        attn = new ModuleList<VaeAttnBlock>(withAttention ? blocks.Select(b => new VaeAttnBlock(b.Out, device, dtype, normGroups)).ToArray() : Array.Empty<VaeAttnBlock>());
        RegisterComponents();
        if (resampleName is not null && makeResample is not null)
        {
            resample = makeResample();
            register_module(resampleName, resample);
        }
    }

    /// <summary>[N, in, H, W] → [N, out, H', W'], H' and W' halved or doubled when the level ends in a resampler.</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        for (int i = 0; i < block.Count; i++)
        {
            x = block[i].forward(x);
            if (attn.Count > 0) x = attn[i].forward(x);
        }
        if (resample is not null) x = resample.forward(x);
        return x.MoveToOuterDisposeScope();
    }
}

/// <summary>The mid block at the lowest resolution: <c>block_1</c>, <c>attn_1</c>, <c>block_2</c>, all at one channel count.</summary>
public sealed class VaeMidBlock : Module<Tensor, Tensor>
{
    readonly VaeResnetBlock block_1;
    readonly VaeAttnBlock attn_1;
    readonly VaeResnetBlock block_2;

    /// <summary>A mid block over <paramref name="channels"/>, its GroupNorms with <paramref name="normGroups"/> groups.</summary>
    public VaeMidBlock(int channels, Device? device, ScalarType? dtype, int normGroups = 32) : base(nameof(VaeMidBlock))
    {
        block_1 = new VaeResnetBlock(channels, channels, device, dtype, normGroups);
        attn_1 = new VaeAttnBlock(channels, device, dtype, normGroups);
        block_2 = new VaeResnetBlock(channels, channels, device, dtype, normGroups);
        RegisterComponents();
    }

    /// <summary>[N, C, h, w] → [N, C, h, w].</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return block_2.forward(attn_1.forward(block_1.forward(x))).MoveToOuterDisposeScope();
    }
}

/// <summary>LDM's Encoder (the checkpoint's <c>encoder.*</c>): <c>conv_in</c>, the <c>down.N</c> levels, <c>mid</c>, <c>norm_out</c>, SiLU, <c>conv_out</c>.</summary>
public sealed class LdmEncoder : Module<Tensor, Tensor>
{
    readonly Conv2d conv_in;
    readonly ModuleList<VaeLevel> down;
    readonly VaeMidBlock mid;
    readonly Fp32GroupNorm norm_out;
    readonly Conv2d conv_out;

    /// <summary>One level per <see cref="AutoencoderKLConfig.ChMult"/> entry; every level but the last ends in a <c>downsample</c>.</summary>
    public LdmEncoder(AutoencoderKLConfig c, Device? device, ScalarType? dtype) : base(nameof(LdmEncoder))
    {
        conv_in = Conv2d(c.InChannels, c.Ch, 3, padding: 1, device: device, dtype: dtype);
        var levels = new List<VaeLevel>();
        int resolution = c.Resolution, channels = c.Ch;
        for (int i = 0; i < c.ChMult.Length; i++)
        {
            int outChannels = c.Ch * c.ChMult[i];
            var blocks = Enumerable.Range(0, c.NumResBlocks).Select(j => (j == 0 ? channels : outChannels, outChannels)).ToList();
            bool last = i == c.ChMult.Length - 1;
            levels.Add(new VaeLevel(blocks, c.AttnResolutions.Contains(resolution), last ? null : "downsample",
                () => new VaeDownsample(outChannels, device, dtype), device, dtype, c.NormGroups));
            channels = outChannels;
            if (!last) resolution /= 2;
        }
        down = new ModuleList<VaeLevel>(levels.ToArray());
        mid = new VaeMidBlock(channels, device, dtype, c.NormGroups);
        norm_out = VaeLayers.Norm(channels, device, dtype, c.NormGroups);
        conv_out = Conv2d(channels, (c.DoubleZ ? 2 : 1) * c.ZChannels, 3, padding: 1, device: device, dtype: dtype);
        RegisterComponents();
    }

    /// <summary>Image [N, in_channels, H, W] → moments [N, 2·z_channels, H/f, W/f] (z_channels without double_z), f = <see cref="AutoencoderKLConfig.DownscaleFactor"/>.</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = conv_in.forward(x);
        foreach (var level in down) h = level.forward(h);
        h = mid.forward(h);
        return conv_out.forward(norm_out.ForwardSilu(h)).MoveToOuterDisposeScope();
    }
}

/// <summary>LDM's Decoder (the checkpoint's <c>decoder.*</c>): <c>conv_in</c>, <c>mid</c>, the <c>up.N</c> levels from the last (lowest resolution) to <c>up.0</c>, <c>norm_out</c>, SiLU, <c>conv_out</c>.</summary>
public sealed class LdmDecoder : Module<Tensor, Tensor>
{
    readonly Conv2d conv_in;
    readonly VaeMidBlock mid;
    // up.0 is the highest resolution, but runs last.
    readonly ModuleList<VaeLevel> up;
    readonly Fp32GroupNorm norm_out;
    readonly Conv2d conv_out;

    /// <summary>One level per <see cref="AutoencoderKLConfig.ChMult"/> entry with num_res_blocks + 1 blocks; every level but <c>up.0</c> ends in an <c>upsample</c>.</summary>
    public LdmDecoder(AutoencoderKLConfig c, Device? device, ScalarType? dtype) : base(nameof(LdmDecoder))
    {
        int levelsCount = c.ChMult.Length;
        int channels = c.Ch * c.ChMult[^1];
        int resolution = c.Resolution >> (levelsCount - 1);
        conv_in = Conv2d(c.ZChannels, channels, 3, padding: 1, device: device, dtype: dtype);
        mid = new VaeMidBlock(channels, device, dtype, c.NormGroups);
        var levels = new VaeLevel[levelsCount];
        for (int i = levelsCount - 1; i >= 0; i--)
        {
            int outChannels = c.Ch * c.ChMult[i];
            var blocks = Enumerable.Range(0, c.NumResBlocks + 1).Select(j => (j == 0 ? channels : outChannels, outChannels)).ToList();
            levels[i] = new VaeLevel(blocks, c.AttnResolutions.Contains(resolution), i == 0 ? null : "upsample",
                () => new VaeUpsample(outChannels, device, dtype), device, dtype, c.NormGroups);
            channels = outChannels;
            if (i != 0) resolution *= 2;
        }
        up = new ModuleList<VaeLevel>(levels);
        norm_out = VaeLayers.Norm(channels, device, dtype, c.NormGroups);
        conv_out = Conv2d(channels, c.OutCh, 3, padding: 1, device: device, dtype: dtype);
        RegisterComponents();
    }

    /// <summary>[N, z_channels, h, w] → image [N, out_ch, h·f, w·f], not clamped.</summary>
    public override Tensor forward(Tensor z)
    {
        using var scope = NewDisposeScope();
        var h = mid.forward(conv_in.forward(z));
        for (int i = up.Count - 1; i >= 0; i--) h = up[i].forward(h);
        return conv_out.forward(norm_out.ForwardSilu(h)).MoveToOuterDisposeScope();
    }
}
