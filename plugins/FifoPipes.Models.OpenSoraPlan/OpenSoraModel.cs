using FifoPipes.Abstractions;
using FifoPipes.Models.OpenSoraPlan.Latte;
using FifoPipes.Models.OpenSoraPlan.Vae;
using TorchSharp;
using static TorchSharp.torch;

namespace FifoPipes.Models.OpenSoraPlan;

/// <summary>
/// Open-Sora Plan v1.1 as samplers see it: LatteT2V predicts ε (the first 4 of its 8 output channels) with one
/// timestep per frame, T5-XXL embeds prompts, and the CausalVAE decodes popped latents in overlapping chunks.
/// The text encoder is loaded on first use. A denoiser-only replica (another GPU's) holds the transformer alone.
/// </summary>
public sealed class OpenSoraModel : IVideoModel, IAdoptConditioning, IPairedUnconditional, IReusableModel
{
    readonly LatteT2V transformer;
    readonly CausalVae? vae;
    readonly Func<OpenSoraTextEncoder>? loadTextEncoder;
    OpenSoraTextEncoder? textEncoder;
    // T5 of "", run once: each prompt's paired unconditional row is a copy of it with that prompt's length.
    T5Conditioning? empty;

    public OpenSoraModel(OpenSoraPreset preset, LatteT2V transformer, CausalVae vae, Func<OpenSoraTextEncoder> loadTextEncoder, Device device, ScalarType dtype)
        : this(preset, transformer, vae.Config, vae, loadTextEncoder, device, dtype) { }

    /// <summary>
    /// The transformer alone, for a replica on another device: prompts come embedded from the primary
    /// (<see cref="Adopt"/>), frames are decoded there; <paramref name="vaeConfig"/> gives the latent geometry.
    /// </summary>
    public static OpenSoraModel DenoiserOnly(OpenSoraPreset preset, LatteT2V transformer, CausalVaeConfig vaeConfig, Device device, ScalarType dtype) =>
        new(preset, transformer, vaeConfig, null, null, device, dtype);

    OpenSoraModel(OpenSoraPreset preset, LatteT2V transformer, CausalVaeConfig vaeConfig, CausalVae? vae, Func<OpenSoraTextEncoder>? loadTextEncoder,
        Device device, ScalarType dtype)
    {
        this.transformer = transformer;
        this.vae = vae;
        this.loadTextEncoder = loadTextEncoder;
        Tiling = CausalVaeTiling.For(vaeConfig);
        Info = InfoFor(preset, transformer.Config, vaeConfig, device, dtype);
    }

    /// <summary>What a model of this transformer and VAE reports: the adapter describes one before loading it with this.</summary>
    public static ModelInfo InfoFor(OpenSoraPreset preset, LatteConfig transformer, CausalVaeConfig vae, Device device, ScalarType dtype) => new()
    {
        Name = preset.Name,
        LatentChannels = transformer.InChannels,
        LatentHeight = transformer.SampleHeight,
        LatentWidth = transformer.SampleWidth,
        WindowFrames = transformer.VideoLength,
        SpatialScale = vae.SpatialFactor,
        Schedule = OpenSoraPreset.Schedule,
        Defaults = preset.Defaults,
        Device = device,
        DType = dtype,
        FusesTemporalAttention = false,
    };

    public ModelInfo Info { get; private init; }
    /// <summary>The release's files and settings (<see cref="ModelInfo.Fingerprint"/>); the adapter sets it.</summary>
    public string Fingerprint { get => Info.Fingerprint; init => Info = Info with { Fingerprint = value }; }
    public CausalVaeTiling Tiling { get; }

    /// <summary>Whether T5 is in memory (it loads on the first prompt; never on a denoiser-only replica).</summary>
    public bool TextEncoderLoaded => textEncoder is not null;
    /// <summary>Whether the VAE is in memory (false for a denoiser-only replica).</summary>
    public bool VaeLoaded => vae is not null;

    /// <summary>Nothing to drop: T5 embeds each prompt on its own, and the cached "" is the one a fresh model would make.</summary>
    public void BeginRun() { }

    public Conditioning Encode(string prompt)
    {
        var load = loadTextEncoder ?? throw FifoPipes.Core.Devices.DenoiserOnlyReplica.HasNoTextEncoder(Info.Name);
        return (textEncoder ??= load()).Encode(prompt);
    }

    /// <summary>
    /// The "" caption cut to <paramref name="conditional"/>'s length, as the pipeline pairs them in one guidance batch;
    /// paired per prompt, a row's caption does not depend on the other rows of its call.
    /// </summary>
    public Conditioning UnconditionalFor(Conditioning conditional) => Pair(empty ??= (T5Conditioning)Encode(""), conditional);

    /// <summary>
    /// A negative prompt's caption cut to <paramref name="conditional"/>'s length, as the pipeline cuts both captions of
    /// a guidance batch to the prompt's tokens (its mask_feature).
    /// </summary>
    public Conditioning Pair(Conditioning negative, Conditioning conditional)
    {
        if (conditional is not T5Conditioning prompt)
            throw new ArgumentException($"opensora cannot pair a {conditional.GetType().Name}; encode prompts with this model.", nameof(conditional));
        if (negative is not T5Conditioning caption)
            throw new ArgumentException($"opensora cannot pair a {negative.GetType().Name} as the negative; encode it with this model.", nameof(negative));
        return new T5Conditioning(caption.Prompt, caption.Embedding.clone().DetachFromDisposeScope(), caption.ValidTokens, pairedLength: prompt.ValidTokens)
        {
            IsNegative = true,
        };
    }

    /// <summary>The primary replica's T5 embedding of a prompt, copied to this replica's device.</summary>
    public Conditioning Adopt(Conditioning fromAnotherReplica) => fromAnotherReplica is T5Conditioning other
        ? new T5Conditioning(other.Prompt, other.Embedding.to(other.Embedding.dtype, Info.Device, copy: true).DetachFromDisposeScope(), other.ValidTokens,
            other.PairedLength) { IsNegative = other.IsNegative }
        : throw new ArgumentException($"An opensora replica cannot adopt a {fromAnotherReplica.GetType().Name}; it takes what another opensora replica encoded.", nameof(fromAnotherReplica));

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

    public IFrameDecoder CreateDecoder() => new ChunkedFrameDecoder(Vae, Tiling);

    CausalVae Vae => vae ?? throw FifoPipes.Core.Devices.DenoiserOnlyReplica.HasNoVae(Info.Name);

    /// <summary>RGB [T, 3, H, W] in [0, 1] → scaled posterior means [4, 1 + ⌊(T − 1)/4⌋, H/8, W/8] (the mode, not a sample).</summary>
    public Tensor EncodeFrames(Tensor rgb)
    {
        if (rgb.dim() != 4 || rgb.shape[1] != 3)
            throw new FifoInputException("OpenSoraInitFramesShape", $"Start frames must be RGB [T, 3, H, W]; got [{string.Join(", ", rgb.shape)}].");
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        var video = (rgb.to(Info.DType, Info.Device) * 2 - 1).permute(1, 0, 2, 3).unsqueeze(0);
        var (mean, _) = Vae.Encode(video);
        return (mean[0] * OpenSoraPreset.LatentScale).to(ScalarType.Float32).cpu().MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        transformer.Dispose();
        vae?.Dispose();
        textEncoder?.Dispose();
        empty?.Dispose();
    }
}
