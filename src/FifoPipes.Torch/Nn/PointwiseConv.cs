using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using TorchSharp.Modules;

namespace FifoPipes.Torch.Nn;

/// <summary>
/// A 1×1 (Conv1d/Conv2d, kernel 1) projection applied to channel-last tokens [..., in]. It holds the
/// conv-shaped <c>weight</c> [out, in, 1(, 1)] so checkpoints load unchanged, and computes the same
/// values as the conv without moving channels to the front and back.
/// </summary>
public sealed class PointwiseConv : Module<Tensor, Tensor>
{
    readonly Parameter weight;
    readonly Parameter bias;

    /// <param name="spatialDims">1 for a Conv1d weight [out, in, 1], 2 for a Conv2d weight [out, in, 1, 1].</param>
    public PointwiseConv(long inChannels, long outChannels, int spatialDims, Device? device = null, ScalarType? dtype = null)
        : base(nameof(PointwiseConv))
    {
        if (spatialDims is < 1 or > 3) throw new ArgumentOutOfRangeException(nameof(spatialDims));
        var shape = new[] { outChannels, inChannels }.Concat(Enumerable.Repeat(1L, spatialDims)).ToArray();
        // Same init as Linear/Conv (kaiming-uniform weight, uniform bias); loaded checkpoints overwrite it.
        weight = new Parameter(empty(shape, dtype: dtype, device: device));
        bias = new Parameter(empty(new[] { outChannels }, dtype: dtype, device: device));
        if (weight.device_type != DeviceType.META)
        {
            using var noGrad = no_grad();
            init.kaiming_uniform_(weight, Math.Sqrt(5));
            double bound = 1 / Math.Sqrt(inChannels);
            init.uniform_(bias, -bound, bound);
        }
        register_parameter("weight", weight);
        register_parameter("bias", bias);
    }

    /// <summary>Channel-last tokens [..., in] → [..., out]: what the 1×1 conv gives, computed as a Linear on the flattened weight.</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return functional.linear(x, weight.flatten(1), bias).MoveToOuterDisposeScope();
    }
}
