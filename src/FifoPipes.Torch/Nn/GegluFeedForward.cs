using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace FifoPipes.Torch.Nn;

/// <summary>GEGLU: <c>proj</c> to 2·inner, then value · gelu(gate) with the exact erf GELU (value is the first half).</summary>
public sealed class Geglu : Module<Tensor, Tensor>
{
    readonly Linear proj;

    /// <summary><c>proj</c> maps <paramref name="dimIn"/> to 2·<paramref name="dimOut"/>: the value's rows, then the gate's.</summary>
    public Geglu(long dimIn, long dimOut, Device? device = null, ScalarType? dtype = null) : base(nameof(Geglu))
    {
        proj = Linear(dimIn, dimOut * 2, hasBias: true, device: device, dtype: dtype);
        register_module("proj", proj);
    }

    /// <summary>Gate through <see cref="PointwiseScript"/> (one fused pass on CUDA; a GPU speed candidate, off by default).</summary>
    public bool Scripted { get; set; }

    /// <summary>[..., dimIn] → [..., dimOut].</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        // Value and gate as two products over the halves of proj (contiguous row blocks of the weight), so the
        // gating reads two contiguous tensors rather than strided halves of one twice as wide: measured on an H100
        // for [655360, 320] bf16 tokens (docs/gpu.md).
        long inner = proj.weight!.shape[0] / 2;
        var value = functional.linear(x, proj.weight.narrow(0, 0, inner), proj.bias?.narrow(0, 0, inner));
        var gate = functional.linear(x, proj.weight.narrow(0, inner, inner), proj.bias?.narrow(0, inner, inner));
        var gated = Scripted ? PointwiseScript.GeluGate(value, gate) : functional.gelu(gate).mul_(value);
        return gated.MoveToOuterDisposeScope();
    }
}

/// <summary>
/// The LDM / diffusers gated feed-forward: <c>net.0</c> = GEGLU(dim → mult·dim), <c>net.2</c> = Linear(mult·dim → dim).
/// Index 1 is a parameterless dropout in the reference and is absent here.
/// </summary>
public sealed class GegluFeedForward : Module<Tensor, Tensor>
{
    readonly Sequential net;

    /// <summary>[..., dim] through GEGLU to <paramref name="mult"/>·dim and a Linear back to dim.</summary>
    public GegluFeedForward(long dim, int mult = 4, Device? device = null, ScalarType? dtype = null) : base(nameof(GegluFeedForward))
    {
        long inner = dim * mult;
        net = Sequential(
            ("0", new Geglu(dim, inner, device, dtype)),
            ("2", Linear(inner, dim, hasBias: true, device: device, dtype: dtype)));
        register_module("net", net);
    }

    /// <summary>[..., dim] → [..., dim].</summary>
    public override Tensor forward(Tensor x) => net.forward(x);
}
