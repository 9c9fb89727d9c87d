using FifoPipes.Abstractions;
using static TorchSharp.torch;

namespace FifoPipes.Torch.Vae;

/// <summary>
/// Decodes popped latents one frame at a time with a 2-D KL VAE, as FIFO pops them (LDM's per-frame
/// decode_first_stage_2DAE and diffusers' decode_latents agree): image = D(z / scale), clamped to [-1, 1],
/// returned as RGB [3, H, W] in [0, 1] on the VAE's device: the engine turns it into 8-bit pixels there and copies only
/// those (a quarter of the bytes, and no float work on the host).
/// </summary>
public sealed class VaeFrameDecoder : IFrameDecoder
{
    readonly AutoencoderKL vae;
    readonly double scale;

    /// <param name="scale">The latent scale factor (0.18215 for the SD VAE; diffusers configs call it scaling_factor).</param>
    public VaeFrameDecoder(AutoencoderKL vae, double scale)
    {
        this.vae = vae;
        this.scale = scale;
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">The latent is not [C, h, w].</exception>
    public IReadOnlyList<Tensor> Push(Tensor latent)
    {
        if (latent.dim() != 3)
            throw new ArgumentException($"a latent frame is [C, h, w]; got [{string.Join(", ", latent.shape)}]", nameof(latent));
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        var weights = vae.parameters().First();
        var z = (latent.to(weights.dtype, weights.device) / scale).unsqueeze(0);
        var image = vae.Decode(z)[0].to(ScalarType.Float32).clamp(-1.0, 1.0);
        return new[] { ((image + 1.0) / 2.0).MoveToOuterDisposeScope() };
    }

    /// <summary>None: each frame was returned by the Push of its latent.</summary>
    public IReadOnlyList<Tensor> Flush() => Array.Empty<Tensor>();

    /// <summary>True: each latent is decoded to its frame at once and nothing is kept between calls.</summary>
    public bool Stateless => true;

    /// <summary>Nothing to release: the VAE is the caller's, who disposes it.</summary>
    public void Dispose() { }
}
