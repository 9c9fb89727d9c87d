using FifoPipes.Abstractions;
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
        var o = options switch
        {
            null => new OpenSoraOptions(),
            OpenSoraOptions given => given,
            _ => throw new ArgumentException($"The opensora model takes {nameof(OpenSoraOptions)}, got {options.GetType().Name}.", nameof(options)),
        };
        var problem = o.Validate().FirstOrDefault();
        if (problem is not null) throw new FifoInputException("OpenSoraOptionInvalid", $"{problem.Option}: {problem.Message}");

        var preset = OpenSoraPreset.Find(o.Preset)!;
        var dtype = OpenSoraPreset.ParseDType(o.Dtype)!.Value;
        Device device;
        try { device = torch.device(o.Device); }
        catch (Exception e) { throw new FifoInputException("OpenSoraDeviceInvalid", $"device '{o.Device}' cannot be used: {e.Message} Use device: cpu.", e); }

        string root = context.ResolvePath(o.Path);
        string textFolder = o.TextEncoderPath.Length > 0 ? context.ResolvePath(o.TextEncoderPath) : Path.Combine(root, "t5-v1_1-xxl");
        string transformerFolder = Path.Combine(root, preset.Folder);
        context.Log.Verbose($"opensora: loading the transformer from {transformerFolder} ({o.Dtype} on {o.Device}).");
        // Checked first so a wrong folder fails before gigabytes load; the 4.7B-parameter T5 weights load on first use.
        OpenSoraCheckpoints.T5Shards(textFolder);
        var tokenizer = OpenSoraCheckpoints.LoadTokenizer(textFolder);
        var transformer = OpenSoraCheckpoints.LoadTransformer(transformerFolder, preset.Transformer, device, dtype);
        try
        {
            context.Log.Verbose($"opensora: loading the VAE from {Path.Combine(root, "vae")}.");
            var vae = OpenSoraCheckpoints.LoadVae(Path.Combine(root, "vae"), device, dtype);
            OpenSoraTextEncoder LoadText()
            {
                context.Log.Verbose($"opensora: loading T5 from {textFolder}.");
                return new OpenSoraTextEncoder(tokenizer, OpenSoraCheckpoints.LoadTextEncoder(textFolder, device, dtype));
            }
            return new OpenSoraModel(preset, transformer, vae, LoadText, device, dtype);
        }
        catch
        {
            transformer.Dispose();
            throw;
        }
    }
}
