using FifoPipes.Abstractions;
using static TorchSharp.torch;

namespace FifoPipes.Core;

/// <summary>Between decoder tensors and <see cref="VideoFrame"/> pixels.</summary>
public static class FrameConversion
{
    /// <summary>RGB [3, H, W] in [0, 1] (any float dtype, any device) to RGB24 bytes, row-major.</summary>
    public static byte[] ToRgb24(Tensor rgb)
    {
        if (rgb.dim() != 3 || rgb.shape[0] != 3)
            throw new ArgumentException($"Expected an RGB tensor [3, H, W], got [{string.Join(", ", rgb.shape)}].", nameof(rgb));
        using var scope = NewDisposeScope();
        var bytes = rgb.to(ScalarType.Float32).clamp(0, 1).mul(255).round().to(ScalarType.Byte)
            .permute(1, 2, 0).contiguous().cpu();
        return bytes.data<byte>().ToArray();
    }

    /// <summary>RGB24 bytes to RGB [3, H, W] float32 in [0, 1].</summary>
    public static Tensor FromRgb24(byte[] rgb, int width, int height)
    {
        using var scope = NewDisposeScope();
        // Copied straight into the tensor's memory: tensor(byte[]) takes a managed copy of the frame first.
        var raw = empty(new long[] { height, width, 3 }, ScalarType.Byte);
        raw.bytes = rgb;
        return raw.to(ScalarType.Float32).div(255).permute(2, 0, 1).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// A <see cref="VideoFrame"/> of RGB [3, H, W] in [0, 1], converted as <see cref="ToRgb24"/> does; <paramref name="provenance"/>
    /// is the text PNG files keep of how the frame was made.
    /// </summary>
    public static VideoFrame ToFrame(Tensor rgb, long index, string prompt, double fps, Guid runId, string? provenance = null)
    {
        // Converted first: the conversion refuses a tensor that is not [3, H, W] by name, before its sizes are read.
        var pixels = ToRgb24(rgb);
        return new VideoFrame(index, (int)rgb.shape[2], (int)rgb.shape[1], pixels, prompt, fps, runId) { Provenance = provenance };
    }
}
