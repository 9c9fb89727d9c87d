using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using TorchSharp.Modules;

namespace FifoPipes.Torch.Nn;

/// <summary>
/// GroupNorm whose statistics are computed in float32 and whose result is cast back to the input
/// dtype (LDM's GroupNorm32): in bf16/fp16 the variance of a large group loses too many bits.
/// Parameters are named <c>weight</c> and <c>bias</c> like torch.nn.GroupNorm.
/// </summary>
public sealed class Fp32GroupNorm : Module<Tensor, Tensor>
{
    readonly Parameter weight;
    readonly Parameter bias;

    /// <summary>A GroupNorm of <paramref name="channels"/> in <paramref name="groups"/> groups, weight 1 and bias 0 until loaded.</summary>
    /// <exception cref="ArgumentException">The channels do not split into the groups.</exception>
    public Fp32GroupNorm(long groups, long channels, double eps = 1e-5, Device? device = null, ScalarType? dtype = null)
        : base(nameof(Fp32GroupNorm))
    {
        if (channels % groups != 0)
            throw new ArgumentException($"GroupNorm: {channels} channels do not split into {groups} groups.");
        Groups = groups;
        Eps = eps;
        weight = new Parameter(ones(new[] { channels }, dtype: dtype, device: device));
        bias = new Parameter(zeros(new[] { channels }, dtype: dtype, device: device));
        register_parameter("weight", weight);
        register_parameter("bias", bias);
    }

    /// <summary>Channel groups the statistics are taken over.</summary>
    public long Groups { get; }
    /// <summary>Added to the variance: 1e-5 in the UNet's ResBlocks and output, 1e-6 in its transformers and in the VAE.</summary>
    public double Eps { get; }

    /// <summary>
    /// Normalise through <see cref="PointwiseScript"/>, which CUDA runs as statistics plus one fused pass (a GPU speed
    /// candidate, off by default; see docs/gpu.md).
    /// </summary>
    public bool Scripted { get; set; }

    /// <summary>[N, C, ...] → the same shape and dtype, normalised per sample and group.</summary>
    public override Tensor forward(Tensor x) => Scripted ? PointwiseScript.GroupNorm(x, weight, bias, Groups, Eps) : Native(x);

    /// <summary>silu(norm(x)), the pair every ResBlock and temporal conv stage starts with; one pass less when <see cref="Scripted"/>.</summary>
    public Tensor ForwardSilu(Tensor x)
    {
        if (Scripted) return PointwiseScript.GroupNorm(x, weight, bias, Groups, Eps, silu: true);
        // The norm's result is always a tensor of its own, so SiLU can overwrite it rather than allocate another.
        var normed = Native(x);
        normed.silu_();
        return normed;
    }

    Tensor Native(Tensor x)
    {
        // CUDA's group_norm already accumulates half types in float32 (acc_type) and rounds once on output, so the
        // casts would only add three passes over the tensor: measured on an H100, bf16 [256, 320, 40, 64] took
        // 0.97 ms natively and 2.31 ms with the casts, the results within one bf16 step of each other.
        if (x.dtype == weight.dtype && (x.dtype == ScalarType.Float32 || x.device_type == DeviceType.CUDA))
            return functional.group_norm(x, Groups, weight, bias, Eps);
        using var scope = NewDisposeScope();
        var y = functional.group_norm(x.to(ScalarType.Float32), Groups, weight.to(ScalarType.Float32), bias.to(ScalarType.Float32), Eps);
        return y.to(x.dtype).MoveToOuterDisposeScope();
    }
}
