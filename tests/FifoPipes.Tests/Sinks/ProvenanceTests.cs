using FifoPipes.Abstractions;
using FifoPipes.Core;
using FifoPipes.Core.Media;
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

    [SkippableFact]
    public void Png_gif_and_video_files_record_the_run_that_made_them()
    {
        Skip.IfNot(Ffprobe.Available, "the recipe writes mp4, webm and HLS, which need ffmpeg and ffprobe");
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
              - path: live/clip.m3u8
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
        // The plugins' versions, out of the hash, and said in the recipe read back.
        var read = RunProvenance.Parse(provenance, "run");
        string plugins = $"model analytic {recipe.Model.Plugin.Version}; sampler fifo {recipe.Sampler.Plugin.Version}";
        Assert.Equal(plugins, read.Value("plugins"));
        Assert.Contains($"# Made with {plugins}: other versions of these plugins may make other frames.", read.ToRecipe());
        Assert.DoesNotContain("plugins", recipe.RunSettings);

        foreach (var png in Directory.GetFiles(Path.Combine(folder, "frames"), "*.png"))
        {
            // The run's record, then which of its frames this one is (frame_000002.png: 2).
            var text = Image.Identify(png).Metadata.GetPngMetadata().TextData;
            var index = long.Parse(Path.GetFileNameWithoutExtension(png)["frame_".Length..]);
            Assert.Equal($"{provenance}\n{FileRecord.FirstFrameKey}={index}", Assert.Single(text, t => t.Keyword == ImageFiles.ProvenanceKeyword).Value);
        }
        // GIF comments are 7-bit ASCII: other characters come as \uXXXX, and \ as \\.
        var escaped = string.Concat(provenance.Select(c => c == '\\' ? "\\\\" : c < 0x80 ? c.ToString() : $"\\u{(int)c:x4}"));
        Assert.Contains("\\u6ce2", escaped);
        Assert.Equal(escaped, Assert.Single(Image.Identify(Path.Combine(folder, "clip.gif")).Metadata.GetGifMetadata().Comments));
        Assert.Equal(provenance, Ffprobe.Probe(Path.Combine(folder, "clip.mp4")).Comment);
        Assert.Equal(provenance, Ffprobe.Probe(Path.Combine(folder, "clip.webm")).Comment);
        // HLS keeps it in the init segment the playlist names.
        Assert.Equal(provenance, FifoPipes.Core.Media.ProvenanceReader.Read(Path.Combine(folder, "live", "clip.m3u8")));
    }

    [Fact]
    public void A_playlist_of_mpeg_ts_segments_is_named_as_one_that_records_no_run()
    {
        // Another program's playlist: its segments have no init segment, where the hls sink keeps the record.
        var playlist = Path.Combine(folder, "sea.m3u8");
        File.WriteAllText(playlist, "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nsea0.ts\n");
        var refusal = Assert.Throws<FifoInputException>(() => ProvenanceReader.Read(playlist));
        Assert.Equal("ProvenanceUnsupported", refusal.ErrorId);
        Assert.Contains($"'{playlist}' lists no fragmented-MP4 segment with an init segment (EXT-X-MAP)", refusal.Message);
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

        var read = RunProvenance.Parse(recipe.Provenance, "test");
        Assert.Equal((recipe.RunHash, 8, false), (read.RunHash, read.MissingPrompts, read.Complete));
        Assert.Contains("8 more are missing", read.ToRecipe());
        Assert.Equal(32, read.ToRecipe().Split('\n').Count(l => l.StartsWith("  - { prompt: ", StringComparison.Ordinal)));
    }

    [Fact]
    public void A_run_steered_live_records_its_prompt_file_and_says_its_recipe_is_not_the_whole_run()
    {
        var reader = new RecipeReader(TestPlugins.Host);
        var yaml = "apiVersion: fifopipes/v1\nprompt: calm sea\nframes: 3\nlivePrompt: steer.txt\n";
        var recipe = reader.ReadText(yaml, Path.Combine(folder, "run.yaml"));
        Assert.True(recipe is not null, string.Join("; ", reader.Diagnostics.Select(d => d.Message)));
        Assert.Equal(Path.Combine(folder, "steer.txt"), recipe!.LivePrompt);
        Assert.Contains($"livePrompt={Path.Combine(folder, "steer.txt")}", recipe.RunSettings);
        Assert.NotEqual(new RecipeReader(TestPlugins.Host).ReadText(yaml.Replace("livePrompt: steer.txt\n", ""), Path.Combine(folder, "run.yaml"))!.RunHash, recipe.RunHash);

        var read = RunProvenance.Parse(recipe.Provenance, "test");
        Assert.False(read.Complete);
        Assert.Contains($"livePrompt: '{Path.Combine(folder, "steer.txt")}'", read.ToRecipe());
        Assert.Contains("# Its prompts could change while it ran", read.ToRecipe());

        // Its snapshots serve restarts within the run; a later resume would not have the changes.
        Assert.NotNull(new RecipeReader(TestPlugins.Host).ReadText(yaml + "snapshot: { path: run.snapshot }\n", Path.Combine(folder, "run.yaml")));
        File.WriteAllText(Path.Combine(folder, "run.snapshot"), "");
        var both = new RecipeReader(TestPlugins.Host);
        Assert.Null(both.ReadText(yaml + "resume: run.snapshot\n", Path.Combine(folder, "run.yaml")));
        var d = Assert.Single(both.Diagnostics);
        Assert.Equal(("livePrompt", 4), (d.Path, d.Line));
        Assert.Contains("not in its snapshot", d.Message);
    }

    [Fact]
    public void Records_are_read_back_through_each_formats_escapes()
    {
        const string record = "FifoPipes run 0123456789abcdef\nprompts[0]=a \\\\ b\\nc 波|2\nseed=1";
        Assert.Equal(record, ProvenanceReader.UnescapeGifComment(ProvenanceReader.EscapeGifComment(record)));
        Assert.All(ProvenanceReader.EscapeGifComment(record), c => Assert.True(c < 0x80));

        // ffmpeg's metadata dump: ; comments, \ before = ; # \ and line breaks, sections after the global tags.
        var dump = ";FFMETADATA1\nmajor_brand=isom\ncomment=line one\\\nx\\=y \\\\ z\nencoder=Lavf\n[STREAM]\ncomment=not global\n";
        Assert.Equal(new[] { ("major_brand", "isom"), ("comment", "line one\nx=y \\ z"), ("encoder", "Lavf") },
            ProvenanceReader.GlobalTags(dump).Select(t => (t.Key, t.Value)));

        var parsed = RunProvenance.Parse(record, "test");
        Assert.Equal("a \\ b\nc 波|2", parsed.Settings[0].Value);
        Assert.Contains("  - { prompt: \"a \\\\ b\\nc 波\", frames: 2 }", parsed.ToRecipe());
        // A file named as an image that is none (empty, or text) is unreadable by name, not a crash.
        foreach (var (name, content) in new[] { ("empty.png", ""), ("notes.gif", "not a picture") })
        {
            var file = Path.Combine(Path.GetTempPath(), $"fifopipes-{Guid.NewGuid():N}-{name}");
            File.WriteAllText(file, content);
            try
            {
                var unreadable = Assert.Throws<FifoInputException>(() => FifoPipes.Core.Media.ProvenanceReader.Read(file));
                Assert.Equal("ProvenanceUnreadable", unreadable.ErrorId);
                Assert.Contains(file, unreadable.Message);
            }
            finally { File.Delete(file); }
        }
        Assert.Equal("ProvenanceInvalid", Assert.Throws<FifoInputException>(() => RunProvenance.Parse("a PNG comment", "x.png")).ErrorId);
        // A span whose frame count is not one (an edited record) is named, not written into the recipe as it stands.
        foreach (var span in new[] { "fog", "fog|seven", "fog|" })
        {
            var edited = RunProvenance.Parse($"FifoPipes run 0123456789abcdef\nmodel=analytic\nprompts[0]={span}\nseed=1", "edited.png");
            var invalid = Assert.Throws<FifoInputException>(() => edited.ToRecipe());
            Assert.Equal("ProvenanceInvalid", invalid.ErrorId);
            Assert.Contains("prompts[0]", invalid.Message);
        }
    }

    [Fact]
    public void Option_values_come_back_as_the_yaml_that_binds_them_again()
    {
        var options = RunProvenance.Parse("FifoPipes run 0123456789abcdef\nmodel=videocrafter\nmodel.configOverrides=['a=1', 'it's, so']\n" +
                                          "model.path=unset\nmodel.sizes=[1, unset]\nprompts[0]=a\u2028b|2\nseed=1", "test").ToRecipe();
        Assert.Contains("    configOverrides: ['a=1', 'it''s, so']\n", options);
        Assert.Contains("    path: ~\n", options);
        Assert.Contains("    sizes: [1, ~]\n", options);
        Assert.Contains("  - { prompt: \"a\\u2028b\", frames: 2 }", options);
    }

    [Fact]
    public void A_snapshots_settings_keep_a_prompts_line_breaks()
    {
        var run = RunProvenance.FromRunSettings("0123456789abcdef", "model=analytic\nprompts[0]=first line\nsecond = line|2\nseed=1\n", "run.snapshot");
        Assert.Equal(new[] { "model", "prompts[0]", "seed" }, run.Settings.Select(s => s.Key));
        Assert.Equal("first line\nsecond = line|2", run.Settings[1].Value);
        Assert.Contains("resume: 'run.snapshot'", run.ToRecipe("run.snapshot"));
    }

    [Fact]
    public void A_record_cut_at_its_length_limit_comes_back_marked_incomplete()
    {
        var prompts = string.Join("\n", Enumerable.Range(0, 20).Select(i => $"  - {{ prompt: '{new string('x', 2_000)} {i}', frames: 1 }}"));
        var recipe = new RecipeReader(TestPlugins.Host).ReadText($"apiVersion: fifopipes/v1\nprompts:\n{prompts}\n", Path.Combine(folder, "run.yaml"))!;
        Assert.True(recipe.Provenance.Length <= 32 * 1024);
        var read = RunProvenance.Parse(recipe.Provenance, "test");
        Assert.True(read.Cut);
        Assert.False(read.Complete);
        Assert.All(read.Settings.Where(s => s.Key.StartsWith("prompts[")), s => Assert.EndsWith("|1", s.Value));
        Assert.Contains("was cut at its length limit", read.ToRecipe());
    }

    [Fact]
    public void A_record_played_at_another_rate_says_it_once_whole_or_cut()
    {
        var played = RunProvenance.WithFps(RunProvenance.WithFps(ProvenanceReader.Mark + "0123456789abcdef\nmodel=analytic\nseed=1\nfps=8", 12), 24);
        var read = RunProvenance.Parse(played, "test");
        Assert.Equal(new[] { "model", "seed", "fps" }, read.Settings.Select(s => s.Key));
        Assert.Equal("24", read.Value("fps"));
        Assert.Contains("fps: 24", read.ToRecipe());

        // In a cut record the line before the note was cut mid-way and is not read: the rate goes before it.
        var prompts = string.Join("\n", Enumerable.Range(0, 20).Select(i => $"  - {{ prompt: '{new string('x', 2_000)} {i}', frames: 1 }}"));
        var recipe = new RecipeReader(TestPlugins.Host).ReadText($"apiVersion: fifopipes/v1\nprompts:\n{prompts}\n", Path.Combine(folder, "run.yaml"))!;
        var cut = RunProvenance.Parse(RunProvenance.WithFps(recipe.Provenance, 30), "test");
        Assert.True(cut.Cut);
        Assert.Equal("30", cut.Value("fps"));
    }
}
