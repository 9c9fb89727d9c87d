using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace FifoPipes.Models.OpenSoraPlan.Latte;

/// <summary>
/// The six adaLN-single vectors of one block: <c>scale_shift_table[6, d] + t6</c>, chunked into
/// shift/scale/gate for attention and for the feed-forward. <c>t6</c> is [N, 6d] (one per sequence) or
/// [N, L, 6d] (one per token: temporal blocks with per-frame timesteps).
/// </summary>
readonly record struct Modulation(Tensor ShiftMsa, Tensor ScaleMsa, Tensor GateMsa, Tensor ShiftMlp, Tensor ScaleMlp, Tensor GateMlp)
{
    /// <param name="t6">[..., 6d]; the chunks come out [..., d] and broadcast against tokens laid out to match.</param>
    public static Modulation From(Tensor scaleShiftTable, Tensor t6)
    {
        long d = scaleShiftTable.shape[1];
        var shape = t6.shape[..^1].Concat(new[] { 6L, d }).ToArray();
        var parts = (t6.view(shape) + scaleShiftTable).unbind(-2);
        return new Modulation(parts[0], parts[1], parts[2], parts[3], parts[4], parts[5]);
    }

    public static Tensor Apply(Tensor normed, Tensor shift, Tensor scale) => normed * (scale + 1) + shift;
}

/// <summary>
/// Latte's spatial block (BasicTransformerBlock with ada_norm_single): modulated self-attention over the
/// patches of one frame, unmodulated and unnormalised cross-attention to the text, modulated feed-forward.
/// </summary>
public sealed class LatteSpatialBlock : Module<Tensor, Tensor, Tensor, Tensor?, Tensor>
{
    readonly Parameter scale_shift_table;
    readonly LatteAttention attn1;
    readonly LatteAttention attn2;
    readonly GeluTanhFeedForward ff;
    readonly long width;
    readonly double eps;

    public LatteSpatialBlock(LatteConfig config, Device? device = null, ScalarType? dtype = null) : base(nameof(LatteSpatialBlock))
    {
        width = config.Width;
        eps = config.NormEps;
        scale_shift_table = new Parameter(randn(new long[] { 6, width }, dtype: dtype, device: device) / Math.Sqrt(width), requires_grad: false);
        attn1 = new LatteAttention(width, width, config.Heads, config.HeadDim, device, dtype);
        attn2 = new LatteAttention(width, width, config.Heads, config.HeadDim, device, dtype);
        ff = new GeluTanhFeedForward(width, 4 * width, device, dtype);
        register_parameter("scale_shift_table", scale_shift_table);
        register_module("attn1", attn1);
        register_module("attn2", attn2);
        register_module("ff", ff);
    }

    /// <param name="x">Patch tokens [(B·F), P, d], b-major.</param>
    /// <param name="t6">Per-frame modulation [(B·F), 6d].</param>
    /// <param name="text">Projected caption [B, L, d].</param>
    /// <param name="textBias">Additive cross-attention bias [B, 1, 1, L], or null.</param>
    public override Tensor forward(Tensor x, Tensor t6, Tensor text, Tensor? textBias)
    {
        using var scope = NewDisposeScope();
        var m = Modulation.From(scale_shift_table, t6.unsqueeze(1));
        x = x + m.GateMsa * attn1.forward(Modulation.Apply(Norm(x), m.ShiftMsa, m.ScaleMsa), null, null);
        x = x + CrossAttend(x, text, textBias);
        x = x + m.GateMlp * ff.forward(Modulation.Apply(Norm(x), m.ShiftMlp, m.ScaleMlp));
        return x.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The reference repeats the caption for every frame; attention is independent per query, so the
    /// frames of one batch row attend to its single caption as one longer query sequence instead.
    /// </summary>
    Tensor CrossAttend(Tensor x, Tensor text, Tensor? textBias)
    {
        long batch = text.shape[0];
        var rows = x.reshape(batch, -1, width);
        return attn2.forward(rows, text, textBias).reshape(x.shape);
    }

    Tensor Norm(Tensor x) => functional.layer_norm(x, new[] { width }, null, null, eps);
}

/// <summary>Latte's temporal block: the spatial block without cross-attention, over the frames of one patch position.</summary>
public sealed class LatteTemporalBlock : Module<Tensor, Tensor, Tensor>
{
    readonly Parameter scale_shift_table;
    readonly LatteAttention attn1;
    readonly GeluTanhFeedForward ff;
    readonly long width;
    readonly double eps;

    public LatteTemporalBlock(LatteConfig config, Device? device = null, ScalarType? dtype = null) : base(nameof(LatteTemporalBlock))
    {
        width = config.Width;
        eps = config.NormEps;
        scale_shift_table = new Parameter(randn(new long[] { 6, width }, dtype: dtype, device: device) / Math.Sqrt(width), requires_grad: false);
        attn1 = new LatteAttention(width, width, config.Heads, config.HeadDim, device, dtype);
        ff = new GeluTanhFeedForward(width, 4 * width, device, dtype);
        register_parameter("scale_shift_table", scale_shift_table);
        register_module("attn1", attn1);
        register_module("ff", ff);
    }

    /// <param name="x">Frame tokens [(B·P), F, d], b-major.</param>
    /// <param name="t6">Per-frame modulation [B, F, 6d]: every patch of frame f gets frame f's vectors.</param>
    /// <remarks>
    /// The reference repeats t6 to [(B·P), F, 6d] (about 1 GB at 512² with guidance); the tokens are viewed as
    /// [B, P, F, d] here so the same vectors broadcast over the patches instead.
    /// </remarks>
    public override Tensor forward(Tensor x, Tensor t6)
    {
        using var scope = NewDisposeScope();
        long batch = t6.shape[0], frames = t6.shape[1];
        var m = Modulation.From(scale_shift_table, t6.unsqueeze(1));
        var grid = x.view(batch, -1, frames, width);
        var attn = attn1.forward(Modulation.Apply(Norm(grid), m.ShiftMsa, m.ScaleMsa).reshape(x.shape), null, null);
        grid = grid + m.GateMsa * attn.reshape(grid.shape);
        var mlp = ff.forward(Modulation.Apply(Norm(grid), m.ShiftMlp, m.ScaleMlp));
        grid = grid + m.GateMlp * mlp;
        return grid.reshape(x.shape).MoveToOuterDisposeScope();
    }

    Tensor Norm(Tensor x) => functional.layer_norm(x, new[] { width }, null, null, eps);
}
