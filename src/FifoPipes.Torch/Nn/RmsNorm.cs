using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace FifoPipes.Torch.Nn;

/// <summary>
/// Root-mean-square norm with a learned <c>weight</c> and no bias or mean subtraction (T5's LayerNorm;
/// TorchSharp has none). The statistic is taken in float32 whatever the input dtype, and the normalised
/// value is cast to the weight's dtype before scaling, as HF's T5LayerNorm does.
/// </summary>
public sealed class RmsNorm : Module<Tensor, Tensor>
{
    readonly Parameter weight;

    /// <summary>Over the last <paramref name="dim"/> features; weight 1 until loaded.</summary>
    public RmsNorm(long dim, double eps = 1e-6, Device? device = null, ScalarType? dtype = null) : base(nameof(RmsNorm))
    {
        Eps = eps;
        weight = new Parameter(ones(new[] { dim }, dtype: dtype, device: device), requires_grad: false);
        register_parameter("weight", weight);
    }

    /// <summary>Added to the mean square before the reciprocal square root.</summary>
    public double Eps { get; }

    /// <summary>[..., dim] → [..., dim] in the weight's dtype.</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var wide = x.to(ScalarType.Float32);
        var normed = wide * rsqrt(wide.pow(2).mean(new long[] { -1 }, keepdim: true) + Eps);
        return (weight * normed.to(weight.dtype)).MoveToOuterDisposeScope();
    }
}
