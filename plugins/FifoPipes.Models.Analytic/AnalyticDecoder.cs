using FifoPipes.Abstractions;
using TorchSharp;
using static TorchSharp.torch;

namespace FifoPipes.Models.Analytic;

/// <summary>
/// Latents to RGB and back with a prompt's palette: rgb = clamp(0.5 + offset + M up8(z), 0, 1), where
/// up8 is 8x bicubic upsampling (linear and constant-preserving, so it commutes with the palette and
/// is applied to the 3 colour planes instead of the C latent channels).
/// </summary>
public static class AnalyticPalette
{
    public const int Scale = 8;

    /// <summary>One latent frame [C, h, w] to RGB [3, 8h, 8w] in [0, 1], float32.</summary>
    public static Tensor Decode(Tensor latent, PromptParameters look)
    {
        if (latent.dim() != 3 || latent.shape[0] != look.Channels)
            throw new ArgumentException($"Expected a latent frame [{look.Channels}, h, w], got [{string.Join(", ", latent.shape)}].", nameof(latent));
        using var scope = NewDisposeScope();
        var z = latent.to(ScalarType.Float32);
        var (m, offset) = Matrices(look, z.device);
        var colour = einsum("rc,chw->rhw", m, z).unsqueeze(0);
        var up = nn.functional.interpolate(colour, size: new long[] { latent.shape[1] * Scale, latent.shape[2] * Scale },
            mode: InterpolationMode.Bicubic, align_corners: false).squeeze(0);
        return (up + offset.view(3, 1, 1) + 0.5).clamp(0, 1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// RGB frames [T, 3, H, W] in [0, 1] to latents [C, T, H/8, W/8]: the least-squares inverse of the
    /// palette (pseudo-inverse of M, so channels M cannot see come back as 0), then 8x8 area averaging.
    /// </summary>
    public static Tensor Encode(Tensor rgb, PromptParameters look)
    {
        if (rgb.dim() != 4 || rgb.shape[1] != 3)
            throw new FifoInputException("AnalyticEncodeShape", $"Frames to encode must be RGB [T, 3, H, W], got [{string.Join(", ", rgb.shape)}].");
        if (rgb.shape[2] % Scale != 0 || rgb.shape[3] % Scale != 0)
            throw new FifoInputException("AnalyticEncodeSize", $"Frame size {rgb.shape[3]}x{rgb.shape[2]} is not a multiple of {Scale}; resize the start image to a multiple of {Scale} (e.g. the model's 8x latent size).");
        using var scope = NewDisposeScope();
        var x = rgb.to(ScalarType.Float32);
        var (m, offset) = Matrices(look, x.device);
        var centred = x - 0.5 - offset.view(1, 3, 1, 1);
        var inverse = linalg.pinv(m.to(ScalarType.Float64)).to(ScalarType.Float32);      // [C, 3]
        var z = einsum("cr,trhw->tchw", inverse, centred);
        var small = nn.functional.avg_pool2d(z, Scale);
        return small.permute(1, 0, 2, 3).contiguous().MoveToOuterDisposeScope();
    }

    static (Tensor M, Tensor Offset) Matrices(PromptParameters look, Device device)
    {
        var palette = look.Palette;
        var flat = new float[3 * look.Channels];
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < look.Channels; c++) flat[r * look.Channels + c] = (float)palette[r, c];
        return (tensor(flat, new long[] { 3, look.Channels }).to(device), tensor(look.Offset.Select(o => (float)o).ToArray()).to(device));
    }
}

/// <summary>
/// The streaming decoder: every latent decodes at once. The palette is that of the prompt the frame
/// was finished under: given explicitly with <see cref="Push(Tensor, string)"/>, otherwise the
/// model's guess (the prompt of the cleanest conditional window it denoised since the last push).
/// </summary>
public sealed class AnalyticDecoder : IFrameDecoder
{
    readonly Func<PromptParameters> currentLook;
    readonly Func<string, PromptParameters> lookOf;

    public AnalyticDecoder(Func<PromptParameters> currentLook, Func<string, PromptParameters> lookOf)
    {
        this.currentLook = currentLook;
        this.lookOf = lookOf;
    }

    public IReadOnlyList<Tensor> Push(Tensor latent) => new[] { AnalyticPalette.Decode(latent, currentLook()) };

    public IReadOnlyList<Tensor> Push(Tensor latent, string prompt) => new[] { AnalyticPalette.Decode(latent, lookOf(prompt)) };

    public IReadOnlyList<Tensor> Flush() => Array.Empty<Tensor>();

    public bool Stateless => true;

    public void Dispose() { }
}
