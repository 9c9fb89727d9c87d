using TorchSharp;
using static TorchSharp.torch;

namespace FifoPipes.Models.Analytic;

/// <summary>
/// The analytic prior of one <see cref="PromptParameters"/> on an h x w latent, in the orthonormal
/// rfft2 domain (bins [h, w/2+1]). Per bin and channel, frames form a stationary complex AR(1) with
/// power S_c(k) and coefficient a(k). Everything here is float64 on the CPU; callers cast.
/// </summary>
public sealed class SpectralPrior
{
    public SpectralPrior(PromptParameters parameters, int height, int width)
    {
        if (height < 1 || width < 1) throw new ArgumentOutOfRangeException(nameof(height), "The latent must be at least 1 x 1.");
        Parameters = parameters;
        Height = height;
        Width = width;
    }

    public PromptParameters Parameters { get; }
    public int Height { get; }
    public int Width { get; }
    public int RfftWidth => Width / 2 + 1;

    /// <summary>ky = fftfreq(h) as a column [h, 1], kx = rfftfreq(w) as a row [1, w/2+1]: cycles per latent pixel.</summary>
    public (Tensor Ky, Tensor Kx) Frequencies()
    {
        var ky = Enumerable.Range(0, Height).Select(i => (i < (Height + 1) / 2 ? i : i - Height) / (double)Height).ToArray();
        var kx = Enumerable.Range(0, RfftWidth).Select(i => i / (double)Width).ToArray();
        return (tensor(ky, new long[] { Height, 1 }, ScalarType.Float64), tensor(kx, new long[] { 1, RfftWidth }, ScalarType.Float64));
    }

    /// <summary>True on Nyquist bins (ky = -1/2 for even h, kx = 1/2 for even w), where S is 0.</summary>
    public Tensor NyquistMask()
    {
        var mask = new bool[Height * RfftWidth];
        for (int y = 0; y < Height; y++)
            for (int x = 0; x < RfftWidth; x++)
                mask[y * RfftWidth + x] = (Height % 2 == 0 && y == Height / 2) || (Width % 2 == 0 && x == Width / 2);
        return tensor(mask, new long[] { Height, RfftWidth });
    }

    /// <summary>How many full-FFT bins each rfft bin stands for: 2 for 0 &lt; kx &lt; w/2, else 1.</summary>
    public Tensor TwinWeight()
    {
        var weight = new double[Height * RfftWidth];
        for (int y = 0; y < Height; y++)
            for (int x = 0; x < RfftWidth; x++)
                weight[y * RfftWidth + x] = x == 0 || (Width % 2 == 0 && x == Width / 2) ? 1.0 : 2.0;
        return tensor(weight, new long[] { Height, RfftWidth }, ScalarType.Float64);
    }

    /// <summary>S_c(k) [C, h, w/2+1]: (1 + |k|^2/k0^2)^(-beta/2), 0 on Nyquist bins, scaled so pixel variance is sigma_c^2.</summary>
    public Tensor Spectrum()
    {
        using var scope = NewDisposeScope();
        var (ky, kx) = Frequencies();
        var k2 = ky.square() + kx.square();
        var raw = (k2 / (Parameters.K0 * Parameters.K0) + 1.0).pow(-Parameters.Beta / 2.0);
        raw = raw.masked_fill(NyquistMask(), 0.0);
        double total = (raw * TwinWeight()).sum().item<double>();
        var variance = tensor(Parameters.Sigma.Select(s => s * s).ToArray(), ScalarType.Float64).view(-1, 1, 1);
        return (raw.unsqueeze(0) * variance * (Height * (double)Width / total)).MoveToOuterDisposeScope();
    }

    /// <summary>a(k) [h, w/2+1] complex128: rho(k) exp(-2 pi i (ky vy + kx vx)), rho = exp(-(1 + |k|/k0)/T0).</summary>
    public Tensor ArCoefficient() => ArPowers(2).select(-1, 1).clone();

    /// <summary>a(k)^d for d = 0..count-1: [h, w/2+1, count] complex128 (exact powers, not repeated products).</summary>
    public Tensor ArPowers(int count)
    {
        using var scope = NewDisposeScope();
        var (ky, kx) = Frequencies();
        var k = (ky.square() + kx.square()).sqrt();
        var logRho = -(k / Parameters.K0 + 1.0) / Parameters.T0;
        var phase = (ky * Parameters.VelocityY + kx * Parameters.VelocityX) * (-2 * Math.PI);
        var d = arange(count, ScalarType.Float64);
        var magnitude = (logRho.unsqueeze(-1) * d).exp();
        var angle = phase.unsqueeze(-1) * d;
        return polar(magnitude, angle).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The prior covariance of a window of F frames, [C, h, w/2+1, F, F] complex128:
    /// K[t, s] = S a^(t-s) for t &gt;= s and its conjugate transpose above the diagonal.
    /// </summary>
    public Tensor WindowCovariance(int frames)
    {
        if (frames < 1) throw new ArgumentOutOfRangeException(nameof(frames), "A window has at least one frame.");
        using var scope = NewDisposeScope();
        var powers = ArPowers(frames);                                       // [h, w', F]
        var t = arange(frames, ScalarType.Int64);
        var lag = t.unsqueeze(1) - t.unsqueeze(0);                          // t - s
        var lower = powers.index_select(-1, lag.abs().flatten()).view(Height, RfftWidth, frames, frames);
        var below = (lag >= 0).view(1, 1, frames, frames);
        var correlation = where(below, lower, lower.conj());
        var spectrum = Spectrum().to(ScalarType.ComplexFloat64);
        return (correlation.unsqueeze(0) * spectrum.unsqueeze(-1).unsqueeze(-1)).MoveToOuterDisposeScope();
    }

    /// <summary>An exact sample of F consecutive frames, [C, F, h, w] float32, drawn with <paramref name="generator"/>.</summary>
    public Tensor Sample(int frames, Generator? generator = null)
    {
        using var scope = NewDisposeScope();
        int channels = Parameters.Channels;
        var spectrum = Spectrum();                                           // [C, h, w']
        var a = ArCoefficient().unsqueeze(0);                                // [1, h, w']
        var keep = NyquistMask().logical_not().unsqueeze(0);
        var stationary = spectrum.sqrt().to(ScalarType.ComplexFloat64);
        var innovation = (spectrum * (1.0 - a.abs().square())).clamp_min(0).sqrt().to(ScalarType.ComplexFloat64);
        // rfft2 of real white noise: Hermitian-consistent, E|z|^2 = 1 on every bin, DC real.
        Tensor WhiteBins() => fft.rfft2(randn(new long[] { channels, Height, Width }, ScalarType.Float64, generator: generator), norm: FFTNormType.Ortho);
        var z = stationary * WhiteBins();
        var output = new List<Tensor>(frames);
        for (int f = 0; f < frames; f++)
        {
            if (f > 0) z = a * z + innovation * WhiteBins();
            z = z * keep;
            output.Add(fft.irfft2(z, s: new long[] { Height, Width }, norm: FFTNormType.Ortho));
        }
        return stack(output, 1).to(ScalarType.Float32).MoveToOuterDisposeScope();
    }
}
