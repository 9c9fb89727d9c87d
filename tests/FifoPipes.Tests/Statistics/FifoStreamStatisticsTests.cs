using FifoPipes.Models.Analytic;
using Xunit;
using Xunit.Abstractions;

namespace FifoPipes.Tests.Statistics;

/// <summary>The power standard DDIM keeps with the same 32 steps on the calibration prior: what FIFO is compared to.</summary>
public sealed class DdimBaseline
{
    public DdimBaseline()
    {
        using var model = new CalibrationModel();
        // As long as the FIFO streams: the ratios' spread is as much the baseline's as theirs.
        using var stream = Streams.Collect(new ChunkedSampler(FifoStreamStatisticsTests.Steps), model, FifoStreamStatisticsTests.StreamFrames, seed: 1000);
        using var spectra = new StreamSpectra(stream, model.Prior);
        Power = spectra.PowerRatio(Enumerable.Range(0, FifoStreamStatisticsTests.StreamFrames).Select(i => (long)i).ToList());
    }

    public double Power { get; }
}

/// <summary>
/// FIFO-Diffusion with the exact denoiser must reproduce the prior's temporal structure all along a long
/// stream, and keep the power the calibration says; the same check must reject broken samplers.
/// </summary>
[Trait("Category", "Statistics")]
public sealed class FifoStreamStatisticsTests(DdimBaseline baseline, ITestOutputHelper output) : IClassFixture<DdimBaseline>
{
    public const int WindowFrames = 8, Partitions = 4, Steps = WindowFrames * Partitions;
    public const int StreamFrames = 2000;
    // A seam fails 4x over the limit; a shorter stream is plenty to find it.
    const int ChunkedFrames = 1000;

    static PromptParameters Prior => CalibrationModel.CalibrationPrior;

    StreamVerdict CheckStream(TorchSharp.torch.Tensor stream, StreamLimits? limits = null, double? baselinePower = null)
    {
        var verdict = PriorMatch.Check(stream, Prior, WindowFrames, baselinePower ?? baseline.Power, limits ?? StreamLimits.Calibrated);
        output.WriteLine(verdict.ToString());
        return verdict;
    }

    [Fact]
    public void The_same_step_ddim_baseline_loses_the_calibrated_share_of_power()
    {
        // Plain DDIM with an exact denoiser loses variance at 32 steps (a discretisation effect): the calibration
        // measured about 0.79, this implementation 0.79-0.82 over seeds (2,000 frames).
        output.WriteLine($"baseline power {baseline.Power:F4}");
        Assert.InRange(baseline.Power, 0.76, 0.86);
    }

    [Fact]
    public void Exact_prior_samples_pass_with_their_own_full_power()
    {
        // The truth must pass the correlation limits, and hold power 1 (within the finite-sample spread).
        using var stream = Streams.Exact(Prior, 8, StreamFrames, seed: 17);
        var verdict = CheckStream(stream, StreamLimits.Calibrated with { PowerLow = 0.95, PowerHigh = 1.05 }, baselinePower: 1.0);
        Assert.True(verdict.Matches, verdict.ToString());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Fifo_reproduces_the_prior_everywhere_in_a_long_stream(bool lookahead)
    {
        using var model = new CalibrationModel(WindowFrames, Partitions);
        using var stream = Streams.Fifo(model, lookahead, StreamFrames, seed: 7);
        var verdict = CheckStream(stream);
        Assert.True(verdict.Matches, verdict.ToString());
    }

    [Fact]
    public void Independent_chunks_are_rejected_at_their_seams()
    {
        using var model = new CalibrationModel(WindowFrames, Partitions);
        using var stream = Streams.Collect(new ChunkedSampler(Steps), model, ChunkedFrames, seed: 7);
        var verdict = CheckStream(stream);
        Assert.False(verdict.Matches, "independent chunks passed: " + verdict);
        Assert.True(verdict.Fails(MismatchKind.PhaseCorrelation), "the seams were not found: " + verdict);
        Assert.Equal(verdict.PhaseCorrelationErrors.Max(), verdict.PhaseCorrelationErrors[0]);
    }

    [Fact]
    public void A_timestep_off_by_one_step_is_rejected()
    {
        // Lookahead or not makes no difference here (both keep 0.61 of the prior's power, measured): one case will do.
        using var model = new TimestepOffByOneModel(new CalibrationModel(WindowFrames, Partitions), Steps);
        using var stream = Streams.Fifo(model, lookahead: true, StreamFrames, seed: 7);
        var verdict = CheckStream(stream);
        Assert.False(verdict.Matches, "a sampler one step off passed: " + verdict);
        Assert.True(verdict.Fails(MismatchKind.Power), "the lost power was not found: " + verdict);
    }
}
