using FifoPipes.Tests.PowerShell;
using FifoPipes.Tests.Sinks;
using SixLabors.ImageSharp;
using Xunit;

namespace FifoPipes.Tests.Reliability;

/// <summary>
/// Faults injected into one output of a running recipe: the run stops with an error that names the sink, the file
/// and the cause, and every other output keeps, playable, each frame it was given.
/// </summary>
[Collection("PowerShell")]
public sealed class OutputFailureTests : IDisposable
{
    const int Frames = 60;

    readonly string dir = Directory.CreateTempSubdirectory("fifo-output-failure-").FullName;
    public void Dispose() => Directory.Delete(dir, recursive: true);

    public static TheoryData<string, string, string> Faults => new()
    {
        // The disk fills: every write to /dev/full fails with ENOSPC.
        { "/dev/full", "{ path: /dev/full, use: mkv }", "No space left on device" },
        // A sink of our own on a full disk says so in words, with what is kept.
        { "/dev/full", "{ path: /dev/full, use: gif }", "The disk holding '/dev/full' is full, so the gif sink could not " },
        // ffmpeg dies mid-run: told to stop after 5 frames, it exits and closes the pipe we are writing to.
        { "dying.mp4", "{ path: dying.mp4, with: { extraArgs: '-frames:v 5' } }", "stopped reading frames" },
    };

    [SkippableTheory]
    [MemberData(nameof(Faults))]
    public void The_run_stops_with_a_clear_error_and_the_other_outputs_keep_their_frames(string failingFile, string failingSink, string cause)
    {
        Skip.IfNot(Ffprobe.Available && File.Exists("/dev/full"), "needs ffmpeg, ffprobe and /dev/full");
        File.WriteAllText(Path.Combine(dir, "run.yaml"), $"""
            apiVersion: fifopipes/v1
            model: {"{"} use: analytic, with: {"{"} height: 8, width: 8, channels: 2, frames: 4 {"}"} {"}"}
            prompt: red fire rising up
            frames: {Frames}
            overwrite: true
            sampler: {"{"} use: fifo, with: {"{"} partitions: 2 {"}"} {"}"}
            sinks:
              - {"{"} path: frames, use: png {"}"}
              - path: kept.gif
              - {failingSink}
            """);

        var error = InProcessShell.RunFailing(dir, "Invoke-FifoRecipe run.yaml");

        Assert.Contains(cause, error.Exception.Message);
        Assert.Contains(failingFile, error.Exception.Message);
        var pngs = Directory.GetFiles(Path.Combine(dir, "frames"), "*.png").Order().ToList();
        Assert.InRange(pngs.Count, 1, Frames - 1);
        foreach (var png in pngs)
            using (Image.Load(png)) { }   // every file is whole, none half-written
        Assert.Equal(pngs.Count, Ffprobe.Probe(Path.Combine(dir, "kept.gif")).Frames);
        Assert.Empty(Directory.GetFiles(Path.Combine(dir, "frames"), "*.partial"));
    }
}
