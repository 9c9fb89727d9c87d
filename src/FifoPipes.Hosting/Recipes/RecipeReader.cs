using System.Globalization;
using System.Text.RegularExpressions;
using FifoPipes.Abstractions;
using FifoPipes.Core.Sinks;
using FifoPipes.Core.Media;
using FifoPipes.Hosting.Engine;
using FifoPipes.Hosting.Models;
using FifoPipes.Hosting.Options;
using FifoPipes.Hosting.Plugins;

namespace FifoPipes.Hosting.Recipes;

/// <summary>
/// Reads a recipe strictly, in three passes: syntax (YAML), schema (every key known, every value of
/// the right type, plugins and their options exist) and meaning (frame counts, paths, sink formats).
/// Every problem is collected with its location, so one run shows them all.
/// </summary>
public sealed class RecipeReader
{
    static readonly string[] SinkKeys = { "use", "path", "with" };
    static readonly string[] PromptKeys = { "prompt", "frames" };

    readonly PluginHost plugins;
    readonly List<Diagnostic> diagnostics = new();
    string baseDirectory = Environment.CurrentDirectory;

    public RecipeReader(PluginHost plugins) => this.plugins = plugins;

    public IReadOnlyList<Diagnostic> Diagnostics => diagnostics;

    readonly List<string> warnings = new();

    /// <summary>
    /// What the recipe's plugins give cause to warn of, each once (another plugin of the same name ignored, a dependency
    /// missing from a plugin's folder): no problem of the recipe, but what the user would otherwise find out only from a
    /// run that fails or uses another plugin than they meant.
    /// </summary>
    public IReadOnlyList<string> Warnings => warnings;

    /// <summary>Takes <paramref name="plugin"/> for the recipe, noting what <see cref="Warnings"/> should say of it.</summary>
    PluginDescriptor Using(PluginDescriptor plugin)
    {
        foreach (var warning in plugins.Warnings(plugin))
            if (!warnings.Contains(warning)) warnings.Add(warning);
        return plugin;
    }

    /// <summary>Where "model: &lt;preset&gt;" finds stored models; default: FIFOPIPES_MODEL_STORE / FIFOPIPES_MODEL_CATALOG.</summary>
    public StoredModelResolver? Models { get; init; }

    /// <summary>
    /// How a message names another setting than the one it is about (the negativePrompt an empty prompt should be,
    /// the frames a looping source needs): by its recipe key, or, for a command that took the setting as a parameter,
    /// by that parameter (-NegativePrompt), so a cmdlet user reads the words they type.
    /// </summary>
    public Func<string, string> Words { get; init; } = key => key;

    /// <summary>Why no recipe can be read at <paramref name="full"/> (nothing there, or a folder, with the recipes in it); null where a file is.</summary>
    public static Diagnostic? NoRecipeAt(string full)
    {
        if (File.Exists(full)) return null;
        if (!Directory.Exists(full)) return new Diagnostic("(file)", $"recipe file '{full}' does not exist", null, Array.Empty<string>());
        var inside = Directory.EnumerateFiles(full, "*.yaml").Concat(Directory.EnumerateFiles(full, "*.yml")).Select(Path.GetFileName).Order().Take(4).ToList();
        return new Diagnostic("(file)", $"'{full}' is a folder, not a recipe file; " + (inside.Count == 0 ? "give the path of a recipe (.yaml)"
            // A path with a wildcard, which every recipe command takes: the same words suit testing and running them.
            : $"give one of its recipes ({string.Join(", ", inside)}), or all of them as '{Path.Join(full, "*.yaml")}'"), null, Array.Empty<string>());
    }

    /// <summary>Reads a recipe file. Returns null (with diagnostics) when it is not valid.</summary>
    public Recipe? ReadFile(string path)
    {
        var full = Path.GetFullPath(path);
        if (NoRecipeAt(full) is { } missing)
        {
            diagnostics.Add(missing);
            return null;
        }
        return ReadText(File.ReadAllText(full), full);
    }

    public Recipe? ReadText(string yaml, string file)
    {
        int before = diagnostics.Count;
        var root = RecipeNodes.FromYaml(yaml, file, diagnostics);
        var recipe = root is null ? null : Read(root, file, Path.GetDirectoryName(Path.GetFullPath(file))!);
        // Problems found while parsing (an extra document, say) make the recipe invalid even if the rest binds.
        return diagnostics.Count > before ? null : recipe;
    }

    /// <summary>Reads a recipe tree (from YAML or from parameters). <paramref name="file"/> is null for parameters.</summary>
    public Recipe? Read(RecipeNode root, string? file, string baseDirectory)
    {
        this.baseDirectory = baseDirectory;
        if (root is not MapNode map)
        {
            Error("(document)", $"a recipe is a mapping of keys, not {root.Kind}", root.Location, RecipeKeys.Top);
            return null;
        }
        int before = diagnostics.Count;
        CheckKeys(map, "", RecipeKeys.Top);

        var apiVersion = ReadApiVersion(map);
        var model = ReadUse(map, "model", PluginKind.Model, defaultName: "analytic", FrameSizeNodes(map));
        var sampler = ReadUse(map, "sampler", PluginKind.Sampler, defaultName: "fifo");
        var entries = ReadPrompts(map);
        // Blank is none: the run keeps the identity (and the plain "" guidance) it has without one.
        string negativePrompt = ReadScalar<string>(map, "negativePrompt", "negativePrompt") is { } given && given.Trim().Length > 0 ? given : "";
        long seed = ReadScalar<long?>(map, "seed", "seed") ?? 0;
        double? fps = ReadScalar<double?>(map, "fps", "fps");
        if (FrameRate.Problem(fps) is { } badRate) Error("fps", badRate, map["fps"]?.Location);
        bool overwrite = ReadScalar<bool?>(map, "overwrite", "overwrite") ?? false;
        var init = ReadPath(map, "init", mustExist: true);
        int beforeSource = diagnostics.Count;
        var source = ReadSource(map);
        if (source is not null && init is not null)
            Error("source", "a run restyles a source video (source:) or continues start frames (init:), not both; keep one", map["source"]!.Location);
        // Counted with ffmpeg only when nothing else is wrong with it: a recipe in error is not worth a pass over a long video.
        long? available = source is not null && entries is not null && diagnostics.Count == beforeSource ? CountSource(source, map["source"]!) : null;
        var prompts = entries is null ? null : Spans(entries, map["source"], source, available);
        // Each output frame restyles its own source frame (a looping source has as many as asked for).
        if (available is { } count && !source!.Loops && prompts?.Sum(p => (long)p.Frames) is { } asked && asked > count)
            Error("source", SamplingJob.SourceTooShort(count, asked) + Counted(source!.Timing) + (count == 1 ? StillImageHint : ""), SourceAt(map["source"]!));
        // The file need not be there yet: writing it is how the prompt changes. Its folder must be, or it never could.
        var livePrompt = ReadPath(map, "livePrompt", mustExist: false);
        if (livePrompt is not null && !Directory.Exists(Path.GetDirectoryName(livePrompt)))
            Error("livePrompt", $"the folder of '{livePrompt}' does not exist, so the file that steers the run could never be written there; create the folder or correct the path",
                map["livePrompt"]!.Location);
        outputNames = OutputNames(model, sampler, prompts, negativePrompt, seed, init, source, livePrompt);
        var resumedRunHash = ResumedRunHash(map);
        var sinks = ReadSinks(map, resumedRunHash is null ? outputNames : ResumedOutputNames(seed, resumedRunHash));
        var resume = ReadPath(map, "resume", mustExist: true, runNamed: true);
        var snapshot = ReadSnapshot(map, resume, sinks);
        if (livePrompt is not null && resume is not null)
            Error("livePrompt", "prompts given while the run went are not in its snapshot, so a resume could not make the same frames; drop 'livePrompt' or 'resume'",
                map["livePrompt"]!.Location);
        if (sampler is not null)
            RefusedInputs(map, sampler.Plugin, key => key switch
            {
                "init" => init is not null,
                "source" => source is not null,
                "livePrompt" => livePrompt is not null,
                // The snapshots a resume goes on with are the resume's to refuse.
                "snapshot" => snapshot is not null && map["snapshot"] is not null,
                "negativePrompt" => negativePrompt.Length > 0,
                _ => resume is not null,
            });

        if (diagnostics.Count > before || model is null || sampler is null || prompts is null) return null;
        return new Recipe
        {
            ApiVersion = apiVersion ?? Recipe.CurrentApiVersion,
            File = file,
            BaseDirectory = baseDirectory,
            Model = model,
            Sampler = sampler,
            Prompts = prompts,
            NegativePrompt = negativePrompt,
            Sinks = sinks,
            Seed = seed,
            Fps = fps,
            Overwrite = overwrite,
            Snapshot = snapshot,
            SnapshotLocation = snapshotLocation,
            SnapshotFollowsResume = snapshot is not null && snapshotFollowsResume,
            ResumeFrom = resume,
            ResumedRunHash = resume is null ? null : resumedRunHash,
            InitImage = init,
            Source = source,
            LivePrompt = livePrompt,
        };
    }

    /// <summary>Fills "{seed}" and "{hash}" (the run hash) in the output paths of this recipe; no change while its run is unknown.</summary>
    Func<string, string> outputNames = path => path;

    /// <summary>An output path with the run's names filled in; null (and a problem at <paramref name="path"/>) where one looks misspelt.</summary>
    string? RunNamed(string text, string path, SourceLocation? at, Func<string, string>? names = null)
    {
        if (RunNames.Misspelt(text) is not { } problem) return (names ?? outputNames)(text);
        Error(path, problem, at);
        return null;
    }

    /// <summary>
    /// The run hash the snapshot a recipe resumes from records, read before the sinks (whose {hash} it fills); null
    /// where it resumes from none, or from no readable snapshot (the resume's own check reports that).
    /// </summary>
    string? ResumedRunHash(MapNode map)
    {
        if (map["resume"] is not ScalarNode { Value: not null } node || Convert.ToString(node.Value, CultureInfo.InvariantCulture) is not { } text
            || RunNames.Misspelt(text) is not null) return null;
        try { return Path.GetFullPath(Path.Combine(baseDirectory, outputNames(text))) is var full && File.Exists(full) ? SnapshotFile.RunHashOf(full) : null; }
        catch (Exception ex) when (ex is ArgumentException or NotSupportedException or PathTooLongException) { return null; }
    }

    /// <summary>
    /// A resumed run's sink paths name the run by the snapshot's hash: a run made longer (its own hash follows its
    /// frame count) goes on in the files and folders its first part wrote, instead of starting new ones beside them.
    /// </summary>
    static Func<string, string> ResumedOutputNames(long seed, string snapshotHash)
    {
        string seedText = seed.ToString(CultureInfo.InvariantCulture);
        return path => RunNames.Fill(path, seedText, () => snapshotHash);
    }

    static Func<string, string> OutputNames(PluginUse? model, PluginUse? sampler, IReadOnlyList<PromptSpan>? prompts, string negativePrompt, long seed, string? init,
        SourceVideo? source, string? livePrompt)
    {
        if (model is null || sampler is null || prompts is null) return path => path;
        var run = new Recipe { ApiVersion = Recipe.CurrentApiVersion, BaseDirectory = "", Model = model, Sampler = sampler, Prompts = prompts,
                               NegativePrompt = negativePrompt, Seed = seed, InitImage = init, Source = source, LivePrompt = livePrompt };
        string seedText = seed.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return path => RunNames.Fill(path, seedText, () => run.RunHash);
    }

    string? ReadApiVersion(MapNode map)
    {
        if (map["apiVersion"] is not { } node)
        {
            if (SpelledInAnotherCase(map, "apiVersion")) return null;
            Error("apiVersion", $"missing 'apiVersion: {Recipe.CurrentApiVersion}' (recipes are versioned so old ones keep working)", map.Location, new[] { Recipe.CurrentApiVersion });
            return null;
        }
        var value = Text(node, "apiVersion");
        if (value is not null && value != Recipe.CurrentApiVersion)
            Error("apiVersion", string.Equals(value, Recipe.CurrentApiVersion, StringComparison.OrdinalIgnoreCase)
                ? $"unsupported apiVersion '{value}': versions are written in lower case, '{Recipe.CurrentApiVersion}'"
                : $"unsupported apiVersion '{value}': this FifoPipes reads '{Recipe.CurrentApiVersion}'", node.Location, new[] { Recipe.CurrentApiVersion });
        return value;
    }

    PluginUse? ReadUse(MapNode map, string key, PluginKind kind, string defaultName, IReadOnlyList<(FrameSide Side, string Key, ScalarNode Node)>? frameSize = null)
    {
        var node = map[key];
        string name = defaultName;
        MapNode? with = null;
        SourceLocation? at = node?.Location ?? map.Location;
        switch (node)
        {
            case null: break;
            case ScalarNode s when s.Value is not null:
                name = Text(s, key) ?? defaultName;
                break;
            case MapNode m:
                CheckKeys(m, key, RecipeKeys.Use);
                name = m["use"] is { } use ? Text(use, $"{key}.use") ?? defaultName : defaultName;
                if (m["use"] is { } useNode) at = useNode.Location;
                with = ReadMap(m["with"], $"{key}.with");
                break;
            default:
                Error(key, $"expected a plugin name or a mapping with 'use' and 'with', got {node.Kind}", node.Location, RecipeKeys.Use);
                return null;
        }
        var plugin = plugins.Find(kind, name);
        StoredPresetFiles? stored = null;
        if (plugin is null && kind == PluginKind.Model && ResolvePreset(name, ref with, at, out stored) is { } presetPlugin)
        {
            if (presetPlugin.Length == 0) return null;
            name = presetPlugin;
            plugin = plugins.Find(kind, name);
        }
        if (plugin is null)
        {
            var available = plugins.OfKind(kind).Select(p => p.Name).OrderBy(n => n).ToList();
            Error($"{key}.use", $"unknown {kind.ToString().ToLowerInvariant()} plugin '{name}'.{plugins.Hint(kind, name)}{plugins.WhyMissing(name)}{PluginHost.WhereThirdPartyPluginsAre}", at, available);
            return null;
        }
        Using(plugin);
        if (frameSize is { Count: > 0 }) ApplyFrameSize(plugin, frameSize, ref with);
        var options = BindOptions(plugin, with, $"{key}.with", at, out var optionLocations);
        return new PluginUse(plugin, options) { Location = at, OptionLocations = optionLocations, Stored = stored };
    }

    /// <summary>The top-level width: and height: entries that are single values (others are reported as such).</summary>
    List<(FrameSide Side, string Key, ScalarNode Node)> FrameSizeNodes(MapNode map)
    {
        var sides = new List<(FrameSide, string, ScalarNode)>();
        foreach (var (side, key) in new[] { (FrameSide.Width, "width"), (FrameSide.Height, "height") })
        {
            if (map[key] is not { } node) continue;
            if (node is ScalarNode { Value: not null } scalar) sides.Add((side, key, scalar));
            else Error(key, $"expected a number of pixels, got {(node is ScalarNode ? "nothing" : node.Kind)}", node.Location);
        }
        return sides;
    }

    /// <summary>
    /// Sets the model's own size options (<see cref="OptionAttribute.FrameSide"/>) from the model-neutral width: and
    /// height: in pixels. Where model.with sets the same option, a value given as a cmdlet parameter (a node without a
    /// location) beats one from the file; two from the same place must agree.
    /// </summary>
    void ApplyFrameSize(PluginDescriptor plugin, IReadOnlyList<(FrameSide Side, string Key, ScalarNode Node)> sides, ref MapNode? with)
    {
        var entries = with?.Entries.ToList() ?? new List<MapEntry>();
        foreach (var (side, key, node) in sides)
        {
            if (!OptionBinder.TryConvert(node.ToOptionValue(), typeof(int), out var converted, out var problem))
            {
                Error(key, problem, node.Location);
                continue;
            }
            int pixels = (int)converted!;
            var option = plugin.Options.FirstOrDefault(o => o.FrameSide == side);
            if (option is null)
            {
                Error(key, $"model '{plugin.Name}' marks no option as its frame {key}: its size is fixed, or it is set under model.with by the model's own name; leave {key} out", node.Location);
                continue;
            }
            if (FrameSizeProblem(plugin.Name, key, option, pixels) is { } sizeProblem)
            {
                Error(key, sizeProblem, node.Location);
                continue;
            }
            int units = pixels / option.PixelsPerUnit;
            int given = entries.FindIndex(e => string.Equals(e.Key, option.Name, StringComparison.OrdinalIgnoreCase));
            if (given >= 0)
            {
                var other = entries[given].Value;
                bool agree = other is ScalarNode otherScalar && OptionBinder.TryConvert(otherScalar.ToOptionValue(), typeof(int), out var otherUnits, out _) && (int)otherUnits! == units;
                if (agree || (other.Location is null && node.Location is not null)) continue;
                if ((other.Location is null) == (node.Location is null))
                {
                    Error(key, SizesDisagree(key, pixels, option, other), node.Location);
                    continue;
                }
                entries.RemoveAt(given);
            }
            entries.Add(new MapEntry(option.Name, null, new ScalarNode(units.ToString(CultureInfo.InvariantCulture), false, node.Location)));
        }
        with = new MapNode(entries, with?.Location);
    }

    /// <summary>
    /// Two sizes of one side that disagree, each in its own unit: the top-level size counts pixels, the model's option
    /// its own units (the analytic model's latent cells of 8 pixels), so 64 and 16 can be two different widths.
    /// </summary>
    string SizesDisagree(string key, int pixels, OptionDescriptor option, RecipeNode other)
    {
        var scalar = other as ScalarNode;
        string otherSize = $"{Words($"model.with.{option.Name}")} {(scalar?.Value is { } value ? Convert.ToString(value, CultureInfo.InvariantCulture) : other.Kind.ToString())}";
        int unit = option.PixelsPerUnit;
        string otherUnit = unit == 1 ? "pixels"
            : scalar is not null && OptionBinder.TryConvert(scalar.ToOptionValue(), typeof(int), out var units, out _)
                ? string.Create(CultureInfo.InvariantCulture, $"the model's own unit, latent cells of {unit} pixels: {(long)(int)units! * unit} pixels")
                : $"the model's own unit, latent cells of {unit} pixels";
        return $"{Words(key)} {pixels} (pixels) and {otherSize} ({otherUnit}) both set the frame {key} and disagree; keep one";
    }

    /// <summary>Why <paramref name="pixels"/> cannot be the model's size on that side (outside its range or off its pixel grid), with the nearest size that can; null when it can.</summary>
    static string? FrameSizeProblem(string model, string key, OptionDescriptor option, int pixels)
    {
        int unit = option.PixelsPerUnit, step = option.PixelStep;
        long low = (long)Math.Ceiling((option.Min ?? 1) * unit / step) * step;
        long high = option.Max is { } max ? (long)Math.Floor(max * unit / step) * step : long.MaxValue;
        if (pixels >= low && pixels <= high && pixels % step == 0) return null;
        long nearest = Math.Clamp((long)Math.Round(pixels / (double)step, MidpointRounding.AwayFromZero) * step, low, high);
        string range = high == long.MaxValue ? $"of at least {low} pixels" : $"from {low} to {high} pixels";
        string grid = step == 1 ? "" : unit > 1 ? $" in steps of {step}, as its latents have one cell per {unit} pixels" : $" in steps of {step}";
        return string.Create(CultureInfo.InvariantCulture, $"{key} {pixels}: model '{model}' takes {key}s {range}{grid}; the nearest is {nearest}");
    }

    /// <summary>
    /// A model name that is no plugin but a catalog preset (e.g. videocrafter2) means that preset's plugin with
    /// the stored files as options; options given in the recipe win. Returns the plugin name, "" after an
    /// error, or null when <paramref name="name"/> is no preset.
    /// </summary>
    string? ResolvePreset(string name, ref MapNode? with, SourceLocation? at, out StoredPresetFiles? stored)
    {
        IReadOnlyDictionary<string, string>? options;
        string? plugin;
        stored = null;
        try { (plugin, options, stored) = (Models ?? StoredModelResolver.FromEnvironment()).Resolve(name, userGivesPath: with?.Entries.Any(e => string.Equals(e.Key, "path", StringComparison.OrdinalIgnoreCase) && e.Value is ScalarNode { Value: not null }) == true); }
        catch (FifoInputException ex)
        {
            Error("model.use", ex.Message, at);
            return "";
        }
        if (plugin is null || options is null) return null;
        var entries = with?.Entries.ToList() ?? new List<MapEntry>();
        foreach (var (key, value) in options)
            if (!entries.Any(e => string.Equals(e.Key, key, StringComparison.OrdinalIgnoreCase))) entries.Add(new MapEntry(key, null, new ScalarNode(value, true, at)));
        with = new MapNode(entries, with?.Location ?? at);
        return plugin;
    }

    object? BindOptions(PluginDescriptor plugin, MapNode? with, string path, SourceLocation? at) => BindOptions(plugin, with, path, at, out _);

    /// <param name="optionLocations">Where each option's value stands (its key's place where it has none), for problems found later.</param>
    object? BindOptions(PluginDescriptor plugin, MapNode? with, string path, SourceLocation? at, out IReadOnlyDictionary<string, SourceLocation> optionLocations)
    {
        var values = new Dictionary<string, OptionValue>(StringComparer.OrdinalIgnoreCase);
        var keyLocations = new Dictionary<string, SourceLocation>(StringComparer.OrdinalIgnoreCase);
        foreach (var entry in with?.Entries ?? Array.Empty<MapEntry>())
        {
            // Option names ignore case, so "partitions" and "Partitions" are one option given twice.
            if (values.ContainsKey(entry.Key))
            {
                var first = keyLocations.Keys.FirstOrDefault(k => string.Equals(k, entry.Key, StringComparison.OrdinalIgnoreCase)) ?? entry.Key;
                Error($"{path}.{entry.Key}", $"option '{entry.Key}' is given twice (as '{first}' too; option names ignore case); keep one",
                    entry.KeyLocation ?? entry.Value.Location ?? at);
                continue;
            }
            if (entry.KeyLocation is not null) keyLocations[entry.Key] = entry.KeyLocation;
            // A weights file for a model that loads none (-ModelPath with the analytic model) says more than "unknown option".
            if (path == "model.with" && entry.Key.Equals("path", StringComparison.OrdinalIgnoreCase) && !plugin.Options.Any(o => o.Name.Equals("path", StringComparison.OrdinalIgnoreCase)))
            {
                var loading = plugins.OfKind(PluginKind.Model).Where(m => m.Options.Any(o => o.Name.Equals("path", StringComparison.OrdinalIgnoreCase))).Select(m => m.Name).OrderBy(n => n);
                Error($"{path}.{entry.Key}", $"model '{plugin.Name}' takes no path (its options: {string.Join(", ", plugin.Options.Select(o => o.Name))}); leave the path out, " +
                                             $"or use a model that loads a checkpoint from one ({string.Join(", ", loading)})", entry.KeyLocation ?? entry.Value.Location ?? at);
                continue;
            }
            values[entry.Key] = entry.Value switch
            {
                ScalarNode s => s.ToOptionValue(),
                SequenceNode seq when seq.Items.All(i => i is ScalarNode) =>
                    new OptionValue(seq.Items.Cast<ScalarNode>().Select(i => i.Value).ToList(), seq.Location, seq.Items.Cast<ScalarNode>().All(i => i.IsText)),
                var other => new OptionValue(new object(), other.Location, true),
            };
        }
        optionLocations = values.Where(v => (v.Value.Location ?? keyLocations.GetValueOrDefault(v.Key)) is not null)
            .ToDictionary(v => v.Key, v => (v.Value.Location ?? keyLocations[v.Key])!, StringComparer.OrdinalIgnoreCase);
        return OptionBinder.Bind(plugin.OptionsType, values, path, with?.Location ?? at, diagnostics, keyLocations);
    }

    /// <summary>A prompt as written; a missing frame count is resolved by <see cref="Spans"/> once the source is known.</summary>
    sealed record PromptEntry(string Prompt, int? Frames, string FramesPath, SourceLocation? At);

    IReadOnlyList<PromptEntry>? ReadPrompts(MapNode map)
    {
        var single = map["prompt"];
        var list = map["prompts"];
        if (single is not null && list is not null)
        {
            Error("prompts", "give either 'prompt' (with 'frames') or 'prompts' (a list of {prompt, frames}), not both", list.Location);
            return null;
        }
        if (list is null)
        {
            if (single is null)
            {
                if (SpelledInAnotherCase(map, "prompt") || SpelledInAnotherCase(map, "prompts")) return null;
                Error("prompt", "missing 'prompt' (and 'frames'), or 'prompts': a list of {prompt, frames}", map.Location, new[] { "prompt", "prompts" });
                return null;
            }
            var prompt = PromptText(single, "prompt");
            int? frames = ReadScalar<int?>(map, "frames", "frames");
            if (frames < 1) { Error("frames", $"frames must be at least 1, got {frames}", map["frames"]!.Location); return null; }
            if (frames is null && Given(map["frames"])) return null;
            if (frames is null && map["source"] is null) { if (!SpelledInAnotherCase(map, "frames")) MissingFrames("frames", map.Location); return null; }
            return prompt is null ? null : new[] { new PromptEntry(prompt, frames, "frames", map.Location) };
        }
        if (map["frames"] is { } stray)
            Error("frames", "with 'prompts', give 'frames' per entry instead of at the top level", stray.Location);
        if (list is not SequenceNode seq || seq.Items.Count == 0)
        {
            Error("prompts", list is SequenceNode
                ? "the list is empty; give it at least one entry of a prompt and its frames (prompts: [ { prompt: sea, frames: 64 } ]), or write a single 'prompt' with 'frames'"
                : $"expected a non-empty list of {{prompt, frames}}, got {list.Kind}", list.Location, PromptKeys);
            return null;
        }
        var entries = new List<PromptEntry>();
        for (int i = 0; i < seq.Items.Count; i++)
        {
            var path = $"prompts[{i}]";
            if (seq.Items[i] is not MapNode item) { Error(path, $"expected {{prompt, frames}}, got {seq.Items[i].Kind}", seq.Items[i].Location, PromptKeys); continue; }
            CheckKeys(item, path, PromptKeys);
            var prompt = item["prompt"] is { } p ? PromptText(p, $"{path}.prompt") : null;
            if (item["prompt"] is null && !SpelledInAnotherCase(item, "prompt")) Error($"{path}.prompt", "missing 'prompt'", item.Location);
            int? frames = ReadScalar<int?>(item, "frames", $"{path}.frames");
            var at = item["frames"]?.Location ?? item.Location;
            if (frames < 1) Error($"{path}.frames", $"frames must be at least 1, got {frames}", at);
            bool leftOut = frames is null && !Given(item["frames"]);
            if (leftOut && map["source"] is null && !SpelledInAnotherCase(item, "frames")) MissingFrames($"{path}.frames", at);
            if (prompt is not null && (frames >= 1 || leftOut)) entries.Add(new PromptEntry(prompt, frames, $"{path}.frames", at));
        }
        return entries.Count == seq.Items.Count ? entries : null;
    }

    /// <summary>A prompt's text; a blank one is an error here, with its place, rather than when the run starts.</summary>
    string? PromptText(RecipeNode node, string path)
    {
        var text = Text(node, path);
        if (text is null || !string.IsNullOrWhiteSpace(text)) return text;
        // "" is the unconditional embedding guidance steers away from: as a prompt it would only undo guidance.
        Error(path, $"the prompt is empty; write what the video should show (to steer away from something, use {Words("negativePrompt")})", node.Location);
        return null;
    }

    /// <summary>
    /// Whether <paramref name="map"/> has <paramref name="key"/> in another case ('Prompt:'): its unknown-key error says so,
    /// and a second, saying the key is missing, would only repeat it.
    /// </summary>
    static bool SpelledInAnotherCase(MapNode map, string key) =>
        map.Entries.Any(e => e.Key != key && string.Equals(e.Key, key, StringComparison.OrdinalIgnoreCase));

    void MissingFrames(string path, SourceLocation? at) =>
        Error(path, "missing 'frames': how many frames to make (left out, the prompts share a source video's frames)", at);

    /// <summary>A value is there (a blank entry, frames: ~, is as good as none).</summary>
    static bool Given(RecipeNode? node) => node is not null and not ScalarNode { Value: null };

    /// <summary>
    /// The prompt schedule. Frame counts left out are an error, except with a source video: prompts that all leave them
    /// out share the frames it selects, in order and as evenly as whole frames allow (the first take one more where they
    /// do not divide). <paramref name="available"/> is how many the source selects; null when it could not be counted.
    /// </summary>
    IReadOnlyList<PromptSpan>? Spans(IReadOnlyList<PromptEntry> entries, RecipeNode? sourceNode, SourceVideo? source, long? available)
    {
        var missing = entries.Where(e => e.Frames is null).ToList();
        if (missing.Count == 0) return entries.Select(e => new PromptSpan(e.Prompt, e.Frames!.Value)).ToList();
        // Without a source they were reported as read, in order.
        if (sourceNode is null) return null;
        if (source is { Loops: true })
        {
            Error(missing[0].FramesPath, "a looping source has no end for the prompts to share; give the number of frames to make", missing[0].At);
            return null;
        }
        if (missing.Count < entries.Count)
        {
            Error(missing[0].FramesPath, "give 'frames' to every prompt or to none: without them the prompts share the source video's frames", missing[0].At);
            return null;
        }
        // A source in error has been reported already.
        if (available is not { } count) return null;
        if (count < entries.Count)
        {
            Error("source", $"the source video has {count} frames{Counted(source!.Timing)}, fewer than the {entries.Count} prompts that share them; give fewer prompts",
                SourceAt(sourceNode));
            return null;
        }
        if (count / entries.Count > int.MaxValue) { Error("source", $"the source video's {count} frames are too many to share; give the prompts 'frames'", SourceAt(sourceNode)); return null; }
        return entries.Select((e, i) => new PromptSpan(e.Prompt, (int)(count / entries.Count + (i < count % entries.Count ? 1 : 0)))).ToList();
    }

    /// <param name="names">Fills {seed} and {hash} in the sink paths (<see cref="ResumedOutputNames"/> on a resume).</param>
    IReadOnlyList<SinkUse> ReadSinks(MapNode map, Func<string, string> names)
    {
        var sinks = new List<SinkUse>();
        if (map["sinks"] is not { } node) return sinks;
        if (node is not SequenceNode seq) { Error("sinks", $"expected a list of sinks, each a mapping of keys, got {node.Kind}", node.Location, SinkKeys); return sinks; }
        var targets = new SinkTargets();
        for (int i = 0; i < seq.Items.Count; i++)
        {
            var path = $"sinks[{i}]";
            if (seq.Items[i] is not MapNode item) { Error(path, $"expected {{use, path, with}}, got {seq.Items[i].Kind}", seq.Items[i].Location, SinkKeys); continue; }
            CheckKeys(item, path, SinkKeys);
            if (item["path"] is not { } pathNode) { if (!SpelledInAnotherCase(item, "path")) Error($"{path}.path", "missing 'path': where to write", item.Location); continue; }
            // Text and WithEnvironment report what they cannot read.
            // Run names first: a variable's value (a stream key) is taken as it is.
            if (Text(pathNode, $"{path}.path") is not { } text || RunNamed(text, $"{path}.path", pathNode.Location, names) is not { } named
                || WithEnvironment(named, $"{path}.path", pathNode.Location) is not { } target) continue;
            if (string.IsNullOrWhiteSpace(target)) { Error($"{path}.path", "missing 'path': where to write", item.Location); continue; }
            string? name = item["use"] is { } use ? Text(use, $"{path}.use") : null;
            PluginDescriptor? plugin;
            if (name is null)
            {
                plugin = plugins.DefaultSinkFor(target);
                if (plugin is null)
                {
                    var (problem, taken) = plugins.NoSinkFor(target);
                    Error($"{path}.path", $"{problem}; name one with 'use'", item["path"]!.Location, taken);
                    continue;
                }
            }
            else
            {
                plugin = plugins.Find(PluginKind.Sink, name);
                if (plugin is null)
                {
                    var available = plugins.OfKind(PluginKind.Sink).Select(s => s.Name).OrderBy(n => n).ToList();
                    Error($"{path}.use", $"unknown sink plugin '{name}'.{plugins.Hint(PluginKind.Sink, name)}{plugins.WhyMissing(name)}{PluginHost.WhereThirdPartyPluginsAre}", item["use"]!.Location, available);
                    continue;
                }
            }
            Using(plugin);
            if (PluginHost.AddressProblem(plugin, target) is { } refused)
            {
                Error($"{path}.use", $"{refused}; leave out 'use' (the stream sink sends to addresses) or give a file path", item["use"]!.Location);
                continue;
            }
            // An address (rtmp://...) is where a stream goes, not a file under the recipe's folder.
            var full = StreamAddress.IsAddress(target) ? target : FullPath(target, $"{path}.path", item["path"]!.Location);
            if (full is null) continue;
            if (!targets.Add(full)) Error($"{path}.path", $"two sinks write to '{StreamAddress.Display(full)}'", item["path"]!.Location);
            var options = BindOptions(plugin, ReadMap(item["with"], $"{path}.with"), $"{path}.with", item.Location);
            sinks.Add(new SinkUse(plugin, options, full, pathNode.Location));
        }
        return sinks;
    }

    /// <summary>
    /// A sink path with every ${NAME} replaced by that environment variable: a stream key read from the environment
    /// stays out of a recipe file that is shared or kept in version control. Null, reported, when one is not set.
    /// </summary>
    string? WithEnvironment(string text, string path, SourceLocation? at)
    {
        var missing = new SortedSet<string>(StringComparer.Ordinal);
        var expanded = EnvironmentName.Replace(text, m => Environment.GetEnvironmentVariable(m.Groups[1].Value) is { Length: > 0 } value ? value : Missing(m.Groups[1].Value));
        if (missing.Count == 0) return expanded;
        Error(path, $"the environment variable{(missing.Count > 1 ? "s" : "")} {string.Join(", ", missing)} {(missing.Count > 1 ? "are" : "is")} not set; set {(missing.Count > 1 ? "them" : "it")} before the run", at);
        return null;

        string Missing(string name) { missing.Add(name); return ""; }
    }

    /// <summary>What each run input a sampler may refuse is, for the message: (recipe key, its <see cref="SamplerInputs"/> name, what it gives, the parameter).</summary>
    static readonly (string Key, string Input, string What, string Parameter)[] RefusableInputs =
    {
        ("init", SamplerInputs.Init, "start frames", "-InitImage"),
        ("source", SamplerInputs.Source, "a source video to restyle", "-Source"),
        ("livePrompt", SamplerInputs.LivePrompt, "prompts given while it runs", "-LivePrompt"),
        ("snapshot", SamplerInputs.Snapshot, "snapshots (it keeps no resumable state)", "-SnapshotPath"),
        ("resume", SamplerInputs.Snapshot, "snapshots to resume from (it keeps no resumable state)", "-Resume"),
        ("negativePrompt", SamplerInputs.NegativePrompt, "negative prompts", "-NegativePrompt"),
    };

    /// <summary>
    /// The inputs given that the sampler does not take, each an error at its key, before any model loads: those it
    /// declares, and those newer than the contracts it was built against (it would ignore them).
    /// </summary>
    void RefusedInputs(MapNode map, PluginDescriptor sampler, Func<string, bool> given)
    {
        foreach (var (key, input, what, parameter) in RefusableInputs.Where(r => given(r.Key) && sampler.RefusesInput(r.Input)))
        {
            var since = SamplerInputs.Since(input);
            string why = sampler.Contracts < since
                ? $"was built against contracts {sampler.Contracts.ToString(2)}, before {what} ({since.ToString(2)}), so it would ignore them"
                : $"does not take {what}";
            Error(key, $"the {sampler.Name} sampler {why}; drop '{key}' ({parameter}) or use a sampler that does, such as fifo", map[key]?.Location);
        }
    }

    /// <summary>source.loop's third value, beside true and false.</summary>
    public const string PingPong = "pingpong";

    static readonly Regex EnvironmentName = new(@"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", RegexOptions.CultureInvariant);

    /// <summary>The frames <paramref name="source"/> selects, counted by ffmpeg; null, reported, when it cannot count them.</summary>
    long? CountSource(SourceVideo source, RecipeNode node)
    {
        try { return SourceFrames.Probe(source.Path, source.Timing).Frames; }
        catch (FifoInputException ex) { SourceError(ex, SourceAt(node)); return null; }
    }

    static SourceLocation? SourceAt(RecipeNode node) => (node as MapNode)?["path"]?.Location ?? node.Location;

    /// <summary>Which of the source's frames were counted, where not all of them.</summary>
    // ffmpeg reads a picture as a video of one frame: what the user meant is most likely a start image.
    const string StillImageHint = "; to start a video from a picture, give it as -InitImage (init:) instead";

    static string Counted(SourceTiming timing) => timing.IsWholeFile ? "" : $" (counted {timing.Describe()})";

    /// <summary>A source ffmpeg could not count, under the key the user can fix: no ffmpeg is no fault of the path, a start past the end is the start's.</summary>
    void SourceError(FifoInputException ex, SourceLocation? at) =>
        Error(ex.ErrorId switch { FfmpegLocator.NotFoundErrorId => "source", SourceFrames.StartPastEndErrorId => "source.start", _ => "source.path" }, ex.Message, at);

    /// <summary>source: a video path, or { path, strength, fps, start, loop }.</summary>
    SourceVideo? ReadSource(MapNode map)
    {
        if (map["source"] is not { } node) return null;
        MapNode entries;
        switch (node)
        {
            case ScalarNode single:
                entries = new MapNode(new[] { RecipeKeys.ShortForm("source", single)! }, node.Location);
                break;
            case MapNode m:
                CheckKeys(m, "source", RecipeKeys.Source);
                entries = m;
                break;
            default:
                Error("source", $"expected a video path or a mapping of keys, got {node.Kind}", node.Location, RecipeKeys.Source);
                return null;
        }
        if (entries["path"] is null) { if (!SpelledInAnotherCase(entries, "path")) Error("source.path", "missing 'path': the video to restyle", entries.Location); return null; }
        var path = ReadPath(entries, "path", mustExist: true, path: "source.path");
        double strength = ReadScalar<double?>(entries, "strength", "source.strength") ?? SamplingJob.DefaultSourceStrength;
        if (!(strength > 0 && strength <= 1))
            Error("source.strength", $"strength must be above 0 and at most 1, got {strength}: 0.3 keeps the source close, 0.6 restyles it, 0.9 keeps little but its layout",
                entries["strength"]?.Location);
        var fps = ReadScalar<double?>(entries, "fps", "source.fps");
        if (FrameRate.Problem(fps) is { } badFps) Error("source.fps", badFps + ": the source is resampled to it before restyling", entries["fps"]?.Location);
        var start = ReadScalar<double?>(entries, "start", "source.start") ?? 0;
        if (SourceTiming.StartProblem(start) is { } badStart) Error("source.start", badStart, entries["start"]?.Location);
        // loop: true starts the clip over; loop: pingpong plays it back and forth.
        bool pingPong = entries["loop"] is ScalarNode { Value: string text } && text.Equals(PingPong, StringComparison.OrdinalIgnoreCase), loop = pingPong;
        if (!pingPong && entries["loop"] is ScalarNode loopNode)
        {
            // Any boolean the binder takes (true, yes, on, ...); anything else names the three ways.
            if (OptionBinder.TryConvert(loopNode.ToOptionValue(), typeof(bool), out var value, out _)) loop = (bool)value!;
            else Error("source.loop", $"'{loopNode.Value}' is no way to loop; use true (start over after the last frame), {PingPong} (forward, then back) or false", loopNode.Location, new[] { "true", PingPong, "false" });
        }
        else if (!pingPong) loop = ReadScalar<bool?>(entries, "loop", "source.loop") ?? false;
        var loops = pingPong ? SourceLoop.PingPong : loop ? SourceLoop.Restart : SourceLoop.None;
        return path is null ? null : new SourceVideo(path, strength, new SourceTiming(fps, start), loops);
    }

    /// <summary>Output frames between snapshots where the recipe does not say.</summary>
    public const int DefaultSnapshotEvery = 100;

    // Where the snapshot path is written, for a problem with the file found later (an earlier snapshot in the way).
    SourceLocation? snapshotLocation;
    // Whether the snapshot path is the resumed file's, no recipe's or parameter's.
    bool snapshotFollowsResume;

    /// <summary>Snapshots as the recipe asks for them; a resumed run without a snapshot path goes on snapshotting to the file it resumed from.</summary>
    /// <remarks>A run resumed after a crash must stay resumable, and the file it came from is the resume point its user knows.</remarks>
    SnapshotPolicy? ReadSnapshot(MapNode map, string? resume, IReadOnlyList<SinkUse> sinks)
    {
        snapshotFollowsResume = resume is not null && (map["snapshot"] is not MapNode given || given["path"] is null);
        if (map["snapshot"] is not { } node) return resume is null ? null : new SnapshotPolicy(resume, DefaultSnapshotEvery);
        if (node is not MapNode m) { Error("snapshot", $"expected {{path, every}}, got {node.Kind}", node.Location, RecipeKeys.Snapshot); return null; }
        CheckKeys(m, "snapshot", RecipeKeys.Snapshot);
        var text = m["path"] is { } p ? Text(p, "snapshot.path") : resume;
        if (text is null && !SpelledInAnotherCase(m, "path"))
            Error("snapshot.path", m["every"] is null ? "missing 'path': the snapshot file to write"
                : "missing 'path' beside 'every': the snapshot file to write (snapshot: { path: run.snapshot, every: 50 }), or resume from a snapshot, which the run then goes on writing", m.Location);
        var path = text is null ? null : m["path"] is null ? text : RunNamed(text, "snapshot.path", m["path"]!.Location);
        int every = ReadScalar<int?>(m, "every", "snapshot.every") ?? DefaultSnapshotEvery;
        if (every < 1) Error("snapshot.every", $"must be at least 1 frame, got {every}", m["every"]?.Location);
        snapshotLocation = m["path"]?.Location;
        var full = path is null ? null : FullPath(path, "snapshot.path", m["path"]?.Location);
        if (full is not null && SnapshotPlaceProblem(full) is { } problem) { Error("snapshot.path", problem, m["path"]?.Location); return null; }
        if (full is not null && SinkAt(full, sinks) is { } sink)
        {
            Error("snapshot.path", $"'{full}' is where the sink '{sink.Plugin.Name}' writes ({SinkKey(sink, sinks)}.path), so each snapshot would replace its output; " +
                                   $"give the snapshots a file of their own, such as '{EarlierSnapshot.OwnPath(full)}'", m["path"]?.Location ?? m.Location);
            return null;
        }
        return full is null || every < 1 ? null : new SnapshotPolicy(full, every);
    }

    /// <summary>The sink that writes to <paramref name="full"/>, a snapshot path; null for none.</summary>
    static SinkUse? SinkAt(string full, IReadOnlyList<SinkUse> sinks) =>
        sinks.FirstOrDefault(s => SinkTargets.IsFile(s.Path, full));

    static string SinkKey(SinkUse sink, IReadOnlyList<SinkUse> sinks) => $"sinks[{sinks.ToList().IndexOf(sink)}]";

    /// <summary>Why no snapshot can be written at <paramref name="full"/>, found now rather than at the run's first snapshot.</summary>
    static string? SnapshotPlaceProblem(string full)
    {
        if (Directory.Exists(full))
            return $"'{full}' is a folder; give the snapshot a file in it, e.g. '{Path.Combine(full, "run.snapshot")}'";
        if (SinkFiles.FileInPlaceOf(Path.GetDirectoryName(full)) is { } file)
            return $"'{file}' is a file, not a folder, so it cannot hold the snapshot '{full}'; choose another path";
        return null;
    }

    /// <summary>A path from the recipe, relative to its folder; one the OS cannot take (a NUL character) is a located error.</summary>
    string? FullPath(string text, string path, SourceLocation? at)
    {
        try { return Path.GetFullPath(Path.Combine(baseDirectory, text)); }
        catch (Exception ex) when (ex is ArgumentException or NotSupportedException or PathTooLongException)
        {
            Error(path, $"'{text.Replace("\0", "\\0")}' is not a usable path: {ex.Message}", at);
            return null;
        }
    }

    /// <param name="runNamed">Whether "{seed}" and "{hash}" name the run in it, as in sink and snapshot paths.</param>
    /// <param name="path">Where the key sits, for diagnostics; <paramref name="key"/> at the top level.</param>
    string? ReadPath(MapNode map, string key, bool mustExist, bool runNamed = false, string? path = null)
    {
        path ??= key;
        if (map[key] is not { } node) return null;
        var text = Text(node, path);
        if (text is null) return null;
        var given = text;
        if (runNamed)
        {
            if (RunNamed(text, path, node.Location) is not { } named) return null;
            text = named;
        }
        if (FullPath(text, path, node.Location) is not { } full) return null;
        if (Directory.Exists(full)) { Error(path, $"'{Path.TrimEndingDirectorySeparator(full)}' is a folder; give the path of a file (in it, or elsewhere)", node.Location); return null; }
        if (mustExist && !File.Exists(full)) { Error(path, $"file '{full}' does not exist{OtherRunsHint(given, full)}", node.Location); return null; }
        return full;
    }

    /// <summary>
    /// Where a path named by {hash} (resume: 'run-{hash}.snapshot') is not there, the files beside it that differ only in
    /// the hash: the run hash follows the frame count and prompts, so a run made longer than its snapshot's names another file.
    /// </summary>
    static string OtherRunsHint(string given, string full)
    {
        if (!given.Contains(RunNames.Hash, StringComparison.Ordinal)) return "";
        // Only the hash may differ; a seed in the name is taken as any, which the listing does not need to tell apart.
        var pattern = Path.GetFileName(given).Replace(RunNames.Hash, "*").Replace(RunNames.Seed, "*");
        var folder = Path.GetDirectoryName(full);
        string[] others;
        try { others = Directory.Exists(folder) ? Directory.GetFiles(folder, pattern).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).Take(3).ToArray() : Array.Empty<string>(); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { others = Array.Empty<string>(); }
        return "; {hash} is this run's hash, which its frame count, prompts and settings decide, so a run made longer than the one that wrote the file names another" +
               (others.Length > 0 ? $": give the file's own name ({string.Join(", ", others.Select(o => $"'{o}'"))})" : ": give the file's own name");
    }

    MapNode? ReadMap(RecipeNode? node, string path)
    {
        switch (node)
        {
            case null: return null;
            case MapNode m: return m;
            case ScalarNode { Value: null }: return null;
            default:
                Error(path, $"expected a mapping of option names to values, got {node.Kind}", node.Location);
                return null;
        }
    }

    T? ReadScalar<T>(MapNode map, string key, string path)
    {
        if (map[key] is not { } node) return default;
        if (node is not ScalarNode s) { Error(path, $"expected a single value, got {node.Kind}", node.Location); return default; }
        if (!OptionBinder.TryConvert(s.ToOptionValue(), typeof(T), out var value, out var problem)) { Error(path, problem, node.Location); return default; }
        return (T?)value;
    }

    string? Text(RecipeNode node, string path)
    {
        if (node is ScalarNode { Value: not null } s) return Convert.ToString(s.Value, CultureInfo.InvariantCulture);
        Error(path, $"expected text, got {(node is ScalarNode ? "nothing" : node.Kind)}", node.Location);
        return null;
    }

    /// <summary>Top-level keys the reader leaves alone (as docker compose does): a place for anchors that merge keys reuse.</summary>
    const string ExtensionPrefix = "x-";

    void CheckKeys(MapNode map, string path, IReadOnlyList<string> allowed)
    {
        foreach (var entry in map.Entries)
        {
            if (allowed.Contains(entry.Key) || (path.Length == 0 && entry.Key.StartsWith(ExtensionPrefix, StringComparison.Ordinal))) continue;
            var hint = NestedKeyHint(entry.Key, path, allowed) ?? CaseHint(entry.Key, allowed) ?? OptionBinder.Hint(entry.Key, allowed);
            var where = path.Length == 0 ? "at the top level" : $"in '{path}'";
            Error(path.Length == 0 ? entry.Key : $"{path}.{entry.Key}", $"unknown key '{entry.Key}' {where}.{hint}", entry.KeyLocation ?? map.Location, allowed);
        }
    }

    /// <summary>
    /// A recipe's own keys are written as the format spells them, while plugin options (under with:) and -Override keys take
    /// any case: a key that differs only in case is told which rule it met, not just offered the right spelling.
    /// </summary>
    static string? CaseHint(string key, IReadOnlyList<string> allowed) =>
        allowed.FirstOrDefault(a => string.Equals(a, key, StringComparison.OrdinalIgnoreCase)) is { } spelled
            ? $" Recipe keys are written in this case: '{spelled}' (only plugin options under 'with' take any case)."
            : null;

    /// <summary>
    /// A plugin's own key one level too high (use:, with: under model, sampler or a sink) is an indentation slip, not a
    /// misspelling of a key that looks alike ('with' is one letter from 'width').
    /// </summary>
    static string? NestedKeyHint(string key, string path, IReadOnlyList<string> allowed) =>
        key is "use" or "with" && !allowed.Contains(key) && path.Length == 0
            ? $" '{key}' belongs under 'model', 'sampler' or a sink: indent it below the key it is for."
            : null;

    void Error(string path, string message, SourceLocation? location, IReadOnlyList<string>? choices = null) =>
        diagnostics.Add(new Diagnostic(path, message, location, choices ?? Array.Empty<string>()));
}
