using FifoPipes.Abstractions;
using FifoPipes.Core;
using FifoPipes.Core.Devices;
using FifoPipes.Torch.Checkpoints;
using FifoPipes.Torch.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace FifoPipes.Models.OpenSoraPlan;

[FifoPlugin(PluginKind.Model, "opensora", typeof(IModelAdapter),
    Description = "Open-Sora Plan v1.1 (LatteT2V + CausalVAE + T5-XXL) at 512x512, 24 fps, DDPM with clip_sample; presets opensora-v1.1-65 and opensora-v1.1-221.",
    OptionsType = typeof(OpenSoraOptions))]
public sealed class OpenSoraModelAdapter : IModelAdapter
{
    public IVideoModel Load(object? options, PluginContext context)
    {
        var (_, preset, dtype, devices, root, textFolder, _) = Resolve(options, context);
        var tokenizer = OpenSoraCheckpoints.LoadTokenizer(textFolder);
        var release = new Release(preset, Path.Combine(root, preset.Folder), Path.Combine(root, "vae"), textFolder, tokenizer, dtype, context.Log);
        // Several devices: one replica each, every model call's rows split across them (ReplicatedModel); only the
        // primary holds T5 and the VAE.
        return ReplicatedModel.Create(devices, release.Load);
    }

    /// <summary>
    /// The options checked as a load checks them before its first tensor: T5 shards found and fitting the transformer,
    /// devices there, the tokenizer, and the index of every weight file read (transformer, VAE, T5 shards), so a missing
    /// or damaged download fails here.
    /// </summary>
    public void Check(object? options, PluginContext context)
    {
        var (_, preset, _, _, root, textFolder, textShards) = Resolve(options, context);
        OpenSoraCheckpoints.LoadTokenizer(textFolder);
        OpenSoraCheckpoints.VaeConfig(Path.Combine(root, "vae"));
        var files = new[] { OpenSoraCheckpoints.WeightsFile(Path.Combine(root, preset.Folder)), OpenSoraCheckpoints.WeightsFile(Path.Combine(root, "vae")) };
        foreach (var file in files.Concat(textShards)) WeightFiles.ReadIndex(file);
    }

    /// <summary>The transformer's and the VAE's configs decide what a sampler needs; the weights are Check's and Load's.</summary>
    public ModelInfo? Describe(object? options, PluginContext context)
    {
        var (_, preset, dtype, devices, root, _, _) = Resolve(options, context);
        return OpenSoraModel.InfoFor(preset, OpenSoraCheckpoints.TransformerConfig(Path.Combine(root, preset.Folder), preset.Transformer),
            OpenSoraCheckpoints.VaeConfig(Path.Combine(root, "vae")), devices[0], dtype);
    }

    static (OpenSoraOptions Options, OpenSoraPreset Preset, ScalarType DType, IReadOnlyList<Device> Devices, string Root, string TextFolder,
        IReadOnlyList<string> TextShards) Resolve(
        object? options, PluginContext context)
    {
        var o = PluginOptions.As<OpenSoraOptions>(options, "opensora model");
        var problem = o.Validate().FirstOrDefault();
        if (problem is not null) throw new FifoInputException("OpenSoraOptionInvalid", $"{problem.Option}: {problem.Message}") { Option = problem.Option };

        var preset = OpenSoraPreset.Find(o.Preset)!;
        var dtype = ModelDevices.ParseDType(o.Dtype)!.Value;
        var devices = ModelDevices.ResolveAll(o.Device, dtype, context.Log);

        string root = context.ResolvePath(o.Path);
        OpenSoraCheckpoints.RequireReleaseFolder(root, preset);
        string textFolder = o.TextEncoderPath.Length > 0 ? context.ResolvePath(o.TextEncoderPath) : Path.Combine(root, "t5-v1_1-xxl");
        // Checked first so a wrong folder fails before gigabytes load; the 4.7B-parameter T5 weights load on first use.
        var textShards = OpenSoraCheckpoints.T5Shards(textFolder);
        OpenSoraCheckpoints.CheckTextEncoderFits(textFolder, Path.Combine(root, preset.Folder), preset.Transformer);
        return (o, preset, dtype, devices, root, textFolder, textShards);
    }

    /// <summary>Where the parts of one Open-Sora Plan release are, and how to load them onto a device.</summary>
    sealed record Release(OpenSoraPreset Preset, string TransformerFolder, string VaeFolder, string TextFolder, T5Tokenizer Tokenizer,
        ScalarType DType, IProgressSink Log)
    {
        public IVideoModel Load(Device device, ReplicaRole role)
        {
            Log.Verbose($"opensora: loading the transformer from {TransformerFolder} ({DType} on {device}).");
            var transformer = OpenSoraCheckpoints.LoadTransformer(TransformerFolder, Preset.Transformer, device, DType);
            try
            {
                if (role == ReplicaRole.Denoiser)
                    return OpenSoraModel.DenoiserOnly(Preset, transformer, OpenSoraCheckpoints.VaeConfig(VaeFolder), device, DType);
                var fingerprint = ModelFingerprint.Of(ModelFingerprint.Folder(TransformerFolder), ModelFingerprint.Folder(TextFolder), DType);
                Log.Verbose($"opensora: loading the VAE from {VaeFolder}.");
                var vae = OpenSoraCheckpoints.LoadVae(VaeFolder, device, DType);
                OpenSoraTextEncoder LoadText()
                {
                    Log.Verbose($"opensora: loading T5 from {TextFolder}.");
                    return new OpenSoraTextEncoder(Tokenizer, OpenSoraCheckpoints.LoadTextEncoder(TextFolder, device, DType));
                }
                return new OpenSoraModel(Preset, transformer, vae, LoadText, device, DType) { Fingerprint = fingerprint };
            }
            catch
            {
                transformer.Dispose();
                throw;
            }
        }
    }
}
