using FifoPipes.Torch.Vae;
using FifoPipes.Abstractions;
using TorchSharp;
using static TorchSharp.torch;

namespace FifoPipes.Models.Zeroscope;

/// <summary>A prompt's text-encoder output [1, 77, D] (float32, on the model's device).</summary>
public sealed class ZeroscopeConditioning : Conditioning
{
    public ZeroscopeConditioning(string prompt, Tensor context) : base(prompt) => Context = context;
    public Tensor Context { get; }
    public override void Dispose() => Context.Dispose();
}

/// <summary>zeroscope_v2 as a FIFO video model: eps prediction with one timestep per frame, CLIP text context, SD VAE frames.</summary>
public sealed class ZeroscopeModel : IVideoModel, IFusedTemporalAttention, IAdoptConditioning, IReusableModel
{
    readonly ZeroscopePipeline pipeline;

    public ZeroscopeModel(ZeroscopePipeline pipeline, ModelInfo info)
    {
        this.pipeline = pipeline;
        Info = info;
    }

    public ModelInfo Info { get; }
    public ZeroscopePipeline Pipeline => pipeline;

    // The conditioning owns its tensor (it disposes it): detached, so a caller's dispose scope cannot free it first.
    /// <summary>Nothing to drop: every prompt is embedded on its own, whatever came before.</summary>
    public void BeginRun() { }

    public Conditioning Encode(string prompt) => new ZeroscopeConditioning(prompt, pipeline.EncodePrompts(new[] { prompt }).DetachFromDisposeScope());

    /// <summary>The primary replica's text embedding of a prompt, copied to this replica's device.</summary>
    public Conditioning Adopt(Conditioning fromAnotherReplica) => fromAnotherReplica is ZeroscopeConditioning other
        ? new ZeroscopeConditioning(other.Prompt, other.Context.to(other.Context.dtype, Info.Device, copy: true).DetachFromDisposeScope())
        : throw new ArgumentException($"A zeroscope replica cannot adopt a {fromAnotherReplica.GetType().Name}; it takes what another zeroscope replica encoded.", nameof(fromAnotherReplica));

    public Tensor PredictNoise(Tensor x, Tensor timesteps, IReadOnlyList<Conditioning> conditioning) =>
        Predict(x, timesteps, conditioning, null);

    public Tensor PredictNoiseFused(Tensor x, Tensor timesteps, IReadOnlyList<Conditioning> conditioning, int stride) =>
        Predict(x, timesteps, conditioning, new TemporalWindows(Info.WindowFrames, stride));

    Tensor Predict(Tensor x, Tensor timesteps, IReadOnlyList<Conditioning> conditioning, TemporalWindows? windows)
    {
        if (conditioning.Count != x.shape[0])
            throw new ArgumentException($"One conditioning per batch row is needed: x has {x.shape[0]} rows, got {conditioning.Count}.", nameof(conditioning));
        using var scope = NewDisposeScope();
        var contexts = conditioning.Select(c => c is ZeroscopeConditioning z ? z.Context
            : throw new ArgumentException($"zeroscope cannot use a {c.GetType().Name}; encode prompts with this model.", nameof(conditioning))).ToArray();
        var context = contexts.Length == 1 ? contexts[0] : cat(contexts, 0);
        return pipeline.PredictNoise(x, timesteps, context, windows).to(x.device).MoveToOuterDisposeScope();
    }

    public IFrameDecoder CreateDecoder() => new VaeFrameDecoder(pipeline.Vae, pipeline.VaeScalingFactor);

    /// <summary>RGB [T, 3, H, W] in [0, 1] → latents [4, T, H/8, W/8]: the posterior mean times the scaling factor.</summary>
    public Tensor EncodeFrames(Tensor rgb)
    {
        if (rgb.dim() != 4 || rgb.shape[1] != 3)
            throw new FifoInputException("InitFramesShape", $"Start frames must be RGB [T, 3, H, W]; got [{string.Join(", ", rgb.shape)}].");
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        var weights = pipeline.Vae.parameters().First();
        using var posterior = pipeline.Vae.Encode((rgb.to(weights.dtype, weights.device) * 2.0 - 1.0));
        var latents = (posterior.Mean.to(ScalarType.Float32) * pipeline.VaeScalingFactor).permute(1, 0, 2, 3).contiguous();
        return latents.MoveToOuterDisposeScope();
    }

    public void Dispose() => pipeline.Dispose();
}
