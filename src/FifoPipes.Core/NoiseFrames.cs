using FifoPipes.Abstractions;
using static TorchSharp.torch;

namespace FifoPipes.Core;

/// <summary>Many frames' keyed noise as one tensor, the way samplers take it.</summary>
public static class NoiseFrames
{
    /// <summary>
    /// The draws for <paramref name="keys"/> (zeros where a key is null) stacked along dimension 1 as
    /// <c>stack(frames, 1)</c> would, [C, n, ...] on <paramref name="device"/> (the host when null). Keyed noise draws
    /// them all at once on every core and moves them in one copy; another source (recorded draws) frame by frame.
    /// </summary>
    public static Tensor StackedFrames(this INoiseSource noise, long[] frameShape, IEnumerable<(long Frame, NoisePurpose Purpose, int Step)?> keys, Device? device = null)
    {
        using var scope = NewDisposeScope();
        var list = keys.ToList();
        var stacked = noise is KeyedNoise keyed ? keyed.NormalStack(frameShape, list)
            : stack(list.Select(key => key is { } k ? noise.Normal(frameShape, k.Frame, k.Purpose, k.Step) : zeros(frameShape, ScalarType.Float32)).ToList(), 1);
        return (device is null ? stacked : stacked.to(device)).MoveToOuterDisposeScope();
    }

    /// <summary>The draws of <paramref name="frames"/> for one purpose and step (a clip's start noise, a step's), stacked along dimension 1.</summary>
    public static Tensor StackedFrames(this INoiseSource noise, long[] frameShape, IEnumerable<long> frames, NoisePurpose purpose, int step, Device? device = null) =>
        noise.StackedFrames(frameShape, frames.Select(frame => ((long, NoisePurpose, int)?)(frame, purpose, step)), device);
}
