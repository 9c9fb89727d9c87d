using FifoPipes.Abstractions;
using FifoPipes.Hosting.Engine;
using FifoPipes.Hosting.Plugins;
using FifoPipes.Hosting.Recipes;
using Xunit;

namespace FifoPipes.Tests.Hosting;

/// <summary>
/// examples/plugins/GaussianModel, built outside the solution as a third party would build it, loaded from an extra
/// plugin folder and run through the real engine: the model contract works for a plugin that is not ours.
/// </summary>
public sealed class ExampleModelPluginTests
{
    static PluginHost Host => TestPlugins.With("examples/plugins/GaussianModel");

    static List<VideoFrame> Run(string prompt, double spread, int frames = 12)
    {
        Assert.Empty(Host.Errors);
        var reader = new RecipeReader(Host);
        var recipe = reader.ReadText($$"""
            apiVersion: fifopipes/v1
            model: { use: example-gaussian, with: { height: 4, width: 6, frames: 4, spread: {{spread}} } }
            prompt: {{prompt}}
            frames: {{frames}}
            seed: 3
            sampler: { use: fifo, with: { partitions: 2 } }
            """, Path.Combine(Path.GetTempPath(), "example-gaussian.yaml"));
        Assert.True(recipe is not null, string.Join(Environment.NewLine, reader.Diagnostics.Select(d => $"{d.Path}: {d.Message}")));
        return new VideoRun(recipe!).Events().OfType<FrameProduced>().Select(f => f.Frame).ToList();
    }

    static double[] MeanColour(VideoFrame frame) =>
        Enumerable.Range(0, 3).Select(c => Enumerable.Range(0, frame.Width * frame.Height).Average(p => (double)frame.Rgb[3 * p + c])).ToArray();

    [Fact]
    public void The_plugin_loads_from_its_own_build_with_its_options()
    {
        Assert.Empty(Host.Errors);
        var model = Host.Require(PluginKind.Model, "example-gaussian");
        Assert.EndsWith("GaussianModel.dll", model.Source);
        Assert.Equal(new[] { "height", "width", "frames", "spread", "device" }, model.Options.Select(o => o.Name));
        Assert.Single(Directory.GetFiles(TestPlugins.BuildOutput("examples/plugins/GaussianModel"), "*.dll"));   // the host's own assemblies are shared, not copied
    }

    [Fact]
    public void Its_check_refuses_a_device_this_machine_lacks_without_loading()
    {
        var adapter = Host.Require(PluginKind.Model, "example-gaussian").Create<IModelAdapter>();
        var options = OptionsWithDevice("cuda:99");
        var refused = Assert.Throws<FifoInputException>(() => adapter.Check(options, new PluginContext()));
        Assert.Equal("DeviceUnavailable", refused.ErrorId);
        adapter.Check(OptionsWithDevice("cpu"), new PluginContext());
    }

    [Fact]
    public void It_describes_the_model_its_load_makes()
    {
        var adapter = Host.Require(PluginKind.Model, "example-gaussian").Create<IModelAdapter>();
        using var model = adapter.Load(OptionsWithDevice("cpu"), new PluginContext());
        ModelDescription.Matches(model.Info, adapter.Describe(OptionsWithDevice("cpu"), new PluginContext()));
    }

    /// <summary>The plugin's own options type (its load context's), with <paramref name="device"/> set.</summary>
    static object OptionsWithDevice(string device)
    {
        var type = Host.Require(PluginKind.Model, "example-gaussian").OptionsType!;
        var options = Activator.CreateInstance(type)!;
        type.GetProperty("Device")!.SetValue(options, device);
        return options;
    }

    [Fact]
    public void Fifo_samples_its_exact_denoiser_to_the_prompts_flat_colour()
    {
        // With spread 0 the data are one colour per prompt, so every frame must come out that colour, evenly: a wrong
        // timestep lookup or eps would leave noise in the frames. What is left is the noise of FIFO's cleanest level
        // (sqrt(1 - abar[0]) = 0.03 in latent units, about 4 levels of 255 after the decoder), over 24 latent pixels.
        var teal = Run("deep teal", spread: 0);
        var amber = Run("amber", spread: 0);

        Assert.Equal(12, teal.Count);
        Assert.All(teal, f => Assert.Equal((48, 32), (f.Width, f.Height)));
        var colour = MeanColour(teal[0]);
        foreach (var frame in teal)
        {
            var mean = MeanColour(frame);
            for (int c = 0; c < 3; c++)
            {
                Assert.InRange(mean[c], colour[c] - 4, colour[c] + 4);
                Assert.All(Enumerable.Range(0, frame.Width * frame.Height), p => Assert.InRange(frame.Rgb[3 * p + c], mean[c] - 16, mean[c] + 16));
            }
        }
        Assert.True(MeanColour(amber[0]).Zip(colour).Max(p => Math.Abs(p.First - p.Second)) > 20, "another prompt, another colour");
    }

    [Fact]
    public void Its_spread_shows_as_grain_around_the_colour()
    {
        // Each channel's spread around its own mean (the channels' colours differ by far more).
        static double PixelSpread(VideoFrame f) => Enumerable.Range(0, 3).Average(c =>
        {
            var values = Enumerable.Range(0, f.Width * f.Height).Select(p => (double)f.Rgb[3 * p + c]).ToList();
            double mean = values.Average();
            return Math.Sqrt(values.Average(v => (v - mean) * (v - mean)));
        });
        Assert.True(Run("deep teal", spread: 0.8, frames: 4).Average(PixelSpread) > 3 * Run("deep teal", spread: 0, frames: 4).Average(PixelSpread));
    }
}
