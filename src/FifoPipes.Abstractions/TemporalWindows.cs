namespace FifoPipes.Abstractions;

/// <summary>
/// Overlapping windows of <see cref="Length"/> frames every <see cref="Stride"/> frames, the last one flush with the
/// end, and how a frame covered by several of them weighs their outputs. The windowed samplers average predictions
/// over them (Gen-L-Video, FreeNoise); <see cref="IFusedTemporalAttention"/> models average temporal attention over them.
/// </summary>
public sealed record TemporalWindows(int Length, int Stride)
{
    /// <summary>Window starts covering [0, frames); a video no longer than one window is one window.</summary>
    public IReadOnlyList<int> Starts(int frames)
    {
        if (Length < 1 || Stride < 1 || Stride > Length)
            throw new ArgumentOutOfRangeException(nameof(Stride), $"Windows need 1 <= stride ({Stride}) <= length ({Length}).");
        if (frames <= Length) return new[] { 0 };
        var starts = new List<int>();
        for (int s = 0; s + Length <= frames; s += Stride) starts.Add(s);
        if (starts[^1] + Length < frames) starts.Add(frames - Length);
        return starts;
    }

    /// <summary>
    /// Weights rising towards a window's middle (1, 2, ..., 2, 1), so a frame leans on the window in which it has the
    /// most context on both sides (FreeNoise's fusion, the samplers' triangle weighting).
    /// </summary>
    public float[] Weights() => Triangle(Length);

    /// <summary>The weights of <see cref="Weights"/> for a window of <paramref name="length"/> frames.</summary>
    public static float[] Triangle(int length) => Enumerable.Range(0, length).Select(m => 1f + Math.Min(m, length - 1 - m)).ToArray();

    /// <summary>The total weight each of <paramref name="frames"/> frames receives from the windows covering it.</summary>
    public float[] Cover(int frames, float[] weights)
    {
        var sum = new float[frames];
        foreach (var start in Starts(frames))
            for (int m = 0; m < weights.Length && start + m < frames; m++) sum[start + m] += weights[m];
        return sum;
    }
}
