using FifoPipes.Abstractions;
using TorchSharp;
using static TorchSharp.torch;

namespace FifoPipes.Core;

/// <summary>
/// Noise as a pure function of (seed, frame, purpose, step): each request seeds its own generator
/// from a mix of the key, so batching, device count and resume cannot change a single value.
/// Draws happen on the CPU generator and are moved afterwards, so CPU and CUDA runs see the same noise.
/// </summary>
public sealed class KeyedNoise : INoiseSource
{
    public KeyedNoise(long seed) => Seed = seed;

    public long Seed { get; }

    public Tensor Normal(long[] shape, long frame, NoisePurpose purpose, int step, Device? device = null)
    {
        using var generator = new Generator(unchecked((ulong)Key(Seed, frame, purpose, step)));
        var noise = randn(shape, dtype: ScalarType.Float32, generator: generator);
        if (device is null || device.type == DeviceType.CPU) return noise;
        using (noise) return noise.to(device);
    }

    /// <summary>SplitMix64 over the key fields: well mixed, stable across platforms and versions.</summary>
    public static long Key(long seed, long frame, NoisePurpose purpose, int step)
    {
        ulong h = Mix(unchecked((ulong)seed) ^ 0x9E3779B97F4A7C15UL);
        h = Mix(h ^ unchecked((ulong)frame));
        h = Mix(h ^ (ulong)(int)purpose);
        h = Mix(h ^ unchecked((ulong)(uint)step));
        return unchecked((long)(h & 0x7FFF_FFFF_FFFF_FFFFUL));
    }

    static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
