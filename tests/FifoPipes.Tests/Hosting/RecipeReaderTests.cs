using FifoPipes.Abstractions;
using FifoPipes.Core.Media;
using FifoPipes.Hosting.Recipes;
using FifoPipes.Hosting.Options;
using Xunit;

namespace FifoPipes.Tests.Hosting;

public sealed class RecipeReaderTests
{
    const string File = "/recipes/test.yaml";

    static (Recipe? Recipe, IReadOnlyList<FifoPipes.Hosting.Options.Diagnostic> Diagnostics) Read(string yaml)
    {
        var reader = new RecipeReader(TestPlugins.Host);
        var recipe = reader.ReadText(yaml.Replace("\r\n", "\n"), File);
        return (recipe, reader.Diagnostics);
    }

    [Fact]
    public void A_valid_recipe_binds_plugins_options_prompts_and_sinks()
    {
        var (recipe, diagnostics) = Read("""
            apiVersion: fifopipes/v1
            model: { use: analytic, with: { height: 8, width: 8, channels: 2 } }
            prompts:
              - prompt: calm ocean
                frames: 5
              - prompt: fire
                frames: 3
            seed: 9
            fps: 12
            sampler:
              use: fifo
              with: { partitions: 2, lookahead: false, windowBatch: 1 }
            sinks:
              - path: out/clip.mp4
                with: { crf: 20 }
              - path: out/clip.gif
              - path: out/frames/
              - path: out/stills
            snapshot: { path: run.snapshot, every: 4 }
            """);
        Assert.Empty(diagnostics);
        Assert.NotNull(recipe);
        Assert.Equal("analytic", recipe!.Model.Plugin.Name);
        Assert.Equal(8, recipe.Frames);
        Assert.Equal(9, recipe.Seed);
        Assert.Equal(12, recipe.Fps);
        // A path without an extension is a folder for a PNG sequence, as Export-FifoFrames takes it.
        Assert.Equal(new[] { "mp4", "gif", "png", "png" }, recipe.Sinks.Select(s => s.Plugin.Name));
        Assert.Equal("/recipes/out/clip.mp4", recipe.Sinks[0].Path);
        Assert.Equal(2, recipe.Sampler.Options!.GetType().GetProperty("Partitions")!.GetValue(recipe.Sampler.Options));
        Assert.Equal(new FifoPipes.Abstractions.SnapshotPolicy("/recipes/run.snapshot", 4), recipe.Snapshot);
    }

    [Fact]
    public void A_sink_address_picks_the_stream_sink_by_its_scheme_and_stays_an_address()
    {
        var (recipe, diagnostics) = Read("""
            apiVersion: fifopipes/v1
            prompt: waves
            frames: 3
            sinks:
              - path: rtmp://a.rtmp.youtube.com/live2/{seed}-key
                with: { bitrate: 3M, keyframes: 2 }
              - path: live/waves.m3u8
            """);
        Assert.Empty(diagnostics);
        Assert.Equal(new[] { "stream", "hls" }, recipe!.Sinks.Select(s => s.Plugin.Name));
        Assert.Equal($"rtmp://a.rtmp.youtube.com/live2/{recipe.Seed}-key", recipe.Sinks[0].Path);
        Assert.Equal("3M", recipe.Sinks[0].Options!.GetType().GetProperty("Bitrate")!.GetValue(recipe.Sinks[0].Options));
    }

    [Fact]
    public void A_sink_path_takes_environment_variables_so_a_stream_key_stays_out_of_the_file()
    {
        var name = "FIFOPIPES_TEST_KEY_" + Guid.NewGuid().ToString("N");
        var yaml = $"apiVersion: fifopipes/v1\nprompt: waves\nframes: 3\nsinks:\n  - path: rtmp://live.twitch.tv/app/${{{name}}}\n  - path: out/${{{name}_UNSET}}.mp4\n";
        Environment.SetEnvironmentVariable(name, "live_123");
        try
        {
            var (recipe, diagnostics) = Read(yaml);
            Assert.Null(recipe);
            var d = Assert.Single(diagnostics);
            Assert.Equal(("sinks[1].path", 6), (d.Path, d.Line));
            Assert.Contains($"the environment variable {name}_UNSET is not set", d.Message);
            var (set, none) = Read(yaml.Replace("_UNSET", ""));
            Assert.Empty(none);
            Assert.Equal("rtmp://live.twitch.tv/app/live_123", set!.Sinks[0].Path);
            Assert.Equal("/recipes/out/live_123.mp4", set.Sinks[1].Path);
        }
        finally { Environment.SetEnvironmentVariable(name, null); }
    }

    [Fact]
    public void The_typo_from_the_issue_names_line_key_and_valid_keys()
    {
        var (recipe, diagnostics) = Read("""
            apiVersion: fifopipes/v1
            prompt: clouds
            frames: 10
            sampler: {use: fifo, with: {partitons: 4}}
            """);
        Assert.Null(recipe);
        var d = Assert.Single(diagnostics);
        Assert.Equal("sampler.with.partitons", d.Path);
        Assert.Equal((4, 29), (d.Line, d.Column));
        Assert.Contains("Did you mean 'partitions'", d.Message);
        Assert.Contains("partitions", d.ValidChoices);
        Assert.Contains("lookahead", d.ValidChoices);
        Assert.StartsWith($"{File}:4:29: ", d.ToString());
    }

    // Each bad recipe: the YAML, the diagnostic path expected, its line, and a phrase of its message.
    public static TheoryData<string, string, string, int, string> BadRecipes => new()
    {
        { "unknown top-level key", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nsed: 4\n", "sed", 4, "Did you mean 'seed'" },
        { "a key in another case", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nSeed: 4\n", "Seed", 4,
            "unknown key 'Seed' at the top level. Recipe keys are written in this case: 'seed' (only plugin options under 'with' take any case)." },
        { "snapshot every without a path", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nsnapshot: { every: 2 }\n", "snapshot.path", 4,
            "missing 'path' beside 'every': the snapshot file to write (snapshot: { path: run.snapshot, every: 50 }), or resume from a snapshot" },
        { "a plugin's key in another case", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nsampler: { Use: fifo }\n", "sampler.Use", 4, "written in this case: 'use'" },
        { "missing apiVersion", "prompt: a\nframes: 3\n", "apiVersion", 1, "missing 'apiVersion" },
        { "unsupported apiVersion", "apiVersion: fifopipes/v9\nprompt: a\nframes: 3\n", "apiVersion", 1, "unsupported apiVersion 'fifopipes/v9': this FifoPipes reads 'fifopipes/v1'" },
        { "apiVersion in another case", "apiVersion: FifoPipes/V1\nprompt: a\nframes: 3\n", "apiVersion", 1, "versions are written in lower case, 'fifopipes/v1'" },
        { "yaml syntax", "apiVersion: fifopipes/v1\nprompt: [a\nframes: 3\n", "(syntax)", 2, "YAML syntax error" },
        { "run name unquoted in a flow mapping", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nsinks:\n  - { path: sw-{seed}.gif }\n", "(syntax)", 5,
            "Quote a value holding {seed}: path: 'clip-{seed}.mp4'" },
        { "yaml bad indentation", "apiVersion: fifopipes/v1\nprompt: a\n  frames: 3\n", "(syntax)", 3, "Check this line's indentation against the lines above it" },
        { "a tab indenting", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nsampler:\n\tuse: fifo\n", "(syntax)", 5, "line 5 is indented with a tab; YAML indents with spaces only" },
        { "an alias to no anchor", "apiVersion: fifopipes/v1\nx-small: &small { height: 8 }\nmodel: { use: analytic, with: *smal }\nprompt: a\nframes: 3\n", "(syntax)", 3,
            "the alias '*smal' names no anchor: define it before its first use with '&smal'" },
        { "a key indented past its mapping's, its value a mapping", "apiVersion: fifopipes/v1\nmodel:\n  use: analytic\n   with: {height: 1}\nprompt: a\nframes: 3\n", "(syntax)", 4,
            "found invalid mapping. Check this line's indentation against the lines above it" },
        { "a key indented short of its mapping's, its value a mapping", "apiVersion: fifopipes/v1\nmodel:\n  use: analytic\n with: {height: 1}\nprompt: a\nframes: 3\n", "(syntax)", 4,
            "did not find expected key. Check this line's indentation against the lines above it" },
        { "a colon in an unquoted prompt", "apiVersion: fifopipes/v1\nprompt: the time: midnight\nframes: 3\n", "(syntax)", 2, "A value holding ': ' needs quotes" },
        { "with: one level too high", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nsampler:\n  use: fifo\nwith:\n  partitions: 2\n", "with", 6,
            "'with' belongs under 'model', 'sampler' or a sink: indent it below the key it is for." },
        { "unknown model plugin", "apiVersion: fifopipes/v1\nmodel: analytik\nprompt: a\nframes: 3\n", "model.use", 2, "Did you mean 'analytic'" },
        { "unknown sampler plugin", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nsampler: {use: fofo}\n", "sampler.use", 4, "unknown sampler plugin 'fofo'" },
        { "a sampler given as the model", "apiVersion: fifopipes/v1\nmodel: fifo\nprompt: a\nframes: 3\n", "model.use", 2, "unknown model plugin 'fifo'. 'fifo' is a sampler plugin, not a model one." },
        { "a sink named in part", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nsinks:\n  - { path: out, use: tream }\n", "sinks[0].use", 5, "Did you mean 'stream'" },
        { "wrong option type", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nsampler: {use: fifo, with: {partitions: four}}\n", "sampler.with.partitions", 4, "expected an integer, got 'four'" },
        { "boolean expected", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nsampler: {use: fifo, with: {lookahead: maybe}}\n", "sampler.with.lookahead", 4, "expected true or false" },
        { "impossible option value", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nsampler:\n  use: fifo\n  with:\n    partitions: 0\n", "sampler.with.partitions", 7, "0 is below the minimum 1" },
        { "a path for a model that loads no weights", "apiVersion: fifopipes/v1\nmodel: {use: analytic, with: {path: m.ckpt}}\nprompt: a\nframes: 3\n", "model.with.path", 2,
            "model 'analytic' takes no path (its options: " },
        { "unknown model option", "apiVersion: fifopipes/v1\nmodel: {use: analytic, with: {hieght: 8}}\nprompt: a\nframes: 3\n", "model.with.hieght", 2, "Did you mean 'height'" },
        { "zero frames", "apiVersion: fifopipes/v1\nprompt: a\nframes: 0\n", "frames", 3, "at least 1" },
        { "frames not a number", "apiVersion: fifopipes/v1\nprompt: a\nframes: many\n", "frames", 3, "expected an integer" },
        { "empty prompt", "apiVersion: fifopipes/v1\nprompt: ''\nframes: 3\n", "prompt", 2, "the prompt is empty; write what the video should show" },
        { "blank prompt in a schedule", "apiVersion: fifopipes/v1\nprompts:\n  - {prompt: sea, frames: 2}\n  - {prompt: '  ', frames: 2}\n", "prompts[1].prompt", 4, "the prompt is empty" },
        { "missing prompt", "apiVersion: fifopipes/v1\nframes: 3\n", "prompt", 1, "missing 'prompt'" },
        { "an empty prompt list", "apiVersion: fifopipes/v1\nprompts: []\n", "prompts", 2, "the list is empty; give it at least one entry of a prompt and its frames" },
        { "prompt and prompts", "apiVersion: fifopipes/v1\nprompt: a\nprompts:\n  - {prompt: b, frames: 2}\n", "prompts", 4, "not both" },
        { "prompt entry without frames", "apiVersion: fifopipes/v1\nprompts:\n  - prompt: b\n", "prompts[0].frames", 3, "missing 'frames'" },
        { "unknown key in a prompt entry", "apiVersion: fifopipes/v1\nprompts:\n  - {prompt: b, frames: 2, guidance: 3}\n", "prompts[0].guidance", 3, "unknown key 'guidance'" },
        { "sink with unknown extension", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nsinks:\n  - path: out.avi\n", "sinks[0].path", 5, "no sink writes '.avi'" },
        { "sink with unknown scheme", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nsinks:\n  - path: http://example.net/live\n", "sinks[0].path", 5, "no sink sends to 'http://' addresses" },
        { "file sink given an address", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nsinks:\n  - { use: mp4, path: rtmp://h/live/key1 }\n", "sinks[0].use", 5, "the mp4 sink writes files, and 'rtmp://h/live/****' is a rtmp:// address" },
        { "stream twice", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nsinks:\n  - path: rtmp://h/live/key1\n  - path: rtmp://h/live/key1\n", "sinks[1].path", 6, "two sinks write to 'rtmp://h/live/****'" },
        { "sink without path", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nsinks:\n  - use: gif\n", "sinks[0].path", 5, "missing 'path'" },
        { "unknown sink", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nsinks:\n  - {use: gift, path: a.gif}\n", "sinks[0].use", 5, "Did you mean 'gif'" },
        { "unknown sink option", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nsinks:\n  - path: a.mp4\n    with: {crff: 3}\n", "sinks[0].with.crff", 6, "Did you mean 'crf'" },
        { "two sinks one file", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nsinks:\n  - path: a.mp4\n  - path: ./a.mp4\n", "sinks[1].path", 6, "two sinks write" },
        { "two sinks one folder", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nsinks:\n  - path: frames\n  - path: frames/\n", "sinks[1].path", 6, "two sinks write" },
        { "sinks not a list", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nsinks: a.mp4\n", "sinks", 4, "expected a list" },
        { "snapshot every zero", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nsnapshot: {path: s.snap, every: 0}\n", "snapshot.every", 4, "at least 1" },
        { "snapshot path a folder", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nsnapshot: {path: /tmp, every: 4}\n", "snapshot.path", 4, "'/tmp' is a folder; give the snapshot a file in it, e.g. '/tmp/run.snapshot'" },
        { "snapshot path under a file", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nsnapshot: {path: /etc/passwd/run.snapshot}\n", "snapshot.path", 4,
            "'/etc/passwd' is a file, not a folder, so it cannot hold the snapshot '/etc/passwd/run.snapshot'" },
        { "resume file missing", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nresume: /nonexistent/run.snapshot\n", "resume", 4, "does not exist" },
        { "fps out of range", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nfps: -2\n", "fps", 4, "between 0.01 and 240" },
        { "fps not a number", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nfps: NaN\n", "fps", 4, "between 0.01 and 240" },
        { "sink path with a NUL", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nsinks: [ { path: \"a\\0.mp4\" } ]\n", "sinks[0].path", 4, "not a usable path" },
        { "merge of a scalar", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nsampler: { use: fifo, with: { <<: 2 } }\n", "<<", 4, "merges a mapping" },
        { "unknown key merged in", "apiVersion: fifopipes/v1\nx-base: &b { partitons: 2 }\nprompt: a\nframes: 3\nsampler: { use: fifo, with: { <<: *b } }\n", "sampler.with.partitons", 2, "Did you mean 'partitions'" },
        { "fps too small to play", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nfps: 1e-7\n", "fps", 4, "between 0.01 and 240" },
        { "option given twice in two cases", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nsampler:\n  use: fifo\n  with:\n    partitions: 2\n    Partitions: 4\n",
            "sampler.with.Partitions", 8, "given twice" },
        { "duplicate key", "apiVersion: fifopipes/v1\nprompt: a\nprompt: b\nframes: 3\n", "(syntax)", 3, "Duplicate key" },
        { "with is not a mapping", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nsampler: {use: fifo, with: [1, 2]}\n", "sampler.with", 4, "expected a mapping" },
        { "document is a list", "- a\n- b\n", "(document)", 1, "is a mapping" },
        { "width off the latent grid", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nwidth: 101\n", "width", 4,
            "width 101: model 'analytic' takes widths from 8 to 4096 pixels in steps of 8, as its latents have one cell per 8 pixels; the nearest is 104" },
        { "height beyond the model's range", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nheight: 8192\n", "height", 4, "from 8 to 4096 pixels in steps of 8, as its latents have one cell per 8 pixels; the nearest is 4096" },
        { "height below the model's range", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nheight: 4\n", "height", 4, "the nearest is 8" },
        { "width off a pixel model's grid", "apiVersion: fifopipes/v1\nmodel: { use: zeroscope, with: { path: z } }\nprompt: a\nframes: 3\nwidth: 1001\n", "width", 5,
            "width 1001: model 'zeroscope' takes widths from 8 to 4096 pixels in steps of 8; the nearest is 1000" },
        { "width in the file and in model.with disagree", "apiVersion: fifopipes/v1\nmodel: { use: analytic, with: { width: 12 } }\nprompt: a\nframes: 3\nwidth: 768\n", "width", 5,
            "width 768 (pixels) and model.with.width 12 (the model's own unit, latent cells of 8 pixels: 96 pixels) both set the frame width and disagree; keep one" },
        { "width not a number", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nwidth: wide\n", "width", 4, "expected an integer" },
        { "width as a list", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nwidth: [1, 2]\n", "width", 4, "expected a number of pixels" },
        { "size of a fixed-size model", "apiVersion: fifopipes/v1\nmodel: opensora\nprompt: a\nframes: 3\nheight: 512\n", "height", 5, "model 'opensora' marks no option as its frame height" },
        { "source and init", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\ninit: /etc/passwd\nsource: /etc/passwd\n", "source", 5, "not both" },
        { "source strength above 1", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nsource: { path: /etc/passwd, strength: 1.5 }\n", "source.strength", 4, "strength must be above 0 and at most 1" },
        { "source without a path", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nsource: { strength: 0.5 }\n", "source.path", 4, "missing 'path'" },
        { "source key misspelt", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nsource: { path: /etc/passwd, strenght: 0.5 }\n", "source.strenght", 4, "Did you mean 'strength'" },
        { "source file missing", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nsource: /nonexistent/walk.mp4\n", "source.path", 4, "does not exist" },
        { "sink path with a misspelt run name", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nsinks: [ { path: 'out-{seeed}.mp4' } ]\n", "sinks[0].path", 4,
            "'{seeed}' would be written into the name as it is: only {seed} and {hash}, in lower case, are filled in. Did you mean '{seed}'?" },
        { "snapshot path with a run name in capitals", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nsnapshot: { path: 'runs/{Hash}.snapshot' }\n", "snapshot.path", 4,
            "Did you mean '{hash}'?" },
        { "frames beyond an integer", "apiVersion: fifopipes/v1\nprompt: a\nframes: 99999999999\n", "frames", 3, "99999999999 is too large: the most is 2147483647" },
        { "seed beyond a long", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nseed: -99999999999999999999\n", "seed", 4, "-99999999999999999999 is too small: the least is -9223372036854775808" },
        { "source a folder", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nsource: /tmp\n", "source.path", 4, "'/tmp' is a folder; give the path of a file" },
        { "start frames a folder", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\ninit: /tmp/\n", "init", 4, "'/tmp' is a folder; give the path of a file" },
        { "live prompt a folder", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nlivePrompt: /tmp\n", "livePrompt", 4, "'/tmp' is a folder; give the path of a file" },
        { "resume a folder", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nresume: /tmp\n", "resume", 4, "'/tmp' is a folder; give the path of a file" },
        { "source as a list", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nsource: [a, b]\n", "source", 4, "expected a video path or a mapping of keys" },
        { "interpolation below a frame a second", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nsinks: [ { path: a.mp4, with: { interpolate: 0.5 } } ]\n", "sinks[0].with.interpolate", 4,
            "use 0 (off) or a frame rate from 1 to 240" },
        { "source fps zero", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nsource: { path: /etc/passwd, fps: 0 }\n", "source.fps", 4, "fps must be between 0.01 and 240, got 0: the source is resampled" },
        { "source start before the video", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nsource: { path: /etc/passwd, start: -1 }\n", "source.start", 4, "start must be 0 or more seconds" },
        { "choice option", "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nsampler: {use: fifo, with: {step: euler}}\n", "sampler.with.step", 4, "'euler' is not one of the allowed values" },
    };

    [Fact]
    public void A_key_in_another_case_is_reported_once_not_also_as_missing()
    {
        var (recipe, diagnostics) = Read("ApiVersion: fifopipes/v1\nprompts:\n  - { Prompt: a, Frames: 8 }\nsinks:\n  - Path: out.gif\nsnapshot: { Path: run.snapshot }\n");
        Assert.Null(recipe);
        Assert.Equal(new[] { "ApiVersion", "prompts[0].Prompt", "prompts[0].Frames", "sinks[0].Path", "snapshot.Path" }, diagnostics.Select(d => d.Path));
        Assert.All(diagnostics, d => Assert.Contains("Recipe keys are written in this case", d.Message));
    }

    [Theory]
    [MemberData(nameof(BadRecipes))]
    public void Bad_recipes_fail_with_a_located_diagnostic(string name, string yaml, string path, int line, string phrase)
    {
        var (recipe, diagnostics) = Read(yaml);
        Assert.Null(recipe);
        var d = diagnostics.FirstOrDefault(x => x.Path == path);
        Assert.True(d is not null, $"{name}: no diagnostic at '{path}'; got: {string.Join(" | ", diagnostics)}");
        Assert.Equal(File, d!.File);
        Assert.Equal(line, d.Line);
        Assert.True(d.Column >= 1, $"{name}: column {d.Column}");
        Assert.Contains(phrase, d.Message);
        // The valid choices follow the message once (Choices()); a message that lists them as well says them twice.
        if (d.ValidChoices.Count > 1) Assert.DoesNotContain(string.Join(", ", d.ValidChoices), d.Message);
    }

    [Theory]
    [InlineData("out-{seeed}.mp4", "{seed}")]
    [InlineData("out-{Seed}.mp4", "{seed}")]
    [InlineData("runs/{hahs}/a.gif", "{hash}")]
    [InlineData("runs/{HASH}/a.gif", "{hash}")]
    [InlineData("out-{sed}.mp4", "{seed}")]
    [InlineData("out-{seed}-{step}.mp4", null)]
    [InlineData("rtmp://${HOST}/live/${SEED}", null)]
    [InlineData("out/${PATH}/take-{take}/{week}.mp4", null)]
    public void A_run_name_is_told_misspelt_only_when_it_is_seed_or_hash_one_slip_away(string path, string? meant)
    {
        var problem = FifoPipes.Hosting.Recipes.RunNames.Misspelt(path);
        if (meant is null) Assert.Null(problem);
        else Assert.EndsWith($"Did you mean '{meant}'?", problem);
    }

    [Fact]
    public void A_quoted_run_name_on_a_line_with_another_syntax_error_gets_no_quoting_hint()
    {
        var (_, diagnostics) = Read("apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nsinks:\n  - { path: 'a-{seed}.gif' fps: 8 }\n");
        var syntax = Assert.Single(diagnostics, d => d.Path == "(syntax)");
        Assert.DoesNotContain("Quote", syntax.Message);
    }

    [Fact]
    public void Width_and_height_in_pixels_set_each_models_own_size_options()
    {
        static object? Option(Recipe recipe, string name) => recipe.Model.Options!.GetType().GetProperty(name)!.GetValue(recipe.Model.Options);
        // The analytic model counts latent cells (8 pixels each); model.with may say the same size again.
        var (analytic, problems) = Read("""
            apiVersion: fifopipes/v1
            model: { use: analytic, with: { height: 54, channels: 2 } }
            prompt: a
            frames: 3
            width: 768
            height: 432
            """);
        Assert.Empty(problems);
        Assert.Equal(96, Option(analytic!, "Width"));
        Assert.Equal(54, Option(analytic!, "Height"));
        Assert.Equal(2, Option(analytic!, "Channels"));

        // VideoCrafter counts pixels; only the side given changes.
        var (videoCrafter, vcProblems) = Read("""
            apiVersion: fifopipes/v1
            model: { use: videocrafter, with: { path: model.ckpt } }
            prompt: a
            frames: 3
            width: 768
            """);
        Assert.Empty(vcProblems);
        Assert.Equal(768, Option(videoCrafter!, "Width"));
        Assert.Null(Option(videoCrafter!, "Height"));
    }

    /// <summary>
    /// Reads a file with some top-level keys replaced as cmdlet parameters replace them: by nodes without a location
    /// (<see cref="RecipeNodes.FromObject"/>), which is how the reader tells a parameter from the file.
    /// </summary>
    static (int? Width, IReadOnlyList<FifoPipes.Hosting.Options.Diagnostic> Problems) WidthWith(string fileYaml, params (string Key, object Value)[] parameters)
    {
        var root = (MapNode)RecipeNodes.FromYaml(fileYaml.Replace("\r\n", "\n"), File, new())!;
        var entries = root.Entries.ToList();
        foreach (var (key, value) in parameters)
        {
            entries.RemoveAll(e => e.Key == key);
            entries.Add(new MapEntry(key, null, RecipeNodes.FromObject(value)));
        }
        var reader = new RecipeReader(TestPlugins.Host);
        var recipe = reader.Read(new MapNode(entries, root.Location), File, "/recipes");
        return ((int?)recipe?.Model.Options!.GetType().GetProperty("Width")!.GetValue(recipe.Model.Options), reader.Diagnostics);
    }

    [Fact]
    public void A_size_given_as_a_parameter_beats_the_files_and_two_parameters_must_agree()
    {
        const string header = "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\n";
        static Dictionary<string, object> Analytic(int width) => new() { ["use"] = "analytic", ["with"] = new Dictionary<string, object> { ["width"] = width } };

        // -Width 256 over the file's model.with.width: 12.
        Assert.Equal(32, WidthWith(header + "model: { use: analytic, with: { width: 12 } }\n", ("width", 256)).Width);
        // -ModelOption @{ width = 12 } over the file's width: 768.
        Assert.Equal(12, WidthWith(header + "width: 768\n", ("model", Analytic(12))).Width);
        // Both as parameters, disagreeing.
        var (none, problems) = WidthWith(header, ("width", 768), ("model", Analytic(12)));
        Assert.Null(none);
        Assert.Contains(problems, d => d.Path == "width" && d.Message.Contains("both set the frame width and disagree"));
    }

    [Fact]
    public void Merge_keys_copy_shared_settings_and_the_mappings_own_keys_win()
    {
        var (recipe, diagnostics) = Read("""
            apiVersion: fifopipes/v1
            x-tiny: &tiny { height: 8, width: 8, channels: 2, frames: 4 }
            x-fast: &fast { partitions: 2, lookahead: false }
            x-look: &look { lookahead: true, eta: 0.5 }
            model: { use: analytic, with: { <<: *tiny, width: 16 } }
            prompt: a
            frames: 3
            sampler: { use: fifo, with: { <<: [ *fast, *look ] } }
            """);
        Assert.True(recipe is not null, string.Join(" | ", diagnostics));
        object? Get(object options, string name) => options.GetType().GetProperty(name)!.GetValue(options);
        Assert.Equal((8, 16, 2, 4), ((int)Get(recipe!.Model.Options!, "Height")!, (int)Get(recipe.Model.Options!, "Width")!,
            (int)Get(recipe.Model.Options!, "Channels")!, (int)Get(recipe.Model.Options!, "Frames")!));
        // Of a list of merged mappings, the first to give a key wins.
        Assert.Equal((2, false, 0.5), ((int?)Get(recipe.Sampler.Options!, "Partitions"), (bool)Get(recipe.Sampler.Options!, "Lookahead")!, (double?)Get(recipe.Sampler.Options!, "Eta")));
    }

    [Fact]
    public void Every_problem_is_reported_in_one_pass()
    {
        var (_, diagnostics) = Read("apiVersion: fifopipes/v1\nprompt: a\nframes: 0\nsed: 1\nsampler: {use: fifo, with: {partitons: 2}}\n");
        Assert.Equal(new[] { "sed", "frames", "sampler.with.partitons" }.OrderBy(x => x), diagnostics.Select(d => d.Path).OrderBy(x => x));
    }

    [Fact]
    public void A_frame_count_left_out_or_unreadable_is_one_problem_where_it_is()
    {
        var (_, blank) = Read("apiVersion: fifopipes/v1\nprompt: a\nframes: ~\n");
        Assert.Equal(("frames", 1), (Assert.Single(blank).Path, blank[0].Line));
        Assert.Contains("missing 'frames'", blank[0].Message);
        var (_, word) = Read("apiVersion: fifopipes/v1\nprompts:\n  - { prompt: a, frames: x }\n");
        Assert.Equal("prompts[0].frames", Assert.Single(word).Path);
        // Problems of several entries come together, in the order of the list.
        var (_, several) = Read("apiVersion: fifopipes/v1\nprompts:\n  - { prompt: a }\n  - { frames: 3 }\n");
        Assert.Equal(new[] { "prompts[0].frames", "prompts[1].prompt" }, several.Select(d => d.Path));
    }

    [Fact]
    public void The_run_hash_follows_what_determines_the_frames_not_where_they_go()
    {
        const string head = "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\n";
        var a = Read(head + "seed: 1\nsinks: [{path: a.mp4}]\n").Recipe!;
        var b = Read(head + "seed: 1\nsinks: [{path: b.gif}]\n").Recipe!;
        var c = Read(head + "seed: 2\n").Recipe!;
        var d = Read(head + "seed: 1\nsampler: {use: fifo, with: {partitions: 3}}\n").Recipe!;
        Assert.Equal(a.RunHash, b.RunHash);
        Assert.NotEqual(a.RunHash, c.RunHash);
        Assert.NotEqual(a.RunHash, d.RunHash);

        var negative = Read(head + "seed: 1\nnegativePrompt: blurry, watermark\n").Recipe!;
        Assert.Equal("blurry, watermark", negative.NegativePrompt);
        Assert.NotEqual(a.RunHash, negative.RunHash);
        // A run without one keeps the identity it had before negative prompts, so its snapshots still resume.
        Assert.Equal("", a.NegativePrompt);
        Assert.DoesNotContain("negativePrompt", a.RunSettings);
        Assert.Equal(a.RunHash, Read(head + "seed: 1\nnegativePrompt: '  '\n").Recipe!.RunHash);

    }

    [SkippableFact]
    public void The_run_hash_follows_a_source_video_its_strength_timing_and_contents_length()
    {
        Skip.IfNot(FifoPipes.Tests.Sinks.Ffprobe.Available, "needs ffmpeg");
        var folder = Directory.CreateTempSubdirectory("fifo-source-hash-").FullName;
        try
        {
            var clip = Path.Combine(folder, "clip.mp4");
            FifoPipes.Tests.Sinks.Ffprobe.Ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x32:rate=8", "-frames:v", "4", clip);
            const string head = "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nseed: 1\n";
            var plain = Read(head).Recipe!;
            // The short form means strength 0.6.
            var (restyled, problems) = Read(head + $"source: {clip}\n");
            Assert.Empty(problems);
            Assert.Equal(new SourceVideo(clip, 0.6), restyled!.Source);
            Assert.NotEqual(plain.RunHash, restyled.RunHash);
            Assert.Equal(restyled.RunHash, Read(head + $"source: {{ path: {clip}, strength: 0.6 }}\n").Recipe!.RunHash);
            Assert.NotEqual(restyled.RunHash, Read(head + $"source: {{ path: {clip}, strength: 0.5 }}\n").Recipe!.RunHash);
            // Resampling and a start time select other frames; a start of 0 is the whole file's run.
            Assert.Equal(restyled.RunHash, Read(head + $"source: {{ path: {clip}, start: 0 }}\n").Recipe!.RunHash);
            var later = Read(head.Replace("frames: 3", "frames: 2") + $"source: {{ path: {clip}, start: 0.25 }}\n").Recipe!;
            Assert.Equal(new SourceTiming(Start: 0.25), later.Source!.Timing);
            var whole = Read(head.Replace("frames: 3", "frames: 2") + $"source: {clip}\n").Recipe!.RunHash;
            Assert.NotEqual(whole, later.RunHash);
            Assert.NotEqual(whole, Read(head.Replace("frames: 3", "frames: 2") + $"source: {{ path: {clip}, fps: 4 }}\n").Recipe!.RunHash);
            // At 4 fps the 4 frames at 8 fps are 2: counted as resampled.
            var (resampled, tooFew) = Read(head + $"source: {{ path: {clip}, fps: 4 }}\n");
            Assert.Null(resampled);
            Assert.Contains(tooFew, d => d.Path == "source" && d.Message.Contains("the source video has 2 frames, and the prompts ask for 3") && d.Message.EndsWith(" (counted at 4 fps)"));
            // Another video saved under the same name is another run (its snapshots must not resume here), and is counted
            // again: two frames no longer serve three.
            FifoPipes.Tests.Sinks.Ffprobe.Ffmpeg("-y", "-f", "lavfi", "-i", "testsrc=size=64x32:rate=8", "-frames:v", "2", clip);
            var (shorter, refusals) = Read(head + $"source: {clip}\n");
            Assert.Null(shorter);
            Assert.Contains(refusals, d => d.Path == "source" && d.Message.Contains("the source video has 2 frames, and the prompts ask for 3"));
            FifoPipes.Tests.Sinks.Ffprobe.Ffmpeg("-y", "-f", "lavfi", "-i", "testsrc=size=64x32:rate=8", "-frames:v", "8", clip);
            Assert.NotEqual(restyled.RunHash, Read(head + $"source: {clip}\n").Recipe!.RunHash);
        }
        finally { Directory.Delete(folder, recursive: true); }
    }

    [Fact]
    public void Output_paths_name_the_run_by_seed_and_hash_and_a_resume_finds_its_own_snapshot()
    {
        var folder = Directory.CreateTempSubdirectory("fifo-run-names-").FullName;
        try
        {
            string Yaml(bool resume) => $"apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nseed: 4\nsnapshot: {{ path: 's-{{hash}}.snap' }}\n" +
                                        $"sinks: [ {{ path: 'out-{{seed}}-{{hash}}.gif' }} ]\n{(resume ? "resume: 's-{hash}.snap'\n" : "")}";
            var reader = new RecipeReader(TestPlugins.Host);
            var recipe = reader.ReadText(Yaml(resume: false), Path.Combine(folder, "run.yaml"))!;
            Assert.Equal(Path.Combine(folder, $"out-4-{recipe.RunHash}.gif"), Assert.Single(recipe.Sinks).Path);
            Assert.Equal(Path.Combine(folder, $"s-{recipe.RunHash}.snap"), recipe.Snapshot!.Path);

            System.IO.File.WriteAllText(recipe.Snapshot.Path, "");
            var resumed = reader.ReadText(Yaml(resume: true), Path.Combine(folder, "run.yaml"))!;
            Assert.Equal(recipe.Snapshot.Path, resumed.ResumeFrom);
            Assert.Equal(recipe.RunHash, resumed.RunHash);
        }
        finally { Directory.Delete(folder, recursive: true); }
    }

    [Fact]
    public void Provenance_keeps_each_setting_on_one_line()
    {
        var recipe = Read("apiVersion: fifopipes/v1\nprompt: \"two\\nlines \\\\ and a backslash\"\nframes: 3\n").Recipe!;
        var lines = recipe.Provenance.Split('\n');
        Assert.Equal($"FifoPipes run {recipe.RunHash}", lines[0]);
        Assert.Contains("prompts[0]=two\\nlines \\\\ and a backslash|3", lines);
        Assert.Contains("two\nlines", recipe.RunSettings);
    }

    [Fact]
    public void A_plugins_problem_is_placed_at_the_option_it_is_about_where_the_recipe_sets_it()
    {
        var (recipe, problems) = Read("apiVersion: fifopipes/v1\nprompt: a\nframes: 2\nsampler:\n  use: fifo\n  with:\n    step: ddim\n    ETA: 0.5\n");
        Assert.True(recipe is not null, string.Join("; ", problems.Select(d => d.Message)));
        var sampler = recipe!.Sampler;
        // The one after "option" wins over one quoted before it; keys in any case; the plugin's own name comes back.
        Assert.Equal(("eta", 8), sampler.OptionNamedIn("with 'step' ddpm, fifo sampler option 'eta': is ignored") is var (option, at) ? (option, at.Line) : default);
        Assert.Equal(("step", 7), sampler.OptionNamedIn("'step' and 'eta' disagree") is var (first, where) ? (first, where.Line) : default);
        // An option the recipe does not set has no place in it.
        Assert.Null(sampler.OptionNamedIn("fifo sampler option 'partitions': too many"));
    }

    [Fact]
    public void A_refusal_that_names_its_option_is_placed_there_and_one_from_an_older_plugin_by_the_name_its_message_quotes()
    {
        var (recipe, problems) = Read("apiVersion: fifopipes/v1\nprompt: a\nframes: 2\nsampler:\n  use: fifo\n  with:\n    step: ddim\n    ETA: 0.5\n");
        Assert.True(recipe is not null, string.Join("; ", problems.Select(d => d.Message)));
        var sampler = recipe!.Sampler;
        (string, int?, string?)? Placed(FifoInputException refusal) =>
            RefusedOption.Of(refusal, "sampler", recipe) is { } at ? (at.Path, at.Location?.Line, at.Origin) : null;
        // Named by the plugin, in any case, over what the message quotes.
        Assert.Equal(("sampler.with.eta", 8, null), Placed(new FifoInputException("BadSamplerOption", "'step' disagrees") { Option = "Eta" }));
        // Named, but not set by the recipe: its default, at the sampler, said to be one; no option of the plugin's: no place.
        Assert.Equal(("sampler.with.partitions", 5, "sampler.with.partitions is not set, so the fifo sampler takes the model's partitions."),
            Placed(new FifoInputException("BadSamplerOption", "'step' disagrees") { Option = "partitions" }));
        Assert.Equal(("sampler.with.lookahead", 5, "sampler.with.lookahead is not set, so lookahead is the fifo sampler's default: true."),
            Placed(new FifoInputException("BadSamplerOption", "'step' disagrees") { Option = "lookahead" }));
        Assert.Null(Placed(new FifoInputException("BadSamplerOption", "'step' disagrees") { Option = "stepz" }));
        // A plugin built before contracts 1.11 names none: its message is read, for an option the recipe sets only.
        Assert.Equal(("sampler.with.step", 7, null), Placed(new FifoInputException("BadSamplerOption", "fifo sampler option 'step': too coarse")));
        Assert.Null(Placed(new FifoInputException("BadSamplerOption", "fifo sampler option 'partitions': too many")));
    }
}
