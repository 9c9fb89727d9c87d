using FifoPipes.Torch.Nn;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace FifoPipes.Torch.UNets;

/// <summary>
/// Pre-norm transformer block: x += attn1(norm1 x); x += attn2(norm2 x, context); x += ff(norm3 x).
/// attn2 is cross-attention when built with a context width and self-attention otherwise (the
/// temporal layers). Registration order (attn1, ff, attn2, norm1..3) follows the reference state dict.
/// </summary>
public sealed class BasicTransformerBlock : Module<Tensor, Tensor?, Tensor>
{
    readonly Attention attn1;
    readonly GegluFeedForward ff;
    readonly Attention attn2;
    readonly LayerNorm norm1, norm2, norm3;

    /// <summary>A block over tokens of width <paramref name="dim"/>, attending with <paramref name="heads"/> heads of <paramref name="headDim"/>; 4× GEGLU feed-forward, LayerNorms with eps 1e-5.</summary>
    /// <param name="contextDim">Width of attn2's context for cross-attention; null makes attn2 self-attention.</param>
    /// <param name="relativePositionLength">Clamp distance of relative-position attention (VideoCrafter1) in both attentions; null for plain attention.</param>
    public BasicTransformerBlock(int dim, int heads, int headDim, int? contextDim, int? relativePositionLength,
        Device? device = null, ScalarType? dtype = null)
        : base(nameof(BasicTransformerBlock))
    {
        Attention Make(int? kvDim) => relativePositionLength is { } length
            ? new RelativePositionAttention(dim, kvDim, heads, headDim, length, device, dtype)
            : new Attention(dim, kvDim, heads, headDim, device: device, dtype: dtype);
        attn1 = Make(null);
        ff = new GegluFeedForward(dim, 4, device, dtype);
        attn2 = Make(contextDim);
        norm1 = Norms.LayerNorm(dim, 1e-5, device, dtype);
        norm2 = Norms.LayerNorm(dim, 1e-5, device, dtype);
        norm3 = Norms.LayerNorm(dim, 1e-5, device, dtype);
        register_module("attn1", attn1);
        register_module("ff", ff);
        register_module("attn2", attn2);
        register_module("norm1", norm1);
        register_module("norm2", norm2);
        register_module("norm3", norm3);
    }

    /// <param name="context">Context for attn2 [N, L, D]; null makes attn2 self-attention.</param>
    public override Tensor forward(Tensor x, Tensor? context)
    {
        var h = Residual(x, t => attn1.forward(norm1.forward(t), null), false);
        h = Residual(h, t => attn2.forward(norm2.forward(t), context), true);
        return Residual(h, t => ff.forward(norm3.forward(t)), true);
    }

    /// <summary>x + f(x), freeing f's temporaries (and x when it is an intermediate) right away.</summary>
    static Tensor Residual(Tensor x, Func<Tensor, Tensor> f, bool disposeInput)
    {
        Tensor y;
        using (var scope = NewDisposeScope())
            y = (x + f(x)).MoveToOuterDisposeScope();
        if (disposeInput) x.Dispose();
        return y;
    }
}
