using FifoPipes.Abstractions;
using FifoPipes.Hosting.Engine;
using FifoPipes.Hosting.Recipes;
using FifoPipes.Tests.Hosting;
using Xunit;

namespace FifoPipes.Tests.Sinks;

/// <summary>
/// <see cref="SinkSet.Complete"/> when sinks fail as they finish: every failure is reported, each as what it is, and
/// every other sink, also those after the failed ones, is completed with every frame it was given.
/// </summary>
public sealed class SinkSetCompletionTests : SinkTestBase
{
    const string Project = "tests/TestPlugins/FaultyPlugins";

    SinkSet Sinks(params string[] sinks)
    {
        var yaml = "apiVersion: fifopipes/v1\nprompt: rain\nframes: 3\nsinks:\n" + string.Concat(sinks.Select(s => $"  - {s}\n"));
        var reader = new RecipeReader(TestPlugins.With(Project));
        var recipe = reader.ReadText(yaml, Path.Combine(Dir, "run.yaml"));
        Assert.True(recipe is not null, string.Join(Environment.NewLine, reader.Diagnostics.Select(d => $"{d.Path}: {d.Message}")));
        return new SinkSet(recipe!.Sinks, overwrite: false, 8, Context);
    }

    static void WriteThree(SinkSet sinks)
    {
        foreach (var frame in Frames(3, 16, 12)) sinks.Write(frame);
    }

    [Fact]
    public void Two_sinks_that_fail_to_finish_are_both_reported_and_the_others_still_keep_every_frame()
    {
        using var sinks = Sinks("{ path: quota.bin, use: unfinishable-sink }", "path: kept.gif", "{ path: crash.bin, use: crashing-finish-sink }",
            "{ path: tally.txt, use: tally-sink }", "{ path: frames, use: png }");
        WriteThree(sinks);

        var ex = Assert.Throws<AggregateException>(() => sinks.Complete());

        Assert.StartsWith("Several sinks failed to finish their files.", ex.Message);
        Assert.Equal(2, ex.InnerExceptions.Count);
        // An input error keeps its own id; a sink's own failure is named with its file.
        Assert.Equal("DiskQuotaExceeded", Assert.IsType<FifoInputException>(ex.InnerExceptions[0]).ErrorId);
        var crash = Assert.IsType<SinkFailedException>(ex.InnerExceptions[1]);
        Assert.Equal(("crashing-finish-sink", Path.Combine(Dir, "crash.bin")), (crash.Sink, crash.Path));
        Assert.Equal($"The crashing-finish-sink sink writing '{Path.Combine(Dir, "crash.bin")}' failed: the encoder died while writing the trailer", crash.Message);
        Assert.IsType<IOException>(crash.InnerException);
        // The sinks between and after the failed ones finished their files with all three frames.
        Assert.Equal("3", File.ReadAllText(Path.Combine(Dir, "tally.txt")));
        Assert.Equal(3, GifFrames(Path.Combine(Dir, "kept.gif")));
        Assert.Equal(3, Directory.GetFiles(Path.Combine(Dir, "frames"), "*.png").Length);
        Assert.Empty(Directory.GetFiles(Dir, "*.partial", SearchOption.AllDirectories));
    }

    [Fact]
    public void One_sink_that_fails_to_finish_is_reported_alone_and_the_sinks_after_it_still_finish()
    {
        using var sinks = Sinks("{ path: crash.bin, use: crashing-finish-sink }", "{ path: tally.txt, use: tally-sink }");
        WriteThree(sinks);

        var crash = Assert.Throws<SinkFailedException>(() => sinks.Complete());

        Assert.Equal("crashing-finish-sink", crash.Sink);
        Assert.Contains("the encoder died while writing the trailer", crash.Message);
        Assert.Equal("3", File.ReadAllText(Path.Combine(Dir, "tally.txt")));
    }

    [Fact]
    public void Disposing_after_a_failed_completion_does_not_complete_the_sinks_a_second_time()
    {
        var sinks = Sinks("{ path: crash.bin, use: crashing-finish-sink }", "{ path: tally.txt, use: tally-sink }");
        WriteThree(sinks);
        Assert.Throws<SinkFailedException>(() => sinks.Complete());
        File.Delete(Path.Combine(Dir, "tally.txt"));

        sinks.Dispose();

        Assert.False(File.Exists(Path.Combine(Dir, "tally.txt")), "Dispose completed the sinks again");
    }

    static int GifFrames(string path)
    {
        using var image = SixLabors.ImageSharp.Image.Load(path);
        return image.Frames.Count;
    }
}
