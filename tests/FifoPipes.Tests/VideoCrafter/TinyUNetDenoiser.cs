using System.Text.Json;
using FifoPipes.Torch.UNets;
using FifoPipes.Tests.Parity;
using FifoPipes.Torch.Checkpoints;
using static TorchSharp.torch;

namespace FifoPipes.Tests.VideoCrafter;

/// <summary>
/// The tiny VideoCrafter2-style UNet the "fifo.trajectory" fixtures were made with, as a denoiser
/// callable for sampler tests: built from a fifo case's <c>config.unet</c> and loaded strictly from
/// the case's <c>weights</c> (../tiny_unet.safetensors, keys without the checkpoint prefix).
/// </summary>
public sealed class TinyUNetDenoiser : IDisposable
{
    readonly UNet3D unet;

    public TinyUNetDenoiser(JsonElement unetArguments, string weightsPath)
    {
        unet = new UNet3D(UNet3DConfig.FromReferenceArguments(unetArguments));
        var weights = SafetensorsFile.Load(weightsPath);
        try { unet.LoadStrict(weights, weightsPath); }
        catch { unet.Dispose(); throw; }
        finally { foreach (var w in weights.Values) w.Dispose(); }
        unet.eval();
    }

    /// <summary>For a "fifo.trajectory" case: its <c>config.unet</c> and its <c>weights</c> file.</summary>
    public static TinyUNetDenoiser ForCase(ParityCase fifoCase) => new(fifoCase.Config.GetProperty("unet"), fifoCase.WeightsPath);

    public UNet3D UNet => unet;

    /// <summary>
    /// eps for <paramref name="x"/> [B, 4, T, H, W] with timesteps <paramref name="t"/> [B, T] (per frame,
    /// FIFO) or [B] (per sample), text <paramref name="context"/> [B, L, D] and one fps for every sample.
    /// </summary>
    public Tensor Eps(Tensor x, Tensor t, Tensor context, long fps)
    {
        using var fpsTensor = full(new[] { x.shape[0] }, fps, ScalarType.Int64);
        return unet.forward(x, t, context, fpsTensor);
    }

    public void Dispose() => unet.Dispose();
}
