using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FifoPipes.Torch.Nn;

/// <summary>
/// TorchSharp's GroupNorm/LayerNorm with torch's initial values. TorchSharp 0.107 allocates the
/// affine parameters of GroupNorm with <c>empty</c> and never fills them, so a freshly built model
/// holds garbage (NaN included) until a checkpoint is loaded; these factories set weight = 1, bias = 0.
/// </summary>
public static class Norms
{
    public static GroupNorm GroupNorm(long groups, long channels, double eps, Device? device = null, ScalarType? dtype = null)
    {
        var norm = nn.GroupNorm(groups, channels, eps, affine: true, device: device, dtype: dtype);
        ResetAffine(norm.weight, norm.bias);
        return norm;
    }

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
