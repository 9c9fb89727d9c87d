using FifoPipes.Abstractions;
using FifoPipes.Benchmarks.Quality;
using FifoPipes.Tests.Parity;
using Xunit;

namespace FifoPipes.Tests.Baselines;

/// <summary>The quality benchmark's command line (tests/FifoPipes.Benchmarks.Quality): a trial run must not replace the published study.</summary>
public sealed class QualityBenchmarkArgumentsTests
{
    static readonly DateTime Now = new(2025, 1, 2, 3, 4, 5);

    [Fact]
    public void Without_out_the_report_goes_to_a_fresh_folder_not_the_committed_study()
    {
        var trial = StudyArguments.Parse(new[] { "--frames", "40", "--every", "20", "--streams", "1", "--samplers", "fifo,chunked", "--size", "4x4" });

        Assert.Equal(Path.Combine("artifacts", "quality", "20250102-030405"), trial.ReportFolder(Now));
        Assert.Equal((40, 20, 1, 4, 4), (trial.Study.Frames, trial.Study.Every, trial.Study.Streams, trial.Study.Height, trial.Study.Width));
        Assert.Equal(new[] { "fifo", "chunked" }, trial.Samplers);
        Assert.Equal("docs/quality", StudyArguments.Parse(new[] { "--out", "docs/quality" }).ReportFolder(Now));
    }

    [Fact]
    public void A_mistyped_option_is_refused_by_name_with_the_valid_ones()
    {
        var e = Assert.Throws<FifoInputException>(() => StudyArguments.Parse(new[] { "--frames", "40", "--sise", "4x4" }));

        Assert.Equal("UnknownBenchmarkOption", e.ErrorId);
        Assert.StartsWith("Unknown option '--sise'. Did you mean '--size'? Valid options: --samplers, --frames, --every, --size,", e.Message);
        var sampler = Assert.Throws<FifoInputException>(() => StudyArguments.Parse(new[] { "--samplers", "fifo,chunkd" }));
        Assert.Contains("'chunkd' (did you mean 'chunked'?)", sampler.Message);
        Assert.Contains("--frames wants a whole number, got 'many'", Assert.Throws<FifoInputException>(() => StudyArguments.Parse(new[] { "--frames", "many" })).Message);
        Assert.Equal("MissingBenchmarkValue", Assert.Throws<FifoInputException>(() => StudyArguments.Parse(new[] { "--out" })).ErrorId);
    }

    [Fact]
    public void Study_settings_are_checked_before_anything_runs()
    {
        var e = Assert.Throws<FifoInputException>(() => StudyArguments.Parse(new[] { "--frames", "100", "--every", "6" }));
        Assert.Contains("a point every 6 frames is shorter than the measured window of 8 frames (measureFrames)", e.Message);
        // Help is help, whatever else the line says.
        Assert.True(StudyArguments.Parse(new[] { "--every", "6", "--help" }).Help);
    }

    [Fact]
    public void Help_names_every_option_with_its_default_and_the_published_command()
    {
        string usage = StudyArguments.Usage();

        foreach (var option in new[] { "samplers", "frames", "every", "size", "streams", "window", "partitions", "measure", "stride", "seed", "threads", "out", "list", "help" })
            Assert.Matches($@"(?m)^  --{option}\b.*\S", usage);
        Assert.Matches(@"--frames N\s+.*\(default: 2048\)", usage);
        Assert.Matches(@"--every P\s+.*\(default: 256\)", usage);
        Assert.Matches(@"--out DIR\s+.*\(default: a fresh artifacts/quality/<date-time>\)", usage);
        Assert.Contains(StudyArguments.PublishedStudy, usage);
        // The docs give the same command for regenerating the published study.
        Assert.Contains("-- " + StudyArguments.PublishedStudy, File.ReadAllText(Path.Combine(ParityCase.RepoRoot, "docs", "quality.md")));
    }
}
