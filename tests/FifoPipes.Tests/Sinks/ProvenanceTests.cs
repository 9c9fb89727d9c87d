using FifoPipes.Abstractions;
using FifoPipes.Core;
using FifoPipes.Hosting.Engine;
using FifoPipes.Hosting.Recipes;
using FifoPipes.Tests.Hosting;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Png;
using Xunit;

namespace FifoPipes.Tests.Sinks;

/// <summary>Every written file says how it was made: the run hash and the settings that decide its frames.</summary>
public sealed class ProvenanceTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("fifo-provenance-").FullName;
    public void Dispose() => Directory.Delete(folder, recursive: true);

    [Fact]
    public void Png_gif_and_video_files_record_the_run_that_made_them()
    {
        var reader = new RecipeReader(TestPlugins.Host);
        var recipe = reader.ReadText("""
            apiVersion: fifopipes/v1
            model: { use: analytic, with: { height: 4, width: 6 } }
            prompt: "vagues bleues, Wellen: 波"
            negativePrompt: blurry
            frames: 3
            seed: 11
            sampler: { use: fifo, with: { partitions: 2 } }
            sinks:
              - { path: frames, use: png }
              - path: clip.gif
              - path: clip.mp4
              - path: clip.webm
            """, Path.Combine(folder, "run.yaml"));
        Assert.True(recipe is not null, string.Join("; ", reader.Diagnostics.Select(d => d.Message)));
        using (var sinks = new SinkSet(recipe!.Sinks, recipe.Overwrite, 8, new PluginContext(workingDirectory: folder)))
        {
            foreach (var produced in new VideoRun(recipe).Events().OfType<FrameProduced>()) sinks.Write(produced.Frame);
            sinks.Complete();
        }
        var provenance = recipe.Provenance;
        Assert.StartsWith("FifoPipes ", provenance);
        Assert.Contains($"run {recipe.RunHash}", provenance);
        Assert.Contains("seed=11", provenance);
        Assert.Contains("negativePrompt=blurry", provenance);
        Assert.Contains("prompts[0]=vagues bleues, Wellen: 波|3", provenance);

        foreach (var png in Directory.GetFiles(Path.Combine(folder, "frames"), "*.png"))
        {
            var text = Image.Identify(png).Metadata.GetPngMetadata().TextData;
            Assert.Equal(provenance, Assert.Single(text, t => t.Keyword == ImageFiles.ProvenanceKeyword).Value);
        }
        // GIF comments are 7-bit ASCII: other characters come as \uXXXX, and \ as \\.
        var escaped = string.Concat(provenance.Select(c => c == '\\' ? "\\\\" : c < 0x80 ? c.ToString() : $"\\u{(int)c:x4}"));
        Assert.Contains("\\u6ce2", escaped);
        Assert.Equal(escaped, Assert.Single(Image.Identify(Path.Combine(folder, "clip.gif")).Metadata.GetGifMetadata().Comments));
        if (!Ffprobe.Available) return;
        Assert.Equal(provenance, Ffprobe.Probe(Path.Combine(folder, "clip.mp4")).Comment);
        Assert.Equal(provenance, Ffprobe.Probe(Path.Combine(folder, "clip.webm")).Comment);
    }

    [Fact]
    public void A_long_prompt_schedule_is_cut_in_the_record_but_named_by_the_run_hash()
    {
        var prompts = string.Join("\n", Enumerable.Range(0, 40).Select(i => $"  - {{ prompt: look {i}, frames: 1 }}"));
        var reader = new RecipeReader(TestPlugins.Host);
        var recipe = reader.ReadText($"apiVersion: fifopipes/v1\nprompts:\n{prompts}\n", Path.Combine(folder, "run.yaml"))!;
        var lines = recipe.Provenance.Split('\n');
        Assert.Equal(32, lines.Count(l => l.StartsWith("prompts[", StringComparison.Ordinal)));
        Assert.Contains("prompts: 8 more", lines);
        Assert.Equal(lines.ToList().IndexOf("prompts[31]=look 31|1") + 1, lines.ToList().IndexOf("prompts: 8 more"));
        Assert.Contains("seed=0", lines);
    }
}
