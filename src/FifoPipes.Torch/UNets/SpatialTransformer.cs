using FifoPipes.Torch.Nn;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace FifoPipes.Torch.UNets;

/// <summary>
/// Per-frame spatial transformer: GN(32, eps 1e-6) → tokens [(b t), H·W, C] → proj_in → blocks
/// (self-attention, then text cross-attention) → proj_out → + input.
/// </summary>
public sealed class SpatialTransformer : Module<Tensor, FrameConditioning, Tensor>, IFrameLayer
{
    readonly Fp32GroupNorm norm;
    readonly Module<Tensor, Tensor> proj_in;
    readonly ModuleList<BasicTransformerBlock> transformer_blocks;
    readonly Module<Tensor, Tensor> proj_out;

    /// <summary>Inner width <paramref name="heads"/>·<paramref name="headDim"/>, <paramref name="depth"/> blocks cross-attending to a <paramref name="contextDim"/>-wide context; GroupNorm eps 1e-6.</summary>
    /// <param name="useLinear">Linear proj_in/proj_out; false gives 1×1 Conv2d weights [out, in, 1, 1].</param>
    public SpatialTransformer(int channels, int heads, int headDim, int depth, int contextDim, bool useLinear,
        Device? device = null, ScalarType? dtype = null, int normGroups = 32)
        : base(nameof(SpatialTransformer))
    {
        int inner = heads * headDim;
        // Statistics in float32, as torch autocast runs group_norm whatever the weights' dtype.
        norm = new Fp32GroupNorm(normGroups, channels, 1e-6, device, dtype);
        proj_in = useLinear ? Linear(channels, inner, device: device, dtype: dtype) : new PointwiseConv(channels, inner, 2, device, dtype);
        transformer_blocks = new ModuleList<BasicTransformerBlock>(Enumerable.Range(0, depth)
            .Select(_ => new BasicTransformerBlock(inner, heads, headDim, contextDim, null, device, dtype)).ToArray());
        proj_out = useLinear ? Linear(inner, channels, device: device, dtype: dtype) : new PointwiseConv(inner, channels, 2, device, dtype);
        register_module("norm", norm);
        register_module("proj_in", proj_in);
        register_module("transformer_blocks", transformer_blocks);
        register_module("proj_out", proj_out);
    }

    /// <inheritdoc/>
    public Tensor Forward(Tensor h, FrameConditioning cond) => forward(h, cond);

    /// <summary>[(b t), C, H, W] → the same shape: each frame's H·W tokens attend to each other and to <see cref="FrameConditioning.Context"/>.</summary>
    public override Tensor forward(Tensor x, FrameConditioning cond)
    {
        using var scope = NewDisposeScope();
        long n = x.shape[0], c = x.shape[1], height = x.shape[2], width = x.shape[3];
        var tokens = proj_in.forward(norm.forward(x).permute(0, 2, 3, 1).reshape(n, height * width, c));
        foreach (var block in transformer_blocks) tokens = block.forward(tokens, cond.Context);
        var y = proj_out.forward(tokens).view(n, height, width, c).permute(0, 3, 1, 2);
        return (x + y).MoveToOuterDisposeScope();
    }
}
