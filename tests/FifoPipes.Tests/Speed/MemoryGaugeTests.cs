using FifoPipes.Core.Devices;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace FifoPipes.Tests.Speed;

/// <summary>The memory gauges behind windowBatch: auto, on the host (the CUDA one needs a GPU; the benchmark exercises it there).</summary>
public sealed class MemoryGaugeTests
{
    const long MiB = 1L << 20;

    [Theory]
    [InlineData(10L << 30, 3L << 30, 8, 2)]   // floor(0.8 * 10 / 3)
    [InlineData(100L << 30, 1L << 30, 8, 8)]  // more room than windows
    [InlineData(1L << 30, 4L << 30, 8, 1)]    // not even one fits: still one, and the out-of-memory fallback decides
    [InlineData(1L << 30, 1000, 8, 8)]        // too small to tell: all
    public void Units_that_fit(long available, long perUnit, int max, int expected) =>
        Assert.Equal(expected, MemoryGauge.UnitsThatFit(new MemoryCost(perUnit, available), max));

    [Fact]
    public void The_host_gauge_sees_what_the_work_touched_at_its_peak()
    {
        var gauge = Assert.IsType<HostMemoryGauge>(MemoryGauge.For(CPU));
        long total = long.Parse(File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemTotal:")).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        long available = gauge.AvailableBytes();
        Assert.InRange(available, 64 * MiB, total);

        // 256 MiB written and freed inside the work: gone afterwards, but the peak saw it.
        var cost = gauge.Measure(() =>
        {
            using var big = ones(64 * MiB, ScalarType.Float32);
            Assert.Equal(64 * MiB, big.sum().item<float>(), 0);
        });
        Assert.InRange(cost.PeakBytes, 240 * MiB, 1024 * MiB);
        Assert.InRange(cost.AvailableBeforeBytes, 64 * MiB, total);
    }

    [Fact]
    public void No_cuda_gauge_without_a_cuda_runtime_in_the_process()
    {
        if (cuda.is_available()) return; // a CUDA build on a GPU machine has one; the speed benchmark's batched cases read it there
        Assert.Null(MemoryGauge.For(new Device(DeviceType.CUDA, 0)));
    }
}
