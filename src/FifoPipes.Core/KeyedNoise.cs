using FifoPipes.Abstractions;
using TorchSharp;
using static TorchSharp.torch;

namespace FifoPipes.Core;

/// <summary>
/// Noise as a pure function of (seed, frame, purpose, step): each request is its own Philox stream, keyed by a 64-bit
/// mix of the four, so batching, device count and resume cannot change a single value, and no two requests of a run
/// share a stream (libtorch's CPU generator keeps only 32 bits of a seed, so keyed seeds there collided in long runs,
/// and its normal kernel differs between CPU builds). Draws are made on the host and moved afterwards, so CPU and
/// CUDA runs, and every machine, see the same noise.
/// </summary>
public sealed class KeyedNoise : INoiseSource
{
    /// <summary>Noise keyed by <paramref name="seed"/>. It holds nothing else, so draws may be made from several threads at once.</summary>
    public KeyedNoise(long seed) => Seed = seed;

    /// <inheritdoc/>
    public long Seed { get; }

    /// <summary>The name of this noise, which snapshots and cached base clips record: a run resumes with the noise it began with.</summary>
    public const string Generator = "philox4x32-10/box-muller";

    /// <summary>What drew <paramref name="noise"/>'s values: <see cref="Generator"/>, or the type of another source (recorded draws).</summary>
    public static string NameOf(INoiseSource noise) => noise is KeyedNoise ? Generator : noise.GetType().Name;

    /// <inheritdoc/>
    public Tensor Normal(long[] shape, long frame, NoisePurpose purpose, int step, Device? device = null)
    {
        var noise = Draw(shape, unchecked((ulong)Key(Seed, frame, purpose, step)));
        if (device is null || device.type == DeviceType.CPU) return noise;
        using (noise) return noise.to(device);
    }

    /// <summary>
    /// Standard normal values of stream <paramref name="key"/> in <paramref name="shape"/> (<see cref="Philox.FillNormal"/>),
    /// on one thread: a draw is one frame's; many frames go to every core through <see cref="NormalStack"/>.
    /// </summary>
    public static Tensor Draw(long[] shape, ulong key)
    {
        var values = new float[shape.Aggregate(1L, (n, d) => n * d)];
        Philox.FillNormal(values, key);
        return tensor(values, shape, dtype: ScalarType.Float32);
    }

    /// <summary>
    /// Many frames' draws at once, on every core, stacked along dimension 1 as <c>stack(frames, 1)</c> would: frame i
    /// of <paramref name="frameShape"/> [C, ...] is the draw <see cref="Normal"/> makes for keys[i], or zeros where
    /// that is null. One call instead of one per frame (samplers call it through NoiseFrames.StackedFrames).
    /// </summary>
    public Tensor NormalStack(long[] frameShape, IReadOnlyList<(long Frame, NoisePurpose Purpose, int Step)?> keys)
    {
        int channels = (int)frameShape[0], perChannel = (int)frameShape.Skip(1).Aggregate(1L, (n, d) => n * d), count = keys.Count;
        // A managed array copied into the tensor once: writing the frames into the tensor through its accessor
        // (TensorAccessor.CopyFrom, which goes element by element) took 17.3-18.0 ms an iteration against 5.9 ms.
        var values = new float[(long)channels * count * perChannel];
        Parallel.For(0, count, () => new float[channels * perChannel], (i, _, frame) =>
        {
            if (keys[i] is not { } key) return frame;
            Philox.FillNormal(frame, unchecked((ulong)Key(Seed, key.Frame, key.Purpose, key.Step)));
            for (int c = 0; c < channels; c++)
                frame.AsSpan(c * perChannel, perChannel).CopyTo(values.AsSpan((c * count + i) * perChannel, perChannel));
            return frame;
        }, _ => { });
        return tensor(values, new long[] { channels, count }.Concat(frameShape.Skip(1)).ToArray(), dtype: ScalarType.Float32);
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
