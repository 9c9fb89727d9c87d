using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace FifoPipes.Torch.UNets;

/// <summary>Per-frame 2× downsampling: <c>op</c> = Conv2d 3×3, stride 2, padding 1.</summary>
public sealed class Downsample : Module<Tensor, Tensor>
{
    readonly Conv2d op;

    /// <summary>A downsampler that keeps <paramref name="channels"/>.</summary>
    public Downsample(int channels, Device? device = null, ScalarType? dtype = null) : base(nameof(Downsample))
    {
        op = Conv2d(channels, channels, 3, stride: 2, padding: 1, device: device, dtype: dtype);
        register_module("op", op);
    }

    /// <summary>[N, C, H, W] → [N, C, ⌈H/2⌉, ⌈W/2⌉].</summary>
    public override Tensor forward(Tensor x) => op.forward(x);
}

/// <summary>
/// Per-frame 2× upsampling: nearest neighbour, then <c>conv</c> = Conv2d 3×3, padding 1. Inside a UNet
/// block it resizes to <see cref="FrameConditioning.UpsampleSize"/> when the UNet sets one (odd latent sizes).
/// </summary>
public sealed class Upsample : Module<Tensor, Tensor>, IFrameLayer
{
    readonly Conv2d conv;

    /// <summary>An upsampler that keeps <paramref name="channels"/>.</summary>
    public Upsample(int channels, Device? device = null, ScalarType? dtype = null) : base(nameof(Upsample))
    {
        conv = Conv2d(channels, channels, 3, padding: 1, device: device, dtype: dtype);
        register_module("conv", conv);
    }

    /// <summary>[N, C, H, W] → [N, C, 2H, 2W].</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var up = functional.interpolate(x, scale_factor: new[] { 2.0, 2.0 }, mode: InterpolationMode.Nearest);
        return conv.forward(up).MoveToOuterDisposeScope();
    }

    /// <summary>As forward, but to <see cref="FrameConditioning.UpsampleSize"/> instead of ×2 when the UNet sets one.</summary>
    public Tensor Forward(Tensor h, FrameConditioning cond)
    {
        if (cond.UpsampleSize is not { } size) return forward(h);
        using var scope = NewDisposeScope();
        var up = functional.interpolate(h, size: new[] { size.Height, size.Width }, mode: InterpolationMode.Nearest);
        return conv.forward(up).MoveToOuterDisposeScope();
    }
}
