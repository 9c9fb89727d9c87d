using System.Diagnostics;
using System.Globalization;
using FifoPipes.Abstractions;
using FifoPipes.Benchmarks.Quality;
using FifoPipes.Models.Analytic.Quality;

// Usage: dotnet run -c Release --project tests/FifoPipes.Benchmarks.Quality -- [options]
//   --samplers a,b,...   names from the list printed by --list (default: all)
//   --frames N --every P --size HxW --streams S --window f --partitions n --measure F --stride s --seed x
//   --threads T (torch intra-op threads, default 1) --out DIR (default docs/quality)
var arguments = ParseArguments(args);
if (arguments.ContainsKey("list") || arguments.ContainsKey("help"))
{
    foreach (var (name, (description, _)) in StudySamplers.All) Console.WriteLine($"{name,-18} {description}");
    return 0;
}

var options = new QualityStudyOptions();
if (arguments.TryGetValue("frames", out var frames)) options.Frames = int.Parse(frames, CultureInfo.InvariantCulture);
if (arguments.TryGetValue("every", out var every)) options.Every = int.Parse(every, CultureInfo.InvariantCulture);
if (arguments.TryGetValue("streams", out var streams)) options.Streams = int.Parse(streams, CultureInfo.InvariantCulture);
if (arguments.TryGetValue("window", out var window)) options.WindowFrames = int.Parse(window, CultureInfo.InvariantCulture);
if (arguments.TryGetValue("partitions", out var partitions)) options.Partitions = int.Parse(partitions, CultureInfo.InvariantCulture);
if (arguments.TryGetValue("measure", out var measure)) options.MeasureFrames = int.Parse(measure, CultureInfo.InvariantCulture);
if (arguments.TryGetValue("stride", out var stride)) options.WindowStride = int.Parse(stride, CultureInfo.InvariantCulture);
if (arguments.TryGetValue("seed", out var seed)) options.Seed = long.Parse(seed, CultureInfo.InvariantCulture);
if (arguments.TryGetValue("size", out var size))
{
    var parts = size.Split('x');
    options.Height = int.Parse(parts[0], CultureInfo.InvariantCulture);
    options.Width = int.Parse(parts.Length > 1 ? parts[1] : parts[0], CultureInfo.InvariantCulture);
}
TorchSharp.torch.set_num_threads(arguments.TryGetValue("threads", out var threads) ? int.Parse(threads, CultureInfo.InvariantCulture) : 1);
string outDir = Path.GetFullPath(arguments.GetValueOrDefault("out", "docs/quality"));
Directory.CreateDirectory(outDir);

var names = arguments.TryGetValue("samplers", out var list) ? list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
    : StudySamplers.All.Keys.ToArray();
var unknown = names.Where(n => !StudySamplers.All.ContainsKey(n)).ToList();
if (unknown.Count > 0)
{
    Console.Error.WriteLine($"Unknown sampler(s): {string.Join(", ", unknown)}. Known: {string.Join(", ", StudySamplers.All.Keys)}.");
    return 2;
}

Console.WriteLine($"Quality study: {options.Streams} streams of {options.Height}x{options.Width}, f = {options.WindowFrames}, n = {options.Partitions} " +
                  $"(S = {options.Partitions * options.WindowFrames}), {options.Frames} frames, a point every {options.Every}, windows of {options.MeasureFrames}, seed {options.Seed}.");
var points = new List<QualityPoint>();
var watch = Stopwatch.StartNew();
try
{
    foreach (var name in names)
    {
        var started = watch.Elapsed;
        var candidate = StudySamplers.All[name].Create(options);
        var measured = QualityStudy.Run(options, new[] { candidate }).ToList();
        points.AddRange(measured);
        Console.WriteLine($"{name,-18} FD {measured.Where(p => double.IsFinite(p.Frechet)).Average(p => p.Frechet):0.0000}  " +
                          $"lag-1 {measured.Average(p => p.LagOneError):0.0000}  seams {measured.Average(p => p.LagOneSeamError):0.0000}  " +
                          $"power {measured.Average(p => p.PowerRatio):0.000}  ({(watch.Elapsed - started).TotalSeconds:0.0} s)");
    }
}
catch (FifoInputException e)
{
    Console.Error.WriteLine(e.Message);
    return 2;
}

File.WriteAllText(Path.Combine(outDir, "quality.csv"), QualityReport.Csv(points));
var tables = $"## Summary\n\n{QualityReport.SummaryMarkdown(points)}\n## Frechet distance by position\n\n{QualityReport.PositionMarkdown(points, p => p.Frechet)}\n" +
             $"## Lag-1 correlation error by position\n\n{QualityReport.PositionMarkdown(points, p => p.LagOneError)}\n" +
             $"## Power ratio by position\n\n{QualityReport.PositionMarkdown(points, p => p.PowerRatio)}";
File.WriteAllText(Path.Combine(outDir, "quality-tables.md"), tables);
QualityPlot.Write(points, p => p.Frechet, "ANALYTIC FRECHET DISTANCE OF 8-FRAME WINDOWS (LOG)".Replace("8", options.MeasureFrames.ToString(CultureInfo.InvariantCulture)),
    Path.Combine(outDir, "frechet.png"));
QualityPlot.Write(points, p => p.LagOneError, "LAG-1 CORRELATION ERROR (LOG)", Path.Combine(outDir, "lag1.png"));
Console.WriteLine($"Wrote quality.csv, quality-tables.md, frechet.png and lag1.png to {outDir} in {watch.Elapsed.TotalSeconds:0} s.");
return 0;

static Dictionary<string, string> ParseArguments(string[] args)
{
    var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
    for (int i = 0; i < args.Length; i++)
    {
        if (!args[i].StartsWith("--", StringComparison.Ordinal)) throw new ArgumentException($"Unexpected argument '{args[i]}'; options look like --frames 2048.");
        string key = args[i][2..];
        result[key] = i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal) ? args[++i] : "true";
    }
    return result;
}
