using FifoPipes.Tests.Sinks;
using Xunit;
using FifoPipes.Tests.Hosting;
using Xunit.Abstractions;

namespace FifoPipes.Tests.Reliability;

/// <summary>
/// The soak benchmark at a reduced size, in its own process so the memory it samples is the run's alone (the full
/// 10,000 frames: <c>dotnet run --project tests/FifoPipes.Benchmarks -- soak</c>).
/// </summary>
public sealed class SoakTests(ITestOutputHelper output)
{
    const int Frames = 2400;

    /// <summary>
    /// 4 KiB per frame would be a leaked 48x32 RGB frame; the allocator's one-off steps of a few MiB stay under it
    /// once spread over the 1,200 frames of the second half.
    /// </summary>
    const int MaxSlopeKiBPer1000Frames = 4096;

    static string BenchmarksAssembly => DotnetChild.BuiltAssembly("BenchmarksAssembly");

    [SkippableFact]
    public void A_reduced_soak_loses_no_frame_and_keeps_memory_flat()
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg and ffprobe are needed for the mp4 sink and for counting its frames");
        var soak = DotnetChild.Run(BenchmarksAssembly,
            new[] { "soak", "--frames", Frames.ToString(), "--max-slope", MaxSlopeKiBPer1000Frames.ToString(), "--plugins", TestPlugins.Folder },
            TimeSpan.FromMinutes(5), output);
        var report = soak.Output;

        Assert.Contains($"frames produced        {Frames} of {Frames}", report);
        Assert.Contains($"PNG files              {Frames} (0 missing)", report);
        Assert.Contains($"MP4 frames (ffprobe)   {Frames}", report);
        Assert.Contains("frames lost            0", report);
        Assert.Contains("soak: PASS", report);
        Assert.Equal(0, soak.ExitCode);
    }
}
