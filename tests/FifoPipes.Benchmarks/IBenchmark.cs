using System.Globalization;

namespace FifoPipes.Benchmarks;

/// <summary>One subcommand of the benchmark runner.</summary>
public interface IBenchmark
{
    string Name { get; }
    string Summary { get; }
    string Usage { get; }
    /// <summary>Runs the benchmark and prints its figures; returns the process exit code.</summary>
    int Run(BenchmarkArguments arguments);
}

public sealed class BenchmarkUsageException(string message) : Exception(message);

/// <summary>--name value and --flag options; every option must be read, so a typo is an error rather than ignored.</summary>
public sealed class BenchmarkArguments
{
    readonly Dictionary<string, string?> values = new(StringComparer.OrdinalIgnoreCase);

    public static BenchmarkArguments Parse(string[] args)
    {
        var parsed = new BenchmarkArguments();
        for (int i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || args[i].Length < 3)
                throw new BenchmarkUsageException($"Expected an option like --frames, got '{args[i]}'.");
            string name = args[i][2..];
            string? value = i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal) ? args[++i] : null;
            parsed.values[name] = value;
        }
        return parsed;
    }

    public bool Has(string name) => values.ContainsKey(name);

    /// <summary>A switch without a value, e.g. --no-lookahead.</summary>
    public bool Flag(string name)
    {
        read.Add(name);
        if (!values.TryGetValue(name, out var value)) return false;
        return value is null ? true : throw new BenchmarkUsageException($"--{name} is a switch and takes no value, got '{value}'.");
    }

    public double Number(string name, double fallback) =>
        Take(name) is not { } text ? fallback
        : double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v) ? v
        : throw new BenchmarkUsageException($"--{name} wants a number, got '{text}'.");

    public int Int(string name, int fallback, int min = 1) =>
        Take(name) is not { } text ? fallback
        : int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v >= min ? v
        : throw new BenchmarkUsageException($"--{name} wants a whole number >= {min}, got '{text}'.");

    public string Text(string name, string fallback) => Take(name) ?? fallback;

    /// <summary>"HxW", e.g. 40x64.</summary>
    public (int Height, int Width) Size(string name, (int, int) fallback)
    {
        if (Take(name) is not { } text) return fallback;
        var parts = text.Split('x', 'X');
        if (parts.Length == 2 && int.TryParse(parts[0], out var h) && int.TryParse(parts[1], out var w) && h > 0 && w > 0) return (h, w);
        throw new BenchmarkUsageException($"--{name} wants a latent size HxW such as 40x64, got '{text}'.");
    }

    readonly HashSet<string> read = new(StringComparer.OrdinalIgnoreCase);

    string? Take(string name)
    {
        read.Add(name);
        if (!values.TryGetValue(name, out var value)) return null;
        return value ?? throw new BenchmarkUsageException($"--{name} needs a value.");
    }

    /// <summary>Call after reading every option: refuses options the benchmark does not know.</summary>
    public void RejectUnknown()
    {
        var unknown = values.Keys.Where(k => !read.Contains(k)).ToList();
        if (unknown.Count > 0) throw new BenchmarkUsageException($"Unknown option(s): {string.Join(", ", unknown.Select(u => "--" + u))}.");
    }
}
