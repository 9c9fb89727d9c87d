using FifoPipes.Abstractions;
using FifoPipes.Models.VideoCrafter;
using FifoPipes.Torch.UNets;
using FifoPipes.Torch.Vae;
using TorchSharp;
using static TorchSharp.torch;

namespace FifoPipes.Benchmarks.Speed;

/// <summary>
/// A VideoCrafter preset's UNet3D with random weights, built straight on the device in the dtype, as an
/// <see cref="IVideoModel"/> for the sampler: prompts become fixed random text embeddings [1, 77, context_dim].
/// Random weights cost the same time as real ones, so no checkpoint is needed to measure speed. No VAE or text tower.
/// </summary>
public sealed class RandomUNetModel : IVideoModel, IAdoptConditioning
{
    public const int ContextLength = 77;

    readonly UNet3D unet;
    readonly VideoCrafterPreset preset;
    readonly Dictionary<string, Tensor> contexts = new();

    public RandomUNetModel(VideoCrafterPreset preset, Device device, ScalarType dtype, RandomUNetModel? copyWeightsFrom = null)
    {
        this.preset = preset;
        manual_seed(1234);
        unet = new UNet3D(preset.UNet, device, dtype);
        unet.eval();
        if (copyWeightsFrom is not null)
        {
            // Replicas hold the same weights, as a loaded checkpoint would give them.
            unet.LoadStrict(copyWeightsFrom.unet.state_dict(), "the primary replica");
        }
        // What the loaded model reports, without the checkpoint's fingerprint: there is none.
        Info = VideoCrafterModel.InfoFor(preset, device, dtype, fingerprint: "");
    }

    public ModelInfo Info { get; }
    public UNet3D UNet => unet;

    sealed class RandomText : Conditioning
    {
        public RandomText(string prompt, Tensor context) : base(prompt) => Context = context;
        public Tensor Context { get; }
    }

    public Conditioning Encode(string prompt)
    {
        if (!contexts.TryGetValue(prompt, out var context))
        {
            using var generator = new Generator((ulong)(prompt.Length + 1));
            using var host = randn(new long[] { 1, ContextLength, preset.UNet.ContextDim }, generator: generator);
            contexts[prompt] = context = host.to(Info.DType, Info.Device).DetachFromDisposeScope();
        }
        return new RandomText(prompt, context);
    }

    /// <summary>As a loaded model's replicas do: the primary's embedding, copied to this replica's device.</summary>
    public Conditioning Adopt(Conditioning fromAnotherReplica)
    {
        var other = (RandomText)fromAnotherReplica;
        if (!contexts.TryGetValue(other.Prompt, out var context))
            contexts[other.Prompt] = context = other.Context.to(Info.DType, Info.Device, copy: true).DetachFromDisposeScope();
        return new RandomText(other.Prompt, context);
    }

    public Tensor PredictNoise(Tensor x, Tensor timesteps, IReadOnlyList<Conditioning> conditioning)
    {
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        var context = cat(conditioning.Select(c => ((RandomText)c).Context).ToList(), 0);
        var fps = preset.UNet.FpsCond ? full(new[] { x.shape[0] }, (long)preset.FpsConditioning, ScalarType.Int64, Info.Device) : null;
        var eps = unet.forward(x.to(Info.DType, Info.Device), timesteps.to(Info.Device), context, fps);
        return eps.to(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    public IFrameDecoder CreateDecoder() => throw new NotSupportedException("The speed benchmark times the sampler; it has no VAE.");
    public Tensor EncodeFrames(Tensor rgb) => throw new NotSupportedException("The speed benchmark has no VAE.");

    public void Dispose()
    {
        foreach (var c in contexts.Values) c.Dispose();
        unet.Dispose();
    }
}

/// <summary>The reference implementation's call pattern: every batch row (one window, one guidance branch) is its own model call.</summary>
public sealed class OneRowPerCallModel : IVideoModel
{
    readonly IVideoModel inner;
    public OneRowPerCallModel(IVideoModel inner) => this.inner = inner;

    public ModelInfo Info => inner.Info;
    public long Calls { get; private set; }
    public Conditioning Encode(string prompt) => inner.Encode(prompt);

    public Tensor PredictNoise(Tensor x, Tensor timesteps, IReadOnlyList<Conditioning> conditioning)
    {
        using var scope = NewDisposeScope();
        var rows = new List<Tensor>();
        for (int r = 0; r < x.shape[0]; r++)
        {
            Calls++;
            rows.Add(inner.PredictNoise(x.narrow(0, r, 1), timesteps.narrow(0, r, 1), new[] { conditioning[r] }));
        }
        return cat(rows, 0).MoveToOuterDisposeScope();
    }

    public IFrameDecoder CreateDecoder() => inner.CreateDecoder();
    public Tensor EncodeFrames(Tensor rgb) => inner.EncodeFrames(rgb);
    public void Dispose() => inner.Dispose();
}

/// <summary>The preset's KL VAE with random weights, built on the device in the dtype, as the per-frame decoder a run uses.</summary>
public static class RandomVae
{
    public static IFrameDecoder CreateDecoder(VideoCrafterPreset preset, Device device, ScalarType dtype)
    {
        manual_seed(4321);
        var vae = new AutoencoderKL(preset.Vae, device, dtype);
        vae.eval();
        return new OwningDecoder(new VaeFrameDecoder(vae, preset.ScaleFactor), vae);
    }

    /// <summary>Disposes the VAE with the decoder (VaeFrameDecoder borrows the model's VAE and leaves it alone).</summary>
    sealed class OwningDecoder(IFrameDecoder inner, AutoencoderKL vae) : IFrameDecoder
    {
        public IReadOnlyList<Tensor> Push(Tensor latent) => inner.Push(latent);
        public IReadOnlyList<Tensor> Flush() => inner.Flush();
        public bool Stateless => inner.Stateless;

        public void Dispose()
        {
            inner.Dispose();
            vae.Dispose();
        }
    }
}
