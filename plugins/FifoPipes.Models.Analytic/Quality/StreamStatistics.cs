using TorchSharp;
using static TorchSharp.torch;

namespace FifoPipes.Models.Analytic.Quality;

/// <summary>
/// Second-order statistics of a stretch of generated frames pooled over streams (channels that share one prior),
/// measured in the orthonormal rfft2 domain against the prior's S(k) and a(k) on the bins that carry power.
/// </summary>
public sealed class StreamStatistics : IDisposable
{
    readonly PromptParameters prior;
    readonly Tensor spectrum;      // [h, w']
    readonly Tensor mask;          // [h, w'] bool
    readonly Tensor a;             // [h, w'] complex128

    public StreamStatistics(PromptParameters prior, int height, int width)
    {
        if (prior.Sigma.Any(s => s != prior.Sigma[0]))
            throw new ArgumentException("Pooling streams needs every channel to follow the same prior (equal sigma).", nameof(prior));
        this.prior = prior;
        var spectral = new SpectralPrior(prior, height, width);
        using var spectra = spectral.Spectrum();
        spectrum = spectra[0].clone().DetachFromDisposeScope();
        mask = (spectrum > spectrum.max() * AnalyticStatistics.PowerFloor).DetachFromDisposeScope();
        a = spectral.ArCoefficient().DetachFromDisposeScope();
    }

    /// <summary>Relative Frechet distance of windows [N, F, h, w] against the prior's window distribution.</summary>
    public double Frechet(Tensor windows) => AnalyticFrechet.Relative(windows, prior, 0);

    /// <summary>Bins of frames [T, S, h, w] (time, stream): [T, S, h, w'] complex128.</summary>
    public static Tensor Bins(Tensor frames) => fft.rfft2(frames.to(ScalarType.Float64), norm: FFTNormType.Ortho);

    /// <summary>(mean power / S, mean |power / S - 1|) over the powered bins, pooled over all frames and streams of <paramref name="bins"/>.</summary>
    public (double Ratio, double Error) Power(Tensor bins)
    {
        using var scope = NewDisposeScope();
        var power = bins.abs().square().mean(new long[] { 0, 1 });
        var ratio = power.masked_select(mask) / spectrum.masked_select(mask);
        return (ratio.mean().item<double>(), (ratio - 1).abs().mean().item<double>());
    }

    /// <summary>
    /// Mean over powered bins of |corr - a(k)| with corr = E[Z_t conj Z_t-1] / sqrt(E|Z_t|^2 E|Z_t-1|^2), the pairs being
    /// (later[i], earlier[i]) of [M, S, h, w'] bins pooled over pairs and streams; NaN when there are no pairs.
    /// Normalising by the empirical power (not S) keeps a sampler's variance loss, which <see cref="Power"/> reports,
    /// out of this number: it measures the temporal structure alone, as ../parity/analytic/README.md defines it.
    /// </summary>
    public double LagOneError(Tensor later, Tensor earlier)
    {
        if (later.shape[0] == 0) return double.NaN;
        using var scope = NewDisposeScope();
        var dims = new long[] { 0, 1 };
        var lag = (later * earlier.conj()).mean(dims);
        var power = (later.abs().square().mean(dims) * earlier.abs().square().mean(dims)).sqrt();
        var corr = lag.masked_select(mask) / power.masked_select(mask).to(ScalarType.ComplexFloat64);
        return (corr - a.masked_select(mask)).abs().mean().item<double>();
    }

    public void Dispose()
    {
        spectrum.Dispose();
        mask.Dispose();
        a.Dispose();
    }
}
