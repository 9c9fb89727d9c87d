using FifoPipes.Abstractions;
using FifoPipes.Hosting.Engine;
using FifoPipes.Hosting.Plugins;
using FifoPipes.Hosting.Recipes;
using Xunit;

namespace FifoPipes.Tests.Hosting;

/// <summary>
/// A third-party plugin whose code throws, or whose sampler breaks its contract, is named in the run's error with what
/// it was doing, instead of a bare "Object reference not set" or a wrong-sized frame found downstream.
/// </summary>
public sealed class PluginFailureTests
{
    const string Project = "tests/TestPlugins/FaultyPlugins";

    /// <summary>A recipe that must be valid, read with the test plugins.</summary>
    static Recipe Valid(string yaml)
    {
        var reader = new RecipeReader(TestPlugins.With(Project));
        var recipe = reader.ReadText(yaml, Path.Combine(Path.GetTempPath(), "plugin-failure.yaml"));
        Assert.True(recipe is not null, string.Join(Environment.NewLine, reader.Diagnostics.Select(d => $"{d.Path}: {d.Message}")));
        return recipe!;
    }

    static PluginFailedException Failure(string model, string sampler)
    {
        var recipe = Valid($"apiVersion: fifopipes/v1\nmodel: {model}\nprompt: rain\nframes: 5\nsampler: {sampler}\n");
        return Assert.Throws<PluginFailedException>(() => new VideoRun(recipe).Events().ToList());
    }

    [Fact]
    public void A_sampler_that_is_disposable_is_disposed_when_its_run_ends_and_after_its_frames()
    {
        var events = new VideoRun(Valid($"apiVersion: fifopipes/v1\nmodel: {Tiny}\nprompt: rain\nframes: 3\nsampler: {Misbehaving("none")}\n")).Events().ToList();
        int disposed = events.FindIndex(e => e is RunMessage { Text: "misbehaving-sampler disposed" });
        Assert.True(disposed >= 0, "the sampler was not disposed");
        Assert.True(disposed > events.FindLastIndex(e => e is FrameProduced));
        Assert.Equal(3, events.Count(e => e is FrameProduced));
    }

    [Fact]
    public void Snapshots_of_a_model_whose_decoder_cannot_say_where_it_stands_are_refused_before_a_frame()
    {
        var snapshot = Path.Combine(Path.GetTempPath(), $"stateful-{Guid.NewGuid():N}.snapshot");
        var recipe = Valid($"apiVersion: fifopipes/v1\nmodel: stateful-decoder-model\nprompt: rain\nframes: 5\nsnapshot: {{ path: '{snapshot}', every: 2 }}\n");
        var events = new List<RunEvent>();
        var refused = Assert.Throws<FifoInputException>(() => { foreach (var e in new VideoRun(recipe).Events()) events.Add(e); });
        Assert.Equal("SnapshotUnsupported", refused.ErrorId);
        Assert.StartsWith("Model 'broken-decoder' decodes latents in chunks and its decoder cannot say which it holds", refused.Message);
        Assert.Contains("Remove 'snapshot' (-SnapshotPath) for this model", refused.Message);
        Assert.DoesNotContain(events, e => e is FrameProduced);
        Assert.False(File.Exists(snapshot));
    }

    [Fact]
    public void Snapshots_by_a_sampler_from_before_held_latents_are_refused_for_a_model_that_holds_some()
    {
        // The fifo sampler as one built against contracts 1.0 would load: it knows snapshots, not KeepLatents.
        var folder = Directory.CreateTempSubdirectory("fifo-sampler-1.0-").FullName;
        try
        {
            var fifo = Path.Combine(TestPlugins.Folder, "Fifo");
            foreach (var file in Directory.GetFiles(fifo)) File.Copy(file, Path.Combine(folder, Path.GetFileName(file)));
            var dll = Path.Combine(folder, "FifoPipes.Samplers.Fifo.dll");
            File.WriteAllBytes(dll, AssemblyReferences.Rewritten(File.ReadAllBytes(dll), "FifoPipes.Abstractions", 1, 0));
            var host = PluginHost.LoadFolders(new[] { folder, TestPlugins.BuildOutput(Project) });
            var snapshot = Path.Combine(folder, "run.snapshot");
            var yaml = $"apiVersion: fifopipes/v1\nmodel: chunk-decoder-model\nprompt: rain\nframes: 5\nsnapshot: {{ path: '{snapshot}', every: 2 }}\n";
            var reader = new RecipeReader(host);
            var recipe = reader.ReadText(yaml, Path.Combine(folder, "r.yaml")) ?? throw new InvalidOperationException(string.Join("; ", reader.Diagnostics));
            Assert.Equal(new Version(1, 0, 0, 0), recipe.Sampler.Plugin.Contracts);

            var events = new List<RunEvent>();
            var refused = Assert.Throws<FifoInputException>(() => { foreach (var e in new VideoRun(recipe).Events()) events.Add(e); });
            Assert.Equal("SnapshotUnsupported", refused.ErrorId);
            Assert.Equal("Sampler 'fifo' was built against FifoPipes.Abstractions 1.0, before snapshots kept the latents a decoder holds back (SamplingJob.KeepLatents, contracts 1.1), " +
                         "and model 'chunk-decoder' holds up to 2: its snapshots would resume without them, skipping frames. " +
                         $"Remove 'snapshot' (-SnapshotPath) for this model, or rebuild the sampler against this FifoPipes' Abstractions ({typeof(SamplingJob).Assembly.GetName().Version!.ToString(2)}), where it keeps them.", refused.Message);
            Assert.DoesNotContain(events, e => e is FrameProduced);
            Assert.False(File.Exists(snapshot));

            // The same sampler as built, and the same run, snapshots.
            var current = Valid(yaml);
            Assert.Equal(5, new VideoRun(current).Events().Count(e => e is FrameProduced));
            Assert.True(File.Exists(snapshot));
        }
        finally { Directory.Delete(folder, recursive: true); }
    }

    [Fact]
    public void Sampler_options_the_described_model_cannot_take_are_refused_before_it_loads()
    {
        var misfit = Valid("apiVersion: fifopipes/v1\nmodel: unloadable-described-model\nprompt: rain\nframes: 5\nsampler: { use: fifo, with: { partitions: 64 } }\n");
        var refused = Assert.Throws<FifoInputException>(() => new VideoRun(misfit).Events().ToList());
        Assert.Equal(("BadSamplerOption", "fifo sampler option 'partitions': 64 partitions x 16 frames = 1024 steps exceed the model's 1000 training timesteps; use fewer partitions."),
            (refused.ErrorId, refused.Message));
        // Options that fit go on to the load.
        var fits = Valid("apiVersion: fifopipes/v1\nmodel: unloadable-described-model\nprompt: rain\nframes: 5\nsampler: { use: fifo, with: { partitions: 4 } }\n");
        Assert.Contains("the load was reached", Assert.Throws<PluginFailedException>(() => new VideoRun(fits).Events().ToList()).InnerException!.Message);
    }

    [Theory]
    [InlineData("sampler: { use: fifo, with: { warmupIterations: 2 } }", "warmupIterations",
        "warmupIterations only applies to start: noise, and this run starts from a base clip (start: base, the default); remove it or set start: noise.")]
    [InlineData("sampler: { use: fifo, with: { start: latents } }", "start", "start: latents needs start frames, and none were given")]
    [InlineData("init: {init}\nsampler: { use: fifo, with: { start: base } }", "start", "start frames were given, but start is 'base'")]
    [InlineData("init: {init}\nsampler: { use: fifo, with: { start: noise } }", "start", "start frames were given, but start is 'noise'")]
    [InlineData("init: {init}\nsampler: { use: fifo, with: { baseClipCache: cache } }", "baseClipCache",
        "baseClipCache only applies to start: base, and this run starts from the start frames (start: latents)")]
    [InlineData("sampler: { use: freenoise, with: { fusion: attention } }", "fusion",
        "'attention' needs a model with window-fused temporal attention (videocrafter, zeroscope); 'broken-decoder' has none. Use fusion: predictions.")]
    public void What_the_sampler_would_refuse_of_the_runs_inputs_is_refused_before_the_model_loads(string lines, string option, string expected)
    {
        var init = Path.Combine(Path.GetTempPath(), $"start-{Guid.NewGuid():N}.png");
        File.WriteAllText(init, "");
        try
        {
            var recipe = Valid($"apiVersion: fifopipes/v1\nmodel: unloadable-described-model\nprompt: rain\nframes: 5\n{lines.Replace("{init}", $"'{init}'")}\n");
            var refused = Assert.Throws<FifoInputException>(() => new VideoRun(recipe).Events().ToList());
            Assert.Equal(("BadSamplerOption", option), (refused.ErrorId, refused.Option));
            Assert.Contains(expected, refused.Message);
        }
        finally { File.Delete(init); }
    }

    [Fact]
    public void A_video_longer_than_a_sampler_that_holds_it_whole_can_take_is_refused_before_the_model_loads()
    {
        var recipe = Valid("apiVersion: fifopipes/v1\nmodel: unloadable-described-model\nprompts:\n  - {prompt: a, frames: 2000000000}\n  - {prompt: b, frames: 2000000000}\n" +
                           "sampler: gen-l-video\n");
        var refused = Assert.Throws<FifoInputException>(() => new VideoRun(recipe).Events().ToList());
        Assert.Equal("VideoTooLong", refused.ErrorId);
        Assert.Equal("The gen-l-video sampler denoises the whole video at once and takes at most 2,147,483,647 frames; the prompts ask for 4,000,000,000: " +
                     "ask for fewer frames, or use the fifo sampler, which streams a video of any length in constant memory.", refused.Message);
    }

    [Fact]
    public void A_description_the_load_does_not_match_is_the_adapters_bug_named_before_sampling()
    {
        var events = new List<RunEvent>();
        var ex = Assert.Throws<PluginFailedException>(() =>
        {
            foreach (var e in new VideoRun(Valid("apiVersion: fifopipes/v1\nmodel: misdescribed-model\nprompt: rain\nframes: 5\n")).Events()) events.Add(e);
        });
        Assert.StartsWith("The model 'misdescribed-model' (", ex.Message);
        Assert.EndsWith(") described its model otherwise than it loaded it (WindowFrames 16 described, 4 loaded): its Describe must give the Info its Load's model has", ex.Message);
        Assert.DoesNotContain(events, e => e is RunStarted);
    }

    [Fact]
    public void A_model_that_cannot_describe_itself_has_its_samplers_options_checked_once_it_is_loaded_before_sampling()
    {
        // broken-decoder-model describes nothing; its window is 4 frames, and a stride of 5 leaves gaps.
        var events = new List<RunEvent>();
        var ex = Assert.Throws<FifoInputException>(() =>
        {
            foreach (var e in new VideoRun(Valid("apiVersion: fifopipes/v1\nmodel: broken-decoder-model\nprompt: rain\nframes: 5\nsampler: { use: gen-l-video, with: { stride: 5 } }\n")).Events())
                events.Add(e);
        });
        Assert.Equal("gen-l-video sampler option 'stride': 5 is outside 1..4 (the model's window frames); windows must overlap or touch.", ex.Message);
        Assert.DoesNotContain(events, e => e is RunStarted);
    }

    [Fact]
    public void A_model_whose_describe_throws_is_named_with_what_it_was_doing()
    {
        var ex = Assert.Throws<PluginFailedException>(() => new VideoRun(Valid("apiVersion: fifopipes/v1\nmodel: failing-describe-model\nprompt: rain\nframes: 5\n")).Events().ToList());
        Assert.StartsWith("Describing the model 'failing-describe-model' (", ex.Message);
    }

    [Fact]
    public void A_negative_prompt_for_a_sampler_that_declares_it_takes_none_is_refused_at_its_line()
    {
        var reader = new RecipeReader(TestPlugins.With(Project));
        Assert.Null(reader.ReadText("apiVersion: fifopipes/v1\nprompt: rain\nframes: 5\nsampler: unguided-sampler\nnegativePrompt: blur\n",
            Path.Combine(Path.GetTempPath(), "plugin-negative.yaml")));
        var refused = Assert.Single(reader.Diagnostics);
        Assert.Equal(("negativePrompt", 5), (refused.Path, refused.Line));
        Assert.Equal("the unguided-sampler sampler does not take negative prompts; drop 'negativePrompt' (-NegativePrompt) or use a sampler that does, such as fifo",
            refused.Message);
        // Without one, the sampler is taken.
        Assert.NotNull(reader.ReadText("apiVersion: fifopipes/v1\nprompt: rain\nframes: 5\nsampler: unguided-sampler\n", Path.Combine(Path.GetTempPath(), "plugin-plain.yaml")));
    }

    [Fact]
    public void A_model_load_stops_by_the_token_its_context_brings_when_the_run_is_stopped()
    {
        var recipe = Valid("apiVersion: fifopipes/v1\nmodel: stoppable-model\nprompt: rain\nframes: 5\n");
        using var stop = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        var clock = System.Diagnostics.Stopwatch.StartNew();

        var events = new VideoRun(recipe).Events(stop.Token).ToList();

        // The adapter gives up after 20 s, and throws, where its context had no stop.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"the load ran {clock.Elapsed} after the stop");
        Assert.DoesNotContain(events, e => e is RunStarted);
    }

    const string Tiny = "{ use: analytic, with: { height: 4, width: 6, frames: 4 } }";

    static string Misbehaving(string mode) => $"{{ use: misbehaving-sampler, with: {{ mode: {mode} }} }}";

    [Fact]
    public void A_model_whose_load_throws_is_named()
    {
        var ex = Failure("failing-model", "fifo");
        Assert.StartsWith($"Loading the model 'failing-model' ({TestPlugins.BuildOutput(Project)}", ex.Message);
        Assert.EndsWith("failed: the widget would not start", ex.Message);
        Assert.IsType<InvalidOperationException>(ex.InnerException);
    }

    const string GhostFix = "Ghost is neither in the plugin's folder nor shared by FifoPipes: build the plugin with <EnableDynamicLoading>true</EnableDynamicLoading>, " +
                            "which puts its NuGet dependencies into its build output, or copy Ghost.dll beside it.";

    [Fact]
    public void A_model_whose_load_needs_an_assembly_its_folder_lacks_is_named_with_the_fix()
    {
        // The runtime throws a FileNotFoundException, an IOException, as for a file the machine lost: it is the plugin's.
        var ex = Failure("ghost-loading-model", "fifo");
        Assert.StartsWith($"Loading the model 'ghost-loading-model' ({TestPlugins.BuildOutput(Project)}", ex.Message);
        Assert.Contains("failed: Could not load file or assembly 'Ghost, Version=1.0.0.0", ex.Message);
        Assert.EndsWith(GhostFix, ex.Message);
        Assert.IsType<FileNotFoundException>(ex.InnerException);
    }

    [Fact]
    public void A_sink_whose_write_needs_an_assembly_its_folder_lacks_is_named_with_its_path_and_the_fix()
    {
        using var sinks = Sinks("ghost-writing-sink");
        var ex = Assert.Throws<SinkFailedException>(() => sinks.Write(new VideoFrame(0, 2, 2, new byte[12], "rain", 8, Guid.Empty)));
        Assert.StartsWith($"The ghost-writing-sink sink ({TestPlugins.BuildOutput(Project)}", ex.Message);
        Assert.Contains($"writing '{Path.Combine(Path.GetTempPath(), "out.bin")}' failed: Could not load file or assembly 'Ghost, Version=1.0.0.0", ex.Message);
        Assert.EndsWith(GhostFix, ex.Message);
    }

    [Fact]
    public void An_assembly_plugin_code_cannot_load_is_the_plugins_and_a_file_the_machine_lost_is_not()
    {
        var assembly = new FileNotFoundException("Could not load file or assembly 'Validation, Version=2.6.0.0, Culture=neutral, PublicKeyToken=2fc06f0d701809a7'.",
            "Validation, Version=2.6.0.0, Culture=neutral, PublicKeyToken=2fc06f0d701809a7");
        Assert.True(PluginFailedException.Names(assembly));
        Assert.Equal("Validation", PluginFailedException.MissingAssembly(assembly)!.Name);
        Assert.False(PluginFailedException.Names(new FileNotFoundException("Could not find file '/data/prompt.txt'.", "/data/prompt.txt")));
        Assert.Equal("", PluginFailedException.MissingAssemblyFix(new FileNotFoundException("Could not find file '/data/prompt.txt'.", "/data/prompt.txt")));
        Assert.Contains("The plugin's folder holds no Validation it can load: build the plugin with <EnableDynamicLoading>true</EnableDynamicLoading>",
            PluginFailedException.MissingAssemblyFix(new FileLoadException("The located assembly's manifest definition does not match the assembly reference.", assembly.FileName)));
    }

    [Fact]
    public void A_missing_assembly_is_said_to_be_in_the_code_of_the_plugin_that_references_it_wherever_the_runtime_threw_it()
    {
        var faulty = Path.Combine(TestPlugins.BuildOutput(Project), "FaultyPlugins.dll");
        var sampler = Path.Combine(TestPlugins.Folder, "Fifo", "FifoPipes.Samplers.Fifo.dll");
        var missing = new FileNotFoundException("Could not load file or assembly 'Ghost, Version=1.0.0.0, Culture=neutral, PublicKeyToken=null'.", "Ghost, Version=1.0.0.0, Culture=neutral, PublicKeyToken=null");
        // Thrown here, in the tests' own code, which stands for the sampler's call into the model's method that needs Ghost.
        Assert.Equal(" in the model's code", PluginFailedException.ThrownIn(Thrown(() => throw missing), (sampler, "the sampler's"), (faulty, "the model's")));
    }

    [Fact]
    public void A_sampler_that_throws_is_named_with_the_model_it_ran_on_and_the_last_frame_it_made()
    {
        var ex = Failure(Tiny, Misbehaving("throw"));
        Assert.StartsWith($"Sampling with the sampler 'misbehaving-sampler' ({TestPlugins.BuildOutput(Project)}", ex.Message);
        Assert.Contains("on the model 'analytic' (", ex.Message);
        Assert.EndsWith("failed after frame 1 in the sampler's MisbehavingSampler.Sample: Object reference not set to an instance of an object.", ex.Message);
    }

    [Fact]
    public void A_model_bug_met_in_the_samplers_loop_is_said_to_be_in_the_models_code()
    {
        var ex = Failure("failing-encoder-model", "fifo");
        Assert.StartsWith("Sampling with the sampler 'fifo' (", ex.Message);
        Assert.EndsWith("failed in the model's FailingEncoderModel.Encode: no glyphs for 'rain'", ex.Message);
    }

    [Theory]
    [InlineData("short", "stopped at frame 4 of the run's 5: a sampler yields every frame of its job, in order")]
    [InlineData("nothing", "made no frames of the run's 5")]
    [InlineData("skip", "yielded frame 2 after frame 0: a sampler yields every frame of its job, in order")]
    [InlineData("late", "yielded frame 1 first: a sampler yields every frame of its job, in order")]
    [InlineData("shape", "yielded a latent of shape [1, 4, 4, 6] for frame 0; the model's frames are [4, 4, 6] (channels, height, width)")]
    public void A_sampler_that_breaks_its_contract_is_told_so(string mode, string message)
    {
        var ex = Failure(Tiny, Misbehaving(mode));
        Assert.StartsWith("The sampler 'misbehaving-sampler' (", ex.Message);
        Assert.Contains(message, ex.Message);
    }

    [Fact]
    public void A_model_whose_decoder_throws_is_named_with_the_latent_it_was_decoding()
    {
        var ex = Failure("broken-decoder-model", "fifo");
        Assert.StartsWith($"Decoding latent 2 with the model 'broken-decoder-model' ({TestPlugins.BuildOutput(Project)}", ex.Message);
        Assert.EndsWith("failed: Index was outside the bounds of the array.", ex.Message);
        Assert.IsType<IndexOutOfRangeException>(ex.InnerException);
    }

    static Exception Thrown(Action fault)
    {
        try { fault(); }
        catch (Exception e) { return e; }
        throw new InvalidOperationException("nothing was thrown");
    }

    static void Fault(string message) => throw new InvalidOperationException(message);

    [Fact]
    public void Where_an_error_was_thrown_is_read_from_the_innermost_exception_and_never_from_a_late_cuda_report()
    {
        // This test's own assembly stands for the model's folder, another folder for the sampler's.
        var owners = new[] { (typeof(PluginFailureTests).Assembly.Location, "the model's"), ("/elsewhere/Sampler.dll", "the sampler's") };
        var inner = Thrown(() => Fault("bad glyph"));
        Assert.Equal(" in the model's PluginFailureTests.Fault", PluginFailedException.ThrownIn(new AggregateException(inner), owners));
        Assert.Equal("", PluginFailedException.ThrownIn(inner, ("/elsewhere/Sampler.dll", "the sampler's")));
        // An asynchronous kernel fault surfaces at whichever call comes next.
        Assert.Equal("", PluginFailedException.ThrownIn(Thrown(() => Fault("CUDA error: an illegal memory access was encountered")), owners));
    }

    static SinkSet Sinks(string sink)
    {
        return new SinkSet(Valid($"apiVersion: fifopipes/v1\nprompt: rain\nframes: 2\nsinks: [ {{ path: out.bin, use: {sink} }} ]\n").Sinks, overwrite: false, 8, new PluginContext());
    }

    [Fact]
    public void A_sink_whose_check_throws_is_named_as_the_problem_of_its_output()
    {
        using var sinks = Sinks("buggy-check-sink");
        var (index, _, problem) = Assert.Single(sinks.Problems());
        Assert.Equal(0, index);
        var named = Assert.IsType<PluginFailedException>(problem);
        Assert.StartsWith($"Checking the output '{Path.Combine(Path.GetTempPath(), "out.bin")}' with the sink 'buggy-check-sink' ({TestPlugins.BuildOutput(Project)}", named.Message);
        Assert.IsType<NullReferenceException>(named.InnerException);
        Assert.Equal(problem.Message, Assert.Throws<PluginFailedException>(sinks.Check).Message);
    }

    [Fact]
    public void A_check_that_meets_a_folder_it_may_not_read_is_that_outputs_problem()
    {
        using var sinks = Sinks("unlistable-sink");
        var problem = Assert.IsType<FifoInputException>(Assert.Single(sinks.Problems()).Problem);
        Assert.Equal("SinkCheckFailed", problem.ErrorId);
        Assert.Contains("cannot be checked: Access to the path", problem.Message);
        Assert.IsType<UnauthorizedAccessException>(problem.InnerException);
    }

    [Fact]
    public void An_option_check_with_a_bug_is_a_recipe_problem_that_says_it_is_the_plugins()
    {
        var reader = new RecipeReader(TestPlugins.With(Project));
        Assert.Null(reader.ReadText("apiVersion: fifopipes/v1\nprompt: rain\nframes: 2\nsinks: [ { path: out.bin, use: buggy-options-sink } ]\n",
            Path.Combine(Path.GetTempPath(), "plugin-failure.yaml")));
        var problem = Assert.Single(reader.Diagnostics);
        Assert.Equal("sinks[0].with.(options)", problem.Path);
        Assert.StartsWith("the plugin's option check failed with a bug of its own (NullReferenceException): ", problem.Message);
    }

    [Fact]
    public void A_sinks_input_error_at_completion_keeps_its_own_error_id()
    {
        using var sinks = Sinks("unfinishable-sink");
        sinks.Write(new VideoFrame(0, 2, 2, new byte[12], "rain", 8, Guid.Empty));
        Assert.Equal("DiskQuotaExceeded", Assert.Throws<FifoInputException>(() => sinks.Complete()).ErrorId);
    }

    [Fact]
    public void A_device_out_of_memory_is_the_machines_and_keeps_its_own_error()
    {
        var recipe = Valid($"apiVersion: fifopipes/v1\nmodel: {Tiny}\nprompt: rain\nframes: 5\nsampler: {Misbehaving("oom")}\n");
        Assert.StartsWith("CUDA out of memory", Assert.Throws<System.Runtime.InteropServices.ExternalException>(() => new VideoRun(recipe).Events().ToList()).Message);
    }

    [Fact]
    public void A_sampler_that_keeps_its_contract_makes_its_frames()
    {
        var reader = new RecipeReader(TestPlugins.With(Project));
        var recipe = reader.ReadText($"apiVersion: fifopipes/v1\nmodel: {Tiny}\nprompt: rain\nframes: 5\nsampler: {Misbehaving("none")}\n",
            Path.Combine(Path.GetTempPath(), "plugin-failure.yaml"));
        Assert.Equal(5, new VideoRun(recipe!).Events().OfType<FrameProduced>().Count());
    }
}
