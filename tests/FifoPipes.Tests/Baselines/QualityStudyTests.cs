using FifoPipes.Abstractions;
using FifoPipes.Models.Analytic.Quality;
using FifoPipes.Samplers.Baselines;
using FifoPipes.Samplers.Fifo;
using Xunit;

namespace FifoPipes.Tests.Baselines;

/// <summary>The quality study engine on a small configuration.</summary>
public sealed class QualityStudyTests
{
    static QualityStudyOptions Small() => new() { Height = 8, Width = 8, Streams = 8, WindowFrames = 4, Partitions = 2, Frames = 192, Every = 64, MeasureFrames = 4 };

    static QualityCandidate Candidate(string name, ISamplerFactory factory, object? options) => new(name, factory.Create(options, new PluginContext()));

    [Fact]
    public void Measures_every_stretch_and_separates_chunk_seams()
    {
        var options = Small();
        var points = QualityStudy.Run(options, new[]
        {
            QualityCandidates.ExactPrior(),
            Candidate("chunked", new ChunkedSamplerFactory(), null),
            Candidate("fifo", new FifoSamplerFactory(), new FifoOptions()),
        }).ToList();
        Assert.Equal(9, points.Count);
        Assert.Equal(new long[] { 0, 64, 128 }, points.Where(p => p.Sampler == "chunked").Select(p => p.Position));
        Assert.All(points, p => Assert.True(double.IsFinite(p.Frechet) && p.Frechet >= 0 && p.SecondsPerFrame >= 0, p.ToString()));
        Assert.All(points.Where(p => p.Position < 128), p => Assert.Equal(64 * 8, p.Windows));
        Assert.All(points.Where(p => p.Position == 128), p => Assert.Equal((188 - 128 + 1) * 8, p.Windows));

        double Mean(string sampler, Func<QualityPoint, double> pick) => points.Where(p => p.Sampler == sampler).Average(pick);
        // Exact samples keep power and correlation; chunks break the correlation at every seam and nowhere else.
        Assert.InRange(Mean("exact prior", p => p.PowerRatio), 0.85, 1.15);
        Assert.True(Mean("exact prior", p => p.Frechet) < Mean("chunked", p => p.Frechet));
        Assert.True(Mean("chunked", p => p.LagOneSeamError) > 0.3, "chunk seams look correlated");
        Assert.True(Mean("chunked", p => p.LagOneInteriorError) < 0.15);
        Assert.True(Mean("fifo", p => p.LagOneSeamError) < 0.15, "fifo shows seams");
    }

    [Fact]
    public void The_studys_model_builds_each_step_operator_of_a_long_clip_sampler_once()
    {
        // 16 f = 64 steps per clip, more than FIFO needs: an operator cache shorter than the cycle would rebuild every call.
        var options = Small();
        using var model = QualityStudy.CreateModel(options);
        var chunked4x = new ChunkedSamplerFactory().Create(new ChunkedOptions { ClipBatch = 2, Steps = 16 * options.WindowFrames }, new PluginContext());
        var job = new SamplingJob { Model = model, Prompts = new[] { new PromptSpan(options.Prompt, 16) }, Noise = new FifoPipes.Core.KeyedNoise(1), Seed = 1 };
        foreach (var frame in chunked4x.Sample(job, CancellationToken.None)) frame.Latent.Dispose();
        Assert.Equal(16 * options.WindowFrames, model.Denoiser.OperatorsBuilt);
    }

    [Fact]
    public void Reports_and_plot_are_written()
    {
        var options = Small();
        options.Frames = 64;
        options.Every = 32;
        var points = QualityStudy.Run(options, new[] { QualityCandidates.ExactPrior("exact") }).ToList();
        string folder = Path.Combine(Path.GetTempPath(), "quality-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            string png = Path.Combine(folder, "fd.png");
            QualityPlot.Write(points, p => p.Frechet, "FD", png);
            var bytes = File.ReadAllBytes(png);
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, bytes.Take(4));
            Assert.Contains("| exact |", QualityReport.SummaryMarkdown(points));
            Assert.Contains("| 32-63 |", QualityReport.PositionMarkdown(points, p => p.Frechet));
            Assert.Equal(3, QualityReport.Csv(points).Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void Only_whole_stretches_are_points_and_the_remainder_completes_the_last_windows()
    {
        // 100 frames in stretches of 30: a fourth point over frames 90-99 would pool 7 window starts against the others'
        // 30 and read the finite-sample floor as drift.
        var options = Small();
        options.Frames = 100;
        options.Every = 30;
        var log = new RecordingLog();
        var points = QualityStudy.Run(options, new[] { QualityCandidates.ExactPrior() }, log: log).ToList();

        Assert.Equal(new long[] { 0, 30, 60 }, points.Select(p => p.Position));
        Assert.All(points, p => Assert.Equal(30, p.Frames));
        // Windows starting in 60-89 end by frame 92, within the run: the last stretch pools as many as the others.
        Assert.All(points, p => Assert.Equal(30 * options.Streams, p.Windows));
        var warning = Assert.Single(log.Warnings);
        Assert.Contains("the points are the 3 whole stretches (frames 0-89); the last 10 frames are too few to compare with them", warning);
        Assert.Contains("Give frames 90 or 120", warning);

        options.Frames = 90;
        Assert.Null(options.RemainderNote());
    }

    [Fact]
    public void A_stretch_shorter_than_the_measured_window_is_refused()
    {
        // Its last stretches would hold no window that fits in the run: Frechet NaN, and "FD last n/a" with no word why.
        var options = Small();
        options.Frames = 100;
        options.Every = 3;
        var e = Assert.Throws<FifoInputException>(() => QualityStudy.Run(options, Array.Empty<QualityCandidate>()).ToList());
        Assert.Equal("BadQualityOption", e.ErrorId);
        Assert.Contains("'every': a point every 3 frames is shorter than the measured window of 4 frames (measureFrames); " +
                        "give every at least 4, or measureFrames at most 3.", e.Message);

        options.Every = 4;
        options.Check();
    }

    [Fact]
    public void The_committed_tables_are_what_the_report_makes_of_the_committed_points()
    {
        // docs/quality is the published study: its tables must stay what the report code writes, notes included.
        string folder = Path.Combine(FifoPipes.Tests.Parity.ParityCase.RepoRoot, "docs", "quality");
        var points = File.ReadAllLines(Path.Combine(folder, "quality.csv")).Skip(1).Select(ParseCsvRow).ToList();

        Assert.Equal(File.ReadAllText(Path.Combine(folder, "quality-tables.md")), QualityReport.TablesMarkdown(points));
        Assert.All(points.GroupBy(p => p.Sampler), g => Assert.Single(g.Select(p => p.Frames).Distinct()));
    }

    static QualityPoint ParseCsvRow(string line)
    {
        var f = line.Split(',');
        double D(int i) => double.Parse(f[i], System.Globalization.CultureInfo.InvariantCulture);
        return new QualityPoint(f[0], long.Parse(f[1]), int.Parse(f[2]), int.Parse(f[3]), D(4), D(5), D(6), D(7), D(8), D(9), D(10));
    }

    sealed class RecordingLog : IProgressSink
    {
        public List<string> Warnings { get; } = new();
        public void Verbose(string message) { }
        public void Warning(string message) => Warnings.Add(message);
    }

    [Fact]
    public void Bad_settings_are_refused()
    {
        var options = Small();
        options.Every = 1;
        var e = Assert.Throws<FifoInputException>(() => QualityStudy.Run(options, Array.Empty<QualityCandidate>()).ToList());
        Assert.Contains("'every'", e.Message);
    }
}
