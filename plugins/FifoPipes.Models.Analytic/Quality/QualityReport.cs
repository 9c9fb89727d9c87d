using FifoPipes.Abstractions;
using System.Globalization;
using System.Text;

namespace FifoPipes.Models.Analytic.Quality;

/// <summary>Tables of study points: a per-sampler summary and per-position tables in markdown, and CSV records.</summary>
public static class QualityReport
{
    static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>
    /// How to read <see cref="SummaryMarkdown"/>, for the tables file: the study's points are whole stretches of one length
    /// (<see cref="QualityStudy.Measure"/>), which is what lets FD first, FD last and an unweighted FD mean stand side by side.
    /// </summary>
    public const string SummaryNotes =
        "Every point is a whole stretch of the run, all of one length: frames that do not fill a last stretch get no point of their own " +
        "and only complete the windows that start in the stretch before them. FD first and FD last are the first and the last stretch, " +
        "FD mean the mean over stretches; the other columns pool all stretches, weighted by their frames.";

    /// <summary>One row per sampler: Frechet distance (first stretch, last stretch, mean), power, lag-1 errors, time per frame.</summary>
    public static string SummaryMarkdown(IReadOnlyList<QualityPoint> points)
    {
        var text = new StringBuilder();
        text.AppendLine("| sampler | FD first | FD last | FD mean | power ratio | lag-1 err | lag-1 err interior | lag-1 err seams | ms / frame |");
        text.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var group in points.GroupBy(p => p.Sampler))
        {
            var rows = group.OrderBy(p => p.Position).ToList();
            double frames = rows.Sum(p => p.Frames);
            double Weighted(Func<QualityPoint, double> pick) => rows.Where(p => double.IsFinite(pick(p))).Sum(p => pick(p) * p.Frames)
                                                               / rows.Where(p => double.IsFinite(pick(p))).Sum(p => (double)p.Frames);
            text.Append("| ").Append(group.Key)
                .Append(" | ").Append(F(rows[0].Frechet)).Append(" | ").Append(F(rows[^1].Frechet))
                .Append(" | ").Append(F(rows.Where(p => double.IsFinite(p.Frechet)).Average(p => p.Frechet)))
                .Append(" | ").Append(F(Weighted(p => p.PowerRatio)))
                .Append(" | ").Append(F(Weighted(p => p.LagOneError)))
                .Append(" | ").Append(F(Weighted(p => p.LagOneInteriorError)))
                .Append(" | ").Append(F(Weighted(p => p.LagOneSeamError)))
                .Append(" | ").Append((1000 * rows.Sum(p => p.SecondsPerFrame * p.Frames) / frames).ToString("0.00", Invariant))
                .AppendLine(" |");
        }
        return text.ToString();
    }

    /// <summary>A table of <paramref name="metric"/>: one row per position, one column per sampler.</summary>
    public static string PositionMarkdown(IReadOnlyList<QualityPoint> points, Func<QualityPoint, double> metric)
    {
        var samplers = points.Select(p => p.Sampler).Distinct().ToList();
        var text = new StringBuilder();
        text.Append("| frames |");
        foreach (var s in samplers) text.Append(' ').Append(s).Append(" |");
        text.AppendLine().Append("|---|").AppendLine(string.Concat(samplers.Select(_ => "---:|")));
        foreach (var row in points.GroupBy(p => (p.Position, p.Frames)).OrderBy(g => g.Key.Position))
        {
            text.Append("| ").Append(row.Key.Position).Append('-').Append(row.Key.Position + row.Key.Frames - 1).Append(" |");
            foreach (var s in samplers)
            {
                var point = row.FirstOrDefault(p => p.Sampler == s);
                text.Append(' ').Append(point is null ? "" : F(metric(point))).Append(" |");
            }
            text.AppendLine();
        }
        return text.ToString();
    }

    /// <summary>All points as CSV with a header row (invariant culture, full precision).</summary>
    public static string Csv(IEnumerable<QualityPoint> points)
    {
        var text = new StringBuilder();
        text.AppendLine("sampler,position,frames,windows,frechet,power_ratio,power_error,lag1_error,lag1_seam_error,lag1_interior_error,seconds_per_frame");
        foreach (var p in points)
            text.AppendLine(string.Join(",", Quote(p.Sampler), p.Position, p.Frames, p.Windows, R(p.Frechet), R(p.PowerRatio), R(p.PowerError),
                R(p.LagOneError), R(p.LagOneSeamError), R(p.LagOneInteriorError), R(p.SecondsPerFrame)));
        return text.ToString();
    }

    static string F(double v) => double.IsFinite(v) ? v.ToString(Math.Abs(v) >= 0.01 ? "0.000" : "0.0000", Invariant) : "n/a";
    static string R(double v) => v.ToString("R", Invariant);
    static string Quote(string s) => s.Contains(',') || s.Contains('"') ? "\"" + s.Replace("\"", "\"\"") + "\"" : s;

    /// <summary>quality-tables.md: the summary with its notes, then Frechet, lag-1 and power by position.</summary>
    public static string TablesMarkdown(IReadOnlyList<QualityPoint> points) =>
        $"## Summary\n\n{SummaryNotes}\n\n{SummaryMarkdown(points)}\n## Frechet distance by position\n\n{PositionMarkdown(points, p => p.Frechet)}\n" +
        $"## Lag-1 correlation error by position\n\n{PositionMarkdown(points, p => p.LagOneError)}\n" +
        $"## Power ratio by position\n\n{PositionMarkdown(points, p => p.PowerRatio)}";

    /// <summary>The study's whole report in one folder: quality.csv, quality-tables.md, frechet.png and lag1.png.</summary>
    public static IReadOnlyList<string> WriteAll(IReadOnlyList<QualityPoint> points, string folder)
    {
        Directory.CreateDirectory(folder);
        var files = new[] { "quality.csv", "quality-tables.md", "frechet.png", "lag1.png" }.Select(f => Path.Combine(folder, f)).ToArray();
        File.WriteAllText(files[0], Csv(points));
        File.WriteAllText(files[1], TablesMarkdown(points));
        QualityPlot.Write(points, p => p.Frechet, "ANALYTIC FRECHET DISTANCE OF WINDOWS (LOG)", files[2]);
        QualityPlot.Write(points, p => p.LagOneError, "LAG-1 CORRELATION ERROR (LOG)", files[3]);
        return files;
    }
}
