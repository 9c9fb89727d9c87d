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

    /// <summary>A /proc and a cgroup mount with just the files the host gauge reads.</summary>
    sealed class FakeHost : IDisposable
    {
        public string Root { get; } = Directory.CreateTempSubdirectory("fifopipes-host-").FullName;
        public string Proc => Path.Combine(Root, "proc");
        public string Cgroup => Path.Combine(Root, "cgroup");

        public FakeHost(long memAvailableMiB, string cgroupLine)
        {
            Write("proc/meminfo", $"MemTotal:       99999999 kB\nMemAvailable:   {memAvailableMiB * 1024} kB\n");
            Write("proc/self/cgroup", cgroupLine + "\n");
        }

        public void Write(string relative, string text)
        {
            var path = Path.Combine(Root, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, text);
        }

        public HostMemoryGauge Gauge() => new(Proc, Cgroup);
        public void Dispose() => Directory.Delete(Root, true);
    }

    [Fact]
    public void A_cgroup_v1_limit_counts_its_working_set_not_its_file_cache()
    {
        using var host = new FakeHost(memAvailableMiB: 8192, "4:memory:/jobs/render");
        host.Write("cgroup/memory/jobs/render/memory.limit_in_bytes", $"{1024 * MiB}\n");
        host.Write("cgroup/memory/jobs/render/memory.usage_in_bytes", $"{700 * MiB}\n");
        host.Write("cgroup/memory/jobs/render/memory.stat", $"cache {300 * MiB}\ntotal_inactive_file {200 * MiB}\n");
        Assert.Equal(524 * MiB, host.Gauge().AvailableBytes());   // 1024 - (700 - 200)
    }

    [Fact]
    public void A_cgroup_v2_limit_applies_only_when_it_is_the_smaller()
    {
        using var host = new FakeHost(memAvailableMiB: 512, "0::/user.slice/render");
        host.Write("cgroup/user.slice/render/memory.max", $"{2048 * MiB}\n");
        host.Write("cgroup/user.slice/render/memory.current", $"{1024 * MiB}\n");
        Assert.Equal(512 * MiB, host.Gauge().AvailableBytes());

        host.Write("cgroup/user.slice/render/memory.current", $"{1800 * MiB}\n");
        host.Write("cgroup/user.slice/render/memory.stat", $"anon {1700 * MiB}\ninactive_file {100 * MiB}\n");
        Assert.Equal(348 * MiB, host.Gauge().AvailableBytes());   // 2048 - (1800 - 100)
    }

    [Fact]
    public void An_unlimited_group_inside_a_limited_one_is_held_to_the_outer_limit()
    {
        // A container limited to 2 GiB whose process sits in an unlimited sub-group: the kernel enforces the container's.
        using var host = new FakeHost(memAvailableMiB: 62_500, "0::/user.slice/app.scope");
        host.Write("cgroup/user.slice/app.scope/memory.max", "max\n");
        host.Write("cgroup/user.slice/app.scope/memory.current", $"{600 * MiB}\n");
        host.Write("cgroup/memory.max", $"{2048 * MiB}\n");
        host.Write("cgroup/memory.current", $"{1024 * MiB}\n");
        Assert.Equal(1024 * MiB, host.Gauge().AvailableBytes());

        // A tighter limit in between wins over both.
        host.Write("cgroup/user.slice/memory.max", $"{1536 * MiB}\n");
        host.Write("cgroup/user.slice/memory.current", $"{1000 * MiB}\n");
        Assert.Equal(536 * MiB, host.Gauge().AvailableBytes());
    }

    [Fact]
    public void No_cgroup_limit_leaves_mem_available()
    {
        using var host = new FakeHost(memAvailableMiB: 3000, "0::/");
        host.Write("cgroup/memory.max", "max\n");
        host.Write("cgroup/memory.current", $"{100 * MiB}\n");
        Assert.Equal(3000 * MiB, host.Gauge().AvailableBytes());
    }

    [Fact]
    public void The_cuda_runtime_is_found_among_the_mappings_under_any_versioned_name()
    {
        const string libtorch = "7f3a10000000-7f3a12000000 r-xp 00000000 08:01 131 /venv/lib/python3.12/site-packages/torch/lib/libtorch_cuda.so";
        const string wheel = "7f3a20000000-7f3a20080000 r-xp 00000000 08:01 132 /venv/lib/python3.12/site-packages/nvidia/cuda_runtime/lib/libcudart.so.12";
        const string hashed = "7f3a30000000-7f3a30080000 r-xp 00000000 08:01 133 /opt/torch/lib/libcudart-9335f6a2.so.12";
        const string anonymous = "7ffd5a000000-7ffd5a021000 rw-p 00000000 00:00 0                          [stack]";
        Assert.Equal("/venv/lib/python3.12/site-packages/nvidia/cuda_runtime/lib/libcudart.so.12", CudaMemoryGauge.RuntimeIn(new[] { anonymous, libtorch, wheel }));
        Assert.Equal("/opt/torch/lib/libcudart-9335f6a2.so.12", CudaMemoryGauge.RuntimeIn(new[] { libtorch, hashed }));
        Assert.Null(CudaMemoryGauge.RuntimeIn(new[] { anonymous, libtorch }));
    }

    [SkippableFact]
    public void No_cuda_gauge_without_a_cuda_runtime_in_the_process()
    {
        Skip.If(cuda.is_available(), "a CUDA build on a GPU machine has a CUDA runtime; the speed benchmark's batched cases read the gauge there");
        Assert.Null(MemoryGauge.For(new Device(DeviceType.CUDA, 0)));
    }
}

/// <summary>What the host gauge reads is the whole process's memory, so this runs alone.</summary>
[Collection(HostMemoryPeakTests.Name)]
public sealed class HostMemoryPeakTests
{
    public const string Name = "Process memory";
    const long MiB = 1L << 20;

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
        // The peak is the process's, so nothing may run beside this test: another test freeing memory during the work
        // would take from the peak what it counts above the floor (seen in CI: under 240 MiB).
        Assert.InRange(cost.PeakBytes, 240 * MiB, total);
        Assert.InRange(cost.AvailableBeforeBytes, 64 * MiB, total);
    }
}

[CollectionDefinition(HostMemoryPeakTests.Name, DisableParallelization = true)]
public sealed class HostMemoryPeakCollection;
