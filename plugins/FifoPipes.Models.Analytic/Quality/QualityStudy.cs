using System.Diagnostics;
using FifoPipes.Abstractions;
using FifoPipes.Core;
using static TorchSharp.torch;

namespace FifoPipes.Models.Analytic.Quality;

/// <summary>
/// Ground-truth quality of long-video samplers: each candidate generates <see cref="QualityStudyOptions.Frames"/>
/// frames on the analytic prior (guidance 1, so the target is the prior itself), and every
/// <see cref="QualityStudyOptions.Every"/> frames the stretch is measured against the exact window distribution.
/// Samplers come in as <see cref="ISampler"/> instances, so this plugin never references sampler plugins: the caller
/// (the benchmark console, a cmdlet) creates them from their factories.
/// </summary>
public static class QualityStudy
{
    /// <summary>The analytic model a study runs on: one channel per stream, guidance 1, the study's prior pinned to its prompt.</summary>
    public static AnalyticModel CreateModel(QualityStudyOptions options)
    {
        options.Check();
        var model = new AnalyticModel(new AnalyticOptions
        {
            Channels = options.Streams,
            Height = options.Height,
            Width = options.Width,
            Frames = options.WindowFrames,
            Guidance = 1.0,
            Partitions = options.Partitions,
            Eta = options.Eta,
            OperatorCache = OperatorCache(options),
        });
        model.UsePrior(options.Prompt, options.Prior());
        return model;
    }

    /// <summary>
    /// Operators the study's model keeps. A clip sampler cycles through one per step (chunked-4x: 16 f of them), and an
    /// LRU cache shorter than that cycle never hits, so every call would rebuild its operator and the ms / frame column
    /// would time the cache, not the sampler. Each operator is F²·C·h·(w/2+1) complex numbers, small at the study's
    /// sizes: keep as many as fit in 256 MiB, at least one per step of the longest clip sampler (chunked-4x takes four
    /// times the n f steps of the others) and FIFO window, at most the model's 1,024.
    /// </summary>
    static int OperatorCache(QualityStudyOptions options)
    {
        long operatorBytes = ExactDenoiser.OperatorBytes(options.WindowFrames, options.Streams, options.Height, options.Width);
        long needed = 4 * options.Partitions * options.WindowFrames + 4 * options.Partitions + 8;
        return (int)Math.Min(1024, Math.Max(needed, (256L << 20) / operatorBytes));
    }

    /// <summary>
    /// Runs the candidates one after another on a fresh model each and yields every candidate's points (in position
    /// order) as soon as its run is measured.
    /// </summary>
    public static IEnumerable<QualityPoint> Run(QualityStudyOptions options, IEnumerable<QualityCandidate> candidates,
        CancellationToken cancellation = default, IProgressSink? log = null)
    {
        options.Check();
        log ??= NullProgressSink.Instance;
        if (options.RemainderNote() is { } note) log.Warning($"quality: {note}");
        foreach (var candidate in candidates)
        {
            log.Verbose($"quality: {candidate.Name}: generating {options.Frames} frames x {options.Streams} streams");
            var (video, seconds) = Generate(options, candidate, cancellation, log);
            using (video)
                foreach (var point in Measure(candidate.Name, video, seconds, options))
                    yield return point;
        }
    }

    /// <summary>Runs one candidate: the latents [N, streams, h, w] and the seconds each frame took to arrive.</summary>
    public static (Tensor Video, double[] Seconds) Generate(QualityStudyOptions options, QualityCandidate candidate,
        CancellationToken cancellation = default, IProgressSink? log = null)
    {
        using var model = CreateModel(options);
        var job = new SamplingJob
        {
            Model = model,
            Prompts = new[] { new PromptSpan(options.Prompt, options.Frames) },
            Seed = options.Seed,
            Noise = new KeyedNoise(options.Seed),
            Log = log ?? NullProgressSink.Instance,
        };
        var frames = new List<Tensor>(options.Frames);
        var seconds = new double[options.Frames];
        try
        {
            var watch = Stopwatch.StartNew();
            double last = 0;
            foreach (var frame in candidate.Sampler.Sample(job, cancellation))
            {
                if (frame.Index != frames.Count)
                    throw new InvalidOperationException($"Sampler '{candidate.Name}' yielded frame {frame.Index} where {frames.Count} was due.");
                if (frames.Count == options.Frames)
                    throw new InvalidOperationException($"Sampler '{candidate.Name}' yielded more than the {options.Frames} frames asked for.");
                frames.Add(frame.Latent.to(ScalarType.Float32).cpu().DetachFromDisposeScope());
                if (!ReferenceEquals(frames[^1], frame.Latent)) frame.Latent.Dispose();
                double now = watch.Elapsed.TotalSeconds;
                seconds[frames.Count - 1] = now - last;
                last = now;
            }
            if (frames.Count != options.Frames)
                throw new InvalidOperationException($"Sampler '{candidate.Name}' yielded {frames.Count} frames, not {options.Frames}.");
            return (stack(frames).DetachFromDisposeScope(), seconds);
        }
        finally
        {
            foreach (var f in frames) f.Dispose();
        }
    }

    /// <summary>
    /// The points of one generated video [N, streams, h, w] (see <see cref="QualityPoint"/>): one per whole stretch of
    /// <see cref="QualityStudyOptions.Every"/> frames. A shorter remainder gets none (<see cref="QualityStudyOptions.RemainderNote"/>),
    /// so every point is measured on the same footing; its frames still complete the windows that start in the last stretch.
    /// </summary>
    public static IReadOnlyList<QualityPoint> Measure(string sampler, Tensor video, IReadOnlyList<double> seconds, QualityStudyOptions options)
    {
        options.Check();
        int n = (int)video.shape[0], f = options.WindowFrames, window = options.MeasureFrames;
        if (video.dim() != 4 || video.shape[1] != options.Streams || video.shape[2] != options.Height || video.shape[3] != options.Width)
            throw new ArgumentException($"Expected a video [N, {options.Streams}, {options.Height}, {options.Width}], got [{string.Join(", ", video.shape)}].", nameof(video));
        using var statistics = new StreamStatistics(options.Prior(), options.Height, options.Width);
        using var bins = StreamStatistics.Bins(video);
        var points = new List<QualityPoint>();
        for (int start = 0; start + options.Every <= n; start += options.Every)
        {
            using var scope = NewDisposeScope();
            int end = start + options.Every;
            var (ratio, powerError) = statistics.Power(bins.narrow(0, start, end - start));

            int firstPair = Math.Max(start, 1);
            var later = bins.narrow(0, firstPair, end - firstPair);
            var earlier = bins.narrow(0, firstPair - 1, end - firstPair);
            var seams = Enumerable.Range(firstPair, end - firstPair).Select(t => t % f == 0).ToArray();
            Tensor Pick(Tensor pairs, bool seam) => pairs.index_select(0,
                tensor(seams.Select((s, i) => (s, i)).Where(p => p.s == seam).Select(p => (long)p.i).ToArray(), ScalarType.Int64));

            int lastStart = Math.Min(end - 1, n - window);
            int count = lastStart < start ? 0 : (lastStart - start) / options.WindowStride + 1;
            double frechet = double.NaN;
            if (count > 0)
            {
                var windows = video.narrow(0, start, (count - 1) * options.WindowStride + window)
                    .unfold(0, window, options.WindowStride)                         // [count, streams, h, w, F]
                    .permute(0, 1, 4, 2, 3).reshape(-1, window, options.Height, options.Width);
                frechet = statistics.Frechet(windows);
            }

            points.Add(new QualityPoint(
                Sampler: sampler,
                Position: start,
                Frames: end - start,
                Windows: count * options.Streams,
                Frechet: frechet,
                PowerRatio: ratio,
                PowerError: powerError,
                LagOneError: statistics.LagOneError(later, earlier),
                LagOneSeamError: statistics.LagOneError(Pick(later, true), Pick(earlier, true)),
                LagOneInteriorError: statistics.LagOneError(Pick(later, false), Pick(earlier, false)),
                SecondsPerFrame: seconds.Skip(start).Take(end - start).Sum() / (end - start)));
        }
        return points;
    }
}
