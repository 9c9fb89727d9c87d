using FifoPipes.Torch.Nn;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace FifoPipes.Models.OpenSoraPlan.Vae;

/// <summary>Shared pieces of the CausalVAE layers. Videos are [B, C, T, H, W] throughout.</summary>
static class VaeOps
{
    public const int NormGroups = 32;
    public const double NormEps = 1e-6;

    /// <summary>GroupNorm(32, eps 1e-6); on 5-D input its statistics span time as well as space.</summary>
    public static Fp32GroupNorm Norm(long channels, Device? device, ScalarType? dtype) => new(NormGroups, channels, NormEps, device, dtype);

    /// <summary>[B, C, T, H, W] → [(B·T), C, H, W].</summary>
    public static Tensor Frames(Tensor video) =>
        video.permute(0, 2, 1, 3, 4).reshape(video.shape[0] * video.shape[2], video.shape[1], video.shape[3], video.shape[4]);

    /// <summary>[(B·T), C, H, W] → [B, C, T, H, W].</summary>
    public static Tensor Video(Tensor frames, long batch) =>
        frames.view(batch, frames.shape[0] / batch, frames.shape[1], frames.shape[2], frames.shape[3]).permute(0, 2, 1, 3, 4);

    /// <summary>Prepends <paramref name="count"/> copies of frame 0 on the time axis (the "causal" padding).</summary>
    public static Tensor PadFront(Tensor video, long count)
    {
        if (count == 0) return video;
        var first = video.narrow(2, 0, 1).expand(-1, -1, count, -1, -1);
        return cat(new[] { first, video }, 2);
    }
}

/// <summary>Open-Sora Plan's CausalConv3d: k_t − 1 copies of frame 0 in front, then <c>conv</c> (Conv3d, no time padding).</summary>
public sealed class CausalConv3d : Module<Tensor, Tensor>
{
    readonly Conv3d conv;
    readonly long timeKernel;

    public CausalConv3d(long inChannels, long outChannels, (long T, long H, long W) kernel, (long H, long W) padding,
        Device? device = null, ScalarType? dtype = null) : base(nameof(CausalConv3d))
    {
        timeKernel = kernel.T;
        conv = Conv3d(inChannels, outChannels, kernel, padding: (0L, padding.H, padding.W), device: device, dtype: dtype);
        register_module("conv", conv);
    }

    public static CausalConv3d Cube(long inChannels, long outChannels, long kernel, Device? device, ScalarType? dtype) =>
        new(inChannels, outChannels, (kernel, kernel, kernel), (kernel / 2, kernel / 2), device, dtype);

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return conv.forward(VaeOps.PadFront(x, timeKernel - 1)).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// ResnetBlock2D / ResnetBlock3D: GN → SiLU → conv1 → GN → SiLU → conv2, plus <c>nin_shortcut</c> (1×1) when
/// the width changes. The 2-D block runs frame by frame (Conv2d keys, GroupNorm statistics per frame);
/// the 3-D block uses CausalConv3d and normalises over the whole clip.
/// </summary>
public sealed class VaeResnetBlock : Module<Tensor, Tensor>
{
    readonly Fp32GroupNorm norm1;
    readonly Module<Tensor, Tensor> conv1;
    readonly Fp32GroupNorm norm2;
    readonly Module<Tensor, Tensor> conv2;
    readonly Module<Tensor, Tensor>? nin_shortcut;
    readonly bool perFrame;

    public VaeResnetBlock(long inChannels, long outChannels, bool perFrame, Device? device = null, ScalarType? dtype = null) : base(nameof(VaeResnetBlock))
    {
        this.perFrame = perFrame;
        Module<Tensor, Tensor> Conv(long cin, long cout, long k) => perFrame
            ? Conv2d(cin, cout, k, padding: k / 2, device: device, dtype: dtype)
            : CausalConv3d.Cube(cin, cout, k, device, dtype);
        norm1 = VaeOps.Norm(inChannels, device, dtype);
        conv1 = Conv(inChannels, outChannels, 3);
        norm2 = VaeOps.Norm(outChannels, device, dtype);
        conv2 = Conv(outChannels, outChannels, 3);
        register_module("norm1", norm1);
        register_module("conv1", conv1);
        register_module("norm2", norm2);
        register_module("conv2", conv2);
        if (inChannels != outChannels)
        {
            nin_shortcut = Conv(inChannels, outChannels, 1);
            register_module("nin_shortcut", nin_shortcut);
        }
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var input = perFrame ? VaeOps.Frames(x) : x;
        var h = conv1.forward(norm1.ForwardSilu(input));
        h = conv2.forward(norm2.ForwardSilu(h));
        var skip = nin_shortcut is null ? input : nin_shortcut.forward(input);
        var y = skip + h;
        return (perFrame ? VaeOps.Video(y, x.shape[0]) : y).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// AttnBlock3DFix: single-head attention over the pixels of each frame (scale C^−½), q/k/v/proj_out are
/// 1×1×1 CausalConv3d, residual.
/// </summary>
public sealed class VaeAttentionBlock : Module<Tensor, Tensor>
{
    readonly Fp32GroupNorm norm;
    readonly CausalConv3d q;
    readonly CausalConv3d k;
    readonly CausalConv3d v;
    readonly CausalConv3d proj_out;

    public VaeAttentionBlock(long channels, Device? device = null, ScalarType? dtype = null) : base(nameof(VaeAttentionBlock))
    {
        norm = VaeOps.Norm(channels, device, dtype);
        q = CausalConv3d.Cube(channels, channels, 1, device, dtype);
        k = CausalConv3d.Cube(channels, channels, 1, device, dtype);
        v = CausalConv3d.Cube(channels, channels, 1, device, dtype);
        proj_out = CausalConv3d.Cube(channels, channels, 1, device, dtype);
        register_module("norm", norm);
        register_module("q", q);
        register_module("k", k);
        register_module("v", v);
        register_module("proj_out", proj_out);
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], c = x.shape[1], t = x.shape[2], h = x.shape[3], w = x.shape[4];
        var normed = norm.forward(x);
        // [B, C, T, H, W] → [(B·T), 1, H·W, C]: one head whose tokens are the pixels of a frame.
        Tensor Tokens(Tensor y) => y.permute(0, 2, 3, 4, 1).reshape(b * t, 1, h * w, c);
        var o = functional.scaled_dot_product_attention(Tokens(q.forward(normed)), Tokens(k.forward(normed)), Tokens(v.forward(normed)));
        var mixed = o.view(b, t, h, w, c).permute(0, 4, 1, 2, 3);
        return (x + proj_out.forward(mixed)).MoveToOuterDisposeScope();
    }
}

/// <summary>Downsample: per frame, zero-pad right and bottom by 1, then <c>conv</c> Conv2d(k3, s2, p0).</summary>
public sealed class VaeSpatialDownsample : Module<Tensor, Tensor>
{
    readonly Conv2d conv;

    public VaeSpatialDownsample(long channels, Device? device = null, ScalarType? dtype = null) : base(nameof(VaeSpatialDownsample))
    {
        conv = Conv2d(channels, channels, 3, stride: 2, padding: 0L, device: device, dtype: dtype);
        register_module("conv", conv);
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var frames = functional.pad(VaeOps.Frames(x), new long[] { 0, 1, 0, 1 });
        return VaeOps.Video(conv.forward(frames), x.shape[0]).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// TimeDownsampleRes2x: after two copies of frame 0 in front, σ(mix)·AvgPool(3, stride 2) + (1 − σ(mix))·<c>conv</c>
/// (a plain Conv3d, k3, stride (2, 1, 1), pad (0, 1, 1)); T → ⌊(T − 1)/2⌋ + 1.
/// </summary>
public sealed class VaeTimeDownsample : Module<Tensor, Tensor>
{
    readonly Parameter mix_factor;
    readonly Conv3d conv;

    public VaeTimeDownsample(long channels, Device? device = null, ScalarType? dtype = null) : base(nameof(VaeTimeDownsample))
    {
        mix_factor = new Parameter(full(new long[] { 1 }, 2.0, dtype: dtype, device: device), requires_grad: false);
        conv = Conv3d(channels, channels, (3L, 3L, 3L), stride: (2L, 1L, 1L), padding: (0L, 1L, 1L), device: device, dtype: dtype);
        register_parameter("mix_factor", mix_factor);
        register_module("conv", conv);
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var alpha = sigmoid(mix_factor);
        var padded = VaeOps.PadFront(x, 2);
        var pooled = functional.avg_pool3d(padded, new long[] { 3, 1, 1 }, new long[] { 2, 1, 1 });
        return (alpha * pooled + (1 - alpha) * conv.forward(padded)).MoveToOuterDisposeScope();
    }
}

/// <summary>SpatialUpsample2x: nearest ×2 on H and W, then <c>conv</c> CausalConv3d(k (1, 3, 3), pad 1).</summary>
public sealed class VaeSpatialUpsample : Module<Tensor, Tensor>
{
    readonly CausalConv3d conv;

    public VaeSpatialUpsample(long channels, Device? device = null, ScalarType? dtype = null) : base(nameof(VaeSpatialUpsample))
    {
        conv = new CausalConv3d(channels, channels, (1, 3, 3), (1, 1), device, dtype);
        register_module("conv", conv);
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var up = functional.interpolate(VaeOps.Frames(x), scale_factor: new[] { 2.0, 2.0 }, mode: InterpolationMode.Nearest);
        return conv.forward(VaeOps.Video(up, x.shape[0])).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// TimeUpsampleRes2x: keep frame 0, linearly resample frames 1… to twice as many (trilinear, align_corners
/// false), then σ(mix)·x + (1 − σ(mix))·<c>conv</c>(x) with a CausalConv3d k3; T → 2T − 1.
/// </summary>
public sealed class VaeTimeUpsample : Module<Tensor, Tensor>
{
    readonly Parameter mix_factor;
    readonly CausalConv3d conv;

    public VaeTimeUpsample(long channels, Device? device = null, ScalarType? dtype = null) : base(nameof(VaeTimeUpsample))
    {
        mix_factor = new Parameter(full(new long[] { 1 }, 2.0, dtype: dtype, device: device), requires_grad: false);
        conv = CausalConv3d.Cube(channels, channels, 3, device, dtype);
        register_parameter("mix_factor", mix_factor);
        register_module("conv", conv);
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var alpha = sigmoid(mix_factor);
        if (x.shape[2] > 1)
        {
            var rest = functional.interpolate(x.narrow(2, 1, x.shape[2] - 1), scale_factor: new[] { 2.0, 1.0, 1.0 },
                mode: InterpolationMode.Trilinear, align_corners: false);
            x = cat(new[] { x.narrow(2, 0, 1), rest }, 2);
        }
        return (alpha * x + (1 - alpha) * conv.forward(x)).MoveToOuterDisposeScope();
    }
}
