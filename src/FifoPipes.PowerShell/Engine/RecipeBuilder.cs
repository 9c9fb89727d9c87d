using FifoPipes.Abstractions;
using System.Management.Automation;
using FifoPipes.Hosting.Engine;
using FifoPipes.Hosting.Options;
using FifoPipes.Hosting.Recipes;

namespace FifoPipes.PowerShell.Engine;

/// <summary>
/// Builds a recipe from a file and/or cmdlet parameters. Parameters become entries of the same tree a
/// YAML file gives, overriding the file's, so both are validated by one strict reader.
/// </summary>
sealed class RecipeBuilder
{
    readonly Dictionary<string, object?> top = new(StringComparer.Ordinal);
    readonly Dictionary<string, Dictionary<string, object?>> with = new(StringComparer.Ordinal);
    readonly Dictionary<string, string> use = new(StringComparer.Ordinal);
    readonly Dictionary<string, Dictionary<string, object?>> entries = new(StringComparer.Ordinal);
    // Recipe path -> the cmdlet parameter that set it, so a problem can name the parameter instead of a recipe key.
    readonly Dictionary<string, string> parameters = new(StringComparer.OrdinalIgnoreCase);
    // Recipe path -> the parameter of the command that would set it (New-FifoVideo's -NegativePrompt); null for a command that takes recipes only.
    readonly Func<string, string?>? parameterOfKey;
    // Whether a recipe file is read: a problem of it is said in its keys unless a parameter set the value.
    bool fromFile;

    /// <param name="parameterOfKey">
    /// The command's parameter for a recipe path ("negativePrompt" -> "-NegativePrompt"), or null where it has none:
    /// without a recipe file, messages name those instead of recipe keys the user never saw.
    /// </param>
    /// <param name="settingOfKey">
    /// How the command line sets a recipe path to a value (sampler.with.lookahead, false -> "-NoLookahead"), or null:
    /// a plugin's fix for a default is then said in those words where no recipe file is read.
    /// </param>
    public RecipeBuilder(Func<string, string?>? parameterOfKey = null, Func<string, string, string?>? settingOfKey = null)
    {
        this.parameterOfKey = parameterOfKey;
        this.settingOfKey = settingOfKey;
    }

    readonly Func<string, string, string?>? settingOfKey;

    /// <summary>
    /// A recipe path in the user's words: the parameter that set it (-ModelOption width, -Override negativePrompt), else,
    /// without a recipe file, the command's parameter for it (-NegativePrompt), else the key itself.
    /// </summary>
    public string Words(string key) =>
        parameters.TryGetValue(key, out var parameter) ? parameter : UnsetParameter(key) ?? key;

    /// <summary>The command's parameter for a setting no parameter set, where no recipe file is read (there, its key is the user's word).</summary>
    string? UnsetParameter(string key) => fromFile ? null : parameterOfKey?.Invoke(key);

    /// <summary>
    /// The prompts of the video, with one frame count for all or one each. Without counts, a single prompt keeps the
    /// recipe file's 'frames' (so -Recipe long.yaml -Prompt 'rain' only changes the prompt) unless a parameter names
    /// another source video; otherwise with a source the prompts share its frames (the reader counts them); otherwise
    /// they keep the recipe file's length (its counts in order where they are as many as its prompts, else its total
    /// shared), and without a file each gets 128 frames.
    /// </summary>
    public void SetPrompts(string[] prompts, int[]? frames, string parameter)
    {
        PromptSchedule.Check(prompts, frames);
        this.prompts = (prompts, frames);
        parameters["prompts"] = parameters["prompt"] = parameter;
    }

    // Sized in Apply, once the file's frames and source are known.
    (string[] Texts, int[]? Frames)? prompts;

    /// <summary>
    /// Frame counts for the recipe file's own prompts (-Frames without -Prompt): one for all of them or one each, as
    /// with <see cref="SetPrompts"/>; a single prompt's 'frames', or each span's of a 'prompts' list.
    /// </summary>
    public void SetFrames(int[] frames, string parameter) => framesOfFilePrompts = (frames, parameter);

    (int[] Counts, string Parameter)? framesOfFilePrompts;

    public void Set(string key, object? value, string? parameter = null)
    {
        top[key] = value;
        if (parameter is not null) parameters[key] = parameter;
    }

    public void Use(string section, string name, string? parameter = null)
    {
        use[section] = name;
        if (parameter is not null) parameters[$"{section}.use"] = parameter;
    }

    /// <summary>Sets one entry of a top-level map (e.g. snapshot.every), keeping the file's other entries there.</summary>
    public void SetEntry(string key, string entry, object? value, string parameter)
    {
        if (!entries.TryGetValue(key, out var values)) entries[key] = values = new(StringComparer.OrdinalIgnoreCase);
        // -SourceLoop:$false with -SourcePingPong: neither silently wins.
        if (values.TryGetValue(entry, out var earlier) && parameters.TryGetValue($"{key}.{entry}", out var earlierParameter))
            twice.Add(($"{key}.{entry}", earlierParameter, earlier, parameter, value));
        values[entry] = value;
        parameters[$"{key}.{entry}"] = parameter;
        // A problem with the map as a whole (an entry missing) names the first parameter that made it.
        parameters.TryAdd(key, parameter);
    }

    /// <summary>
    /// Sets a plugin option (section "model" or "sampler"). Two parameters that set one option (-Partitions and
    /// -SamplerOption @{ partitions }) must agree: neither silently wins (checked in <see cref="Build"/>).
    /// </summary>
    public void Option(string section, string name, object? value, string? parameter = null)
    {
        if (!with.TryGetValue(section, out var options)) with[section] = options = new(StringComparer.OrdinalIgnoreCase);
        string key = $"{section}.with.{name}";
        if (parameter is not null && options.TryGetValue(name, out var earlier) && parameters.TryGetValue(key, out var earlierParameter))
            twice.Add((key, earlierParameter, earlier, parameter, value));
        options[name] = value;
        if (parameter is not null) parameters[key] = parameter;
    }

    readonly List<(string Key, string FirstParameter, object? First, string SecondParameter, object? Second)> twice = new();

    /// <summary>Options two parameters set to different values, each a problem naming both; paths compare as the files they name.</summary>
    IEnumerable<Diagnostic> Disagreements(string workingDirectory)
    {
        string Shown(object? value) => value switch
        {
            null => "null",
            string text => text,
            System.Collections.IEnumerable items => "[" + string.Join(", ", items.Cast<object?>().Select(Shown)) + "]",
            _ => Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) ?? "",
        };
        // Two texts are the same text or name the same file (-ModelPath is made absolute, an option's path is not); other
        // values are the same number or switch however they were typed (2, 2L, '2'; $true, 'true').
        bool Same(object? a, object? b) => a is string x && b is string y
            ? x == y || SinkTargets.PathComparer.Equals(Path.GetFullPath(x, workingDirectory), Path.GetFullPath(y, workingDirectory))
            : string.Equals(Shown(a), Shown(b), StringComparison.OrdinalIgnoreCase);
        return twice.Where(t => !Same(t.First, t.Second)).Select(t => new Diagnostic(t.Key,
            $"{t.FirstParameter} and {t.SecondParameter} both set it and disagree ({Shown(t.First)}, {Shown(t.Second)}); keep one", null, Array.Empty<string>()));
    }

    /// <summary>
    /// Sets a recipe entry by its dotted key, as -Override names it: "seed", "snapshot.every", "model.use",
    /// "sampler.with.partitions". False for a key of another shape; the reader judges the names themselves.
    /// </summary>
    public bool Override(string key, object? value, string parameter)
    {
        // PowerShell users write keys in any case: 'Source.Strength' means source.strength.
        var parts = RecipeKeys.Canonical(key.Split('.'));
        bool plugin = parts[0] is "model" or "sampler";
        switch (parts.Length)
        {
            // Prompts keep the file's frame count as New-FifoVideo -Recipe -Prompt does: one takes it all, several share a source or the file's frames.
            case 1 when parts[0].Equals("prompt", StringComparison.OrdinalIgnoreCase) && Texts(value) is { } prompts:
                SetPrompts(prompts, null, parameter);
                return true;
            // A schedule with its frame counts (@(@{ prompt = 'a'; frames = 64 }, ...)) is what 'prompts' holds.
            case 1 when parts[0].Equals("prompt", StringComparison.OrdinalIgnoreCase) && IsTableList(value):
                Set("prompts", value, parameter);
                return true;
            case 1 when parts[0].Length > 0:
                Set(parts[0], value, parameter);
                return true;
            case 2 when plugin && parts[1] == "use":
                Use(parts[0], value?.ToString() ?? "", parameter);
                return true;
            case 2 when !plugin && parts[0].Length > 0 && parts[1].Length > 0:
                SetEntry(parts[0], parts[1], value, parameter);
                return true;
            case 3 when plugin && parts[1] == "with" && parts[2].Length > 0:
                Option(parts[0], parts[2], value, parameter);
                return true;
            default:
                return false;
        }
    }

    /// <summary>A list whose items are all hashtables, as PowerShell gives @(@{ ... }, @{ ... }).</summary>
    static bool IsTableList(object? value)
    {
        value = value is PSObject wrapped ? wrapped.BaseObject : value;
        if (value is string or System.Collections.IDictionary || value is not System.Collections.IEnumerable items) return false;
        var list = items.Cast<object?>().Select(i => i is PSObject p ? p.BaseObject : i).ToList();
        return list.Count > 0 && list.All(i => i is System.Collections.IDictionary);
    }

    /// <summary>A text, or a list of texts as PowerShell gives one ('a', 'b'); null for anything else.</summary>
    static string[]? Texts(object? value)
    {
        value = value is PSObject wrapped ? wrapped.BaseObject : value;
        if (value is string text) return new[] { text };
        if (value is not System.Collections.IEnumerable items) return null;
        var texts = items.Cast<object?>().Select(i => i is PSObject p ? p.BaseObject : i).ToList();
        return texts.Count > 0 && texts.All(t => t is string) ? texts.Cast<string>().ToArray() : null;
    }

    /// <summary>The parameter (e.g. "-InitImage") whose value a diagnostic is about; null when it came from the recipe file.</summary>
    public string? ParameterFor(Diagnostic diagnostic) =>
        parameters.TryGetValue(diagnostic.Path, out var parameter) ? parameter
        // A prompt's frame count is the frames', not the prompt's: -Prompt gave no count that could be wrong or missing.
        : IsPromptsFrames(diagnostic.Path) ? parameters.GetValueOrDefault("frames")
        : parameters.FirstOrDefault(kv => diagnostic.Path.StartsWith(kv.Key + ".", StringComparison.OrdinalIgnoreCase) ||
                                          diagnostic.Path.StartsWith(kv.Key + "[", StringComparison.Ordinal)).Value;

    /// <summary>
    /// The parameter that would set what a problem is about, where no parameter set it and no recipe file places it: a
    /// missing checkpoint is -ModelPath's to give in New-FifoVideo, which has no model.with.path for its user to write.
    /// </summary>
    public string? UnsetParameterFor(Diagnostic diagnostic) =>
        diagnostic.Location is null && ParameterFor(diagnostic) is null ? UnsetParameter(IsPromptsFrames(diagnostic.Path) ? "frames" : diagnostic.Path) : null;

    // Said beside the parameter that gave the prompts: New-FifoVideo takes their counts as -Frames; a command of recipes only
    // (Invoke-FifoRecipe) takes prompts as -Override's, and their counts in the same table.
    string FramesParameter => parameterOfKey?.Invoke("frames") ?? "-Override frames";

    static bool IsPromptsFrames(string path) => System.Text.RegularExpressions.Regex.IsMatch(path, @"^prompts\[\d+\]\.frames$");

    /// <summary>
    /// A plugin's refusal, met while the run went, of one of its options, placed where its value came from as
    /// Test-FifoRecipe places it (<see cref="RefusedOption"/>): the parameter that set it (-Partitions, -SamplerOption
    /// partitions, -Override sampler.with.partitions), else the recipe's line; a value the user did not set is said to be
    /// a default, with its fix in the words of the command line where no recipe file is read. Any other failure is
    /// returned as it is.
    /// </summary>
    public Exception Placed(Exception failure, Recipe recipe)
    {
        if (failure is AggregateException { InnerExceptions.Count: 1 } one) failure = one.InnerExceptions[0];
        if (failure is not FifoInputException refusal || PluginRefusal.SectionOf(refusal) is not { } section
            || RefusedOption.Of(refusal, section, recipe, parameters.ContainsKey, Words) is not { } refused) return failure;
        string? where = parameters.TryGetValue(refused.Path, out var parameter) ? parameter
            : refused.Location is { } at ? $"{at}: {refused.Path}"
            // A default has no parameter to blame: naming the one that would change it reads as if it had been given.
            : refused.Unset is null ? Words(refused.Path) : null;
        string message = refused.Said(refused.Unset is { } unset ? InCommandWords(refusal.Message, unset) : refusal.Message);
        return new FifoInputException(refusal.ErrorId, where is null ? message : $"{where}: {message}", refusal) { Option = refusal.Option };
    }

    /// <summary>
    /// A plugin's fix for a default, "set lookahead: false", as the command line gives it (-NoLookahead) where no recipe
    /// file is read: plugins say fixes in recipe keys, which a cmdlet user never wrote.
    /// </summary>
    string InCommandWords(string message, string path)
    {
        if (fromFile || settingOfKey is null) return message;
        string option = path[(path.LastIndexOf('.') + 1)..];
        return System.Text.RegularExpressions.Regex.Replace(message, $@"\bset {System.Text.RegularExpressions.Regex.Escape(option)}: ([^\s.;,]+)",
            fix => settingOfKey(path, fix.Groups[1].Value) is { } setting ? $"give {setting}" : fix.Value);
    }

    public (Recipe? Recipe, IReadOnlyList<Diagnostic> Diagnostics) Build(string? recipeFile, string workingDirectory)
    {
        fromFile = recipeFile is not null;
        var reader = new RecipeReader(ModuleState.Plugins) { Words = Words };
        var diagnostics = Disagreements(workingDirectory).ToList();
        MapNode root;
        string baseDirectory = workingDirectory;
        if (recipeFile is not null)
        {
            var full = Path.GetFullPath(Path.Combine(workingDirectory, recipeFile));
            if (RecipeReader.NoRecipeAt(full) is { } missing) return (null, new[] { missing });
            var parsed = RecipeNodes.FromYaml(File.ReadAllText(full), full, diagnostics);
            if (parsed is not MapNode map)
            {
                // The reader's own complaint names the top-level keys and points at the document's first line.
                if (diagnostics.Count == 0 && parsed is not null) reader.Read(parsed, full, Path.GetDirectoryName(full)!);
                var problems = diagnostics.Concat(reader.Diagnostics).ToList();
                return (null, problems.Count > 0 ? problems : new[] { new Diagnostic("(document)", $"recipe file '{full}' holds no recipe: it is empty", null, Array.Empty<string>()) });
            }
            root = map;
            baseDirectory = Path.GetDirectoryName(full)!;
        }
        else
        {
            root = new MapNode(new[] { new MapEntry("apiVersion", null, new ScalarNode(Recipe.CurrentApiVersion, false, null)) }, null);
        }
        root = Apply(root, diagnostics);
        var recipe = reader.Read(root, recipeFile is null ? null : Path.GetFullPath(Path.Combine(workingDirectory, recipeFile)), baseDirectory);
        Warnings.AddRange(reader.Warnings);
        // In the file's order, as an editor lists them; problems without a place (a missing key) first.
        var all = diagnostics.Concat(reader.Diagnostics.Select(d => ForParameter(d, root))).OrderBy(d => d.Line).ThenBy(d => d.Column).ToList();
        return (all.Count > 0 ? null : recipe, all);
    }

    /// <summary>
    /// An option a parameter set (-Partitions) that the chosen plugin does not have: the parameter exists, so the news is
    /// that this plugin takes no such option, not that the option's name is unknown.
    /// </summary>
    Diagnostic ForParameter(Diagnostic diagnostic, MapNode root)
    {
        // -SamplerOption's keys are the user's own words, where a misspelling is the likely news; -Partitions is ours.
        if (!parameters.TryGetValue(diagnostic.Path, out var parameter) || parameter.Contains(' ')
            || !diagnostic.Message.StartsWith("unknown option '", StringComparison.Ordinal)) return diagnostic;
        var parts = diagnostic.Path.Split('.');
        if (parts is not [var section, "with", var option]) return diagnostic;
        string plugin = root[section] switch
        {
            ScalarNode { Value: { } name } => $"{section} '{Text(name)}'",
            MapNode map when map["use"] is ScalarNode { Value: { } name } => $"{section} '{Text(name)}'",
            _ => $"recipe's {section}",
        };
        return diagnostic with
        {
            Message = $"the {plugin} takes no option '{option}' (its options: {string.Join(", ", diagnostic.ValidChoices)}); leave {parameter} out, or choose a {section} that takes it",
        };
    }

    /// <summary>
    /// The texts of the file's prompt, or of its prompt list; null where it has neither, or one the reader will refuse
    /// (which it then does, at the file's line, rather than a list rebuilt without the entries it would have named).
    /// </summary>
    static string[]? PromptsOfFile(MapNode root)
    {
        if (root["prompts"] is null) return root["prompt"] is ScalarNode { Value: { } single } ? new[] { Text(single) } : null;
        if (root["prompt"] is not null || root["prompts"] is not SequenceNode { Items.Count: > 0 } list) return null;
        var texts = list.Items.Select(item => item is MapNode span && span.Entries.All(e => e.Key is "prompt" or "frames") && span["prompt"] is ScalarNode { Value: { } text }
            ? Text(text) : null).ToList();
        return texts.All(t => t is not null) ? texts.Select(t => t!).ToArray() : null;
    }

    static string Text(object value) => Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture)!;

    /// <summary>
    /// The frame counts of the file's prompt schedule, one per prompt: its 'prompts' entries' or its single prompt's
    /// 'frames'; null where the file gives none it can be read for (its prompts share a source video, or a count is not
    /// a whole number, which the reader then reports at its line).
    /// </summary>
    static int[]? FrameCountsOfFile(MapNode root)
    {
        static int? Count(RecipeNode? node) => node is ScalarNode { Value: { } value }
            && int.TryParse(Text(value), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int count) && count >= 1 ? count : null;
        if (root["prompts"] is SequenceNode { Items.Count: > 0 } list)
        {
            var counts = list.Items.Select(item => item is MapNode span ? Count(span["frames"]) : null).ToList();
            return counts.All(c => c is not null) ? counts.Select(c => c!.Value).ToArray() : null;
        }
        return root["prompts"] is null && Count(root["frames"]) is { } frames ? new[] { frames } : null;
    }

    /// <summary>
    /// Counts for <paramref name="prompts"/> prompts that keep a schedule's length: as many prompts as it has take its
    /// counts in order; otherwise they share its total as evenly as whole frames allow (the first take one more where it
    /// does not divide), as prompts share a source video's frames. Null where the total is fewer frames than prompts, or
    /// more than one count can hold.
    /// </summary>
    static int[]? KeptLength(int[] schedule, int prompts)
    {
        if (schedule.Length == prompts) return schedule;
        long total = schedule.Sum(c => (long)c);
        if (total < prompts || total / prompts >= int.MaxValue) return null;
        return Enumerable.Range(0, prompts).Select(i => (int)(total / prompts + (i < total % prompts ? 1 : 0))).ToArray();
    }

    MapNode Apply(MapNode root, List<Diagnostic> diagnostics)
    {
        var entries = root.Entries.ToList();
        var topValues = new Dictionary<string, object?>(top, StringComparer.Ordinal);
        // -Override @{ frames = 64 } on a recipe with a prompt list: the counts go to its entries, one for all or one
        // each, as New-FifoVideo -Recipe -Frames gives them (a top-level frames beside a list is otherwise refused).
        var countsOfFilePrompts = framesOfFilePrompts;
        if (prompts is null && countsOfFilePrompts is null && !topValues.ContainsKey("prompt") && !topValues.ContainsKey("prompts")
            && root["prompts"] is not null && topValues.TryGetValue("frames", out var overriddenFrames) && LanguagePrimitives.TryConvertTo<int[]>(overriddenFrames, out var listCounts))
        {
            topValues.Remove("frames");
            countsOfFilePrompts = (listCounts, parameters.GetValueOrDefault("frames") ?? "frames");
        }
        // Prompts given as parameters replace the file's prompt or prompt list entirely.
        if (prompts is var (texts, frames))
        {
            // -Override @{ prompt = 'a', 'b'; frames = 64 }: the count goes with the prompts, as New-FifoVideo's -Frames does.
            if (frames is null && topValues.TryGetValue("frames", out var overridden) && LanguagePrimitives.TryConvertTo<int[]>(overridden, out var counts)
                && (counts.Length == 1 || counts.Length == texts.Length))
            {
                frames = counts;
                topValues.Remove("frames");
            }
            // A source video named by a parameter is another video: the file's frame count was for its own.
            bool sourceFromParameter = topValues.ContainsKey("source") || (this.entries.TryGetValue("source", out var source) && source.ContainsKey("path"));
            if (frames is null && texts is [var single] && root["frames"] is ScalarNode { Value: not null } && !sourceFromParameter)
            {
                topValues["prompt"] = single;
                entries.RemoveAll(e => e.Key is "prompt" or "prompts");
            }
            // New prompts for a recipe's schedule keep its length: its timing where they are as many, else its frames shared
            // (several beside a source video of the recipe's share the frames it selects, below).
            else if (frames is null && !sourceFromParameter && (root["source"] is null || texts.Length == 1) && FrameCountsOfFile(root) is { } scheduled)
            {
                long total = scheduled.Sum(c => (long)c);
                if (KeptLength(scheduled, texts.Length) is { } kept)
                {
                    topValues["prompts"] = PromptSchedule.Build(texts, kept);
                    entries.RemoveAll(e => e.Key is "prompt" or "prompts" or "frames");
                }
                // The file's own prompts stay for the reader, so this is the one problem said of the prompts, not one more of none.
                else diagnostics.Add(new Diagnostic("prompts", $"the recipe's {total} frames are too {(total < texts.Length ? "few" : "many")} for {texts.Length} " +
                                                               $"prompt{(texts.Length == 1 ? "" : "s")} to share; give their frame counts ({FramesParameter})", null, Array.Empty<string>()));
            }
            else
            {
                topValues["prompts"] = frames is null && (sourceFromParameter || root["source"] is not null)
                    ? PromptSchedule.Sharing(texts) : PromptSchedule.Build(texts, frames);
                entries.RemoveAll(e => e.Key is "prompt" or "prompts" or "frames");
            }
        }
        else if (topValues.ContainsKey("prompt") || topValues.ContainsKey("prompts"))
            entries.RemoveAll(e => e.Key is "prompt" or "prompts" or "frames");
        else if (countsOfFilePrompts is var (counts, parameter) && PromptsOfFile(root) is { } filePrompts)
        {
            // Named only where the counts are taken: a problem of the file's own prompts keeps its line in the file.
            parameters["prompts"] = parameters["frames"] = parameter;
            if (counts.Length != 1 && counts.Length != filePrompts.Length)
                diagnostics.Add(new Diagnostic("frames", $"give one frame count for all of the recipe's prompts or one each: it has {filePrompts.Length}, and {counts.Length} counts were given", null, Array.Empty<string>()));
            else if (root["prompts"] is not null)
            {
                topValues["prompts"] = PromptSchedule.Build(filePrompts, counts);
                entries.RemoveAll(e => e.Key is "prompts" or "frames");
            }
            else topValues["frames"] = counts[0];
        }
        foreach (var (key, value) in topValues) Put(entries, key, value);
        foreach (var (key, values) in this.entries)
        {
            var existing = root.Entries.FirstOrDefault(e => string.Equals(e.Key, key, StringComparison.OrdinalIgnoreCase))?.Value;
            var merged = Entries(existing, key);
            foreach (var (entry, value) in values) Put(merged, entry, value);
            Replace(entries, key, new MapNode(merged, existing?.Location));
        }
        foreach (var section in use.Keys.Union(with.Keys))
            Replace(entries, section, MergePlugin(root[section], section));
        return new MapNode(entries, root.Location);
    }

    /// <summary>The entries of the file's mapping under <paramref name="key"/>, its short form (source: walk.mp4, model: analytic) read as the reader reads it.</summary>
    static List<MapEntry> Entries(RecipeNode? existing, string key) => existing switch
    {
        MapNode map => map.Entries.ToList(),
        ScalarNode { Value: not null } single when RecipeKeys.ShortForm(key, single) is { } entry => new List<MapEntry> { entry },
        _ => new List<MapEntry>(),
    };

    /// <summary>What building noticed that is not an error (options a swapped plugin left behind, the reader's <see cref="RecipeReader.Warnings"/>); the cmdlet warns of each.</summary>
    public List<string> Warnings { get; } = new();

    RecipeNode MergePlugin(RecipeNode? existing, string section)
    {
        var entries = Entries(existing, section);
        if (use.TryGetValue(section, out var name))
        {
            if (entries.FirstOrDefault(e => e.Key == "use")?.Value is ScalarNode { Value: string old } && !string.Equals(old, name, StringComparison.OrdinalIgnoreCase))
                KeepSharedOptions(entries, section, old, name);
            Replace(entries, "use", new ScalarNode(name, false, null));
        }
        if (with.TryGetValue(section, out var options))
        {
            var withEntries = (entries.FirstOrDefault(e => e.Key == "with")?.Value as MapNode)?.Entries.ToList() ?? new List<MapEntry>();
            foreach (var (key, value) in options) Put(withEntries, key, value);
            Replace(entries, "with", new MapNode(withEntries, null));
        }
        return new MapNode(entries, existing?.Location);
    }

    /// <summary>
    /// The file's options for <paramref name="old"/> that <paramref name="name"/> has too (guidance, eta, steps for a
    /// sampler; size, device for a model) stay, so a sweep that swaps the plugin compares it under the same settings;
    /// the others cannot go to it, and are named.
    /// </summary>
    void KeepSharedOptions(List<MapEntry> entries, string section, string old, string name)
    {
        if (entries.FirstOrDefault(e => e.Key == "with")?.Value is not MapNode options) return;
        var kind = section == "model" ? PluginKind.Model : PluginKind.Sampler;
        var plugin = ModuleState.Plugins.Find(kind, name);
        var known = plugin?.Options.Select(o => o.Name).ToHashSet(StringComparer.OrdinalIgnoreCase) ?? new HashSet<string>();
        var dropped = options.Entries.Where(e => !known.Contains(e.Key)).Select(e => e.Key).ToList();
        // An unknown plugin is the reader's to report, with the names it knows.
        if (dropped.Count > 0 && plugin is not null)
            Warnings.Add($"{section} '{name}' takes the place of '{old}', and the recipe's {section}.with {string.Join(", ", dropped)} {(dropped.Count == 1 ? "is" : "are")} not " +
                         $"'{name}''s, so {(dropped.Count == 1 ? "it is" : "they are")} left out; the options both have stay." + StepsInsteadOfPartitions(dropped, options, known, name));
        Replace(entries, "with", new MapNode(options.Entries.Where(e => known.Contains(e.Key)).ToList(), options.Location));
    }

    /// <summary>
    /// FIFO's partitions n set its steps (n·f, f the model's window frames); a baseline takes the steps themselves, and
    /// without them the model's own partitions: a sweep that dropped n would compare at other steps unless told.
    /// </summary>
    static string StepsInsteadOfPartitions(List<string> dropped, MapNode options, HashSet<string> known, string name) =>
        dropped.Contains("partitions", StringComparer.OrdinalIgnoreCase) && known.Contains("steps")
        && !options.Entries.Any(e => string.Equals(e.Key, "steps", StringComparison.OrdinalIgnoreCase))
            ? $" '{name}' counts steps instead: partitions n made n·f steps (f: the model's window frames), and without steps it takes the model's " +
              "own partitions, so give 'sampler.with.steps' = n·f to compare at the same steps."
            : "";

    /// <summary>Sets <paramref name="key"/> to <paramref name="value"/>; null takes it out, so its default applies (-Override @{ snapshot = $null }).</summary>
    static void Put(List<MapEntry> entries, string key, object? value)
    {
        if (value is null) entries.RemoveAll(e => string.Equals(e.Key, key, StringComparison.OrdinalIgnoreCase));
        else Replace(entries, key, RecipeNodes.FromObject(value));
    }

    static void Replace(List<MapEntry> entries, string key, RecipeNode value)
    {
        int i = entries.FindIndex(e => string.Equals(e.Key, key, StringComparison.OrdinalIgnoreCase));
        if (i >= 0) entries[i] = new MapEntry(entries[i].Key, entries[i].KeyLocation, value);
        else entries.Add(new MapEntry(key, null, value));
    }
}
