using FifoPipes.Tests.Sinks;
using Xunit;
using FifoPipes.Tests.Hosting;
using Xunit.Abstractions;

namespace FifoPipes.Tests.Reliability;

/// <summary>
/// The soak benchmark at a reduced size, in its own process so the memory it samples is the run's alone (the full
/// 10,000 frames: <c>dotnet run --project tests/FifoPipes.Benchmarks -- soak</c>).
/// It runs alone: on a busy machine the child slows down, and memory steps that follow the clock land in the judged frames.
/// </summary>
[Collection(Name)]
public sealed class SoakTests(ITestOutputHelper output)
{
    const int Frames = 2400;

    public const string Name = "Soak: the CPUs to itself";

    /// <summary>4 KiB per frame would be a leaked 48x32 RGB frame (the benchmark forgives a one-off step: see Soak.cs).</summary>
    const int MaxSlopeKiBPer1000Frames = 4096;

    static string BenchmarksAssembly => DotnetChild.BuiltAssembly("BenchmarksAssembly");

    [SkippableFact]
    public void A_reduced_soak_loses_no_frame_and_keeps_memory_flat()
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg and ffprobe are needed for the mp4 sink and for counting its frames");
        var soak = DotnetChild.Run(BenchmarksAssembly,
            new[] { "soak", "--frames", Frames.ToString(), "--max-slope", MaxSlopeKiBPer1000Frames.ToString(), "--plugins", TestPlugins.Folder },
            TimeSpan.FromMinutes(5), output);
        var expected = new[]
        {
            $"frames produced        {Frames} of {Frames}", $"PNG files              {Frames} (0 missing)",
            $"MP4 frames (ffprobe)   {Frames}", "frames lost            0", "soak: PASS",
        };
        var missing = expected.Where(line => !soak.Output.Contains(line, StringComparison.Ordinal)).ToList();
        // The whole report in the message: which verdict failed, and the memory figures behind it.
        Assert.True(missing.Count == 0 && soak.ExitCode == 0,
            $"exit code {soak.ExitCode}; missing: {string.Join(" | ", missing)}\n{soak.Output}\n{soak.Errors}");
    }
}

[CollectionDefinition(SoakTests.Name, DisableParallelization = true)]
public sealed class SoakCollection;
