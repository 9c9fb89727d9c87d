using FifoPipes.Torch.UNets;
using FifoPipes.Tests.Parity;
using FifoPipes.Torch.Checkpoints;
using System.Text.Json;
using static TorchSharp.torch;

namespace FifoPipes.Tests.VideoCrafter;

/// <summary>
/// "vc.unet": builds the UNet from the case's reference constructor arguments, loads its weights
/// strictly and runs every call of the case (per-sample and per-frame timesteps, batch 1 and 2),
/// each against its own tolerance.
/// </summary>
public sealed class VcUNetParity : IParityComponent
{
    public IEnumerable<string> Components => new[] { "vc.unet" };

    public void Run(ParityCase parityCase)
    {
        using var unet = new UNet3D(UNet3DConfig.FromReferenceArguments(parityCase.Config));
        var weights = SafetensorsFile.Load(parityCase.WeightsPath);
        try { unet.LoadStrict(weights, parityCase.WeightsPath); }
        finally { foreach (var w in weights.Values) w.Dispose(); }
        unet.eval();
        _ = parityCase.Io; // loaded outside the per-call scopes below, which would otherwise dispose it

        foreach (var call in parityCase.Json.GetProperty("calls").EnumerateArray())
        {
            string name = call.GetProperty("name").GetString()!;
            using var scope = NewDisposeScope();
            var x = parityCase[$"{name}.x"];
            var timesteps = parityCase[$"{name}.timesteps"];
            if (call.GetProperty("timestep_mode").GetString() == "per_frame")
                timesteps = timesteps.reshape(x.shape[0], x.shape[2]); // stored flat, b-major
            var fps = parityCase.Io.TryGetValue($"{name}.fps", out var f) ? f : null;
            var eps = unet.forward(x, timesteps, parityCase[$"{name}.context"], fps);
            TensorAssert.Close(parityCase[$"{name}.out"], eps,
                call.GetProperty("atol").GetDouble(), call.GetProperty("rtol").GetDouble(), $"{parityCase.Name} {name}");
        }
    }
}
