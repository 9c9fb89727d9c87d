using System.Diagnostics;
using System.Globalization;
using FifoPipes.Abstractions;
using FifoPipes.Hosting.Engine;
using FifoPipes.Hosting.Plugins;
using FifoPipes.Hosting.Recipes;

namespace FifoPipes.Benchmarks;

/// <summary>
/// An endless run in miniature, through the product's own path (plugins loaded by the host, a YAML recipe, VideoRun
/// on its worker thread, a PNG sequence and an MP4 written by SinkSet): resident memory is sampled along the way and
/// its trend fitted, then every frame is counted on disk and in the video. Exit code 1 when a frame is missing or
/// memory grows.
/// </summary>
public sealed class Soak : IBenchmark
{
    public string Name => "soak";
    public string Summary => "N frames of analytic + FIFO into PNG and MP4 through the engine: memory slope, frames on disk and in the video";
    public string Usage => """
        soak [options]
          --frames N          output frames (default 10000)
          --size HxW          latent size (default 4x6, frames 32x48)
          --every N           frames between memory samples (default frames/200)
          --max-slope KIB     largest resident-memory growth accepted, KiB per 1,000 frames (default 1024)
          --gc-stress         collect garbage and run finalizers in a loop on another thread (exposes native handles
                              that TorchSharp lets the GC finalize while libtorch still uses them)
          --plugins DIR       plugin folder (default: the module layout, artifacts/FifoDiffusion/plugins)
          --out DIR           keep the written files in DIR (default: a temporary folder, deleted)
        """;

    /// <summary>Samples before this share of the run are warm-up: allocator pools, JIT and caches still settling.</summary>
    const double WarmupShare = 0.5;

    public int Run(BenchmarkArguments arguments)
    {
        int frames = arguments.Int("frames", 10_000);
        var (height, width) = arguments.Size("size", (4, 6));
        int every = arguments.Int("every", Math.Max(1, frames / 200));
        double maxSlope = arguments.Number("max-slope", 1024);
        bool gcStress = arguments.Flag("gc-stress");
        string plugins = arguments.Text("plugins", ModuleLayout.PluginsFolder());
        string? keep = arguments.Has("out") ? arguments.Text("out", "") : null;
        arguments.RejectUnknown();

        string folder = keep ?? Directory.CreateTempSubdirectory("fifo-soak-").FullName;
        Directory.CreateDirectory(folder);
        try
        {
            using var stress = gcStress ? new GarbageCollectionStress() : null;
            return Measure(frames, height, width, every, maxSlope, plugins, folder);
        }
        finally
        {
            if (keep is null) Directory.Delete(folder, recursive: true);
        }
    }

    static int Measure(int frames, int height, int width, int every, double maxSlopeKiBPer1000, string plugins, string folder)
    {
        var host = PluginHost.Load(plugins, Array.Empty<string>());
        foreach (var error in host.Errors) Console.Error.WriteLine($"plugin error: {error}");
        var reader = new RecipeReader(host);
        var recipe = reader.ReadText($$"""
            apiVersion: fifopipes/v1
            model: { use: analytic, with: { height: {{height}}, width: {{width}} } }
            prompt: orange clouds drifting slowly to the left over a purple nebula
            frames: {{frames}}
            seed: 1
            sampler: { use: fifo, with: { partitions: 4, lookahead: true } }
            sinks:
              - { path: frames, use: png }
              - path: soak.mp4
            """, Path.Combine(folder, "soak.yaml"))
            ?? throw new InvalidOperationException(string.Join(Environment.NewLine, reader.Diagnostics.Select(d => $"{d.Path}: {d.Message}")));

        Console.WriteLine($"soak: {frames} frames, latents {height}x{width} ({width * 8}x{height * 8} pixels), fifo n = 4 with lookahead, sinks png + mp4, memory every {every} frames");
        var samples = new List<ProcessMemory> { ProcessMemory.Now(0, collect: false) };
        var clock = Stopwatch.StartNew();
        long produced = 0;
        int faultsRepeated = 0;
        using (var sinks = new SinkSet(recipe.Sinks, recipe.Overwrite, 8, new PluginContext(workingDirectory: folder)))
        {
            foreach (var e in new VideoRun(recipe).Events())
            {
                if (e is RunMessage { Level: MessageLevel.Warning } warning && warning.Text.Contains("TorchSharp scalar fault", StringComparison.Ordinal)) faultsRepeated++;
                if (e is not FrameProduced frame) continue;
                sinks.Write(frame.Frame);
                produced++;
                if (produced % every == 0 || produced == frames)
                {
                    samples.Add(ProcessMemory.Now(produced, collect: false));   // the worker is in libtorch: see ProcessMemory
                    if (samples.Count % 10 == 0) Console.WriteLine($"  {samples[^1]}, {produced / clock.Elapsed.TotalSeconds:F1} frames/s");
                }
            }
            sinks.Complete();
        }
        double seconds = clock.Elapsed.TotalSeconds;

        var steady = samples.Where(s => s.Frame >= WarmupShare * frames).ToList();
        double residentSlope = Slope(steady, s => s.Resident) * 1000 / 1024;   // KiB per 1,000 frames
        // A quarter with fewer than two samples has no slope: the half's slope alone then decides.
        double[] quarterSlopes = steady.GroupBy(s => s.Frame >= (1 + WarmupShare) / 2 * frames)
            .Select(quarter => quarter.Count() >= 2 ? Slope(quarter.ToList(), s => s.Resident) * 1000 / 1024 : double.PositiveInfinity).ToArray();
        double heapSlope = Slope(steady, s => s.ManagedHeap) * 1000 / 1024;
        var pngs = Directory.EnumerateFiles(Path.Combine(folder, "frames"), "frame_*.png")
            .Select(f => long.Parse(Path.GetFileNameWithoutExtension(f)["frame_".Length..], CultureInfo.InvariantCulture)).ToHashSet();
        long missingPngs = Enumerable.Range(0, frames).Count(i => !pngs.Contains(i));
        int videoFrames = CountVideoFrames(Path.Combine(folder, "soak.mp4"));

        Console.WriteLine();
        Console.WriteLine($"frames produced        {produced} of {frames} in {seconds:F1} s ({produced / seconds:F1} frames/s)");
        Console.WriteLine($"PNG files              {pngs.Count} ({missingPngs} missing)");
        Console.WriteLine($"MP4 frames (ffprobe)   {videoFrames}");
        Console.WriteLine($"resident memory        {ProcessMemory.MiB(steady[0].Resident).Trim()} at frame {steady[0].Frame}, {ProcessMemory.MiB(samples[^1].Resident).Trim()} at the end, peak {ProcessMemory.MiB(samples.Max(s => s.PeakResident)).Trim()}");
        Console.WriteLine($"resident slope         {residentSlope:+0.0;-0.0} KiB per 1,000 frames (least squares over {steady.Count} samples after the first {WarmupShare:P0}; limit {maxSlopeKiBPer1000:F0})");
        Console.WriteLine($"  by quarter           {string.Join(", ", quarterSlopes.Select(q => q.ToString("+0.0;-0.0", CultureInfo.InvariantCulture)))} KiB per 1,000 frames (third, last)");
        Console.WriteLine($"managed heap slope     {heapSlope:+0.0;-0.0} KiB per 1,000 frames");
        long lost = frames - Math.Min(produced, Math.Min(pngs.Count, videoFrames)) + missingPngs;
        Console.WriteLine($"frames lost            {lost}");
        Console.WriteLine($"scalar faults repeated {faultsRepeated} (TorchSharp finalizer race, docs/reliability.md)");

        // A leak grows all the time; the allocator's one-off step of a few MiB lifts the half's slope but leaves one
        // of its quarters flat, so memory only "grows" when both quarters grow too.
        bool flat = residentSlope <= maxSlopeKiBPer1000 || quarterSlopes.Any(q => q <= maxSlopeKiBPer1000);
        Console.WriteLine(lost == 0 && flat ? "soak: PASS" : $"soak: FAIL ({(lost > 0 ? "frames lost" : "")}{(lost > 0 && !flat ? ", " : "")}{(flat ? "" : "memory grows")})");
        return lost == 0 && flat ? 0 : 1;
    }

    /// <summary>Least-squares slope of a quantity against the frame number, in bytes per frame.</summary>
    static double Slope(IReadOnlyList<ProcessMemory> samples, Func<ProcessMemory, long> value)
    {
        if (samples.Count < 2) return 0;
        double meanX = samples.Average(s => (double)s.Frame), meanY = samples.Average(s => (double)value(s));
        double covariance = samples.Sum(s => (s.Frame - meanX) * (value(s) - meanY));
        double variance = samples.Sum(s => (s.Frame - meanX) * (s.Frame - meanX));
        return variance == 0 ? 0 : covariance / variance;
    }

    static int CountVideoFrames(string path)
    {
        var info = new ProcessStartInfo("ffprobe") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", path })
            info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return process.ExitCode == 0 && int.TryParse(output.Trim(), out var n) ? n : 0;
    }
}

/// <summary>Full collections and finalizer runs back to back on a background thread, until disposed.</summary>
sealed class GarbageCollectionStress : IDisposable
{
    readonly CancellationTokenSource stop = new();
    readonly Thread thread;

    public GarbageCollectionStress()
    {
        thread = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
                Thread.Sleep(1);
            }
        }) { IsBackground = true, Name = "gc stress" };
        thread.Start();
    }

    public void Dispose()
    {
        stop.Cancel();
        thread.Join();
    }
}

/// <summary>Where the build lays the module out, found by walking up from the benchmark's own folder.</summary>
static class ModuleLayout
{
    public static string PluginsFolder()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "artifacts", "FifoDiffusion", "plugins");
            if (Directory.Exists(candidate)) return candidate;
        }
        throw new BenchmarkUsageException("No artifacts/FifoDiffusion/plugins above the benchmark; build FifoPipes.sln first or pass --plugins DIR.");
    }
}
