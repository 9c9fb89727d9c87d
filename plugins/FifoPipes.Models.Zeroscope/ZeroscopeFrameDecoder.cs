using FifoPipes.Abstractions;
using FifoPipes.Torch.Vae;
using static TorchSharp.torch;

namespace FifoPipes.Models.Zeroscope;

/// <summary>
/// Decodes popped latents one frame at a time, as the pipeline's decode_latents does per frame:
/// image = D(z / scaling_factor), then (image / 2 + 0.5) clamped to [0, 1] (its tensor2vid), RGB [3, H, W].
/// </summary>
public sealed class ZeroscopeFrameDecoder : IFrameDecoder
{
    readonly AutoencoderKL vae;
    readonly double scalingFactor;

    public ZeroscopeFrameDecoder(AutoencoderKL vae, double scalingFactor)
    {
        this.vae = vae;
        this.scalingFactor = scalingFactor;
    }

    public IReadOnlyList<Tensor> Push(Tensor latent)
    {
        if (latent.dim() != 3)
            throw new ArgumentException($"a latent frame is [C, h, w]; got [{string.Join(", ", latent.shape)}]", nameof(latent));
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        var weights = vae.parameters().First();
        var z = (latent.to(weights.dtype, weights.device) / scalingFactor).unsqueeze(0);
        var image = vae.Decode(z)[0].to(ScalarType.Float32);
        return new[] { (image / 2.0 + 0.5).clamp(0.0, 1.0).cpu().MoveToOuterDisposeScope() };
    }

    public IReadOnlyList<Tensor> Flush() => Array.Empty<Tensor>();

    public void Dispose() { }
}
