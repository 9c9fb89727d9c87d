using System.Diagnostics;
using FifoPipes.Abstractions;
using FifoPipes.Benchmarks.Quality;
using FifoPipes.Models.Analytic.Quality;

// Usage: dotnet run -c Release --project tests/FifoPipes.Benchmarks.Quality -- [options]; --help lists them (StudyArguments).
StudyArguments arguments;
try
{
    arguments = StudyArguments.Parse(args);
}
catch (FifoInputException e)
{
    Console.Error.WriteLine(e.Message);
    return 2;
}
if (arguments.Help)
{
    Console.Write(StudyArguments.Usage());
    return 0;
}
if (arguments.List)
{
    foreach (var (name, (description, _)) in StudySamplers.All) Console.WriteLine($"{name,-18} {description}");
    return 0;
}

var options = arguments.Study;
TorchSharp.torch.set_num_threads(arguments.Threads);
string outDir = Path.GetFullPath(arguments.ReportFolder(DateTime.Now));
Directory.CreateDirectory(outDir);
var names = arguments.Samplers;
Console.WriteLine($"Quality study: {options.Streams} streams of {options.Height}x{options.Width}, f = {options.WindowFrames}, n = {options.Partitions} " +
                  $"(S = {options.Partitions * options.WindowFrames}), {options.Frames} frames, a point every {options.Every}, windows of {options.MeasureFrames}, seed {options.Seed}.");
if (options.RemainderNote() is { } note) Console.WriteLine($"Note: {note}");
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

QualityReport.WriteAll(points, outDir);
Console.WriteLine($"Wrote quality.csv, quality-tables.md, frechet.png and lag1.png to {outDir} in {watch.Elapsed.TotalSeconds:0} s.");
return 0;
