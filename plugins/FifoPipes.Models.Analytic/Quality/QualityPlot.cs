using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace FifoPipes.Models.Analytic.Quality;

/// <summary>
/// A line chart of one statistic against stream position, one line per sampler, drawn pixel by pixel (axes, grid,
/// labels in <see cref="PixelFont"/>, legend) and saved as PNG.
/// </summary>
public sealed class QualityPlot
{
    const int Width = 1000, Height = 560, Left = 90, Right = 300, Top = 44, Bottom = 56, TextScale = 2;

    static readonly Rgb24[] Colours =
    {
        new(0, 0, 0), new(31, 119, 180), new(214, 39, 40), new(44, 160, 44), new(255, 127, 14), new(148, 103, 189),
        new(140, 86, 75), new(227, 119, 194), new(23, 190, 207), new(188, 189, 34), new(127, 127, 127),
    };

    readonly byte[] pixels = new byte[Width * Height * 3];

    QualityPlot() => Array.Fill(pixels, (byte)255);

    /// <summary>
    /// Plots <paramref name="metric"/> of each point at the middle of its stretch; NaN and (with a log axis) non-positive
    /// values are left out. Samplers keep their order of first appearance, which also picks their colours.
    /// </summary>
    public static void Write(IReadOnlyList<QualityPoint> points, Func<QualityPoint, double> metric, string title, string path, bool logarithmic = true)
    {
        var plot = new QualityPlot();
        plot.Draw(points, metric, title, logarithmic);
        using var image = Image.LoadPixelData<Rgb24>(plot.pixels, Width, Height);
        image.SaveAsPng(path);
    }

    void Draw(IReadOnlyList<QualityPoint> points, Func<QualityPoint, double> metric, string title, bool logarithmic)
    {
        var samplers = points.Select(p => p.Sampler).Distinct().ToList();
        bool Usable(double v) => double.IsFinite(v) && (!logarithmic || v > 0);
        var values = points.Select(metric).Where(Usable).ToList();
        if (values.Count == 0) values.Add(logarithmic ? 1 : 0);
        double xMax = Math.Max(1, points.Max(p => p.Position + p.Frames));
        double yLow = values.Min(), yHigh = values.Max();
        if (logarithmic)
        {
            yLow = Math.Pow(10, Math.Floor(Math.Log10(yLow)));
            yHigh = Math.Pow(10, Math.Ceiling(Math.Log10(yHigh)));
            if (yHigh <= yLow) yHigh = yLow * 10;
        }
        else
        {
            yLow = Math.Min(0, yLow);
            yHigh = yHigh <= yLow ? yLow + 1 : yHigh * 1.05;
        }
        int plotW = Width - Left - Right, plotH = Height - Top - Bottom;
        double Y(double v) => logarithmic
            ? Top + plotH * (1 - (Math.Log10(v) - Math.Log10(yLow)) / (Math.Log10(yHigh) - Math.Log10(yLow)))
            : Top + plotH * (1 - (v - yLow) / (yHigh - yLow));
        double X(double position) => Left + plotW * position / xMax;

        var grid = new Rgb24(225, 225, 225);
        var ink = new Rgb24(0, 0, 0);
        foreach (var tick in YTicks(yLow, yHigh, logarithmic))
        {
            int y = (int)Math.Round(Y(tick));
            Line(Left, y, Left + plotW, y, grid, 1);
            string label = FormatTick(tick);
            Text(label, Left - 8 - PixelFont.Measure(label, TextScale), y - 5, ink);
        }
        foreach (var tick in XTicks(xMax))
        {
            int x = (int)Math.Round(X(tick));
            Line(x, Top, x, Top + plotH, grid, 1);
            string label = tick.ToString("0");
            Text(label, x - PixelFont.Measure(label, TextScale) / 2, Top + plotH + 8, ink);
        }
        Line(Left, Top, Left, Top + plotH, ink, 1);
        Line(Left, Top + plotH, Left + plotW, Top + plotH, ink, 1);
        Text(title, Left, 14, ink);
        Text("FRAME POSITION IN THE STREAM", Left + plotW / 2 - PixelFont.Measure("FRAME POSITION IN THE STREAM", TextScale) / 2, Height - 24, ink);

        for (int s = 0; s < samplers.Count; s++)
        {
            var colour = Colours[s % Colours.Length];
            var line = points.Where(p => p.Sampler == samplers[s] && Usable(metric(p)))
                .Select(p => ((int)Math.Round(X(p.Position + p.Frames / 2.0)), (int)Math.Round(Y(metric(p))))).ToList();
            for (int i = 1; i < line.Count; i++) Line(line[i - 1].Item1, line[i - 1].Item2, line[i].Item1, line[i].Item2, colour, 2);
            foreach (var (px, py) in line) Square(px, py, 3, colour);

            int ly = Top + 8 + s * 22;
            Line(Width - Right + 20, ly + 4, Width - Right + 50, ly + 4, colour, 2);
            Square(Width - Right + 35, ly + 4, 3, colour);
            Text(samplers[s], Width - Right + 58, ly, ink);
        }
    }

    static IEnumerable<double> YTicks(double low, double high, bool logarithmic)
    {
        if (logarithmic)
        {
            for (double v = low; v <= high * 1.0001; v *= 10) yield return v;
            yield break;
        }
        double step = NiceStep((high - low) / 5);
        for (double v = Math.Ceiling(low / step) * step; v <= high + 1e-12; v += step) yield return v;
    }

    static IEnumerable<double> XTicks(double max)
    {
        double step = NiceStep(max / 6);
        for (double v = 0; v <= max + 1e-9; v += step) yield return v;
    }

    static double NiceStep(double raw)
    {
        double decade = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        double unit = raw / decade;
        return decade * (unit <= 1 ? 1 : unit <= 2 ? 2 : unit <= 2.5 ? 2.5 : unit <= 5 ? 5 : 10);
    }

    static string FormatTick(double v) => v == 0 ? "0" : Math.Abs(v) >= 0.001 && Math.Abs(v) < 100000 ? v.ToString("0.###") : v.ToString("0E0");

    void Set(int x, int y, Rgb24 c)
    {
        if (x < 0 || y < 0 || x >= Width || y >= Height) return;
        int i = (y * Width + x) * 3;
        pixels[i] = c.R;
        pixels[i + 1] = c.G;
        pixels[i + 2] = c.B;
    }

    void Square(int cx, int cy, int radius, Rgb24 c)
    {
        for (int y = cy - radius; y <= cy + radius; y++)
            for (int x = cx - radius; x <= cx + radius; x++) Set(x, y, c);
    }

    /// <summary>Bresenham, with a square pen of <paramref name="thickness"/> pixels.</summary>
    void Line(int x0, int y0, int x1, int y1, Rgb24 c, int thickness)
    {
        int dx = Math.Abs(x1 - x0), dy = -Math.Abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, err = dx + dy;
        while (true)
        {
            for (int oy = 0; oy < thickness; oy++)
                for (int ox = 0; ox < thickness; ox++) Set(x0 + ox, y0 + oy, c);
            if (x0 == x1 && y0 == y1) break;
            int e2 = 2 * err;
            if (e2 >= dy) { err += dy; x0 += sx; }
            if (e2 <= dx) { err += dx; y0 += sy; }
        }
    }

    void Text(string text, int x, int y, Rgb24 c)
    {
        for (int i = 0; i < text.Length; i++)
            for (int gy = 0; gy < PixelFont.GlyphHeight; gy++)
                for (int gx = 0; gx < PixelFont.GlyphWidth; gx++)
                    if (PixelFont.IsSet(text[i], gx, gy))
                        for (int sy = 0; sy < TextScale; sy++)
                            for (int sx = 0; sx < TextScale; sx++)
                                Set(x + (i * (PixelFont.GlyphWidth + 1) + gx) * TextScale + sx, y + gy * TextScale + sy, c);
    }
}
