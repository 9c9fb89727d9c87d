using static TorchSharp.torch;

namespace FifoPipes.Models.OpenSoraPlan.Latte;

/// <summary>
/// The fixed sin-cos position tables of PixArt / Latte, computed in float64 as the reference's numpy code
/// does and returned as float32. Both are [sin | cos] per axis.
/// </summary>
public static class PositionTables
{
    /// <summary>1-D table [positions.Length, dim]: channel k &lt; dim/2 is sin(pos·ω_k), the rest cos, ω_k = 10000^(−k/(dim/2)).</summary>
    public static double[,] SinCos1D(int dim, IReadOnlyList<double> positions)
    {
        int half = dim / 2;
        var table = new double[positions.Count, dim];
        for (int p = 0; p < positions.Count; p++)
        {
            for (int k = 0; k < half; k++)
            {
                double omega = 1.0 / Math.Pow(10000.0, (double)k / half);
                double a = positions[p] * omega;
                table[p, k] = Math.Sin(a);
                table[p, half + k] = Math.Cos(a);
            }
        }
        return table;
    }

    /// <summary>
    /// Latte's temporal table [1, frames, dim] of pos / s with s = max((F−1)//16 if F is odd else F//16, 1)
    /// (17 frames → 1, 56 → 3).
    /// </summary>
    public static Tensor Temporal(int dim, int frames)
    {
        int s = Math.Max(frames % 2 == 1 ? (frames - 1) / 16 : frames / 16, 1);
        var positions = Enumerable.Range(0, frames).Select(p => (double)p / s).ToArray();
        return ToTensor(SinCos1D(dim, positions)).unsqueeze(0);
    }

    /// <summary>
    /// PixArt's 2-D table [1, gh·gw, dim] for a gh × gw token grid, tokens row-major; channels are
    /// [1-D table of the column | 1-D table of the row], coordinates scaled by base/grid/interpolation.
    /// </summary>
    public static Tensor Spatial(int dim, int gridH, int gridW, int baseSize, double interpolationScale)
    {
        int half = dim / 2;
        var cols = new double[gridH * gridW];
        var rows = new double[gridH * gridW];
        for (int h = 0; h < gridH; h++)
        {
            for (int w = 0; w < gridW; w++)
            {
                // numpy: arange(n, float32) / (n / base) / scale; the float32 arange holds small integers exactly.
                cols[h * gridW + w] = w / ((double)gridW / baseSize) / interpolationScale;
                rows[h * gridW + w] = h / ((double)gridH / baseSize) / interpolationScale;
            }
        }
        var colTable = SinCos1D(half, cols);
        var rowTable = SinCos1D(half, rows);
        var table = new double[gridH * gridW, dim];
        for (int t = 0; t < gridH * gridW; t++)
        {
            for (int k = 0; k < half; k++)
            {
                table[t, k] = colTable[t, k];
                table[t, half + k] = rowTable[t, k];
            }
        }
        return ToTensor(table).unsqueeze(0);
    }

    static Tensor ToTensor(double[,] table)
    {
        int n = table.GetLength(0), d = table.GetLength(1);
        var flat = new float[n * d];
        for (int i = 0; i < n; i++)
            for (int k = 0; k < d; k++) flat[i * d + k] = (float)table[i, k];
        return tensor(flat, new long[] { n, d });
    }
}
