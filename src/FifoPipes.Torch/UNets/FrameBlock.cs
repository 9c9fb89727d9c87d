using FifoPipes.Abstractions;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace FifoPipes.Torch.UNets;

/// <summary>
/// What every layer of a UNet call sees besides the features: the per-frame time embedding
/// <see cref="Emb"/> [B·T, E], the per-frame text context <see cref="Context"/> [B·T, L, D] and the
/// (batch, frames) split of the leading (b t) axis, frame index fastest.
/// </summary>
public sealed record FrameConditioning(Tensor Emb, Tensor Context, long Batch, long Frames)
{
    /// <summary>Output size (H, W) for an upsampler in this block; null = exactly ×2.</summary>
    public (long Height, long Width)? UpsampleSize { get; init; }

    /// <summary>Temporal layers attend within these fused windows (FreeNoise); null = over all frames at once.</summary>
    public TemporalWindows? Windows { get; init; }
}

/// <summary>A layer that works on per-frame features [(b t), C, H, W] and may use the conditioning.</summary>
public interface IFrameLayer
{
    /// <summary>Per-frame features [(b t), C, H, W] → [(b t), C', H', W'] (a layer may change channels and size).</summary>
    Tensor Forward(Tensor h, FrameConditioning cond);
}

/// <summary>
/// One entry of input_blocks / output_blocks / middle_block (the reference TimestepEmbedSequential):
/// layers registered as "0", "1", ... and applied in order, each in its own dispose scope so a
/// layer's temporaries are freed before the next one runs.
/// </summary>
public sealed class FrameBlock : Module<Tensor, FrameConditioning, Tensor>
{
    readonly Module[] layers;

    /// <summary>The layers in call order, registered as "0", "1", ...: each an <see cref="IFrameLayer"/> or a Tensor → Tensor module such as a Conv2d.</summary>
    /// <exception cref="ArgumentException">A layer is neither.</exception>
    public FrameBlock(params Module[] layers) : base(nameof(FrameBlock))
    {
        foreach (var layer in layers)
            if (layer is not IFrameLayer and not Module<Tensor, Tensor>)
                throw new ArgumentException($"{layer.GetType().Name} is neither an IFrameLayer nor a Tensor→Tensor module.");
        this.layers = layers;
        for (int i = 0; i < layers.Length; i++) register_module(i.ToString(System.Globalization.CultureInfo.InvariantCulture), layers[i]);
    }

    /// <summary>The layers in call order.</summary>
    public IReadOnlyList<Module> Layers => layers;

    /// <summary>Runs the layers in order on [(b t), C, H, W], IFrameLayers with <paramref name="cond"/>; intermediates are disposed, the input is not.</summary>
    public override Tensor forward(Tensor h, FrameConditioning cond)
    {
        var current = h;
        foreach (var layer in layers)
        {
            using var scope = NewDisposeScope();
            var next = LayerTiming.Run(layer, current, (layer, cond), static (input, s) =>
                s.layer is IFrameLayer frameLayer ? frameLayer.Forward(input, s.cond) : ((Module<Tensor, Tensor>)s.layer).forward(input));
            next.MoveToOuterDisposeScope();
            scope.Dispose();
            if (!ReferenceEquals(current, h)) current.Dispose();
            current = next;
        }
        return current;
    }
}

/// <summary>Feature layout helpers between the per-frame [(b t), C, H, W] and the video [b, C, t, H, W] views.</summary>
internal static class FrameLayout
{
    /// <summary>[(b t), C, H, W] → contiguous [b, C, t, H, W].</summary>
    public static Tensor ToVideo(Tensor h, long batch, long frames) =>
        h.view(batch, frames, h.shape[1], h.shape[2], h.shape[3]).permute(0, 2, 1, 3, 4).contiguous();

    /// <summary>[b, C, t, H, W] → contiguous [(b t), C, H, W].</summary>
    public static Tensor ToFrames(Tensor v) =>
        v.permute(0, 2, 1, 3, 4).reshape(v.shape[0] * v.shape[2], v.shape[1], v.shape[3], v.shape[4]);
}
