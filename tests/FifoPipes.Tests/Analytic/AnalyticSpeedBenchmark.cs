using System.Diagnostics;
using FifoPipes.Models.Analytic;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace FifoPipes.Tests.Analytic;

/// <summary>
/// The README workload's model side: per output frame, 2n = 8 lookahead windows of f = 16 frames,
/// each with a cond and an uncond row, plus one 320 x 512 decode. Opt-in (FIFOPIPES_BENCH=1): it
/// reports throughput and asserts nothing about time.
/// </summary>
[Trait("Category", "Benchmark")]
public sealed class AnalyticSpeedBenchmark(ITestOutputHelper output)
{
    [SkippableFact]
    public void Fifo_lookahead_workload_throughput()
    {
        Skip.IfNot(Environment.GetEnvironmentVariable("FIFOPIPES_BENCH") == "1", "set FIFOPIPES_BENCH=1 to run the speed benchmark");
        const int f = 16, n = 4, frames = 24;
        using var model = new AnalyticModel(new AnalyticOptions());
        var cond = model.Encode("fiery clouds drifting left");
        var uncond = model.Encode("");
        var decoder = model.CreateDecoder();
        int steps = f * n;
        // Window r of the lookahead queue covers queue slots r*f/2 .. r*f/2+f-1; slot j sits at timestep index ~ j.
        var windows = Enumerable.Range(0, 2 * n).Select(r =>
            tensor(Enumerable.Range(0, f).Select(j => (long)Math.Min(999, Math.Round((r * f / 2 + j) * 999.0 / (steps - 1)))).ToArray())).ToList();
        var x = randn(new long[] { 2, 4, f, 40, 64 });
        var sw = Stopwatch.StartNew();
        void OneFrame()
        {
            using var scope = NewDisposeScope();
            foreach (var t in windows)
            {
                var eps = model.PredictNoise(x, stack(new[] { t, t }), new[] { cond, uncond });
                Assert.False(eps.isnan().any().item<bool>());
            }
            decoder.Push(x[0, .., 0]);
        }
        OneFrame();
        output.WriteLine($"first frame (builds {model.Denoiser.OperatorsBuilt} operators): {sw.Elapsed.TotalSeconds:F2} s");
        sw.Restart();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        for (int i = 0; i < frames; i++) OneFrame();
        double perFrame = sw.Elapsed.TotalSeconds / frames;
        double cpuPerFrame = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds / frames;
        output.WriteLine($"steady state: {perFrame * 1000:F1} ms wall per output frame ({1 / perFrame:F2} frames/s; {16 / perFrame:F0} window-rows/s), " +
                         $"{cpuPerFrame * 1000:F1} ms CPU per frame, torch threads {get_num_threads()}");
        sw.Restart();
        for (int i = 0; i < frames; i++) { using var s = NewDisposeScope(); decoder.Push(x[0, .., 0]); }
        output.WriteLine($"decode alone: {sw.Elapsed.TotalMilliseconds / frames:F1} ms per frame");
    }
}
