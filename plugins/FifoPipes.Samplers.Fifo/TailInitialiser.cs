using TorchSharp;
using static TorchSharp.torch;

namespace FifoPipes.Samplers.Fifo;

/// <summary>
/// Ouroboros-Diffusion's coherent tail: a new tail frame takes the low spatial frequencies of the previous tail latent
/// (already denoised one step, so it carries a little of the queue's structure) and the high frequencies of fresh
/// noise. The two are mixed with H and sqrt(1 - H^2) rather than H and 1 - H, so a white-noise input stays white with
/// unit variance at every frequency: the denoiser sees the noise level it expects.
/// </summary>
public sealed class TailInitialiser : IDisposable
{
    readonly Tensor gain, rest;
    readonly long[] size;

    /// <summary>The filter for [*, h, w] latents on <paramref name="device"/>, built once: a run mixes every tail with it.</summary>
    public TailInitialiser(int h, int w, double cutoff, Device device)
    {
        if (!(cutoff > 0)) throw new ArgumentOutOfRangeException(nameof(cutoff), $"The low-pass width must be positive, got {cutoff}.");
        using var scope = NewDisposeScope();
        gain = LowPass(h, w, cutoff).to(device).DetachFromDisposeScope();
        rest = (1 - gain.square()).clamp_min(0).sqrt().DetachFromDisposeScope();
        size = new long[] { h, w };
    }

    /// <summary>
    /// previous, noise [C, h, w]; H(r) = exp(-r^2 / (2 c^2)) with r the frequency in units of Nyquist
    /// (2 x cycles per latent pixel); returns H prev + sqrt(1 - H^2) noise, per bin of the orthonormal rfft2.
    /// </summary>
    public Tensor Mix(Tensor previous, Tensor noise)
    {
        using var scope = NewDisposeScope();
        var low = fft.rfft2(previous.to(ScalarType.Float32), norm: FFTNormType.Ortho) * gain;
        var high = fft.rfft2(noise.to(ScalarType.Float32), norm: FFTNormType.Ortho) * rest;
        return fft.irfft2(low + high, s: size, norm: FFTNormType.Ortho).MoveToOuterDisposeScope();
    }

    /// <summary>One mix with a filter built for it (<see cref="Mix"/>).</summary>
    public static Tensor LowFrequency(Tensor previous, Tensor noise, double cutoff)
    {
        using var tail = new TailInitialiser((int)previous.shape[^2], (int)previous.shape[^1], cutoff, previous.device);
        return tail.Mix(previous, noise);
    }

    /// <summary>H over the rfft2 bins [h, w/2+1] (float32).</summary>
    public static Tensor LowPass(int h, int w, double cutoff)
    {
        int wr = w / 2 + 1;
        var values = new float[h * wr];
        for (int y = 0; y < h; y++)
        {
            double ky = 2.0 * (y < (h + 1) / 2 ? y : y - h) / h;
            for (int x = 0; x < wr; x++)
            {
                double kx = 2.0 * x / w;
                values[y * wr + x] = (float)Math.Exp(-(ky * ky + kx * kx) / (2 * cutoff * cutoff));
            }
        }
        return tensor(values, new long[] { h, wr });
    }

    public void Dispose()
    {
        gain.Dispose();
        rest.Dispose();
    }
}
