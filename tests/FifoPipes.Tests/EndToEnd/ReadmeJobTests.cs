using FifoPipes.Abstractions;
using FifoPipes.Hosting.Engine;
using FifoPipes.Hosting.Plugins;
using FifoPipes.Hosting.Recipes;
using FifoPipes.Tests.Sinks;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using Xunit;

namespace FifoPipes.Tests.EndToEnd;

/// <summary>
/// The README's main job (examples/recipes/analytic-demo.yaml) at a small size, through the real engine:
/// plugins loaded from the folder beside the test binaries, the recipe read from YAML, frames produced by
/// VideoRun on its worker thread and written by the mp4 and GIF sinks of the recipe.
/// </summary>
public sealed class ReadmeJobTests : IDisposable
{
    const int Frames = 24, LatentHeight = 8, LatentWidth = 12;

    readonly string folder = Directory.CreateTempSubdirectory("fifo-readme-job-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    /// <summary>
    /// examples/recipes/analytic-demo.yaml itself with the latents shrunk from 40 x 64 and 24 of its 240 frames;
    /// everything else as the README has it. A change to the example that these edits no longer fit fails here.
    /// </summary>
    static string Recipe
    {
        get
        {
            var demo = File.ReadAllText(Path.Combine(FifoPipes.Tests.Parity.ParityCase.RepoRoot, "examples", "recipes", "analytic-demo.yaml"));
            string Edit(string text, string from, string to)
            {
                Assert.True(text.Contains(from), $"analytic-demo.yaml no longer holds '{from.Trim()}'; update this test with it");
                return text.Replace(from, to);
            }
            demo = Edit(demo, "  use: analytic", $"  use: analytic\n  with: {{ height: {LatentHeight}, width: {LatentWidth} }}");
            return Edit(demo, "frames: 240", $"frames: {Frames}");
        }
    }

    [SkippableFact]
    public void The_readme_job_writes_every_frame_to_mp4_and_gif()
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg and ffprobe are needed on PATH for the mp4 sink and for probing");
        var host = PluginHost.Load(Path.Combine(AppContext.BaseDirectory, "plugins"), Array.Empty<string>());
        Assert.Empty(host.Errors);

        var reader = new RecipeReader(host);
        var recipe = reader.ReadText(Recipe, Path.Combine(folder, "readme-job.yaml"));
        Assert.True(recipe is not null, string.Join(Environment.NewLine, reader.Diagnostics.Select(d => $"{d.Path}: {d.Message}")));
        Assert.Equal(new[] { "mp4", "gif" }, recipe!.Sinks.Select(s => s.Plugin.Name));

        var run = new VideoRun(recipe);
        var indices = new List<long>();
        RunStarted? started = null;
        IReadOnlyList<string> files;
        using (var sinks = new SinkSet(recipe.Sinks, recipe.Overwrite, 8, new PluginContext(workingDirectory: folder)))
        {
            foreach (var item in run.Events())
            {
                switch (item)
                {
                    case RunStarted s:
                        started = s;
                        break;
                    case FrameProduced produced:
                        Assert.Equal((LatentWidth * 8, LatentHeight * 8), (produced.Frame.Width, produced.Frame.Height));
                        indices.Add(produced.Frame.Index);
                        sinks.Write(produced.Frame);
                        break;
                }
            }
            files = sinks.Complete();
        }

        Assert.NotNull(started);
        Assert.Equal(Frames, started!.Frames);
        Assert.Equal(Enumerable.Range(0, Frames).Select(i => (long)i), indices);
        var mp4 = Path.Combine(folder, "demo.mp4");
        var gif = Path.Combine(folder, "demo.gif");
        Assert.Equal(new[] { mp4, gif }.Order(), files.Select(Path.GetFullPath).Order());

        var video = Ffprobe.Probe(mp4);
        Assert.Equal(("h264", LatentWidth * 8, LatentHeight * 8, Frames), (video.Codec, video.Width, video.Height, video.Frames));
        Assert.Equal(Frames / started.Fps, video.Duration, 1);

        using var animation = Image.Load<Rgb24>(gif);
        Assert.Equal(Frames, animation.Frames.Count);
        Assert.Equal(Frames, Ffprobe.Probe(gif).Frames);
        // The frames move: a still or blank animation would mean the sampler or decoder produced nothing.
        Assert.NotEqual(Pixels(animation, 0), Pixels(animation, Frames - 1));
    }

    static byte[] Pixels(Image<Rgb24> image, int frame)
    {
        var pixels = new byte[image.Width * image.Height * 3];
        image.Frames[frame].CopyPixelDataTo(pixels);
        return pixels;
    }
}
