using System.Diagnostics;
using FifoPipes.Abstractions;
using FifoPipes.Core;
using FifoPipes.Core.Devices;
using FifoPipes.Samplers.Fifo;
using FifoPipes.Torch.UNets;
using TorchSharp;
using static TorchSharp.torch;

namespace FifoPipes.Benchmarks.Speed;

/// <summary>One measured configuration.</summary>
public sealed record CaseResult
{
    public required string Schedule { get; init; }
    public required string Lookahead { get; init; }
    public required string Guidance { get; init; }
    public required string DType { get; init; }
    public required string Devices { get; init; }
    public required int WindowsPerCall { get; init; }
    public required int CallsPerFrame { get; init; }
    public required double SecondsPerFrame { get; init; }
    public required double MinSeconds { get; init; }
    public required double MaxSeconds { get; init; }
    public required double FlopsPerFrame { get; init; }
    public double AchievedTflops => FlopsPerFrame / SecondsPerFrame / 1e12;
    public double? PeakTflops { get; init; }
    public required long PeakMemoryMiB { get; init; }
    /// <summary>Peak memory after the first timed repeat: equal to <see cref="PeakMemoryMiB"/> when memory does not grow with video length.</summary>
    public required long PeakMemoryFirstRepeatMiB { get; init; }
    /// <summary>Peak memory once the decoding block ran too (VAE weights and activations added).</summary>
    public long? PeakEndToEndMiB { get; init; }
    /// <summary>Seconds per frame with every frame also decoded by the VAE and copied to the host (null with --no-decode).</summary>
    public double? EndToEndSecondsPerFrame { get; init; }
    /// <summary>What an 8192³ matrix product reached in this dtype on this device, in the same process (CUDA only).</summary>
    public double? MatmulTflops { get; init; }
    public required bool PeakIsGpu { get; init; }
}

/// <summary>Builds the model for one case and times FIFO iterations (one output frame each) with the devices synchronised.</summary>
public static class CaseRunner
{
    public static CaseResult Run(BenchOptions options, string oneCase)
    {
        var parts = oneCase.Split('/');
        bool reference = parts[0] == "reference", lookahead = parts[1] == "on", guidance = parts[2] == "on";
        var preset = options.ResolvePreset();
        var devices = reference ? options.Devices.Take(1).ToList() : options.Devices.ToList();
        var dtype = reference ? ScalarType.Float32 : options.ScalarType;
        using var memory = new MemoryProbe(devices);

        var build = Stopwatch.StartNew();
        IVideoModel model = BuildModel(preset, devices, dtype, reference ? static _ => { } : options.ApplyCandidates);
        if (reference) model = new OneRowPerCallModel(model);
        DeviceSync.All(devices);
        Console.WriteLine($"built {preset.Name} UNet with random weights on {string.Join(",", devices)} in {dtype}: {build.Elapsed.TotalSeconds:F1} s");

        using var owned = model;
        var fifo = new FifoOptions
        {
            Partitions = options.Partitions,
            Lookahead = lookahead,
            Guidance = guidance ? null : 1.0,
            WindowBatch = reference ? "1" : options.WindowBatch,
            Start = "noise",
            WarmupIterations = 0,
        };
        // The decoding block decodes one untimed frame first (the VAE's first calls choose kernels), then repeats as above.
        int total = options.Warmup + options.Repeats * options.Frames + (options.Decode ? 1 + options.Repeats * options.Frames : 0);
        var job = new SamplingJob
        {
            Model = model,
            Prompts = new[] { new PromptSpan("a timelapse of clouds over mountains", total) },
            Noise = new KeyedNoise(0),
            Log = new ConsoleLog(),
        };
        var plan = FifoPlan.Resolve(fifo, model.Info, job);
        using var run = FifoRun.Create(job, plan, CancellationToken.None);

        void Iterate(IFrameDecoder? decoder = null)
        {
            var frame = run.Advance(CancellationToken.None)!;
            using var latent = frame.Latent;
            // As the engine does: each decoded frame becomes 8-bit pixels on the device, and those come to the host.
            if (decoder is not null) foreach (var rgb in decoder.Push(latent)) using (rgb) FrameConversion.ToRgb24(rgb);
            else latent.cpu().Dispose(); // the emitted frame leaves the device, as it does for a sink
        }

        double TimePerFrame(IFrameDecoder? decoder = null)
        {
            DeviceSync.All(devices);
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < options.Frames; i++) Iterate(decoder);
            DeviceSync.All(devices);
            return clock.Elapsed.TotalSeconds / options.Frames;
        }

        for (int i = 0; i < options.Warmup; i++) Iterate();
        var perFrame = new List<double>();
        long? peakAfterFirst = null;
        for (int r = 0; r < options.Repeats; r++)
        {
            perFrame.Add(TimePerFrame());
            peakAfterFirst ??= memory.PeakMiB();
            Console.WriteLine($"repeat {r + 1}: {perFrame[^1]:G4} s/frame");
        }
        long peakDenoiser = memory.PeakMiB();
        double? endToEnd = null;
        long? peakEndToEnd = null;
        if (options.Decode)
        {
            // Built only now, so the denoiser's peak above does not hold the VAE.
            using var decoder = RandomVae.CreateDecoder(preset, devices[0], dtype);
            Iterate(decoder);
            var decoded = new List<double>();
            for (int r = 0; r < options.Repeats; r++)
            {
                decoded.Add(TimePerFrame(decoder));
                Console.WriteLine($"with decoding, repeat {r + 1}: {decoded[^1]:G4} s/frame");
            }
            decoded.Sort();
            endToEnd = decoded[decoded.Count / 2];
            peakEndToEnd = memory.PeakMiB();
        }
        var matmul = MatmulProbe.MeasureTflops(devices[0], dtype);

        int windows = plan.Windows.Count, branches = guidance ? 2 : 1;
        var perCall = UNet3DFlops.Count(preset.UNet, 1, plan.WindowFrames, plan.Height, plan.Width, RandomUNetModel.ContextLength);
        int windowsPerCall = reference ? 1 : run.WindowBatch;
        int calls = reference ? windows * branches : (windows + windowsPerCall - 1) / windowsPerCall;
        var gpu = devices.FirstOrDefault(d => d.type == DeviceType.CUDA);
        double? peak = options.PeakTflops ?? (gpu is null ? null : PeakTable.Lookup(PeakTable.GpuName((int)gpu.index), dtype) * devices.Count);
        perFrame.Sort();
        return new CaseResult
        {
            Schedule = reference ? "reference" : "batched",
            Lookahead = parts[1],
            Guidance = parts[2],
            DType = dtype.ToString().ToLowerInvariant(),
            Devices = string.Join(",", devices),
            WindowsPerCall = windowsPerCall,
            CallsPerFrame = calls,
            SecondsPerFrame = perFrame[perFrame.Count / 2],
            MinSeconds = perFrame[0],
            MaxSeconds = perFrame[^1],
            FlopsPerFrame = perCall.Total * windows * branches,
            PeakTflops = peak,
            PeakMemoryMiB = peakDenoiser,
            PeakMemoryFirstRepeatMiB = peakAfterFirst!.Value,
            PeakEndToEndMiB = peakEndToEnd,
            EndToEndSecondsPerFrame = endToEnd,
            MatmulTflops = matmul,
            PeakIsGpu = memory.IsGpu,
        };
    }

    static IVideoModel BuildModel(FifoPipes.Models.VideoCrafter.VideoCrafterPreset preset, IReadOnlyList<Device> devices, ScalarType dtype,
        Action<UNet3D> configure)
    {
        RandomUNetModel? primary = null;
        return ReplicatedModel.Create(devices, device =>
        {
            var replica = new RandomUNetModel(preset, device, dtype, primary);
            configure(replica.UNet);
            primary ??= replica;
            return replica;
        });
    }
}
