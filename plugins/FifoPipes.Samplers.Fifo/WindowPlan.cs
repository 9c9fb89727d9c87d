namespace FifoPipes.Samplers.Fifo;

/// <summary>One denoiser window over queue slots [Start, End); only slots [WriteFrom, End) take its result.</summary>
public sealed record FifoWindow(int Start, int End, int WriteFrom)
{
    public int Frames => End - Start;
    /// <summary>Offset of the first written frame inside the window.</summary>
    public int WriteOffset => WriteFrom - Start;
}

/// <summary>Where the windows of one iteration lie in the queue.</summary>
public static class WindowPlan
{
    /// <summary>
    /// Without lookahead: n disjoint windows [r f, (r + 1) f), all written. With lookahead: 2n windows with stride f/2
    /// (for odd f: start = floor(r/2) f + (r mod 2) floor(f/2)), writing back only from the middle on, so every slot
    /// past the f/2 padding is written by exactly one window.
    /// </summary>
    public static IReadOnlyList<FifoWindow> Create(int windowFrames, int partitions, bool lookahead)
    {
        int f = windowFrames, half = f / 2;
        var windows = new List<FifoWindow>();
        if (!lookahead)
        {
            for (int r = 0; r < partitions; r++) windows.Add(new FifoWindow(r * f, (r + 1) * f, r * f));
            return windows;
        }
        for (int r = 0; r < 2 * partitions; r++)
        {
            int start = f % 2 == 0 ? r * half : r / 2 * f + r % 2 * half;
            int writeFrom = start + half + (f % 2 == 0 ? 0 : r % 2);
            windows.Add(new FifoWindow(start, start + f, writeFrom));
        }
        return windows;
    }

    /// <summary>Padding slots in front of the queue: f/2 with lookahead (context only, never written), else 0.</summary>
    public static int Padding(int windowFrames, bool lookahead) => lookahead ? windowFrames / 2 : 0;
}
