using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace FifoPipes.Models.OpenSoraPlan.Latte;

/// <summary>
/// diffusers' Attention as Latte configures it (<c>attention_bias</c>: biases on to_q/to_k/to_v and to_out.0),
/// scale headDim^-½, with an optional additive bias on the scores (the cross-attention mask). The temporal blocks'
/// batch is rows·patches sequences (1,024 patches a frame at 512²), so it goes in CUDA-launchable slices like the UNets'.
/// </summary>
public sealed class LatteAttention : Module<Tensor, Tensor?, Tensor?, Tensor>
{
    readonly Linear to_q;
    readonly Linear to_k;
    readonly Linear to_v;
    readonly Sequential to_out;
    readonly int heads;
    readonly int headDim;

    public LatteAttention(long queryDim, long contextDim, int heads, int headDim, Device? device = null, ScalarType? dtype = null)
        : base(nameof(LatteAttention))
    {
        this.heads = heads;
        this.headDim = headDim;
        long inner = (long)heads * headDim;
        to_q = Linear(queryDim, inner, hasBias: true, device: device, dtype: dtype);
        to_k = Linear(contextDim, inner, hasBias: true, device: device, dtype: dtype);
        to_v = Linear(contextDim, inner, hasBias: true, device: device, dtype: dtype);
        to_out = Sequential(("0", Linear(inner, queryDim, hasBias: true, device: device, dtype: dtype)));
        register_module("to_q", to_q);
        register_module("to_k", to_k);
        register_module("to_v", to_v);
        register_module("to_out", to_out);
    }

    /// <param name="x">Queries [N, Lq, d].</param>
    /// <param name="context">Keys/values source [N, Lk, c]; null for self-attention.</param>
    /// <param name="scoreBias">Additive bias broadcastable to [N, heads, Lq, Lk] (e.g. [N, 1, 1, Lk]); null for none.</param>
    public override Tensor forward(Tensor x, Tensor? context, Tensor? scoreBias)
    {
        using var scope = NewDisposeScope();
        var source = context ?? x;
        long n = x.shape[0], lq = x.shape[1];
        var q = SplitHeads(to_q.forward(x));
        var k = SplitHeads(to_k.forward(source));
        var v = SplitHeads(to_v.forward(source));
        var o = FifoPipes.Torch.Nn.Attention.BatchedAttention(q, k, v, scoreBias?.to(q.dtype));
        var merged = o.transpose(1, 2).reshape(n, lq, (long)heads * headDim);
        return to_out.forward(merged).MoveToOuterDisposeScope();
    }

    Tensor SplitHeads(Tensor t) => t.view(t.shape[0], t.shape[1], heads, headDim).transpose(1, 2);
}

/// <summary>diffusers FeedForward with "gelu-approximate": <c>net.0.proj</c> d → 4d, tanh GELU, <c>net.2</c> 4d → d.</summary>
public sealed class GeluTanhFeedForward : Module<Tensor, Tensor>
{
    readonly Sequential net;

    public GeluTanhFeedForward(long dim, long inner, Device? device = null, ScalarType? dtype = null) : base(nameof(GeluTanhFeedForward))
    {
        net = Sequential(
            ("0", new GeluTanhProjection(dim, inner, device, dtype)),
            ("2", Linear(inner, dim, hasBias: true, device: device, dtype: dtype)));
        register_module("net", net);
    }

    public override Tensor forward(Tensor x) => net.forward(x);
}

/// <summary>diffusers GELU(approximate="tanh"): a Linear named <c>proj</c> followed by the tanh GELU.</summary>
public sealed class GeluTanhProjection : Module<Tensor, Tensor>
{
    readonly Linear proj;

    public GeluTanhProjection(long dimIn, long dimOut, Device? device = null, ScalarType? dtype = null) : base(nameof(GeluTanhProjection))
    {
        proj = Linear(dimIn, dimOut, hasBias: true, device: device, dtype: dtype);
        register_module("proj", proj);
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return functional.gelu(proj.forward(x), approximate: TorchSharp.Modules.GELU.Approximate.tanh).MoveToOuterDisposeScope();
    }
}
