using FifoPipes.Torch.Nn;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace FifoPipes.Torch.UNets;

/// <summary>
/// The reference's <c>nn.Sequential(GroupNorm32, SiLU, [Dropout,] conv)</c>: the norm at key <c>0</c>, the conv at its
/// checkpoint index (<c>2</c>, or <c>3</c> after a dropout), so the keys are the Sequential's. Written out instead of
/// a Sequential so the norm and the SiLU run as one step (<see cref="Fp32GroupNorm.ForwardSilu"/>).
/// </summary>
public sealed class NormSiluConv : Module<Tensor, Tensor>
{
    // Not module fields: TorchSharp would register those under the field names as well, beside the keys below.
    readonly (Fp32GroupNorm Norm, Module<Tensor, Tensor> Conv) layers;

    /// <summary>Registers <paramref name="norm"/> as <c>0</c> and <paramref name="conv"/> as <paramref name="convKey"/>.</summary>
    /// <param name="convKey">The conv's index in the reference Sequential: "2", or "3" after a dropout.</param>
    public NormSiluConv(Fp32GroupNorm norm, string convKey, Module<Tensor, Tensor> conv) : base(nameof(NormSiluConv))
    {
        layers = (norm, conv);
        register_module("0", norm);
        register_module(convKey, conv);
    }

    /// <summary>conv(silu(norm(x))): [N, C, ...] → the conv's output.</summary>
    public override Tensor forward(Tensor x)
    {
        using var activated = layers.Norm.ForwardSilu(x);
        return layers.Conv.forward(activated);
    }
}
