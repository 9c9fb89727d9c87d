using FifoPipes.Abstractions;
using FifoPipes.Torch.Nn;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace FifoPipes.Torch.UNets;

/// <summary>
/// Temporal transformer: GN(32, eps 1e-6) over the video [b, C, t, H, W] (statistics span all frames
/// of a sample) → one token sequence per pixel [(b H W), t, C] → proj_in → blocks (both attentions
/// are self-attention over frames; optionally with relative positions) → proj_out → + input.
/// proj_in/proj_out are Linear or, for init_attn, 1×1 Conv1d weights.
/// </summary>
public sealed class TemporalTransformer : Module<Tensor, FrameConditioning, Tensor>, IFrameLayer
{
    readonly Fp32GroupNorm norm;
    readonly Module<Tensor, Tensor> proj_in;
    readonly ModuleList<BasicTransformerBlock> transformer_blocks;
    readonly Module<Tensor, Tensor> proj_out;

    /// <param name="relativePositionLength">Clamp distance of relative-position attention; null for plain attention.</param>
    public TemporalTransformer(int channels, int heads, int headDim, int depth, bool useLinear, int? relativePositionLength,
        Device? device = null, ScalarType? dtype = null, int normGroups = 32)
        : base(nameof(TemporalTransformer))
    {
        int inner = heads * headDim;
        // Statistics in float32, as torch autocast runs group_norm whatever the weights' dtype.
        norm = new Fp32GroupNorm(normGroups, channels, 1e-6, device, dtype);
        proj_in = useLinear ? Linear(channels, inner, device: device, dtype: dtype) : new PointwiseConv(channels, inner, 1, device, dtype);
        transformer_blocks = new ModuleList<BasicTransformerBlock>(Enumerable.Range(0, depth)
            .Select(_ => new BasicTransformerBlock(inner, heads, headDim, null, relativePositionLength, device, dtype)).ToArray());
        proj_out = useLinear ? Linear(inner, channels, device: device, dtype: dtype) : new PointwiseConv(inner, channels, 1, device, dtype);
        register_module("norm", norm);
        register_module("proj_in", proj_in);
        register_module("transformer_blocks", transformer_blocks);
        register_module("proj_out", proj_out);
    }

    /// <inheritdoc/>
    public Tensor Forward(Tensor h, FrameConditioning cond) => forward(h, cond);


    /// <param name="x">Per-frame features [(b t), C, H, W].</param>
    public override Tensor forward(Tensor x, FrameConditioning cond)
    {
        using var scope = NewDisposeScope();
        long b = cond.Batch, t = cond.Frames, c = x.shape[1], height = x.shape[2], width = x.shape[3];
        var video = x.view(b, t, c, height, width).permute(0, 2, 1, 3, 4);
        var y = cond.Windows is { } windows && t > windows.Length ? FusedWindows(video, windows) : Residual(video);
        // The add reads y in its token layout and writes x's, which saves a transposing copy of y.
        return (x.view(b, t, c, height, width) + y.permute(0, 2, 1, 3, 4)).reshape(b * t, c, height, width).MoveToOuterDisposeScope();
    }

    /// <summary>The block's residual branch on a video [b, C, t, H, W], the same shape back.</summary>
    Tensor Residual(Tensor video)
    {
        long b = video.shape[0], c = video.shape[1], t = video.shape[2], height = video.shape[3], width = video.shape[4];
        var tokens = norm.forward(video).permute(0, 3, 4, 2, 1).reshape(b * height * width, t, c);
        tokens = proj_in.forward(tokens);
        foreach (var block in transformer_blocks) tokens = block.forward(tokens, null);
        return proj_out.forward(tokens).view(b, height, width, t, c).permute(0, 4, 3, 1, 2);
    }

    /// <summary>The residual branch run on each window (its own norm statistics, positions 0..f-1), fused by weight.</summary>
    Tensor FusedWindows(Tensor video, TemporalWindows windows)
    {
        int t = (int)video.shape[2];
        var weights = windows.Weights();
        var weight = tensor(weights, new long[] { 1, 1, windows.Length, 1, 1 }).to(video.dtype, video.device);
        var total = tensor(windows.Cover(t, weights), new long[] { 1, 1, t, 1, 1 }).to(video.dtype, video.device);
        var sum = zeros_like(video);
        foreach (int start in windows.Starts(t))
        {
            using var step = NewDisposeScope();
            sum.narrow(2, start, windows.Length).add_(Residual(video.narrow(2, start, windows.Length)).mul(weight));
        }
        return sum.div_(total);
    }
}
