using System.Management.Automation;
using FifoPipes.PowerShell;
using FifoPipes.PowerShell.Commands;
using Xunit;

namespace FifoPipes.Tests.PowerShell;

/// <summary>
/// What a user is told names what they typed: the parameter for a cmdlet user, the recipe key and line for a recipe's;
/// Test-FifoRecipe finds what the run would refuse; new prompts for a recipe keep its length.
/// </summary>
public sealed class UserWordsTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("fifo-words-").FullName;
    public void Dispose() => Directory.Delete(dir, recursive: true);

    List<object> Run(string script) => InProcessShell.Run(dir, script);

    string Failure(string script) => InProcessShell.RunFailing(dir, script).Exception.Message;

    // 64 partitions of the analytic model's 16-frame window are 1,024 steps, past its 1,000 training timesteps.
    const string TooManySteps = "fifo sampler option 'partitions': 64 partitions x 16 frames = 1024 steps exceed the model's 1000 training timesteps; use fewer partitions.";

    // The analytic model at a few latent cells, its window left at 16 frames.
    const string Small = "-ModelOption @{ height = 1; width = 1; channels = 2 } -Seed 3";

    void Recipe(string name, string rest) => File.WriteAllText(Path.Combine(dir, name),
        "apiVersion: fifopipes/v1\nmodel: { use: analytic, with: { height: 1, width: 1, channels: 2 } }\n" + rest + "\n");

    [Fact]
    public void Test_FifoRecipe_without_model_finds_sampler_options_a_model_describing_itself_without_files_cannot_take()
    {
        Recipe("steps.yaml", "prompt: lava\nframes: 16\nsampler:\n  use: fifo\n  with: { partitions: 64 }\nsinks: [ { path: out.gif } ]");
        Recipe("stride.yaml", "prompt: lava\nframes: 16\nsampler: { use: gen-l-video, with: { stride: 100 } }\nsinks: [ { path: out.gif } ]");
        Assert.Equal(new object[] { false, false }, Run("Test-FifoRecipe steps.yaml, stride.yaml -Sinks -Quiet"));
        var steps = Assert.Single(Run("Test-FifoRecipe steps.yaml").Cast<FifoRecipeDiagnostic>());
        Assert.Equal(("sampler.with.partitions", Path.Combine(dir, "steps.yaml"), 7, TooManySteps), (steps.Path, steps.File, steps.Line, steps.Message));
        var stride = Assert.Single(Run("Test-FifoRecipe stride.yaml").Cast<FifoRecipeDiagnostic>());
        Assert.Equal(("sampler.with.stride", 5), (stride.Path, stride.Line));
        Assert.StartsWith("gen-l-video sampler option 'stride': 100 is outside 1..16", stride.Message);

        // VideoCrafter describes itself from its preset: its sampler is checked though its checkpoint is not there, and of
        // the checkpoint nothing is said, which is -Model's to check.
        File.WriteAllText(Path.Combine(dir, "vc.yaml"), "apiVersion: fifopipes/v1\nmodel: { use: videocrafter, with: { path: missing/model.ckpt } }\n" +
                                                        "prompt: lava\nframes: 4\nsampler: { use: fifo, with: { partitions: 64 } }\n");
        var vc = Assert.Single(Run("Test-FifoRecipe vc.yaml").Cast<FifoRecipeDiagnostic>());
        Assert.Equal(("sampler.with.partitions", TooManySteps), (vc.Path, vc.Message));
        // With -Model, the missing checkpoint and the sampler's problem both.
        var both = Run("Test-FifoRecipe vc.yaml -Model").Cast<FifoRecipeDiagnostic>().ToList();
        Assert.Equal(new[] { "model", "sampler.with.partitions" }, both.Select(d => d.Path));
        Assert.Contains("does not exist", both[0].Message);

        // Zeroscope reads its configs to describe itself: without them the fit is left to -Model, quietly but for -Verbose.
        File.WriteAllText(Path.Combine(dir, "zs.yaml"), "apiVersion: fifopipes/v1\nmodel: { use: zeroscope, with: { path: missing-folder } }\n" +
                                                        "prompt: lava\nframes: 4\nsampler: { use: fifo, with: { partitions: 64 } }\n");
        var quiet = Run("Test-FifoRecipe zs.yaml -Verbose 4>&1");
        var skipped = Assert.IsType<VerboseRecord>(Assert.Single(quiet));
        Assert.Contains("Test-FifoRecipe -Model checks its files", skipped.Message);
        Assert.Single(Run("Test-FifoRecipe zs.yaml -Model").Cast<FifoRecipeDiagnostic>(), d => d.Path == "model");
        // With its configs there, a size its VAE cannot take is the recipe's problem, -Model or not: 15 pixels do not halve.
        var folder = FifoPipes.Tests.Parity.ParityCase.Load("zeroscope/diffusers_folder").File("model");
        File.WriteAllText(Path.Combine(dir, "odd.yaml"), $"apiVersion: fifopipes/v1\nprompt: lava\nframes: 4\nmodel: {{ use: zeroscope, with: {{ path: '{folder}', width: 15, height: 16 }} }}\n");
        var odd = Assert.Single(Run("Test-FifoRecipe odd.yaml").Cast<FifoRecipeDiagnostic>());
        Assert.Equal(("model", 4, "zeroscope model: the frame size 15x16 must be a multiple of the VAE's scale 2; change width/height."), (odd.Path, odd.Line, odd.Message));
    }

    [Theory]
    [InlineData("sampler: { use: fifo, with: { warmupIterations: 2 } }", "sampler.with.warmupIterations", 5,
        "warmupIterations only applies to start: noise, and this run starts from a base clip (start: base, the default)")]
    [InlineData("sampler: { use: fifo, with: { start: latents } }", "sampler.with.start", 5, "start: latents needs start frames, and none were given")]
    [InlineData("sampler: { use: freenoise, with: { fusion: attention } }", "sampler.with.fusion", 5,
        "'attention' needs a model with window-fused temporal attention (videocrafter, zeroscope); 'analytic' has none")]
    [InlineData("init: init.png\nsampler: { use: fifo, with: { start: base } }", "sampler.with.start", 6, "start frames were given, but start is 'base'")]
    [InlineData("init: init.png\nsampler: { use: fifo, with: { start: noise } }", "sampler.with.start", 6, "start frames were given, but start is 'noise'")]
    [InlineData("init: init.png\nsampler: { use: fifo, with: { baseClipCache: cache } }", "sampler.with.baseClipCache", 6,
        "baseClipCache only applies to start: base, and this run starts from the start frames (start: latents)")]
    [InlineData("source: src.gif\nsampler: { use: fifo, with: { start: noise } }", "sampler.with.start", 6, "does not apply when restyling a source video")]
    [InlineData("source: src.gif\nsampler: { use: fifo, with: { tail: lowfreq } }", "sampler.with.tail", 6, "must be noise when restyling a source video")]
    public void Test_FifoRecipe_finds_what_the_run_would_refuse_of_its_inputs_and_the_run_refuses_it_before_a_frame(string lines, string path, int line, string expected)
    {
        File.WriteAllText(Path.Combine(dir, "init.png"), "");
        if (lines.Contains("src.gif")) Run($"New-FifoVideo x -Frames 6 {Small} | Export-FifoFrames src.gif | Out-Null");
        File.WriteAllText(Path.Combine(dir, "r.yaml"), "apiVersion: fifopipes/v1\nmodel: { use: analytic, with: { height: 2, width: 2, frames: 4 } }\n" +
                                                       $"prompt: calm ocean\nframes: 6\n{lines}\nsinks: [ {{ path: out.gif }} ]\n");
        var problem = Assert.Single(Run("Test-FifoRecipe r.yaml -Model -Sinks").Cast<FifoRecipeDiagnostic>());
        Assert.Equal((path, line), (problem.Path, problem.Line));
        Assert.Contains(expected, problem.Message);
        Assert.Equal(new object[] { false }, Run("Test-FifoRecipe r.yaml -Quiet"));

        var refused = InProcessShell.RunFailing(dir, "Invoke-FifoRecipe r.yaml -ErrorAction Stop");
        Assert.Equal("BadSamplerOption", refused.FullyQualifiedErrorId.Split(',')[0]);
        Assert.EndsWith($"{path}: {problem.Message}", refused.Exception.Message);
        Assert.False(File.Exists(Path.Combine(dir, "out.gif")));
    }

    [Fact]
    public void A_video_longer_than_a_whole_video_sampler_holds_is_refused_by_Test_FifoRecipe_and_by_the_run_before_a_frame()
    {
        const string Expected = "The gen-l-video sampler denoises the whole video at once and takes at most 2,147,483,647 frames; the prompts ask for 4,000,000,000: " +
                                "ask for fewer frames, or use the fifo sampler, which streams a video of any length in constant memory.";
        var error = InProcessShell.RunFailing(dir, "New-FifoVideo a,b -Frames 2000000000,2000000000 -Sampler gen-l-video -ModelOption @{height=1;width=1;frames=4}");
        Assert.Equal("VideoTooLong", error.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(Expected, error.Exception.Message);
        Recipe("long.yaml", "prompts:\n  - { prompt: a, frames: 2000000000 }\n  - { prompt: b, frames: 2000000000 }\nsampler: gen-l-video");
        var problem = Assert.Single(Run("Test-FifoRecipe long.yaml").Cast<FifoRecipeDiagnostic>());
        Assert.Equal(("sampler", Expected), (problem.Path, problem.Message));
    }

    [Fact]
    public void Test_FifoRecipe_warns_of_a_negative_prompt_guidance_never_runs_as_the_run_does_once()
    {
        const string Unused = "The negative prompt 'blurry' has no effect at guidance 1, where only the conditional branch runs; raise guidance to use it.";
        Recipe("neg.yaml", "prompt: lava\nframes: 4\nnegativePrompt: blurry\nsampler: { use: fifo, with: { guidance: 1 } }");
        Assert.Equal(Unused, Assert.IsType<WarningRecord>(Assert.Single(Run("Test-FifoRecipe neg.yaml 3>&1"))).Message);
        var run = Run($"New-FifoVideo lava -Frames 2 {Small} -Guidance 1 -NegativePrompt blurry 3>&1");
        Assert.Equal(Unused, Assert.Single(run.OfType<WarningRecord>()).Message);
        Assert.Equal(2, run.OfType<FifoFrame>().Count());
    }

    [Fact]
    public void A_sampler_option_the_model_cannot_take_is_refused_at_run_time_naming_where_the_user_set_it()
    {
        string Refusal(string script)
        {
            var error = InProcessShell.RunFailing(dir, script);
            Assert.Equal("BadSamplerOption", error.FullyQualifiedErrorId.Split(',')[0]);
            return error.Exception.Message;
        }
        Assert.Equal("-Partitions: " + TooManySteps, Refusal($"New-FifoVideo x -Frames 4 {Small} -Partitions 64"));
        Assert.Equal("-SamplerOption partitions: " + TooManySteps, Refusal($"New-FifoVideo x -Frames 4 {Small} -SamplerOption @{{ partitions = 64 }}"));

        Recipe("steps.yaml", "prompt: lava\nframes: 4\nsampler:\n  use: fifo\n  with: { partitions: 64 }\nsinks: [ { path: out.gif } ]");
        Assert.Equal($"{Path.Combine(dir, "steps.yaml")}:7:23: sampler.with.partitions: " + TooManySteps, Refusal("Invoke-FifoRecipe steps.yaml -ErrorAction Stop"));
        // An override is named as typed, not at the file's line it replaced.
        Recipe("fits.yaml", "prompt: lava\nframes: 4\nsampler: { use: fifo, with: { partitions: 2 } }\nsinks: [ { path: out.gif } ]");
        Assert.Equal("-Override sampler.with.partitions: " + TooManySteps,
            Refusal("Invoke-FifoRecipe fits.yaml -Override @{ 'sampler.with.partitions' = 64 } -ErrorAction Stop"));
        Assert.False(File.Exists(Path.Combine(dir, "out.gif")));
    }

    [Fact]
    public void A_refused_value_the_user_did_not_set_is_said_to_come_from_where_it_did()
    {
        string Refusal(string script) => InProcessShell.RunFailing(dir, script).Exception.Message;
        // The fifo sampler's partitions left out: the model's are used, and they are what the user set, on line 2.
        File.WriteAllText(Path.Combine(dir, "model.yaml"), "apiVersion: fifopipes/v1\nmodel: { use: analytic, with: { height: 1, width: 1, frames: 128, partitions: 64 } }\n" +
                                                           "prompt: lava\nframes: 4\nsinks: [ { path: out.gif } ]\n");
        const string FromTheModel = "fifo sampler option 'partitions': 64 partitions x 128 frames = 8192 steps exceed the model's 1000 training timesteps; use fewer partitions. " +
                                    "sampler.with.partitions is not set, so the fifo sampler takes the model's partitions, set by model.with.partitions.";
        var tested = Assert.Single(Run("Test-FifoRecipe model.yaml").Cast<FifoRecipeDiagnostic>());
        Assert.Equal(("model.with.partitions", 2, FromTheModel), (tested.Path, tested.Line, tested.Message));
        // The run says the same, at the same line.
        Assert.Equal($"{Path.Combine(dir, "model.yaml")}:2:{tested.Column}: model.with.partitions: {FromTheModel}", Refusal("Invoke-FifoRecipe model.yaml -ErrorAction Stop"));
        // On the command line, in its words.
        Assert.Equal("-ModelOption partitions: " + FromTheModel.Replace("sampler.with.partitions is not set", "-Partitions is not given").Replace("by model.with.partitions", "by -ModelOption partitions"),
            Refusal("New-FifoVideo x -Frames 4 -ModelOption @{ height = 1; width = 1; frames = 128; partitions = 64 }"));

        // A default with no setting of the user's behind it is the sampler's, said as such, with the fix where the user is.
        Assert.Equal("fifo sampler option 'lookahead': lookahead needs a window of at least 2 frames, and model 'analytic' has 1; give -NoLookahead. " +
                     "-NoLookahead is not given, so lookahead is the fifo sampler's default: true.",
            Refusal("New-FifoVideo x -Frames 4 -ModelOption @{ height = 1; width = 1; frames = 1 }"));
        File.WriteAllText(Path.Combine(dir, "one.yaml"), "apiVersion: fifopipes/v1\nmodel: { use: analytic, with: { height: 1, width: 1, frames: 1 } }\nprompt: lava\nframes: 4\n");
        Assert.EndsWith("; set lookahead: false. sampler.with.lookahead is not set, so lookahead is the fifo sampler's default: true.",
            Assert.Single(Run("Test-FifoRecipe one.yaml").Cast<FifoRecipeDiagnostic>(), d => d.Path == "sampler.with.lookahead").Message);
        // A count the model's settings make: said to be the model's, not the user's steps.
        File.WriteAllText(Path.Combine(dir, "chunked.yaml"), "apiVersion: fifopipes/v1\nmodel: { use: analytic, with: { height: 1, width: 1, frames: 128, partitions: 64 } }\n" +
                                                             "sampler: chunked\nprompt: lava\nframes: 4\n");
        var steps = Assert.Single(Run("Test-FifoRecipe chunked.yaml").Cast<FifoRecipeDiagnostic>());
        Assert.Equal(("sampler.with.steps", 3), (steps.Path, steps.Line));
        Assert.EndsWith("sampler.with.steps is not set, so the chunked sampler takes the model's partitions x window frames (the S that FIFO uses).", steps.Message);
        Assert.EndsWith(steps.Message, Refusal("New-FifoVideo -Recipe chunked.yaml"));
    }

    [Fact]
    public void A_fractional_count_is_refused_as_a_recipe_refuses_it_not_rounded()
    {
        // PowerShell's conversion to an integer rounds: -Frames 2.5 would make 2 frames where frames: 2.5 is refused.
        Assert.Contains("parameter 'Frames'. 2.5 is not a whole number; give 2 or 3.", Failure($"New-FifoVideo x -Frames 2.5 {Small}"));
        Assert.Contains("parameter 'Frames'. 1.5 is not a whole number; give 1 or 2.", Failure($"New-FifoVideo x, y -Frames 2, '1.5' {Small}"));
        Assert.Contains("parameter 'Seed'. 7.5 is not a whole number; give 7 or 8.", Failure("New-FifoVideo x -Frames 2 -Seed 7.5"));
        Assert.Contains("parameter 'Partitions'. 2.5 is not a whole number", Failure("New-FifoVideo x -Frames 2 -Partitions 2.5"));
        Assert.Contains("parameter 'SnapshotEvery'. 0.5 is not a whole number", Failure("New-FifoVideo x -Frames 2 -SnapshotPath s.snapshot -SnapshotEvery 0.5"));
        Assert.Contains("parameter 'Every'. 2.5 is not a whole number", Failure("Measure-FifoQuality -Every 2.5"));
        // A whole number in another form is one.
        Assert.Equal(3, Run($"New-FifoVideo x -Frames 3.0 {Small.Replace("-Seed 3", "-Seed '3'")}").Count);
    }

    [Fact]
    public void A_problem_of_one_of_several_override_tables_says_which_table()
    {
        Recipe("sweep.yaml", "prompt: lava\nframes: 2\nsinks: [ { path: 'out-{seed}.gif' } ]");
        using var shell = InProcessShell.New(dir);
        shell.AddScript("Invoke-FifoRecipe sweep.yaml -WhatIf -Override @{ seed = 1 }, @{ sede = 2; 'sampler.with.partitions' = 2 }, @{ seed = 3 }").Invoke();
        var error = Assert.Single(shell.Streams.Error);
        Assert.StartsWith("-Override table 2 of 3 (keys: sampler.with.partitions, sede): Invalid parameters:", error.ToString());
        Assert.Contains("-Override sede: unknown key 'sede'", error.ToString());
        // The exception is the run's own, as a script matching it reads it.
        Assert.StartsWith("Invalid parameters:", error.Exception.Message);
        // One table alone is the -Override there is.
        var alone = InProcessShell.RunFailing(dir, "Invoke-FifoRecipe sweep.yaml -WhatIf -Override @{ sede = 2 } -ErrorAction Stop");
        Assert.StartsWith("Invalid parameters:", alone.ToString());
    }

    [Fact]
    public void A_cmdlet_user_is_told_the_parameters_and_a_recipe_user_the_keys()
    {
        var blank = Failure("New-FifoVideo '  ' -Frames 4");
        Assert.Contains("-Prompt: the prompt is empty; write what the video should show (to steer away from something, use -NegativePrompt)", blank);
        Recipe("blank.yaml", "prompt: '  '\nframes: 4");
        Assert.EndsWith("(to steer away from something, use negativePrompt)", Assert.Single(Run("Test-FifoRecipe blank.yaml").Cast<FifoRecipeDiagnostic>()).Message);

        // Each size in its unit: the analytic model's width counts latent cells of 8 pixels, so 16 of them are 128 pixels.
        Assert.Contains("-Width: -Width 64 (pixels) and -ModelOption width 16 (the model's own unit, latent cells of 8 pixels: 128 pixels) " +
                        "both set the frame width and disagree; keep one", Failure("New-FifoVideo x -Frames 4 -ModelOption @{ width = 16 } -Width 64 -Height 64"));

        Assert.Equal("-SamplerOption start: fifo sampler option 'start': start: latents needs start frames, and none were given: " +
                     "give an image or video to start from (a recipe's init:, New-FifoVideo -InitImage), or leave start out.",
            Failure($"New-FifoVideo x -Frames 4 {Small} -SamplerOption @{{ start = 'latents' }}"));

        // What a looping source lacks is -Frames, not anything of -Prompt.
        Run($"New-FifoVideo x -Frames 2 {Small} | Export-FifoFrames a.gif | Out-Null");
        var endless = Failure("New-FifoVideo x -Source a.gif -SourceLoop");
        Assert.Contains("-Frames: a looping source has no end for the prompts to share; give the number of frames to make", endless);
        Assert.DoesNotContain("-Prompt", endless);

        // A checkpoint never given: New-FifoVideo's user gives -ModelPath, a recipe's model.with.path (Invoke-FifoRecipe has no -ModelPath).
        var cmdlet = Failure("New-FifoVideo x -Frames 4 -Model videocrafter");
        Assert.Contains("-ModelPath: path is not set: give the model.ckpt file or its folder, or let the store find it", cmdlet);
        Assert.DoesNotContain("model.with.path", cmdlet);
        Recipe("fine.yaml", "prompt: lava\nframes: 4\nsinks: [ { path: out.gif } ]");
        var recipe = Failure("Invoke-FifoRecipe fine.yaml -Override @{ 'model.use' = 'videocrafter' } -ErrorAction Stop");
        Assert.Contains("model.with.path: path is not set: give the model.ckpt file or its folder", recipe);
        Assert.DoesNotContain("-ModelPath", recipe);
    }

    [Fact]
    public void A_source_loop_and_a_ping_pong_together_are_refused_naming_both()
    {
        Run($"New-FifoVideo x -Frames 2 {Small} | Export-FifoFrames a.gif | Out-Null");
        // Each sets source.loop: neither silently wins, whichever way -SourceLoop is set.
        foreach (var loop in new[] { "-SourceLoop", "-SourceLoop:$true", "-SourceLoop:$false" })
            Assert.Contains("-SourceLoop and -SourcePingPong both set it and disagree", Failure($"New-FifoVideo x -Frames 4 {Small} -Source a.gif {loop} -SourcePingPong"));
        // A recipe's source.loop holds one of them (a key given twice is refused as any is).
        Recipe("twice.yaml", "prompt: lava\nframes: 4\nsource: { path: a.gif, loop: true, loop: pingpong }");
        Assert.Contains("Duplicate key loop", Assert.Single(Run("Test-FifoRecipe twice.yaml").Cast<FifoRecipeDiagnostic>()).Message);
    }

    [Fact]
    public void Prompts_given_for_a_recipes_schedule_keep_its_length()
    {
        Recipe("sched.yaml", "prompts:\n  - { prompt: a, frames: 3 }\n  - { prompt: b, frames: 2 }");
        string[] Prompts(string script) => Run(script).Cast<FifoFrame>().Select(f => f.Prompt).ToArray();
        // One prompt takes all of it; as many as the recipe has take its counts; any other number share its frames.
        Assert.Equal(new[] { "c", "c", "c", "c", "c" }, Prompts("New-FifoVideo c -Recipe sched.yaml"));
        Assert.Equal(new[] { "c", "c", "c", "d", "d" }, Prompts("New-FifoVideo c, d -Recipe sched.yaml"));
        Assert.Equal(new[] { "c", "c", "d", "d", "e" }, Prompts("New-FifoVideo c, d, e -Recipe sched.yaml"));
        // One problem, one error: the prompts are not also said to be missing.
        Assert.Equal("Invalid parameters:" + Environment.NewLine + "  -Prompt: the recipe's 5 frames are too few for 6 prompts to share; give their frame counts (-Frames)",
            Failure("New-FifoVideo c, d, e, f, g, h -Recipe sched.yaml"));
        // -Frames still says.
        Assert.Equal(new[] { "c", "d" }, Prompts("New-FifoVideo c, d -Recipe sched.yaml -Frames 1"));

        // -Override's prompts do the same with a recipe of one prompt.
        Recipe("one.yaml", "prompt: a\nframes: 4\nsinks: [ { path: one.gif } ]");
        Assert.Equal(new[] { "x", "x", "y", "y" }, Prompts("Invoke-FifoRecipe one.yaml -Override @{ prompt = 'x', 'y' } -PassThru"));
        var tooFew = Failure("Invoke-FifoRecipe one.yaml -Override @{ prompt = 'p', 'q', 'r', 's', 't' } -ErrorAction Stop");
        Assert.Contains("-Override prompt: the recipe's 4 frames are too few for 5 prompts to share; give their frame counts (-Override frames)", tooFew);
        Assert.DoesNotContain("missing", tooFew);
    }
}
