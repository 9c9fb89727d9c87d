using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace FifoPipes.Tests.Statistics;

/// <summary>
/// Re-derives the figures behind <see cref="StreamLimits.Calibrated"/>: the check's measurements for exact prior
/// samples, FIFO with and without lookahead, independent chunks and a timestep off by one, over several seeds.
/// Opt-in (FIFOPIPES_CALIBRATE=1, several minutes on 2 cores; FIFOPIPES_CALIBRATE_FRAMES sets the stream length);
/// it prints and asserts nothing.
/// </summary>
[Trait("Category", "Calibration")]
public sealed class StreamCalibration(ITestOutputHelper output)
{
    [SkippableFact]
    public void Print_the_measurements_over_seeds()
    {
        Skip.IfNot(Environment.GetEnvironmentVariable("FIFOPIPES_CALIBRATE") == "1", "set FIFOPIPES_CALIBRATE=1 to re-measure the calibration");
        int frames = int.TryParse(Environment.GetEnvironmentVariable("FIFOPIPES_CALIBRATE_FRAMES"), out var n) ? n : 2000;
        const int f = FifoStreamStatisticsTests.WindowFrames, steps = FifoStreamStatisticsTests.Steps;
        var prior = CalibrationModel.CalibrationPrior;

        void Print(string what, Tensor stream)
        {
            using (stream) output.WriteLine($"{what,-24} {PriorMatch.Check(stream, prior, f, 1.0, StreamLimits.Calibrated with { PowerLow = 0, PowerHigh = 2 })}");
        }

        for (int seed = 1; seed <= 5; seed++)
            Print($"exact seed {seed}", Streams.Exact(prior, 8, frames, seed));
        for (int seed = 1; seed <= 3; seed++)
        {
            using var model = new CalibrationModel();
            Print($"ddim chunks seed {seed}", Streams.Collect(new ChunkedSampler(steps), model, frames, seed));
            Print($"fifo lookahead seed {seed}", Streams.Fifo(model, true, frames, seed));
            Print($"fifo plain seed {seed}", Streams.Fifo(model, false, frames, seed));
            using var broken = new TimestepOffByOneModel(new CalibrationModel(), steps);
            Print($"off-by-one seed {seed}", Streams.Fifo(broken, true, frames, seed));
        }
    }
}
