using System.Runtime.InteropServices;
using FifoPipes.Abstractions;
using FifoPipes.Core;
using FifoPipes.Core.Devices;
using FifoPipes.Samplers.Fifo;
using FifoPipes.Tests.Sampling;
using FifoPipes.Tests.Parity;
using Xunit;
using static TorchSharp.torch;

namespace FifoPipes.Tests.Speed;

/// <summary>
/// windowBatch: auto sizes the windows per call from free memory on the first iteration and halves them when the device
/// runs out of memory anyway, with unchanged results.
/// </summary>
public sealed class AutoWindowBatchTests
{
    /// <summary>The linear test model behind a device that holds at most <paramref name="maxRows"/> rows per call.</summary>
    static DelegateVideoModel SmallDevice(int maxRows)
    {
        var linear = DelegateVideoModel.Linear();
        return new DelegateVideoModel(linear.Info, (x, t, c) =>
        {
            if (x.shape[0] > maxRows) throw new ExternalException("CUDA out of memory. Tried to allocate 20.00 GiB (GPU 0; 79.11 GiB total capacity)");
            return linear.PredictNoise(x, t, c);
        });
    }

    /// <summary>Says what it was built with: each measured piece of work cost <c>perWindow</c> with <c>available</c> free.</summary>
    sealed class FixedGauge : MemoryGauge
    {
        readonly long available, perWindow;
        public FixedGauge(long available, long perWindow) => (this.available, this.perWindow) = (available, perWindow);
        public int Measurements { get; private set; }
        public override string DeviceName => "test:0";
        public override long AvailableBytes() => available;

        public override MemoryCost Measure(Action work)
        {
            Measurements++;
            work();
            return new MemoryCost(perWindow, available);
        }
    }

    /// <summary>A gauge that cannot tell what a window costs (it was served from memory already held).</summary>
    static MemoryGauge Unmeasurable() => new FixedGauge(1L << 40, 0);

    static (List<Tensor> Frames, int FinalBatch) Run(IVideoModel model, string windowBatch, IProgressSink log, MemoryGauge? gauge = null)
    {
        var job = new SamplingJob { Model = model, Prompts = new[] { new PromptSpan("rain", 3) }, Noise = new KeyedNoise(9), Seed = 9, Log = log };
        var plan = FifoPlan.Resolve(new FifoOptions { WindowBatch = windowBatch, Start = "noise" }, model.Info, job);
        using var run = FifoRun.Create(job, plan, CancellationToken.None, memoryGauge: gauge ?? Unmeasurable());
        var frames = new List<Tensor>();
        while (!run.Finished)
            if (run.Advance(CancellationToken.None) is { } frame) frames.Add(frame.Latent);
        return (frames, run.WindowBatch);
    }

    [Fact]
    public void A_resumed_run_takes_the_windows_per_call_of_the_run_that_wrote_its_snapshot()
    {
        // A GPU rounds by batch shape: measuring free memory again could pick another size and other frames.
        var model = DelegateVideoModel.Linear();
        var path = Path.Combine(Path.GetTempPath(), $"fifo-batch-{Guid.NewGuid():N}.safetensors");
        var job = new SamplingJob { Model = model, Prompts = new[] { new PromptSpan("rain", 6) }, Noise = new KeyedNoise(9), Seed = 9 };
        FifoPlan Plan(string windowBatch) => FifoPlan.Resolve(new FifoOptions { WindowBatch = windowBatch }, model.Info, job);
        try
        {
            using (var first = FifoRun.Create(job, Plan("2"), CancellationToken.None))
            {
                first.Advance(CancellationToken.None);
                using var snapshot = first.Snapshot();
                snapshot.Save(path);
            }
            // Room for all 4 windows: the snapshot's 2. Room for 1 (a smaller GPU): 1.
            foreach (var (perWindow, expected) in new[] { (0L, 2), ((1L << 40) / 2, 1) })
            {
                using var resumed = FifoRun.Create(job with { ResumeFrom = path }, Plan("auto"), CancellationToken.None, memoryGauge: new FixedGauge(1L << 40, perWindow));
                resumed.Advance(CancellationToken.None);
                Assert.Equal(expected, resumed.WindowBatch);
            }
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Out_of_memory_halves_the_batch_retries_the_iteration_and_changes_nothing()
    {
        var log = new RecordingSink();
        var (auto, batch) = Run(SmallDevice(maxRows: 3), "auto", log);
        // 4 windows (8 rows with guidance) -> 2 windows (4 rows) -> 1 window (2 rows), then kept.
        Assert.Equal(1, batch);
        var warning = Assert.Single(log.Warnings);
        Assert.Contains("out of memory with 4 windows", warning);
        Assert.Contains(log.Messages, m => m.Contains("with 2 windows per model call"));

        var (fixedOne, _) = Run(DelegateVideoModel.Linear(), "1", NullProgressSink.Instance);
        TensorAssert.Identical(fixedOne, auto, "auto after halving against windowBatch 1");
    }

    [Fact]
    public void Auto_sizes_the_batch_from_free_memory_once_and_changes_nothing()
    {
        var log = new RecordingSink();
        var model = DelegateVideoModel.Linear();
        var gauge = new FixedGauge(available: 10L << 30, perWindow: 3L << 30);
        var (sized, batch) = Run(model, "auto", log, gauge);

        // 80% of 10 GiB holds two windows of 3 GiB: one measured call of a window (2 rows with guidance), thrown away,
        // then every iteration in calls of 2 windows.
        Assert.Equal(2, batch);
        Assert.Equal(1, gauge.Measurements);
        Assert.Equal(2, model.Calls[0].Batch);
        Assert.All(model.Calls.Skip(1), c => Assert.Equal(4, c.Batch));
        Assert.Equal(0, (model.Calls.Count - 1) % 2);
        Assert.Contains(log.Messages, m => m.Contains("a call of 1 window took 3072 MiB at its peak with 10240 MiB available on test:0: 2 of 4 windows"));
        Assert.Empty(log.Warnings);

        var (all, _) = Run(DelegateVideoModel.Linear(), "all", NullProgressSink.Instance);
        TensorAssert.Identical(all, sized, "auto sized from memory against all windows");
    }

    [Fact]
    public void A_fixed_batch_is_not_measured()
    {
        var gauge = new FixedGauge(available: 1L << 30, perWindow: 1L << 30);
        var (_, batch) = Run(DelegateVideoModel.Linear(), "3", NullProgressSink.Instance, gauge);
        Assert.Equal(3, batch);
        Assert.Equal(0, gauge.Measurements);
    }

    [Fact]
    public void Sizing_from_memory_still_halves_when_the_device_runs_out()
    {
        // The gauge says all four windows fit, but the device takes 3 rows at most: the halving fallback takes over.
        var (_, batch) = Run(SmallDevice(maxRows: 3), "auto", new RecordingSink(), new FixedGauge(available: 100L << 30, perWindow: 1L << 30));
        Assert.Equal(1, batch);
    }

    [Fact]
    public void A_fixed_batch_does_not_hide_an_out_of_memory_error()
    {
        var ex = Assert.Throws<ExternalException>(() => Run(SmallDevice(maxRows: 3), "0", NullProgressSink.Instance));
        Assert.Contains("out of memory", ex.Message);
    }

    [Theory]
    [InlineData("auto", 0, true)]
    [InlineData("0", 0, false)]
    [InlineData("all", 0, false)]
    [InlineData(" 3 ", 3, false)]
    public void Window_batch_option_values(string text, int windows, bool auto) =>
        Assert.Equal((windows, auto), FifoOptions.ParseWindowBatch(text));

    [Fact]
    public void Bad_window_batch_values_are_reported()
    {
        Assert.Null(FifoOptions.ParseWindowBatch("-2"));
        Assert.Null(FifoOptions.ParseWindowBatch("half"));
        Assert.Contains(new FifoOptions { WindowBatch = "half" }.Validate(), p => p.Option == "windowBatch");
    }
}
