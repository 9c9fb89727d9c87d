using FifoPipes.Abstractions;
using FifoPipes.Core.Devices;
using TorchSharp;
using static TorchSharp.torch;

namespace FifoPipes.Models.Zeroscope;

[FifoPlugin(PluginKind.Model, "zeroscope", typeof(IModelAdapter),
    Description = "zeroscope_v2 (576w, XL): the diffusers TextToVideoSDPipeline text-to-video model (UNet3D, OpenCLIP-H text, SD VAE) loaded from its diffusers folder.",
    OptionsType = typeof(ZeroscopeOptions))]
public sealed class ZeroscopeModelAdapter : IModelAdapter
{
    public IVideoModel Load(object? options, PluginContext context)
    {
        var (o, preset, dtype, devices, folder) = Resolve(options, context);
        // Several devices: one replica each, every model call's rows split across them (ReplicatedModel); only the
        // primary loads the text encoder and the VAE.
        // Read once for all replicas: every file of the folder is looked at.
        var fingerprint = FifoPipes.Core.ModelFingerprint.Of(FifoPipes.Core.ModelFingerprint.Folder(folder), o.Variant, dtype);
        return ReplicatedModel.Create(devices, (device, role) => LoadOn(device, role, folder, dtype, o, preset, fingerprint, context));
    }

    /// <summary>
    /// The options checked as a load checks them before its first tensor: the diffusers folder, its parts and configs
    /// fitting each other and their weights, devices there, and every weight file's index read (a damaged download fails here).
    /// </summary>
    public void Check(object? options, PluginContext context)
    {
        var (o, _, _, _, folder) = Resolve(options, context);
        ZeroscopePipeline.Read(folder, o.Variant, context.Log).CheckWeights();
    }

    static (ZeroscopeOptions Options, ZeroscopePreset Preset, ScalarType DType, IReadOnlyList<Device> Devices, string Folder) Resolve(object? options, PluginContext context)
    {
        var o = PluginOptions.As<ZeroscopeOptions>(options, "zeroscope model");
        var problem = o.Validate().FirstOrDefault();
        if (problem is not null) throw new FifoInputException("BadModelOption", $"zeroscope model option '{problem.Option}': {problem.Message}");
        var dtype = ModelDevices.ParseDType(o.DTypeName)!.Value;
        return (o, ZeroscopePreset.Find(o.Preset)!, dtype, ModelDevices.ResolveAll(o.DeviceName, dtype, context.Log), context.ResolvePath(o.Path));
    }

    static IVideoModel LoadOn(Device device, ReplicaRole role, string folder, ScalarType dtype, ZeroscopeOptions o, ZeroscopePreset preset, string fingerprint,
        PluginContext context)
    {
        var pipeline = ZeroscopePipeline.Load(folder, dtype, device, o.Variant, context.Log, denoiserOnly: role == ReplicaRole.Denoiser);
        ModelInfo info;
        try { info = InfoFor(o, preset, pipeline.UNet.Config.InChannels, pipeline.VaeConfig.DownscaleFactor, pipeline.Scheduler.Schedule, device, dtype, fingerprint); }
        catch
        {
            pipeline.Dispose();
            throw;
        }
        context.Log.Verbose($"zeroscope: {info.Name}, {info.PixelWidth}x{info.PixelHeight} frames, window {info.WindowFrames}, {o.DTypeName} on {device}.");
        return new ZeroscopeModel(pipeline, info);
    }

    /// <summary>The folder's configs decide what a sampler needs; the weights are Check's and Load's (their warnings too).</summary>
    public ModelInfo? Describe(object? options, PluginContext context)
    {
        var (o, preset, dtype, devices, folder) = Resolve(options, context);
        var parts = ZeroscopePipeline.Read(folder, o.Variant);
        return InfoFor(o, preset, parts.UNetConfig.InChannels, parts.VaeSpec.Config.DownscaleFactor, parts.Scheduler.Schedule, devices[0], dtype, fingerprint: "");
    }

    static ModelInfo InfoFor(ZeroscopeOptions o, ZeroscopePreset preset, int latentChannels, int scale, NoiseSchedule schedule, Device device, ScalarType dtype,
        string fingerprint)
    {
        int width = o.Width ?? preset.Width, height = o.Height ?? preset.Height;
        if (width % scale != 0 || height % scale != 0)
            throw new FifoInputException("BadModelOption", $"zeroscope model: the frame size {width}x{height} must be a multiple of the VAE's scale {scale}; change width/height.");
        return new ModelInfo
        {
            Name = preset.Name,
            LatentChannels = latentChannels,
            LatentHeight = height / scale,
            LatentWidth = width / scale,
            WindowFrames = o.Frames ?? preset.Frames,
            SpatialScale = scale,
            Schedule = schedule,
            // The pipeline samples with DDIM, eta 0; the model has no fps input (Fps only labels the output).
            Defaults = new SamplingDefaults { Guidance = o.Guidance, Eta = 0.0, Step = StepKind.Ddim, Fps = 8 },
            Device = device,
            DType = dtype,
            Fingerprint = fingerprint,
            FusesTemporalAttention = true,
        };
    }
}
