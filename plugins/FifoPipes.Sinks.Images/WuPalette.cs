namespace FifoPipes.Sinks.Images;

/// <summary>
/// Xiaolin Wu's colour quantizer (Graphics Gems II, 1991) over RGB: a histogram of 32 levels per channel, then boxes
/// of that colour cube split one at a time where the split removes the most squared error, until there are as many
/// boxes as colours; each box's colour is the mean of its pixels.
/// </summary>
/// <remarks>
/// ImageSharp's Wu quantizer bins alpha as well: a four-dimensional table of moments to clear and sum for every frame,
/// where video frames are opaque (the <c>gif</c> benchmark in tests/FifoPipes.Benchmarks compares the two). One
/// instance serves one sink: it keeps its tables (1.4 MB) from frame to frame, and is not for several threads.
/// </remarks>
internal sealed class WuPalette
{
    const int Bits = 5;
    /// <summary>Bins per channel, plus a zero row in front so that every box's moments are sums of table corners.</summary>
    const int Side = (1 << Bits) + 1;

    // Kept from frame to frame: a sink's frames would otherwise leave 1.4 MB of large-object garbage each.
    readonly Moments moments = new();

    /// <summary>The palette of at most <paramref name="maxColors"/> colours for packed RGB pixels (fewer where the pixels have fewer).</summary>
    public (byte R, byte G, byte B)[] Of(ReadOnlySpan<byte> rgb, int maxColors)
    {
        if (maxColors < 1) throw new ArgumentOutOfRangeException(nameof(maxColors), maxColors, "A palette holds at least one colour.");
        if (rgb.Length % 3 != 0) throw new ArgumentException($"Packed RGB holds 3 bytes a pixel, got {rgb.Length} bytes.", nameof(rgb));
        moments.Fill(rgb);
        var boxes = Split(moments, maxColors);
        return boxes.Select(moments.Sum).Where(m => m.Weight > 0).Select(m => (Mean(m.R, m.Weight), Mean(m.G, m.Weight), Mean(m.B, m.Weight))).ToArray();
    }

    static byte Mean(long sum, long weight) => (byte)((sum + weight / 2) / weight);

    /// <summary>Splits the box of greatest error until there are <paramref name="maxColors"/> boxes or none can be split.</summary>
    static List<Box> Split(Moments moments, int maxColors)
    {
        var boxes = new List<Box> { new(0, 1 << Bits, 0, 1 << Bits, 0, 1 << Bits) };
        var error = new List<double> { moments.Error(boxes[0]) };
        while (boxes.Count < maxColors)
        {
            int worst = 0;
            for (int i = 1; i < boxes.Count; i++) if (error[i] > error[worst]) worst = i;
            if (error[worst] <= 0) break;
            if (BestCut(moments, boxes[worst]) is not { } cut)
            {
                error[worst] = 0;
                continue;
            }
            boxes[worst] = cut.Lower;
            error[worst] = moments.Error(cut.Lower);
            boxes.Add(cut.Upper);
            error.Add(moments.Error(cut.Upper));
        }
        return boxes;
    }

    /// <summary>The cut of <paramref name="box"/>, along whichever axis, that leaves the least squared error; null where no cut leaves pixels on both sides.</summary>
    static (Box Lower, Box Upper)? BestCut(Moments moments, Box box)
    {
        var whole = moments.Sum(box);
        double best = double.NegativeInfinity;
        (Box, Box)? cut = null;
        for (int axis = 0; axis < 3; axis++)
            for (int at = box.Low(axis) + 1; at < box.High(axis); at++)
            {
                var (lower, upper) = box.CutAt(axis, at);
                var below = moments.Sum(lower);
                long aboveWeight = whole.Weight - below.Weight;
                if (below.Weight == 0 || aboveWeight == 0) continue;
                // Squared error is the sum of squares less this, so the largest value leaves the least error.
                double kept = below.SquaredMeanSum + Moment.SquaredMeans(whole.R - below.R, whole.G - below.G, whole.B - below.B, aboveWeight);
                if (kept > best) (best, cut) = (kept, (lower, upper));
            }
        return cut;
    }

    /// <summary>A box of the cube: bins from the low bound (exclusive) to the high bound (inclusive) on each axis.</summary>
    readonly record struct Box(int R0, int R1, int G0, int G1, int B0, int B1)
    {
        public int Low(int axis) => axis switch { 0 => R0, 1 => G0, _ => B0 };
        public int High(int axis) => axis switch { 0 => R1, 1 => G1, _ => B1 };

        public (Box Lower, Box Upper) CutAt(int axis, int at) => axis switch
        {
            0 => (this with { R1 = at }, this with { R0 = at }),
            1 => (this with { G1 = at }, this with { G0 = at }),
            _ => (this with { B1 = at }, this with { B0 = at }),
        };
    }

    /// <summary>A set of pixels' count, channel sums and sum of squared channels.</summary>
    readonly record struct Moment(long Weight, long R, long G, long B, long Squares)
    {
        public double SquaredMeanSum => SquaredMeans(R, G, B, Weight);

        /// <summary>The squared channel sums over the weight: the sum of squares less this is the squared error about the mean.</summary>
        public static double SquaredMeans(long r, long g, long b, long weight) => ((double)r * r + (double)g * g + (double)b * b) / weight;
    }

    /// <summary>The histogram's moments summed from the cube's origin, so that any box's are eight look-ups.</summary>
    sealed class Moments
    {
        readonly long[] weight = new long[Side * Side * Side];
        readonly long[] r = new long[Side * Side * Side];
        readonly long[] g = new long[Side * Side * Side];
        readonly long[] b = new long[Side * Side * Side];
        readonly long[] squares = new long[Side * Side * Side];

        /// <summary>Counts the pixels afresh.</summary>
        public void Fill(ReadOnlySpan<byte> rgb)
        {
            var tables = new[] { weight, r, g, b, squares };
            foreach (var table in tables) Array.Clear(table);
            for (int i = 0; i < rgb.Length; i += 3)
            {
                int red = rgb[i], green = rgb[i + 1], blue = rgb[i + 2];
                int at = Index((red >> (8 - Bits)) + 1, (green >> (8 - Bits)) + 1, (blue >> (8 - Bits)) + 1);
                weight[at]++;
                r[at] += red;
                g[at] += green;
                b[at] += blue;
                squares[at] += red * red + green * green + blue * blue;
            }
            foreach (var table in tables) Accumulate(table);
        }

        static int Index(int r, int g, int b) => (r * Side + g) * Side + b;

        /// <summary>Running sums along each axis in turn: afterwards a cell holds the sum of every cell at or below it on all three.</summary>
        static void Accumulate(long[] table)
        {
            // A block holds one line of cells along the axis for each place on the axes below it; its first stride cells are row 0.
            for (int stride = 1; stride < table.Length; stride *= Side)
                for (int block = 0; block < table.Length; block += stride * Side)
                    for (int i = block + stride; i < block + stride * Side; i++)
                        table[i] += table[i - stride];
        }

        public Moment Sum(Box box) => new(Sum(weight, box), Sum(r, box), Sum(g, box), Sum(b, box), Sum(squares, box));

        static long Sum(long[] t, Box x) =>
            t[Index(x.R1, x.G1, x.B1)] - t[Index(x.R1, x.G1, x.B0)] - t[Index(x.R1, x.G0, x.B1)] + t[Index(x.R1, x.G0, x.B0)]
            - t[Index(x.R0, x.G1, x.B1)] + t[Index(x.R0, x.G1, x.B0)] + t[Index(x.R0, x.G0, x.B1)] - t[Index(x.R0, x.G0, x.B0)];

        /// <summary>The box's squared distance of its pixels from their mean, summed.</summary>
        public double Error(Box box)
        {
            var m = Sum(box);
            return m.Weight == 0 ? 0 : m.Squares - m.SquaredMeanSum;
        }
    }
}
