using FifoPipes.Benchmarks;

// A small dispatcher: each benchmark is a subcommand with its own options.
var benchmarks = new IBenchmark[]
{
    new AnalyticThroughput(),
    new Soak(),
    new GifEncoding(),
    new NoiseDraws(),
};

if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
{
    Console.WriteLine("usage: dotnet run --project tests/FifoPipes.Benchmarks -- <benchmark> [options]");
    Console.WriteLine();
    foreach (var b in benchmarks) Console.WriteLine($"  {b.Name,-12} {b.Summary}");
    Console.WriteLine();
    Console.WriteLine("  <benchmark> --help shows its options.");
    return args.Length == 0 ? 2 : 0;
}

var chosen = benchmarks.FirstOrDefault(b => string.Equals(b.Name, args[0], StringComparison.OrdinalIgnoreCase));
if (chosen is null)
{
    Console.Error.WriteLine($"Unknown benchmark '{args[0]}'; known: {string.Join(", ", benchmarks.Select(b => b.Name))}.");
    return 2;
}
try
{
    var options = BenchmarkArguments.Parse(args.Skip(1).ToArray());
    if (options.Has("help")) { Console.WriteLine(chosen.Usage); return 0; }
    return chosen.Run(options);
}
catch (BenchmarkUsageException ex)
{
    Console.Error.WriteLine(ex.Message);
    Console.Error.WriteLine(chosen.Usage);
    return 2;
}
