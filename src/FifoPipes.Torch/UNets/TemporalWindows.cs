namespace FifoPipes.Torch.UNets;

/// <summary>
/// FreeNoise's window-based attention fusion: temporal layers see the video in overlapping windows of the length the
/// model was trained on, every <see cref="Stride"/> frames (the last window flush with the end), and each frame takes
/// the weighted mean of the outputs of the windows that hold it. Weights rise towards a window's middle
/// (1, 2, ..., 2, 1), so a frame leans on the window in which it has the most context on both sides.
/// </summary>
public sealed record TemporalWindows(int Length, int Stride)
{
    public IReadOnlyList<int> Starts(int frames)
    {
        if (Length < 1 || Stride < 1 || Stride > Length)
            throw new ArgumentOutOfRangeException(nameof(Stride), $"Temporal windows need 1 <= stride ({Stride}) <= length ({Length}).");
        if (frames <= Length) return new[] { 0 };
        var starts = new List<int>();
        for (int s = 0; s + Length <= frames; s += Stride) starts.Add(s);
        if (starts[^1] + Length < frames) starts.Add(frames - Length);
        return starts;
    }

    /// <summary>Weight of window position m = 0..Length-1.</summary>
    public float[] Weights() => Enumerable.Range(0, Length).Select(m => 1f + Math.Min(m, Length - 1 - m)).ToArray();
}
