using TorchSharp;
using static TorchSharp.torch;

namespace FifoPipes.Models.Analytic;

/// <summary>
/// The "analytic FVD": how far the empirical distribution of F-frame windows of one channel is from the
/// true N(0, K(k)), per rfft bin, relative to the total true variance. 0 means identical covariances.
/// </summary>
public static class AnalyticFrechet
{
    /// <summary>
    /// <paramref name="windows"/> [N, F, h, w] of channel <paramref name="channel"/>. Per bin,
    /// Sig = mean over windows of Z Z^H (no mean subtraction) and
    /// FD_k = tr(Sig + K - 2 (K^1/2 Sig K^1/2)^1/2); the result is sum_k w_k FD_k / sum_k w_k tr K(k)
    /// with conjugate-twin weights w_k (2 for 0 &lt; kx &lt; w/2).
    /// </summary>
    public static double Relative(Tensor windows, PromptParameters parameters, int channel)
    {
        if (windows.dim() != 4) throw new ArgumentException($"Expected windows [N, F, h, w], got [{string.Join(", ", windows.shape)}].", nameof(windows));
        if (channel < 0 || channel >= parameters.Channels) throw new ArgumentOutOfRangeException(nameof(channel), $"Channel {channel} is not one of the prior's {parameters.Channels}.");
        using var scope = NewDisposeScope();
        int count = (int)windows.shape[0], frames = (int)windows.shape[1];
        var prior = new SpectralPrior(parameters, (int)windows.shape[2], (int)windows.shape[3]);
        var z = fft.rfft2(windows.to(ScalarType.Float64).cpu(), norm: FFTNormType.Ortho).permute(2, 3, 1, 0);   // [h, w', F, N]
        var empirical = matmul(z, z.conj().transpose(-1, -2)) / count;
        var k = prior.WindowCovariance(frames)[channel];
        var kHalf = HermitianSqrt(k);
        var cross = HermitianSqrt(matmul(matmul(kHalf, empirical), kHalf));
        var perBin = Trace(empirical + k - 2 * cross);
        var weight = prior.TwinWeight();
        return ((perBin * weight).sum() / (Trace(k) * weight).sum()).item<double>();
    }

    /// <summary>V sqrt(max(ev, 0)) V^H for Hermitian matrices [..., F, F] (eigh reads the lower triangle).</summary>
    public static Tensor HermitianSqrt(Tensor matrix)
    {
        using var scope = NewDisposeScope();
        var (values, vectors) = linalg.eigh(matrix);
        var root = values.clamp_min(0).sqrt().to(vectors.dtype).unsqueeze(-2);
        return matmul(vectors * root, vectors.conj().transpose(-1, -2)).MoveToOuterDisposeScope();
    }

    static Tensor Trace(Tensor matrices) => real(matrices.diagonal(0, -2, -1).sum(-1));
}

/// <summary>
/// Second-order statistics of a generated stream against the prior, per rfft bin of one channel,
/// over the bins that carry power (S &gt; 1e-3 max S). Both are normalised by the true power S(k).
/// </summary>
public static class AnalyticStatistics
{
    /// <summary>Bins whose power is below this fraction of the largest are left out (their ratios are noise).</summary>
    public const double PowerFloor = 1e-3;

    /// <summary>Mean over bins of empirical E|Z_t|^2 / S(k): 1 for a perfect sampler, below 1 when it loses variance.</summary>
    public static double PowerRatio(Tensor frames, PromptParameters parameters, int channel)
    {
        using var scope = NewDisposeScope();
        var (z, spectrum, mask, _) = Prepare(frames, parameters, channel);
        var power = z.abs().square().mean(new long[] { 0 });
        return (power.masked_select(mask) / spectrum.masked_select(mask)).mean().item<double>();
    }

    /// <summary>
    /// Mean over bins of |E[Z_t conj Z_(t-1)] / S(k) - a(k)|: the normalised lag-1 correlation error.
    /// Seams, off-by-one timesteps and wrong update coefficients show up here (exact samples of 480
    /// frames of 8 x 8 sit at about 0.03, the finite-sample floor).
    /// </summary>
    public static double LagOneCorrelationError(Tensor frames, PromptParameters parameters, int channel)
    {
        using var scope = NewDisposeScope();
        var (z, spectrum, mask, a) = Prepare(frames, parameters, channel);
        if (z.shape[0] < 2) throw new ArgumentException("The lag-1 correlation needs at least two frames.", nameof(frames));
        var lag = (z.narrow(0, 1, z.shape[0] - 1) * z.narrow(0, 0, z.shape[0] - 1).conj()).mean(new long[] { 0 });
        var normalised = lag.masked_select(mask) / spectrum.masked_select(mask).to(ScalarType.ComplexFloat64);
        return (normalised - a.masked_select(mask)).abs().mean().item<double>();
    }

    /// <summary>Frames [T, h, w] of one channel to bins [T, h, w'], with S, the powered-bin mask and a(k).</summary>
    static (Tensor Z, Tensor Spectrum, Tensor Mask, Tensor A) Prepare(Tensor frames, PromptParameters parameters, int channel)
    {
        if (frames.dim() != 3) throw new ArgumentException($"Expected frames [T, h, w] of one channel, got [{string.Join(", ", frames.shape)}].", nameof(frames));
        if (channel < 0 || channel >= parameters.Channels) throw new ArgumentOutOfRangeException(nameof(channel), $"Channel {channel} is not one of the prior's {parameters.Channels}.");
        var prior = new SpectralPrior(parameters, (int)frames.shape[1], (int)frames.shape[2]);
        var spectrum = prior.Spectrum()[channel];
        var mask = spectrum > spectrum.max() * PowerFloor;
        var z = fft.rfft2(frames.to(ScalarType.Float64).cpu(), norm: FFTNormType.Ortho);
        return (z, spectrum, mask, prior.ArCoefficient());
    }
}
