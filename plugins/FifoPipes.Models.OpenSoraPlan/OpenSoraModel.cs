using FifoPipes.Abstractions;
using FifoPipes.Models.OpenSoraPlan.Latte;
using FifoPipes.Models.OpenSoraPlan.Vae;
using TorchSharp;
using static TorchSharp.torch;

namespace FifoPipes.Models.OpenSoraPlan;

/// <summary>
/// Open-Sora Plan v1.1 as samplers see it: LatteT2V predicts ε (the first 4 of its 8 output channels) with one
/// timestep per frame, T5-XXL embeds prompts, and the CausalVAE decodes popped latents in overlapping chunks.
/// The text encoder is loaded on first use.
/// </summary>
public sealed class OpenSoraModel : IVideoModel
{
    readonly LatteT2V transformer;
    readonly CausalVae vae;
    readonly Func<OpenSoraTextEncoder> loadTextEncoder;
    OpenSoraTextEncoder? textEncoder;

    public OpenSoraModel(OpenSoraPreset preset, LatteT2V transformer, CausalVae vae, Func<OpenSoraTextEncoder> loadTextEncoder, Device device, ScalarType dtype)
    {
        this.transformer = transformer;
        this.vae = vae;
        this.loadTextEncoder = loadTextEncoder;
        Tiling = CausalVaeTiling.For(vae.Config);
        Info = new ModelInfo
        {
            Name = preset.Name,
            LatentChannels = transformer.Config.InChannels,
            LatentHeight = transformer.Config.SampleHeight,
            LatentWidth = transformer.Config.SampleWidth,
            WindowFrames = transformer.Config.VideoLength,
            SpatialScale = vae.Config.SpatialFactor,
            Schedule = OpenSoraPreset.Schedule,
            Defaults = preset.Defaults,
            Device = device,
            DType = dtype,
        };
    }

    public ModelInfo Info { get; }
    public CausalVaeTiling Tiling { get; }

    public Conditioning Encode(string prompt) => (textEncoder ??= loadTextEncoder()).Encode(prompt);

    public Tensor PredictNoise(Tensor x, Tensor timesteps, IReadOnlyList<Conditioning> conditioning)
    {
        if (conditioning.Count != x.shape[0])
            throw new ArgumentException($"{conditioning.Count} conditionings for a batch of {x.shape[0]}.", nameof(conditioning));
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        var (caption, mask) = CaptionBatch.Build(conditioning);
        var output = transformer.forward(x.to(Info.DType, Info.Device), timesteps.to(ScalarType.Int64, Info.Device), caption, mask);
        // Channels 4..7 are the learned variance, which sampling never uses.
        return output.narrow(1, 0, Info.LatentChannels).MoveToOuterDisposeScope();
    }

    public IFrameDecoder CreateDecoder() => new ChunkedFrameDecoder(vae, Tiling);

    /// <summary>RGB [T, 3, H, W] in [0, 1] → scaled posterior means [4, 1 + ⌊(T − 1)/4⌋, H/8, W/8] (the mode, not a sample).</summary>
    public Tensor EncodeFrames(Tensor rgb)
    {
        if (rgb.dim() != 4 || rgb.shape[1] != 3)
            throw new FifoInputException("OpenSoraInitFramesShape", $"Start frames must be RGB [T, 3, H, W]; got [{string.Join(", ", rgb.shape)}].");
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        var video = (rgb.to(Info.DType, Info.Device) * 2 - 1).permute(1, 0, 2, 3).unsqueeze(0);
        var (mean, _) = vae.Encode(video);
        return (mean[0] * OpenSoraPreset.LatentScale).to(ScalarType.Float32).cpu().MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        transformer.Dispose();
        vae.Dispose();
        textEncoder?.Dispose();
    }
}
