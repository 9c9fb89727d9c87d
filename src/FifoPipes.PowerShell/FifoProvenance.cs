using System.Collections.Specialized;
using FifoPipes.Abstractions;
using FifoPipes.Hosting.Recipes;

namespace FifoPipes.PowerShell;

/// <summary>What a file FifoPipes wrote records of the run that made it.</summary>
public sealed class FifoProvenance
{
    /// <param name="snapshot">Whether <paramref name="path"/> is a snapshot, so the recipe resumes from it.</param>
    internal FifoProvenance(string path, RunProvenance run, bool snapshot = false)
    {
        Path = path;
        RunHash = run.RunHash;
        Complete = run.Complete;
        Recipe = run.ToRecipe(snapshot ? path : null);
        Settings = new OrderedDictionary(StringComparer.Ordinal);
        foreach (var (key, value) in run.Settings) Settings[key] = value;
        Model = run.Value("model");
        Seed = long.TryParse(run.Value("seed"), System.Globalization.NumberStyles.AllowLeadingSign,
            System.Globalization.CultureInfo.InvariantCulture, out long seed) ? seed : null;
        var spans = run.Settings.Where(s => SnapshotMetadata.IsPromptSpan(s.Key)).Select(s => SnapshotMetadata.PromptSpanValue(s.Value)).OfType<(string Prompt, long Frames)>().ToList();
        Prompts = spans.Select(s => s.Prompt).ToArray();
        Frames = spans.Sum(s => s.Frames);
    }

    /// <summary>The file's name, as the table shows it.</summary>
    public string File => System.IO.Path.GetFileName(Path);
    /// <summary>The model's plugin name (analytic, videocrafter, ...).</summary>
    public string? Model { get; }
    public long? Seed { get; }
    /// <summary>The first prompt of the schedule.</summary>
    public string? Prompt => Prompts.FirstOrDefault();
    /// <summary>Every prompt of the schedule in order.</summary>
    public string[] Prompts { get; }
    /// <summary>The frames the schedule plans, over all its prompts.</summary>
    public long Frames { get; }

    public string Path { get; }
    /// <summary>The run hash: equal for files of one run, and for a run made again from <see cref="Recipe"/>.</summary>
    public string RunHash { get; }
    /// <summary>The settings as the run lists them: plugins (their versions; not in a snapshot's), model.*, sampler.*, prompts[i], negativePrompt, seed, init, fps.</summary>
    public OrderedDictionary Settings { get; }
    /// <summary>False when the record was cut (more than 32 prompt spans, or 32 KiB): <see cref="Recipe"/> then makes another run.</summary>
    public bool Complete { get; }
    /// <summary>The run as a recipe (YAML, no sinks): New-FifoVideo -Recipe makes its frames again; from a snapshot, the frames after it.</summary>
    public string Recipe { get; }

    public override string ToString() => $"{System.IO.Path.GetFileName(Path)}: run {RunHash}";
}
