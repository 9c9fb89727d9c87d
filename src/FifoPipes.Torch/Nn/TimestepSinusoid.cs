using TorchSharp;
using static TorchSharp.torch;

namespace FifoPipes.Torch.Nn;

/// <summary>The sinusoidal timestep embedding of DDPM/LDM (= diffusers Timesteps with shift 0).</summary>
public static class TimestepSinusoid
{
    /// <summary>
    /// Embeds timesteps [N] (any numeric dtype) to float32 [N, dim]:
    /// freqs_k = exp(−ln(maxPeriod)·k/half), k &lt; half = dim/2; <c>cat[cos, sin]</c> when
    /// <paramref name="cosFirst"/> (LDM, diffusers flip_sin_to_cos) else <c>cat[sin, cos]</c>; odd dim pads a zero column.
    /// </summary>
    public static Tensor Embed(Tensor timesteps, int dim, double maxPeriod = 10000, bool cosFirst = true)
    {
        if (timesteps.dim() != 1)
            throw new ArgumentException($"Timesteps must be 1-D, got shape [{string.Join(", ", timesteps.shape)}].", nameof(timesteps));
        using var scope = NewDisposeScope();
        int half = dim / 2;
        // Same operation order as the reference (float32): exp(-ln(P) * k / half).
        var k = arange(half, dtype: ScalarType.Float32, device: timesteps.device);
        var freqs = exp(k * (float)-Math.Log(maxPeriod) / (float)half);
        var args = timesteps.to(ScalarType.Float32).unsqueeze(1) * freqs.unsqueeze(0);
        var emb = cosFirst ? cat(new[] { cos(args), sin(args) }, 1) : cat(new[] { sin(args), cos(args) }, 1);
        if (dim % 2 == 1) emb = nn.functional.pad(emb, new long[] { 0, 1 });
        return emb.MoveToOuterDisposeScope();
    }
}
