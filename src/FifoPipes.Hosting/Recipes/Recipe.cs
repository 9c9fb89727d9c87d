using FifoPipes.Abstractions;
using FifoPipes.Core.Media;
using FifoPipes.Hosting.Models;
using FifoPipes.Hosting.Options;
using FifoPipes.Hosting.Plugins;

namespace FifoPipes.Hosting.Recipes;

/// <summary>A plugin chosen by name with its bound options.</summary>
public sealed record PluginUse(PluginDescriptor Plugin, object? Options)
{
    /// <summary>Where the recipe names the plugin (its use: entry), for problems found later; null when no file gave it.</summary>
    public SourceLocation? Location { get; init; }

    /// <summary>The stored files of the saved preset the recipe named as its model, where it named one: a load that finds one damaged says how to fetch it again.</summary>
    public StoredPresetFiles? Stored { get; init; }

    /// <summary>Where the recipe sets each option (its key, in any case), for a problem a plugin finds in one later.</summary>
    public IReadOnlyDictionary<string, SourceLocation> OptionLocations { get; init; } = new Dictionary<string, SourceLocation>(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// The option of this plugin, by its own name, that <paramref name="refusal"/> is in, whoever set it (a recipe, a
    /// parameter, its default); null where it names none of them. The refusal says (<see cref="FifoInputException.Option"/>);
    /// one from a plugin built before contracts 1.11 is read for the name, as plugins' messages give it: "fifo sampler
    /// option 'partitions': ...".
    /// </summary>
    public string? OptionOf(FifoInputException refusal) =>
        refusal.Option is { } option
            ? Plugin.Options.FirstOrDefault(o => string.Equals(o.Name, option, StringComparison.OrdinalIgnoreCase))?.Name
            : OptionNamedIn(refusal.Message, _ => true);

    /// <summary>
    /// The option of this plugin that <paramref name="message"/> is about, by its name, with where the recipe sets it;
    /// null when it names none the recipe sets. The one after "option" wins, else the one named first.
    /// </summary>
    public (string Option, SourceLocation Location)? OptionNamedIn(string message) =>
        OptionNamedIn(message, OptionLocations.ContainsKey) is { } named ? (named, OptionLocations[named]) : null;

    /// <summary>As <see cref="OptionNamedIn(string)"/>, among the options <paramref name="set"/> says the user set (in a file or by a parameter).</summary>
    public string? OptionNamedIn(string message, Func<string, bool> set) =>
        Plugin.Options.Select(o => (o.Name, At: message.IndexOf($"'{o.Name}'", StringComparison.Ordinal)))
            .Where(o => o.At >= 0 && set(o.Name))
            .OrderBy(o => message.Contains($"option '{o.Name}'", StringComparison.Ordinal) ? 0 : 1).ThenBy(o => o.At).Select(o => o.Name).FirstOrDefault();

    /// <summary>Each option (those <paramref name="which"/> picks) with its bound value as recipes and run records write it.</summary>
    public IEnumerable<(string Name, string Value)> FormattedOptions(Func<OptionDescriptor, bool> which) =>
        Options is null ? Enumerable.Empty<(string, string)>()
            : Plugin.Options.Where(which).Select(o => (o.Name, OptionDescriptor.Format(o.Property.GetValue(Options))));
}

/// <summary>A sink with its target path (relative paths already resolved against the recipe's folder), and where a recipe names it.</summary>
public sealed record SinkUse(PluginDescriptor Plugin, object? Options, string Path, SourceLocation? Location = null);

/// <summary>A validated recipe: everything that determines a video, so a recipe reproduces it exactly.</summary>
public sealed class Recipe
{
    public const string CurrentApiVersion = "fifopipes/v1";

    public required string ApiVersion { get; init; }
    /// <summary>The recipe file, or null when built from parameters.</summary>
    public string? File { get; init; }
    /// <summary>Folder that relative paths in options are resolved against.</summary>
    public required string BaseDirectory { get; init; }
    public required PluginUse Model { get; init; }
    public required PluginUse Sampler { get; init; }
    public required IReadOnlyList<PromptSpan> Prompts { get; init; }
    /// <summary>The unconditional branch's prompt; "" for the usual unconditional guidance.</summary>
    public string NegativePrompt { get; init; } = "";
    public IReadOnlyList<SinkUse> Sinks { get; init; } = Array.Empty<SinkUse>();
    public long Seed { get; init; }
    /// <summary>Playback rate; null = the model's default.</summary>
    public double? Fps { get; init; }
    public bool Overwrite { get; init; }
    public SnapshotPolicy? Snapshot { get; init; }
    /// <summary>Whether <see cref="Snapshot"/> is the one a resume implies (to the file it resumed from), not the recipe's own.</summary>
    public bool SnapshotFollowsResume { get; init; }
    /// <summary>Where the recipe gives the snapshot path; null when no file gave it.</summary>
    public SourceLocation? SnapshotLocation { get; init; }
    public string? ResumeFrom { get; init; }
    /// <summary>
    /// The run hash the snapshot resumed from records (where it could be read): {hash} in the outputs' paths names the
    /// run by it, so a run made longer goes on in the outputs its first part wrote (<see cref="RunNames"/>).
    /// </summary>
    public string? ResumedRunHash { get; init; }
    /// <summary>An image or video to start from (encoded, then noised into the queue).</summary>
    public string? InitImage { get; init; }
    /// <summary>A video to restyle (video-to-video), and how far into the schedule its frames are noised; null for text-to-video.</summary>
    public SourceVideo? Source { get; init; }
    /// <summary>A text file whose changes take over the prompt while the run goes (<see cref="Engine.LivePromptFile"/>); null for none.</summary>
    public string? LivePrompt { get; init; }

    public long Frames => Prompts.Sum(p => (long)p.Frames);

    /// <summary>What the run's <see cref="SamplingJob"/> will hold beyond the model, for the sampler to check before the model loads.</summary>
    public JobInputs JobInputs => new()
    {
        Prompts = Prompts,
        NegativePrompt = NegativePrompt,
        HasStartFrames = InitImage is not null,
        HasSource = Source is not null,
    };

    /// <summary>
    /// What determines the frames (model, sampler, the options that change frames, prompts, seed, start image), not where
    /// they go or on which device: one "key=value" per line.
    /// </summary>
    public string RunSettings => runSettings ??= RecipeHash.Settings(this);
    string? runSettings;

    /// <summary>Hash of <see cref="RunSettings"/>: a snapshot taken under one recipe is refused by another.</summary>
    public string RunHash => runHash ??= RecipeHash.Of(RunSettings);
    string? runHash;

    /// <summary>
    /// The model and sampler plugins and their versions (<see cref="SamplingJob.RunPlugins"/>), out of <see cref="RunHash"/>:
    /// a plugin's new version keeps the run it continues.
    /// </summary>
    public string RunPlugins => $"model {Model.Plugin.Name} {Model.Plugin.Version}; sampler {Sampler.Plugin.Name} {Sampler.Plugin.Version}";

    /// <summary>What the frames' files record of how they were made: the tool, the run hash and the run settings.</summary>
    public string Provenance => provenance ??= RecipeHash.Provenance(this);
    string? provenance;
}

/// <summary>
/// Video-to-video: output frame k restyles frame k of <see cref="Path"/> as <see cref="Timing"/> selects its frames,
/// noised to <see cref="Strength"/> of the schedule; a <see cref="Loop"/> plays the clip again after its last frame, so a
/// short clip can be restyled endlessly.
/// </summary>
public sealed record SourceVideo(string Path, double Strength, SourceTiming Timing = default, SourceLoop Loop = SourceLoop.None)
{
    /// <summary>Whether the clip plays again after its last frame (its frame count is then endless).</summary>
    public bool Loops => Loop != SourceLoop.None;
}

/// <summary>What a source video does after its last frame (recipe <c>source.loop</c>).</summary>
public enum SourceLoop
{
    /// <summary>It ends: the run may ask for at most its frames (loop: false).</summary>
    None,
    /// <summary>It starts over from its first frame (loop: true); a clip that does not loop by itself jumps there.</summary>
    Restart,
    /// <summary>Each turn plays it forward, then back (loop: pingpong), so it never jumps.</summary>
    PingPong,
}
