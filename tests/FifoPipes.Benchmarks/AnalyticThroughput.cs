using System.Diagnostics;
using FifoPipes.Abstractions;
using FifoPipes.Core;
using FifoPipes.Models.Analytic;
using FifoPipes.Samplers.Fifo;
using FifoPipes.Sinks.Ffmpeg;
using FifoPipes.Sinks.Images;
using static TorchSharp.torch;

namespace FifoPipes.Benchmarks;

/// <summary>
/// Frames per second of the built-in analytic model under the FIFO sampler, at the README's default job
/// (4 x 40 x 64 latents, f = 16, n = 4, lookahead, the model's default guidance), split into the time in the
/// model (PredictNoise), in the sampler (the rest of the sampling loop), in decoding (latent to RGB bytes) and
/// in the sinks; and whether the process's memory stays flat over a long run.
/// </summary>
public sealed class AnalyticThroughput : IBenchmark
{
    public string Name => "analytic";
    public string Summary => "frames/s of the analytic model + FIFO, time shares (model, sampler, decode, sinks), memory after 100 and N frames";
    public string Usage => """
        analytic [options]
          --frames N        output frames (default 2000); memory is read after 100, every 500 and after N
          --size HxW        latent size (default 40x64, frames 8x larger)
          --channels C      latent channels (default 4)
          --window F        frames per denoiser window f (default 16)
          --partitions N    FIFO partitions n (default 4)
          --operator-cache N  a fixed operator cache of N (default: unset, 24 growing as the run needs)
          --no-lookahead    plain FIFO windows instead of lookahead
          --guidance W      guidance scale (default: the model's, 1.5)
          --sinks LIST      mp4,gif (default), mp4, gif or none
          --block N         frames per throughput sample (default 100); frames/s is the median over blocks
          --out DIR         keep the written files in DIR (default: a temporary folder, deleted)
          --prompt TEXT     prompt (default: the README's)
        """;

    public int Run(BenchmarkArguments arguments)
    {
        int frames = arguments.Int("frames", 2000);
        var (height, width) = arguments.Size("size", (40, 64));
        int channels = arguments.Int("channels", 4);
        int window = arguments.Int("window", 16, min: 2);
        int partitions = arguments.Int("partitions", 4);
        int? operatorCache = arguments.Has("operator-cache") ? arguments.Int("operator-cache", 24) : null;
        bool lookahead = !arguments.Flag("no-lookahead");
        double? guidance = arguments.Has("guidance") ? arguments.Number("guidance", 1.5) : null;
        var sinkNames = arguments.Text("sinks", "mp4,gif").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(s => s != "none").ToList();
        int block = arguments.Int("block", 100);
        string? keep = arguments.Has("out") ? arguments.Text("out", "") : null;
        string prompt = arguments.Text("prompt", "orange clouds drifting slowly to the left over a purple nebula");
        arguments.RejectUnknown();
        foreach (var s in sinkNames.Where(s => s is not ("mp4" or "gif")))
            throw new BenchmarkUsageException($"--sinks knows mp4, gif and none, not '{s}'.");

        string folder = keep ?? Directory.CreateTempSubdirectory("fifo-bench-").FullName;
        Directory.CreateDirectory(folder);
        try
        {
            return Measure(new AnalyticOptions { Channels = channels, Height = height, Width = width, Frames = window, Partitions = partitions, OperatorCache = operatorCache },
                new FifoOptions { Lookahead = lookahead, Guidance = guidance }, frames, block, sinkNames, folder, prompt);
        }
        finally
        {
            if (keep is null) Directory.Delete(folder, recursive: true);
        }
    }

    static int Measure(AnalyticOptions modelOptions, FifoOptions samplerOptions, int frames, int block, IReadOnlyList<string> sinkNames,
        string folder, string prompt)
    {
        var context = new PluginContext(workingDirectory: folder);
        using var model = new TimedModel(new AnalyticModel(modelOptions));
        var info = model.Info;
        var sampler = new FifoSamplerFactory().Create(samplerOptions, context);
        double guidance = samplerOptions.Guidance ?? info.Defaults.Guidance;
        Console.WriteLine($"analytic + fifo: {info.LatentChannels} x {info.LatentHeight} x {info.LatentWidth} latents ({info.PixelWidth}x{info.PixelHeight} frames), " +
                          $"f = {info.WindowFrames}, n = {samplerOptions.Partitions ?? info.Defaults.Partitions}, lookahead {samplerOptions.Lookahead}, " +
                          $"guidance {guidance}, {frames} frames, sinks: {(sinkNames.Count == 0 ? "none" : string.Join(", ", sinkNames))}");
        Console.WriteLine($"torch threads {get_num_threads()}, {Environment.ProcessorCount} logical processors, {RuntimeVersion()}");

        var sinks = sinkNames.Select(name => name switch
        {
            "mp4" => new Mp4SinkFactory().Create(null, new SinkTarget(Path.Combine(folder, "bench.mp4"), info.Defaults.Fps, true), context),
            _ => new GifSinkFactory().Create(null, new SinkTarget(Path.Combine(folder, "bench.gif"), info.Defaults.Fps, true), context),
        }).ToList();

        var job = new SamplingJob
        {
            Model = model,
            Prompts = new[] { new PromptSpan(prompt, frames) },
            Seed = 1,
            Noise = new KeyedNoise(1),
        };

        var timings = new List<FrameTiming>(frames);
        var memory = new List<ProcessMemory> { ProcessMemory.Now(0) };
        using var decoder = model.CreateDecoder();
        using var process = Process.GetCurrentProcess();
        var clock = Stopwatch.StartNew();
        using (var latents = sampler.Sample(job, CancellationToken.None).GetEnumerator())
        {
            for (int i = 0; i < frames; i++)
            {
                var modelBefore = model.PredictNoiseTime;
                var cpuStart = process.TotalProcessorTime;
                long start = clock.ElapsedTicks;
                if (!latents.MoveNext()) throw new InvalidOperationException($"The sampler stopped after {i} of {frames} frames.");
                long sampled = clock.ElapsedTicks;
                var cpuSampled = process.TotalProcessorTime;
                var latent = latents.Current;
                var rgbFrames = new List<VideoFrame>();
                using (latent.Latent)
                    foreach (var rgb in decoder.Push(latent.Latent, latent.Prompt))
                        using (rgb) rgbFrames.Add(FrameConversion.ToFrame(rgb, latent.Index, latent.Prompt, info.Defaults.Fps, Guid.Empty));
                long decoded = clock.ElapsedTicks;
                var cpuDecoded = process.TotalProcessorTime;
                foreach (var frame in rgbFrames)
                    foreach (var sink in sinks) sink.Write(frame);
                long written = clock.ElapsedTicks;
                var cpuWritten = process.TotalProcessorTime;

                double model_ = (model.PredictNoiseTime - modelBefore).TotalSeconds;
                double sampling = Seconds(sampled - start);
                timings.Add(new FrameTiming(model_, sampling - model_, Seconds(decoded - sampled), Seconds(written - decoded),
                    (cpuSampled - cpuStart).TotalSeconds, (cpuDecoded - cpuSampled).TotalSeconds, (cpuWritten - cpuDecoded).TotalSeconds));
                int done = i + 1;
                if (done == 100 || done % 500 == 0 || done == frames)
                {
                    memory.Add(ProcessMemory.Now(done));
                    Progress(timings, memory);
                }
            }
        }
        var completeStart = clock.ElapsedTicks;
        var files = sinks.SelectMany(s => s.Complete()).ToList();
        double completing = Seconds(clock.ElapsedTicks - completeStart);
        foreach (var sink in sinks) sink.Dispose();

        Report(timings, memory, block, model.PredictNoiseCalls, completing, files);
        return 0;
    }

    static void Report(IReadOnlyList<FrameTiming> timings, IReadOnlyList<ProcessMemory> memory, int block, long modelCalls,
        double completing, IReadOnlyList<string> files)
    {
        var first = timings[0];
        Console.WriteLine();
        Console.WriteLine($"first frame (base clip + queue fill): {first.Total:F2} s (model {first.Model:F2} s)");

        // Steady state: every frame after the first; frames/s per block of frames, median over blocks.
        var steady = timings.Skip(1).ToList();
        var blocks = steady.Chunk(block).Where(b => b.Length == block).Select(b => b.Length / b.Sum(t => t.Total)).OrderBy(v => v).ToList();
        double total = steady.Sum(t => t.Total);
        Console.WriteLine($"steady state over {steady.Count} frames: {steady.Count / total:F2} frames/s overall" +
                          (blocks.Count > 0 ? $"; per {block}-frame block median {Median(blocks):F2} frames/s (min {blocks[0]:F2}, max {blocks[^1]:F2}, {blocks.Count} blocks)" : ""));
        Console.WriteLine($"model calls: {modelCalls} ({(double)modelCalls / timings.Count:F1} per frame)");
        Console.WriteLine();
        Console.WriteLine("stage       median ms/frame   mean ms/frame   share of time");
        void Stage(string name, Func<FrameTiming, double> pick)
        {
            var values = steady.Select(pick).OrderBy(v => v).ToList();
            Console.WriteLine($"{name,-10} {Median(values) * 1000,14:F2} {values.Average() * 1000,15:F2} {100 * values.Sum() / total,13:F1} %");
        }
        Stage("model", t => t.Model);
        Stage("sampler", t => t.Sampler);
        Stage("decode", t => t.Decode);
        Stage("sinks", t => t.Sinks);
        Stage("total", t => t.Total);
        // Wall time includes waiting for the CPU when other processes share it; CPU time does not (ffmpeg's encoding,
        // a separate process, is in neither).
        double cpu = steady.Sum(t => t.TotalCpu);
        Console.WriteLine($"process CPU per frame (all threads): sampling {1000 * steady.Average(t => t.SamplingCpu):F1} ms, decode {1000 * steady.Average(t => t.DecodeCpu):F1} ms, " +
                          $"sinks {1000 * steady.Average(t => t.SinksCpu):F1} ms; CPU/wall {cpu / total:F2} on {Environment.ProcessorCount} processors{LoadAverage()}");
        Console.WriteLine($"sinks completing their files: {completing:F2} s ({string.Join(", ", files.Select(f => $"{Path.GetFileName(f)} {new FileInfo(f).Length / 1024.0:F0} KiB"))})");

        Console.WriteLine();
        foreach (var m in memory) Console.WriteLine(m);
        var at100 = memory.FirstOrDefault(m => m.Frame == 100);
        var last = memory[^1];
        if (at100 is not null && last.Frame > 100)
            Console.WriteLine($"growth from frame 100 to {last.Frame}: resident {Signed(last.Resident - at100.Resident)}, " +
                              $"peak resident {Signed(last.PeakResident - at100.PeakResident)}, managed heap {Signed(last.ManagedHeap - at100.ManagedHeap)}");
    }

    /// <summary>A line per memory checkpoint, as the run goes: long runs show their trend before they end.</summary>
    static void Progress(IReadOnlyList<FrameTiming> timings, IReadOnlyList<ProcessMemory> memory)
    {
        long from = memory.Count > 2 ? memory[^2].Frame : 1;
        var recent = timings.Skip((int)from).ToList();
        if (recent.Count == 0) return;
        double total = recent.Sum(t => t.Total);
        string Share(Func<FrameTiming, double> pick) => $"{100 * recent.Sum(pick) / total:F0}%";
        Console.WriteLine($"  frames {from + 1}-{memory[^1].Frame}: {recent.Count / total:F2} frames/s, model {Share(t => t.Model)}, sampler {Share(t => t.Sampler)}, " +
                          $"decode {Share(t => t.Decode)}, sinks {Share(t => t.Sinks)}; {memory[^1]}");
    }

    static string Signed(long bytes) => (bytes >= 0 ? "+" : "-") + ProcessMemory.MiB(Math.Abs(bytes)).Trim();
    static double Seconds(long ticks) => ticks / (double)Stopwatch.Frequency;
    static double Median(IReadOnlyList<double> sorted) =>
        sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? $" (load average {string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3))})" : "";

    static string RuntimeVersion() => System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription;

    /// <summary>Wall seconds per stage, and CPU seconds of the whole process (all threads) while sampling, decoding and writing.</summary>
    sealed record FrameTiming(double Model, double Sampler, double Decode, double Sinks, double SamplingCpu, double DecodeCpu, double SinksCpu)
    {
        public double Total => Model + Sampler + Decode + Sinks;
        public double TotalCpu => SamplingCpu + DecodeCpu + SinksCpu;
    }
}
