using FifoPipes.Models.Analytic;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace FifoPipes.Tests.Analytic;

public sealed class AnalyticPriorTests
{
    // The calibration prior of shared/parity/analytic/README.md.
    static readonly PromptParameters Calibration = new(new[] { 1.0 }, beta: 3.0, k0: 0.1, t0: 10.0, velocityY: 0.25, velocityX: -0.5);

    [Fact]
    public void Exact_samples_reproduce_the_lag1_correlation_and_the_power()
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(1234);
        var prior = new SpectralPrior(Calibration, 8, 8);
        var frames = prior.Sample(480, generator)[0];
        double lag = AnalyticStatistics.LagOneCorrelationError(frames, Calibration, 0);
        double power = AnalyticStatistics.PowerRatio(frames, Calibration, 0);
        // The finite-sample floor: for a circular AR(1) bin, E|err|^2 = (1 + rho^2) / ((1 - rho^2) N), which
        // averages to about 0.07 over these bins at N = 480 (seeds 0..7 gave 0.045..0.095).
        Assert.True(lag < 0.12, $"lag-1 correlation error {lag:F4} at 480 frames");
        Assert.InRange(power, 0.9, 1.1);

        // The error is sampling noise, so it shrinks like 1/sqrt(N).
        var longer = prior.Sample(4000, generator)[0];
        double longLag = AnalyticStatistics.LagOneCorrelationError(longer, Calibration, 0);
        Assert.True(longLag < 0.045, $"lag-1 correlation error {longLag:F4} at 4000 frames");
        Assert.InRange(AnalyticStatistics.PowerRatio(longer, Calibration, 0), 0.95, 1.05);

        // The same statistic must see through a broken stream: shuffled frames have no temporal structure.
        var shuffled = frames.index_select(0, randperm(480, generator: generator));
        double broken = AnalyticStatistics.LagOneCorrelationError(shuffled, Calibration, 0);
        Assert.True(broken > 0.3, $"shuffled frames gave lag-1 error {broken:F4}; the statistic cannot tell a broken stream");
    }

    [Fact]
    public void Samples_have_the_channel_variances_and_no_nyquist_content()
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(7);
        var p = new PromptParameters(new[] { 1.0, 0.5 }, 2.5, 0.15, 3.0, 0.3, 0.7);
        var x = new SpectralPrior(p, 12, 16).Sample(400, generator);
        Assert.Equal(new long[] { 2, 400, 12, 16 }, x.shape);
        Assert.InRange(x[0].var().item<float>(), 0.85, 1.15);
        Assert.InRange(x[1].var().item<float>(), 0.85 * 0.25, 1.15 * 0.25);
        var bins = fft.rfft2(x, norm: FFTNormType.Ortho);
        Assert.True(bins.select(-2, 6).abs().max().item<float>() < 1e-4, "ky = -1/2 row must be empty");
        Assert.True(bins.select(-1, 8).abs().max().item<float>() < 1e-4, "kx = 1/2 column must be empty");
    }

    [Fact]
    public void True_windows_are_close_to_the_prior_and_shuffled_ones_are_not()
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(99);
        var prior = new SpectralPrior(Calibration, 8, 8);
        var stream = prior.Sample(600, generator)[0];
        var windows = stack(Enumerable.Range(0, 590 / 2).Select(i => stream.narrow(0, 2 * i, 6)).ToArray());
        double truth = AnalyticFrechet.Relative(windows, Calibration, 0);
        var shuffled = stream.index_select(0, randperm(600, generator: generator));
        var shuffledWindows = stack(Enumerable.Range(0, 590 / 2).Select(i => shuffled.narrow(0, 2 * i, 6)).ToArray());
        double broken = AnalyticFrechet.Relative(shuffledWindows, Calibration, 0);
        Assert.True(truth < 0.1, $"true windows: relative FD {truth:F4}");
        Assert.True(broken > 3 * truth && broken > 0.2, $"shuffled windows: relative FD {broken:F4} vs true {truth:F4}");
    }

    [Fact]
    public void The_window_covariance_is_hermitian_with_the_spectrum_on_its_diagonal()
    {
        using var scope = NewDisposeScope();
        var prior = new SpectralPrior(new PromptParameters(new[] { 1.3 }, 3, 0.08, 6, 0.4, -0.2), 9, 10);
        var k = prior.WindowCovariance(5);
        Assert.True((k - k.conj().transpose(-1, -2)).abs().max().item<double>() < 1e-12);
        var diagonal = real(k.diagonal(0, -2, -1));
        Assert.True((diagonal - prior.Spectrum().unsqueeze(-1)).abs().max().item<double>() < 1e-12);
        // Parseval: the weighted sum of S over rfft bins is h w sigma^2.
        double total = (prior.Spectrum()[0] * prior.TwinWeight()).sum().item<double>();
        Assert.Equal(9 * 10 * 1.3 * 1.3, total, 9);
    }
}
