using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FifoPipes.Torch.Nn;

/// <summary>
/// TorchSharp's LayerNorm with torch's initial values (weight = 1, bias = 0). TorchSharp 0.107 allocates
/// norm affine parameters with <c>empty</c> and never fills them, so a freshly built model would hold
/// garbage (NaN included) until a checkpoint is loaded. GroupNorms are <see cref="Fp32GroupNorm"/>.
/// </summary>
public static class Norms
{
    /// <summary>A LayerNorm over the last <paramref name="dim"/> features with weight 1 and bias 0 (left unfilled on the meta device, which has no memory).</summary>
    public static LayerNorm LayerNorm(long dim, double eps, Device? device = null, ScalarType? dtype = null)
    {
        var norm = nn.LayerNorm(dim, eps, elementwise_affine: true, device: device, dtype: dtype);
        ResetAffine(norm.weight, norm.bias);
        return norm;
    }

    static void ResetAffine(Tensor? weight, Tensor? bias)
    {
        if (weight is null || weight.device_type == DeviceType.META) return;
        using var noGrad = no_grad();
        weight.fill_(1);
        bias?.fill_(0);
    }
}
