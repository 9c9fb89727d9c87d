using System.Globalization;
using FifoPipes.Abstractions;
using FifoPipes.Hosting.Options;
using FifoPipes.Models.Analytic.Quality;

namespace FifoPipes.Benchmarks.Quality;

/// <summary>
/// The benchmark's command line. Every option is in one table with its default and meaning, so --help lists them all
/// and a mistyped one is refused by name: ignored, it would leave the study at a default nobody asked for and spend
/// minutes measuring the wrong thing.
/// </summary>
public sealed class StudyArguments
{
    /// <summary>The command that regenerates the published study in docs/quality (docs/quality.md).</summary>
    public const string PublishedStudy = "--frames 10000 --every 500 --streams 32 --out docs/quality";

    public QualityStudyOptions Study { get; } = new();
    public IReadOnlyList<string> Samplers { get; private set; } = StudySamplers.All.Keys.ToArray();
    public int Threads { get; private set; } = 1;
    /// <summary>The folder --out named; null where it named none (<see cref="ReportFolder"/>).</summary>
    public string? OutputFolder { get; private set; }
    public bool List { get; private set; }
    public bool Help { get; private set; }

    /// <summary>
    /// Where the report goes: --out, else a fresh folder under artifacts/quality (ignored by git). The committed study in
    /// docs/quality took over 11 minutes to make; a trial run must name that folder to replace it.
    /// </summary>
    public string ReportFolder(DateTime now) =>
        OutputFolder ?? Path.Combine("artifacts", "quality", now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));

    /// <param name="Value">What the option takes, as --help shows it; null for a switch.</param>
    sealed record Option(string Name, string? Value, string Default, string Meaning, Action<StudyArguments, string> Apply);

    static readonly QualityStudyOptions Defaults = new();

    static readonly Option[] Options =
    {
        new("samplers", "a,b,...", "all", "samplers to run, names from --list",
            (a, v) => a.Samplers = SamplerNames(v)),
        new("frames", "N", Text(Defaults.Frames), $"output frames of every run; at least --measure + 1, best a multiple of --every",
            (a, v) => a.Study.Frames = Int("frames", v)),
        new("every", "P", Text(Defaults.Every), "one point per stretch of P frames, at least --measure; a remainder shorter than P gets no point",
            (a, v) => a.Study.Every = Int("every", v)),
        new("size", "HxW", $"{Defaults.Height}x{Defaults.Width}", "latent height x width (H alone: square)",
            (a, v) => (a.Study.Height, a.Study.Width) = Size(v)),
        new("streams", "S", Text(Defaults.Streams), "independent streams, run as the model's latent channels",
            (a, v) => a.Study.Streams = Int("streams", v)),
        new("window", "f", Text(Defaults.WindowFrames), "the model's window f, frames per denoiser call (the study's windowFrames)",
            (a, v) => a.Study.WindowFrames = Int("window", v)),
        new("partitions", "n", Text(Defaults.Partitions), "the model's partitions n; samplers default to S = n f steps",
            (a, v) => a.Study.Partitions = Int("partitions", v)),
        new("measure", "F", Text(Defaults.MeasureFrames), "frames per window the Frechet distance measures (the study's measureFrames)",
            (a, v) => a.Study.MeasureFrames = Int("measure", v)),
        new("stride", "s", Text(Defaults.WindowStride), "frames between the starts of measured windows",
            (a, v) => a.Study.WindowStride = Int("stride", v)),
        new("seed", "x", Defaults.Seed.ToString(CultureInfo.InvariantCulture), "noise seed",
            (a, v) => a.Study.Seed = long.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var seed) ? seed : throw BadValue("seed", v, "a whole number")),
        new("threads", "T", "1", "torch intra-op threads",
            (a, v) => a.Threads = Int("threads", v)),
        new("out", "DIR", "a fresh artifacts/quality/<date-time>", "folder for quality.csv, quality-tables.md and the plots; docs/quality only to regenerate the published study",
            (a, v) => a.OutputFolder = v),
        new("list", null, "", "print the sampler names and exit", (a, _) => a.List = true),
        new("help", null, "", "print this text and exit", (a, _) => a.Help = true),
    };

    /// <summary>Reads <paramref name="args"/>; throws <see cref="FifoInputException"/> on an unknown option, a bad value or a study setting the study refuses.</summary>
    public static StudyArguments Parse(IReadOnlyList<string> args)
    {
        var parsed = new StudyArguments();
        for (int i = 0; i < args.Count; i++)
        {
            var option = Find(args[i]);
            if (option.Value is null)
            {
                option.Apply(parsed, "");
                continue;
            }
            if (i + 1 == args.Count || args[i + 1].StartsWith("--", StringComparison.Ordinal))
                throw new FifoInputException("MissingBenchmarkValue", $"--{option.Name} needs a value: --{option.Name} {option.Value}.");
            option.Apply(parsed, args[++i]);
        }
        // Refused now rather than when the study starts: by then the report folder exists, and a run asked for help has nothing to check.
        if (!parsed.Help && !parsed.List) parsed.Study.Check();
        return parsed;
    }

    /// <summary>--help: every option with its default and meaning, and the command behind docs/quality.</summary>
    public static string Usage()
    {
        var text = new System.Text.StringBuilder();
        text.AppendLine("The quality study on the analytic prior (docs/quality.md).");
        text.AppendLine("Usage: dotnet run -c Release --project tests/FifoPipes.Benchmarks.Quality -- [options]");
        foreach (var option in Options)
        {
            string usage = option.Value is null ? $"--{option.Name}" : $"--{option.Name} {option.Value}";
            text.Append("  ").Append(usage.PadRight(22)).Append(option.Meaning);
            text.AppendLine(option.Default.Length > 0 ? $" (default: {option.Default})" : "");
        }
        text.AppendLine($"The published study in docs/quality: {PublishedStudy}");
        return text.ToString();
    }

    static Option Find(string argument)
    {
        if (!argument.StartsWith("--", StringComparison.Ordinal) || argument.Length < 3)
            throw new FifoInputException("UnexpectedBenchmarkArgument", $"Unexpected argument '{argument}': options look like --frames 2048. {ValidOptions}");
        string name = argument[2..];
        return Options.FirstOrDefault(o => string.Equals(o.Name, name, StringComparison.OrdinalIgnoreCase))
            ?? throw new FifoInputException("UnknownBenchmarkOption",
                $"Unknown option '{argument}'.{Meant(name)} {ValidOptions}");
    }

    static string ValidOptions => $"Valid options: {string.Join(", ", Options.Select(o => "--" + o.Name))} (--help explains them).";

    static string Meant(string typed) =>
        OptionBinder.Suggest(typed, Options.Select(o => o.Name)) is { } near ? $" Did you mean '--{near}'?" : "";

    static string[] SamplerNames(string list)
    {
        var names = list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var unknown = names.Where(n => !StudySamplers.All.ContainsKey(n)).ToList();
        if (unknown.Count > 0)
            throw new FifoInputException("UnknownStudySampler",
                $"Unknown sampler(s): {string.Join(", ", unknown.Select(Unknown))}. Known: {string.Join(", ", StudySamplers.All.Keys)} (--list describes them).");
        return names.Length > 0 ? names : throw new FifoInputException("MissingBenchmarkValue", "--samplers names no sampler; give --samplers fifo,chunked or leave it out for all.");
    }

    static string Unknown(string sampler) =>
        OptionBinder.Suggest(sampler, StudySamplers.All.Keys) is { } near ? $"'{sampler}' (did you mean '{near}'?)" : $"'{sampler}'";

    /// <summary>A whole number; the study's own check judges its range, naming the setting.</summary>
    static int Int(string name, string text) =>
        int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : throw BadValue(name, text, "a whole number");

    /// <summary>"HxW", or "H" for a square latent.</summary>
    static (int Height, int Width) Size(string text)
    {
        var parts = text.Split('x', 'X');
        return parts.Length <= 2 && int.TryParse(parts[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var height)
            && int.TryParse(parts[^1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var width)
            ? (height, width) : throw BadValue("size", text, "a latent size HxW such as 8x8");
    }

    static FifoInputException BadValue(string name, string text, string wanted) =>
        new("BadBenchmarkValue", $"--{name} wants {wanted}, got '{text}'.");

    static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
}
