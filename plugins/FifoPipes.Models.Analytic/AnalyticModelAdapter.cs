using FifoPipes.Abstractions;

namespace FifoPipes.Models.Analytic;

[FifoPlugin(PluginKind.Model, "analytic", typeof(IModelAdapter),
    Description = "Built-in procedural Gaussian video prior with an exact closed-form denoiser: drifting, morphing textures (clouds, fire, ocean, nebula...) on any CPU, and ground truth for measuring samplers.",
    OptionsType = typeof(AnalyticOptions))]
public sealed class AnalyticModelAdapter : IModelAdapter
{
    public IVideoModel Load(object? options, PluginContext context)
    {
        var analytic = OptionsOf(options);
        var model = new AnalyticModel(analytic);
        context.Log.Verbose($"analytic model: {analytic.Channels} x {analytic.Height} x {analytic.Width} latents ({model.Info.PixelWidth}x{model.Info.PixelHeight} frames), window {analytic.Frames}, device {analytic.Device}.");
        return model;
    }

    /// <summary>A GPU this machine lacks is refused by Test-FifoRecipe -Model, as Load would refuse it.</summary>
    public void Check(object? options, PluginContext context) => AnalyticModel.DeviceFor(OptionsOf(options));

    public ModelInfo? Describe(object? options, PluginContext context) => AnalyticModel.InfoFor(AnalyticModel.Validated(OptionsOf(options)), TorchSharp.torch.CPU);

    static AnalyticOptions OptionsOf(object? options) => PluginOptions.As<AnalyticOptions>(options, "analytic model");
}
