using FifoPipes.Models.Analytic;
using TorchSharp;
using static TorchSharp.torch;

namespace FifoPipes.Tests.Statistics;

/// <summary>
/// A stream of frames of one channel in the orthonormal rfft2 domain, next to the prior's power S(k) and
/// lag-1 coefficient a(k), over the bins that carry power (as <see cref="AnalyticStatistics"/> selects them).
/// </summary>
public sealed class StreamSpectra : IDisposable
{
    public StreamSpectra(Tensor frames, PromptParameters prior, int channel = 0)
    {
        using var scope = NewDisposeScope();
        if (frames.dim() != 3) throw new ArgumentException($"Expected frames [T, h, w], got [{string.Join(", ", frames.shape)}].", nameof(frames));
        var spectral = new SpectralPrior(prior, (int)frames.shape[1], (int)frames.shape[2]);
        var spectrum = spectral.Spectrum()[channel];
        var mask = spectrum > spectrum.max() * AnalyticStatistics.PowerFloor;
        var powered = mask.flatten().nonzero().flatten();
        Bins = fft.rfft2(frames.to(ScalarType.Float64).cpu(), norm: FFTNormType.Ortho).flatten(1).index_select(1, powered).DetachFromDisposeScope();
        Power = spectrum.masked_select(mask).DetachFromDisposeScope();
        Coefficient = spectral.ArCoefficient().masked_select(mask).DetachFromDisposeScope();
    }

    /// <summary>[T, K] complex128: the powered bins of every frame.</summary>
    public Tensor Bins { get; }
    /// <summary>[K] S(k).</summary>
    public Tensor Power { get; }
    /// <summary>[K] a(k), complex.</summary>
    public Tensor Coefficient { get; }
    public long Frames => Bins.shape[0];

    /// <summary>
    /// The normalised lag-1 correlation error over the pairs (t - 1, t) for the given t: mean over bins of
    /// |E[Z_t conj Z_(t-1)] / sqrt(E|Z_t|^2 E|Z_(t-1)|^2) - a(k)|. Normalised by the empirical power (not by S, as
    /// <see cref="AnalyticStatistics.LagOneCorrelationError"/> is), so variance a sampler loses does not show here.
    /// </summary>
    public double LagOneCorrelationError(IReadOnlyList<long> laterFrames)
    {
        using var s = NewDisposeScope();
        var later = tensor(laterFrames.ToArray());
        var current = Bins.index_select(0, later);
        var previous = Bins.index_select(0, later - 1);
        var lag = (current * previous.conj()).mean(new long[] { 0 });
        var power = (current.abs().square().mean(new long[] { 0 }) * previous.abs().square().mean(new long[] { 0 })).sqrt();
        return (lag / power.to(ScalarType.ComplexFloat64) - Coefficient).abs().mean().item<double>();
    }

    /// <summary>Mean over bins of the empirical E|Z_t|^2 / S(k) over the given frames.</summary>
    public double PowerRatio(IReadOnlyList<long> frames)
    {
        using var s = NewDisposeScope();
        var z = Bins.index_select(0, tensor(frames.ToArray()));
        return (z.abs().square().mean(new long[] { 0 }) / Power).mean().item<double>();
    }

    public void Dispose()
    {
        Bins.Dispose();
        Power.Dispose();
        Coefficient.Dispose();
    }
}
