using System.Diagnostics;
using FifoPipes.Abstractions;
using FifoPipes.Core;
using FifoPipes.Models.Analytic;
using FifoPipes.Samplers.Fifo;
using FifoPipes.Sinks.Images;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing.Processors.Dithering;
using SixLabors.ImageSharp.Processing.Processors.Quantization;

namespace FifoPipes.Benchmarks;

/// <summary>
/// Milliseconds per frame of the GIF sink under each palette and dither choice, beside ImageSharp's own Wu quantizer
/// (what the sink ran before it built its palettes itself), on frames the analytic model made: each frame goes through
/// every variant in turn, so the medians are taken side by side, each writing its bytes to disk. Also the bytes per
/// frame and how far the frames, read back, are from the frames given (mean squared error per pixel, summed over R, G
/// and B).
/// </summary>
public sealed class GifEncoding : IBenchmark
{
    public string Name => "gif";
    public string Summary => "ms/frame, bytes/frame and error of each GIF palette and dither, beside ImageSharp's own Wu quantizer";
    public string Usage => """
        gif [options]
          --frames N        frames to encode (default 24); the first 2 warm up and are not counted
          --size HxW        latent size (default 40x64, frames 8x larger: 320x512)
          --prompt TEXT     prompt (default: the README's)
        """;

    /// <summary>The sink's choices measured, default first.</summary>
    static readonly (string Quantizer, string Dither)[] Variants =
    {
        ("wu", "floyd-steinberg"), ("wu", "bayer8"), ("wu", "none"), ("octree", "floyd-steinberg"), ("websafe", "floyd-steinberg"),
    };

    const int Warmup = 2;

    public int Run(BenchmarkArguments arguments)
    {
        int count = arguments.Int("frames", 24, min: Warmup + 1);
        var (height, width) = arguments.Size("size", (40, 64));
        string prompt = arguments.Text("prompt", "orange clouds drifting slowly to the left over a purple nebula");
        arguments.RejectUnknown();

        var folder = Directory.CreateTempSubdirectory("fifo-gif-bench-").FullName;
        try
        {
            var frames = AnalyticFrames(count, height, width, prompt);
            Console.WriteLine($"{count} analytic frames of {frames[0].Width}x{frames[0].Height} ({Warmup} warm-up), {Environment.ProcessorCount} logical processors");
            Measure(frames, folder);
            return 0;
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    static void Measure(IReadOnlyList<VideoFrame> frames, string folder)
    {
        var context = new PluginContext(workingDirectory: folder);
        var sinks = Variants.Select(v => new GifSinkFactory().Create(
            new GifSinkOptions { Quantizer = v.Quantizer, Dither = v.Dither },
            new SinkTarget(Path.Combine(folder, $"{v.Quantizer}-{v.Dither}.gif"), frames[0].Fps, true), context)).ToList();
        var reference = new GifEncoder
        {
            Quantizer = new WuQuantizer(new QuantizerOptions { Dither = ErrorDither.FloydSteinberg }),
            ColorTableMode = GifColorTableMode.Local,
        };
        var times = Enumerable.Range(0, sinks.Count + 1).Select(_ => new List<(double Ms, long Allocated)>()).ToList();
        long referenceBytes = 0;
        double referenceError = 0;
        using var encoded = new MemoryStream();
        // The reference writes its frames to disk as well (as one-frame GIFs one after the other), as the sinks do.
        using var referenceFile = new FileStream(Path.Combine(folder, "imagesharp-wu.gifs"), FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.WriteThrough);
        for (int i = 0; i < frames.Count; i++)
        {
            for (int v = 0; v < sinks.Count; v++)
                times[v].Add(Timed(() => sinks[v].Write(frames[i])));
            times[^1].Add(Timed(() =>
            {
                encoded.SetLength(0);
                using var image = Image.LoadPixelData<Rgb24>(frames[i].Rgb, frames[i].Width, frames[i].Height);
                image.SaveAsGif(encoded, reference);
                referenceFile.Write(encoded.GetBuffer(), 0, (int)encoded.Length);
                referenceFile.Flush();
            }));
            referenceBytes += encoded.Length;
            using var read = Image.Load<Rgb24>(encoded.ToArray());
            referenceError += SquaredError(read.Frames.RootFrame, frames[i]);
        }
        var files = sinks.Select(s => s.Complete().Single()).ToList();
        foreach (var sink in sinks) sink.Dispose();

        double referenceMs = Median(times[^1].Skip(Warmup).Select(t => t.Ms));
        Console.WriteLine();
        Console.WriteLine("variant                        median ms/frame   vs ImageSharp's Wu   allocated MiB/frame   file KiB/frame   error/pixel");
        string Row(string name, List<(double Ms, long Allocated)> measured, double bytes, double error)
        {
            double ms = Median(measured.Skip(Warmup).Select(t => t.Ms));
            double mib = measured.Skip(Warmup).Average(t => t.Allocated) / (1024.0 * 1024);
            double pixels = frames.Count * (double)frames[0].Width * frames[0].Height;
            return $"{name,-30} {ms,15:F1} {referenceMs / ms,19:F2}x {mib,21:F1} {bytes / frames.Count / 1024.0,16:F1} {error / pixels,13:F1}";
        }
        for (int v = 0; v < sinks.Count; v++)
            Console.WriteLine(Row(Variants[v].Quantizer + ", " + Variants[v].Dither, times[v], new FileInfo(files[v]).Length, Error(files[v], frames)));
        Console.WriteLine(Row("ImageSharp's wu, floyd-steinberg", times[^1], referenceBytes, referenceError));
    }

    /// <summary>
    /// Milliseconds the action took, and the managed bytes the process allocated meanwhile (in a real run, garbage
    /// collections that pause the sampler too; ImageSharp's own buffers are unmanaged and do not show here).
    /// </summary>
    static (double Ms, long Allocated) Timed(Action action)
    {
        long allocated = GC.GetTotalAllocatedBytes(precise: true);
        var clock = Stopwatch.StartNew();
        action();
        double ms = clock.Elapsed.TotalMilliseconds;
        return (ms, GC.GetTotalAllocatedBytes(precise: true) - allocated);
    }

    /// <summary>The squared differences of a GIF's frames from the frames given, summed over pixels and channels.</summary>
    static double Error(string gif, IReadOnlyList<VideoFrame> frames)
    {
        using var animation = Image.Load<Rgb24>(gif);
        return frames.Select((frame, f) =>
        {
            using var read = animation.Frames.CloneFrame(f);
            return SquaredError(read.Frames.RootFrame, frame);
        }).Sum();
    }

    static double SquaredError(ImageFrame<Rgb24> read, VideoFrame frame)
    {
        var bytes = new byte[frame.Rgb.Length];
        read.CopyPixelDataTo(bytes);
        double sum = 0;
        for (int i = 0; i < bytes.Length; i++) sum += (bytes[i] - frame.Rgb[i]) * (bytes[i] - frame.Rgb[i]);
        return sum;
    }

    static double Median(IEnumerable<double> values)
    {
        var sorted = values.OrderBy(v => v).ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    /// <summary>The analytic model's first frames under FIFO, as RGB.</summary>
    static List<VideoFrame> AnalyticFrames(int count, int height, int width, string prompt)
    {
        using var model = new AnalyticModel(new AnalyticOptions { Height = height, Width = width });
        var sampler = new FifoSamplerFactory().Create(new FifoOptions(), new PluginContext());
        var job = new SamplingJob { Model = model, Prompts = new[] { new PromptSpan(prompt, count) }, Seed = 1, Noise = new KeyedNoise(1) };
        using var decoder = model.CreateDecoder();
        var frames = new List<VideoFrame>(count);
        foreach (var latent in sampler.Sample(job, CancellationToken.None))
            using (latent.Latent)
                foreach (var rgb in decoder.Push(latent.Latent, latent.Prompt))
                    using (rgb) frames.Add(FrameConversion.ToFrame(rgb, latent.Index, latent.Prompt, model.Info.Defaults.Fps, Guid.Empty));
        return frames;
    }
}
