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
    public void Bad_settings_are_refused()
    {
        var options = Small();
        options.Every = 1;
        var e = Assert.Throws<FifoInputException>(() => QualityStudy.Run(options, Array.Empty<QualityCandidate>()).ToList());
        Assert.Contains("'every'", e.Message);
    }
}
