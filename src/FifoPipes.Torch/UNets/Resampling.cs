using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace FifoPipes.Torch.UNets;

/// <summary>Per-frame 2× downsampling: <c>op</c> = Conv2d 3×3, stride 2, padding 1.</summary>
public sealed class Downsample : Module<Tensor, Tensor>
{
    readonly Conv2d op;

    public Downsample(int channels, Device? device = null, ScalarType? dtype = null) : base(nameof(Downsample))
    {
        op = Conv2d(channels, channels, 3, stride: 2, padding: 1, device: device, dtype: dtype);
        register_module("op", op);
    }

    public override Tensor forward(Tensor x) => op.forward(x);
}

/// <summary>
/// Per-frame 2× upsampling: nearest neighbour, then <c>conv</c> = Conv2d 3×3, padding 1. Inside a UNet
/// block it resizes to <see cref="FrameConditioning.UpsampleSize"/> when the UNet sets one (odd latent sizes).
/// </summary>
public sealed class Upsample : Module<Tensor, Tensor>, IFrameLayer
{
    readonly Conv2d conv;

    public Upsample(int channels, Device? device = null, ScalarType? dtype = null) : base(nameof(Upsample))
    {
        conv = Conv2d(channels, channels, 3, padding: 1, device: device, dtype: dtype);
        register_module("conv", conv);
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var up = functional.interpolate(x, scale_factor: new[] { 2.0, 2.0 }, mode: InterpolationMode.Nearest);
        return conv.forward(up).MoveToOuterDisposeScope();
    }

    public Tensor Forward(Tensor h, FrameConditioning cond)
    {
        if (cond.UpsampleSize is not { } size) return forward(h);
        using var scope = NewDisposeScope();
        var up = functional.interpolate(h, size: new[] { size.Height, size.Width }, mode: InterpolationMode.Nearest);
        return conv.forward(up).MoveToOuterDisposeScope();
    }
}
