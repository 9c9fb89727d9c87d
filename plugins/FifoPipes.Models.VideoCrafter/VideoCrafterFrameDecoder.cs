using FifoPipes.Abstractions;
using FifoPipes.Torch.Vae;
using TorchSharp;
using static TorchSharp.torch;

namespace FifoPipes.Models.VideoCrafter;

/// <summary>
/// Decodes FIFO's popped latents one frame at a time, as decode_first_stage_2DAE does per frame:
/// image = D(z / scale_factor), clamped to [-1, 1], returned as RGB [3, H, W] in [0, 1].
/// </summary>
public sealed class VideoCrafterFrameDecoder : IFrameDecoder
{
    public const double ScaleFactor = 0.18215;
    readonly AutoencoderKL vae;
    readonly double scaleFactor;

    public VideoCrafterFrameDecoder(AutoencoderKL vae, double scaleFactor = ScaleFactor)
    {
        this.vae = vae;
        this.scaleFactor = scaleFactor;
    }

    public IReadOnlyList<Tensor> Push(Tensor latent)
    {
        if (latent.dim() != 3)
            throw new ArgumentException($"a latent frame is [C, h, w]; got [{string.Join(", ", latent.shape)}]", nameof(latent));
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        var weights = vae.parameters().First();
        var z = (latent.to(weights.dtype, weights.device) / scaleFactor).unsqueeze(0);
        var image = vae.Decode(z)[0].to(ScalarType.Float32).clamp(-1.0, 1.0);
        return new[] { ((image + 1.0) / 2.0).MoveToOuterDisposeScope() };
    }

    public IReadOnlyList<Tensor> Flush() => Array.Empty<Tensor>();

    public void Dispose() { }
}
