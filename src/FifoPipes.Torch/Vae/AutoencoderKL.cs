using FifoPipes.Torch.Nn;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace FifoPipes.Torch.Vae;

/// <summary>LDM's ddconfig plus embed_dim (defaults: the SD KL-f8 VAE that VideoCrafter uses).</summary>
public sealed record AutoencoderKLConfig
{
    public int Ch { get; init; } = 128;
    public int[] ChMult { get; init; } = { 1, 2, 4, 4 };
    public int NumResBlocks { get; init; } = 2;
    public int ZChannels { get; init; } = 4;
    public bool DoubleZ { get; init; } = true;
    public int InChannels { get; init; } = 3;
    public int OutCh { get; init; } = 3;
    /// <summary>Only decides at which levels attention blocks exist (with <see cref="AttnResolutions"/>).</summary>
    public int Resolution { get; init; } = 256;
    public int[] AttnResolutions { get; init; } = Array.Empty<int>();
    public int EmbedDim { get; init; } = 4;
    /// <summary>Groups of every GroupNorm (32 in SD's VAE; diffusers' norm_num_groups).</summary>
    public int NormGroups { get; init; } = 32;

    public static AutoencoderKLConfig StableDiffusion { get; } = new();
    /// <summary>Pixels per latent pixel.</summary>
    public int DownscaleFactor => 1 << (ChMult.Length - 1);
}

/// <summary>A diagonal Gaussian posterior as LDM parametrises it: moments = cat(mean, logvar) on channels.</summary>
public sealed record DiagonalGaussian(Tensor Moments, Tensor Mean, Tensor LogVar) : IDisposable
{
    public Tensor Mode() => Mean;
    public Tensor Sample(Generator? generator = null)
    {
        using var scope = NewDisposeScope();
        var eps = randn(Mean.shape, Mean.dtype, Mean.device, generator: generator);
        return (Mean + (0.5 * LogVar).exp() * eps).MoveToOuterDisposeScope();
    }

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

public sealed class VaeResnetBlock : Module<Tensor, Tensor>
{
    readonly Fp32GroupNorm norm1;
    readonly Conv2d conv1;
    readonly Fp32GroupNorm norm2;
    readonly Conv2d conv2;
    readonly Conv2d? nin_shortcut;

    public VaeResnetBlock(int inChannels, int outChannels, Device? device, ScalarType? dtype, int normGroups = 32) : base(nameof(VaeResnetBlock))
    {
        norm1 = VaeLayers.Norm(inChannels, device, dtype, normGroups);
        conv1 = Conv2d(inChannels, outChannels, 3, padding: 1, device: device, dtype: dtype);
        norm2 = VaeLayers.Norm(outChannels, device, dtype, normGroups);
        conv2 = Conv2d(outChannels, outChannels, 3, padding: 1, device: device, dtype: dtype);
        if (inChannels != outChannels) nin_shortcut = Conv2d(inChannels, outChannels, 1, device: device, dtype: dtype);
        RegisterComponents();
    }

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

    public VaeAttnBlock(int channels, Device? device, ScalarType? dtype, int normGroups = 32) : base(nameof(VaeAttnBlock))
    {
        norm = VaeLayers.Norm(channels, device, dtype, normGroups);
        q = Conv2d(channels, channels, 1, device: device, dtype: dtype);
        k = Conv2d(channels, channels, 1, device: device, dtype: dtype);
        v = Conv2d(channels, channels, 1, device: device, dtype: dtype);
        proj_out = Conv2d(channels, channels, 1, device: device, dtype: dtype);
        RegisterComponents();
    }

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

    public VaeDownsample(int channels, Device? device, ScalarType? dtype) : base(nameof(VaeDownsample))
    {
        conv = Conv2d(channels, channels, 3, stride: 2, padding: 0L, device: device, dtype: dtype);
        RegisterComponents();
    }

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

    public VaeUpsample(int channels, Device? device, ScalarType? dtype) : base(nameof(VaeUpsample))
    {
        conv = Conv2d(channels, channels, 3, padding: 1, device: device, dtype: dtype);
        RegisterComponents();
    }

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

public sealed class VaeMidBlock : Module<Tensor, Tensor>
{
    readonly VaeResnetBlock block_1;
    readonly VaeAttnBlock attn_1;
    readonly VaeResnetBlock block_2;

    public VaeMidBlock(int channels, Device? device, ScalarType? dtype, int normGroups = 32) : base(nameof(VaeMidBlock))
    {
        block_1 = new VaeResnetBlock(channels, channels, device, dtype, normGroups);
        attn_1 = new VaeAttnBlock(channels, device, dtype, normGroups);
        block_2 = new VaeResnetBlock(channels, channels, device, dtype, normGroups);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return block_2.forward(attn_1.forward(block_1.forward(x))).MoveToOuterDisposeScope();
    }
}

public sealed class LdmEncoder : Module<Tensor, Tensor>
{
    readonly Conv2d conv_in;
    readonly ModuleList<VaeLevel> down;
    readonly VaeMidBlock mid;
    readonly Fp32GroupNorm norm_out;
    readonly Conv2d conv_out;

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

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = conv_in.forward(x);
        foreach (var level in down) h = level.forward(h);
        h = mid.forward(h);
        return conv_out.forward(norm_out.ForwardSilu(h)).MoveToOuterDisposeScope();
    }
}

public sealed class LdmDecoder : Module<Tensor, Tensor>
{
    readonly Conv2d conv_in;
    readonly VaeMidBlock mid;
    // up.0 is the highest resolution, but runs last.
    readonly ModuleList<VaeLevel> up;
    readonly Fp32GroupNorm norm_out;
    readonly Conv2d conv_out;

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

    public override Tensor forward(Tensor z)
    {
        using var scope = NewDisposeScope();
        var h = mid.forward(conv_in.forward(z));
        for (int i = up.Count - 1; i >= 0; i--) h = up[i].forward(h);
        return conv_out.forward(norm_out.ForwardSilu(h)).MoveToOuterDisposeScope();
    }
}
