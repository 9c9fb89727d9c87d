using FifoPipes.Abstractions;
using FifoPipes.Hosting.Engine;
using FifoPipes.Hosting.Options;
using FifoPipes.Hosting.Plugins;
using FifoPipes.Hosting.Recipes;
using Xunit;

namespace FifoPipes.Tests.Hosting;

/// <summary>
/// examples/plugins/ClipSampler, built outside the solution as a third party would build it, loaded from an extra
/// plugin folder and run through the real engine: the sampler contract and Core's helpers work for a plugin that is
/// not ours, and make what the built-in chunked baseline makes.
/// </summary>
public sealed class ExampleSamplerPluginTests
{
    static PluginHost Host => TestPlugins.With("examples/plugins/ClipSampler");

    static (Recipe? Recipe, IReadOnlyList<Diagnostic> Problems) Read(string sampler, string extra = "")
    {
        Assert.Empty(Host.Errors);
        var reader = new RecipeReader(Host);
        var recipe = reader.ReadText($"""
            apiVersion: fifopipes/v1
            model: {"{"} use: analytic, with: {"{"} height: 4, width: 6, frames: 4 {"}"} {"}"}
            prompt: slow clouds
            frames: 10
            seed: 5
            sampler: {sampler}
            {extra}
            """, Path.Combine(Path.GetTempPath(), "example-clips.yaml"));
        return (recipe, reader.Diagnostics);
    }

    static List<VideoFrame> Run(string sampler)
    {
        var (recipe, problems) = Read(sampler);
        Assert.True(recipe is not null, string.Join(Environment.NewLine, problems.Select(d => $"{d.Path}: {d.Message}")));
        return new VideoRun(recipe!).Events().OfType<FrameProduced>().Select(f => f.Frame).ToList();
    }

    [Fact]
    public void The_example_makes_the_chunked_baselines_frames()
    {
        var example = Run("{ use: example-clips, with: { steps: 8, guidance: 2 } }");
        var chunked = Run("{ use: chunked, with: { steps: 8, guidance: 2, step: ddim } }");
        Assert.Equal(Enumerable.Range(0, 10).Select(i => (long)i), example.Select(f => f.Index));
        Assert.Equal(chunked.Count, example.Count);
        for (int i = 0; i < example.Count; i++) Assert.True(chunked[i].Rgb.AsSpan().SequenceEqual(example[i].Rgb), $"frame {i} differs");
        Assert.False(example[0].Rgb.AsSpan().SequenceEqual(example[4].Rgb), "clips of their own noise are not one picture");
        // The host's own assemblies are shared, not copied.
        Assert.Single(Directory.GetFiles(TestPlugins.BuildOutput("examples/plugins/ClipSampler"), "*.dll"));
    }

    [Fact]
    public void Its_check_refuses_more_steps_than_the_described_model_has()
    {
        var plugin = Host.Require(PluginKind.Sampler, "example-clips");
        var options = Activator.CreateInstance(plugin.OptionsType!)!;
        plugin.OptionsType!.GetProperty("Steps")!.SetValue(options, 600);
        var model = new ModelInfo
        {
            Name = "short-schedule", LatentChannels = 4, LatentHeight = 4, LatentWidth = 6, WindowFrames = 4,
            Schedule = new NoiseSchedule(BetaSchedule.Linear, 0.0001, 0.02, TrainTimesteps: 500), Defaults = new SamplingDefaults(),
        };
        var refused = Assert.Throws<FifoInputException>(() => plugin.Create<ISamplerFactory>().Check(options, model, new PluginContext()));
        Assert.Equal("example-clips sampler option 'steps': 600 is more than the model's 500 training timesteps.", refused.Message);
        // The host asks the check with the run's inputs (contracts 1.13); a sampler written before them is asked its own through the default.
        var inputs = new JobInputs { Prompts = new[] { new PromptSpan("rain", 8) } };
        Assert.Equal(refused.Message, Assert.Throws<FifoInputException>(() => plugin.Create<ISamplerFactory>().Check(options, model, inputs, new PluginContext())).Message);
        plugin.Create<ISamplerFactory>().Check(options, model with { Schedule = model.Schedule with { TrainTimesteps = 1000 } }, new PluginContext());
    }

    [Fact]
    public void What_it_refuses_is_refused_at_the_recipe_line()
    {
        var (recipe, problems) = Read("example-clips", "snapshot: { path: run.snapshot, every: 4 }");
        Assert.Null(recipe);
        Assert.Contains(problems, d => d.Message.Contains("example-clips"));
    }
}
