using System.Globalization;
using System.Text;
using FifoPipes.Abstractions;
using FifoPipes.Core.Media;
using FifoPipes.Hosting.Plugins;

namespace FifoPipes.Hosting.Recipes;

/// <summary>
/// A run's provenance (<see cref="Recipe.Provenance"/>, as a file stores it) read back: the run hash, the settings in
/// order, and the recipe that makes the same frames.
/// </summary>
public sealed class RunProvenance
{
    // The record's format, written by RecipeHash and read here.
    internal const string CutNote = "(cut; the run hash names the whole run)";
    const string MorePromptsStart = "prompts: ", MorePromptsEnd = " more";
    internal static string MorePrompts(int count) => string.Create(CultureInfo.InvariantCulture, $"{MorePromptsStart}{count}{MorePromptsEnd}");

    RunProvenance(string runHash, IReadOnlyList<KeyValuePair<string, string>> settings, int missingPrompts, bool cut, long? fileFirstFrame)
    {
        RunHash = runHash;
        Settings = settings;
        MissingPrompts = missingPrompts;
        Cut = cut;
        FileFirstFrame = fileFirstFrame;
    }

    public string RunHash { get; }
    /// <summary>"key=value" settings in the order the run lists them (the plugins' versions, model, sampler, prompts, negative prompt, seed, start image, rate).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Settings { get; }
    /// <summary>Prompt spans the record leaves out (it keeps a long schedule's first 32).</summary>
    public int MissingPrompts { get; }
    /// <summary>Whether the record was cut at its length limit.</summary>
    public bool Cut { get; }
    /// <summary>The run's frame the file starts at where its record says one (<see cref="FileRecord"/>): none says frame 0 or a record read from no file.</summary>
    public long? FileFirstFrame { get; }
    /// <summary>
    /// Whether <see cref="ToRecipe"/> holds every setting, so it makes the very frames of the run: not where the record
    /// was cut, nor where prompts could change while the run went (livePrompt: the record, written first, cannot say they did not).
    /// </summary>
    public bool Complete => MissingPrompts == 0 && !Cut && Value("livePrompt") is null;

    /// <summary>Reads a provenance record; <paramref name="source"/> names where it came from in errors.</summary>
    public static RunProvenance Parse(string text, string source)
    {
        var (run, fileFirstFrame) = FileRecord.Split(text);
        var lines = run.Split('\n');
        if (!lines[0].StartsWith(ProvenanceReader.Mark, StringComparison.Ordinal))
            throw new FifoInputException("ProvenanceInvalid", $"'{source}' holds no FifoPipes run record (it starts '{First(lines[0])}').");
        var settings = new List<KeyValuePair<string, string>>();
        int missing = 0;
        int cutAt = Array.FindIndex(lines, l => l.StartsWith(CutNote, StringComparison.Ordinal));
        bool cut = cutAt > 0;
        // The line before the cut mark was cut mid-way: it is left out, not read as a setting.
        foreach (var line in lines.Skip(1).Take(cut ? cutAt - 2 : lines.Length - 1))
        {
            if (line.StartsWith(MorePromptsStart, StringComparison.Ordinal) && line.EndsWith(MorePromptsEnd, StringComparison.Ordinal)
                && int.TryParse(line[MorePromptsStart.Length..^MorePromptsEnd.Length], NumberStyles.None, CultureInfo.InvariantCulture, out int more))
            {
                missing = more;
                continue;
            }
            int equals = line.IndexOf('=');
            if (equals <= 0) throw new FifoInputException("ProvenanceInvalid", $"'{source}' has a run record line that is not key=value: '{First(line)}'.");
            settings.Add(KeyValuePair.Create(line[..equals], RecipeHash.FromOneLine(line[(equals + 1)..])));
        }
        return new RunProvenance(lines[0][ProvenanceReader.Mark.Length..].Trim(), settings, missing, cut, fileFirstFrame);
    }

    /// <summary>
    /// A run read from a snapshot's record of it (<see cref="Recipe.RunSettings"/>, unescaped: a prompt's line breaks
    /// start lines that name no setting, which belong to the line before).
    /// </summary>
    /// <param name="runPlugins">The plugins' versions where the snapshot records them (<see cref="SnapshotMetadata.Plugins"/>), listed first as a file's record lists them.</param>
    public static RunProvenance FromRunSettings(string runHash, string runSettings, string source, string? runPlugins = null)
    {
        var escaped = SnapshotMetadata.Settings(runSettings).Select(s => s.Key + "=" + RecipeHash.OneLine(s.Value));
        if (!string.IsNullOrEmpty(runPlugins)) escaped = escaped.Prepend(PluginsSetting(runPlugins));
        return Parse(ProvenanceReader.Mark + runHash + "\n" + string.Join("\n", escaped), source);
    }

    // A plugin's version is its attribute's free text: escaped as every setting is, so no line break splits the record.
    internal static string PluginsSetting(string runPlugins) => PluginsKey + "=" + RecipeHash.OneLine(runPlugins);

    const string PluginsKey = "plugins";

    internal static string FpsSetting(double fps) => "fps=" + fps.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>
    /// <paramref name="record"/> saying its frames play at <paramref name="fps"/> (Export-FifoFrames -Fps): the rate is
    /// no part of what the frames are, but the recipe read back from the file should play them as the file does.
    /// </summary>
    public static string WithFps(string record, double fps)
    {
        var lines = record.Split('\n').Where(l => !l.StartsWith("fps=", StringComparison.Ordinal)).ToList();
        // A cut record ends in the line cut mid-way and the note: the rate goes before both, where it is read.
        int cutAt = lines.FindIndex(l => l.StartsWith(CutNote, StringComparison.Ordinal));
        lines.Insert(cutAt > 1 ? cutAt - 1 : lines.Count, FpsSetting(fps));
        return string.Join("\n", lines);
    }

    static string First(string text) => text.Length <= 60 ? text : text[..60] + "...";

    /// <summary>
    /// The recipe of the run, as YAML, without sinks (New-FifoVideo -Recipe, or add 'sinks:' for Invoke-FifoRecipe);
    /// with <paramref name="resumeFrom"/>, one that continues from that snapshot.
    /// </summary>
    /// <param name="plugins">
    /// The plugins here, whose model says which of its options size the frames and in what unit: those read back as
    /// the top-level width: and height: in pixels, which is how the docs teach sizes (a model counting latent cells
    /// records 8 where the user asked for 64). Without them, or for a model not here, the sizes stay as recorded.
    /// </param>
    public string ToRecipe(string? resumeFrom = null, PluginHost? plugins = null)
    {
        var yaml = new StringBuilder();
        yaml.Append("# The run ").Append(RunHash).Append(", read back from what its files record.\n");
        if (MissingPrompts > 0) yaml.Append("# The record keeps the first prompt spans only: ").Append(MissingPrompts).Append(" more are missing, so this recipe makes another run.\n");
        if (Cut) yaml.Append("# The record was cut at its length limit: settings after the cut are missing, so this recipe makes another run.\n");
        if (Value(PluginsKey) is { } versions)
            yaml.Append("# Made with ").Append(new string(versions.Select(c => char.IsControl(c) ? ' ' : c).ToArray())).Append(": other versions of these plugins may make other frames.\n");
        yaml.Append("apiVersion: ").Append(Recipe.CurrentApiVersion).Append('\n');
        var frameSizes = Value("model") is { } model ? FrameSizesInPixels(plugins, model) : new();
        foreach (var role in new[] { "model", "sampler" })
        {
            if (Value(role) is not { } plugin) continue;
            yaml.Append(role).Append(":\n  use: ").Append(plugin).Append('\n');
            var options = Settings.Where(s => s.Key.StartsWith(role + ".", StringComparison.Ordinal) && !frameSizes.Any(f => f.Setting == s.Key)).ToList();
            if (options.Count == 0) continue;
            yaml.Append("  with:\n");
            foreach (var (key, value) in options) yaml.Append("    ").Append(key[(role.Length + 1)..]).Append(": ").Append(OptionValue(value)).Append('\n');
        }
        foreach (var (_, side, pixels) in frameSizes) yaml.Append(side).Append(": ").Append(pixels.ToString(CultureInfo.InvariantCulture)).Append('\n');
        var prompts = Settings.Where(s => SnapshotMetadata.IsPromptSpan(s.Key)).ToList();
        if (prompts.Count > 0)
        {
            yaml.Append("prompts:\n");
            foreach (var (key, value) in prompts)
            {
                if (SnapshotMetadata.PromptSpanValue(value) is not { } span)
                    throw new FifoInputException("ProvenanceInvalid", $"The record's {key} is '{First(value)}', not prompt|frames.");
                yaml.Append("  - { prompt: ").Append(Quoted(span.Prompt)).Append(", frames: ").Append(span.Frames).Append(" }\n");
            }
        }
        if (Value("negativePrompt") is { } negative) yaml.Append("negativePrompt: ").Append(Quoted(negative)).Append('\n');
        if (Value("seed") is { } seed) yaml.Append("seed: ").Append(seed).Append('\n');
        if (Value("fps") is { } fps) yaml.Append("fps: ").Append(fps).Append('\n');
        if (Value("init") is { } init) yaml.Append("init: ").Append(Quoted(init)).Append('\n');
        if (Value("source") is { } source)
        {
            yaml.Append("source: { path: ").Append(Quoted(source)).Append(", strength: ").Append(Value("source.strength") ?? SamplingJob.DefaultSourceStrength.ToString("R", CultureInfo.InvariantCulture));
            // The record holds the other settings only where given, as the recipe's own keys.
            foreach (var key in RecipeKeys.Source.Except(new[] { "path", "strength" }))
                if (Value("source." + key) is { } given) yaml.Append(", ").Append(key).Append(": ").Append(given);
            yaml.Append(" }\n");
        }
        if (Value("livePrompt") is { } live)
            // The record is written before the first frame, so it cannot tell whether the file ever changed.
            yaml.Append("# Its prompts could change while it ran, as the livePrompt file said: the recipe makes the same frames up to the first change, if there was one.\n")
                .Append("livePrompt: ").Append(Quoted(live)).Append('\n');
        if (resumeFrom is not null) yaml.Append("resume: ").Append(Quoted(resumeFrom)).Append('\n');
        return yaml.ToString();
    }

    /// <summary>
    /// The model's recorded frame-size settings (model.width=8) as top-level sizes in pixels (width: 64), where its
    /// plugin is here to give the unit and the size lies on the model's pixel grid, so the recipe reads back to the very
    /// same options.
    /// </summary>
    List<(string Setting, string Side, int Pixels)> FrameSizesInPixels(PluginHost? plugins, string model)
    {
        var sizes = new List<(string, string, int)>();
        if (plugins?.Find(PluginKind.Model, model) is not { } plugin) return sizes;
        foreach (var option in plugin.Options.Where(o => o.FrameSide != FrameSide.None))
        {
            string setting = "model." + option.Name;
            if (!int.TryParse(Value(setting), NumberStyles.None, CultureInfo.InvariantCulture, out int units)) continue;
            long pixels = (long)units * option.PixelsPerUnit;
            if (pixels > int.MaxValue || pixels % option.PixelStep != 0) continue;
            sizes.Add((setting, option.FrameSide == FrameSide.Width ? "width" : "height", (int)pixels));
        }
        return sizes;
    }

    /// <summary>The prompt schedule's spans as the record lists them (its first 32 of a longer one: <see cref="MissingPrompts"/>).</summary>
    public IReadOnlyList<(string Prompt, long Frames)> PromptSpans =>
        Settings.Where(s => SnapshotMetadata.IsPromptSpan(s.Key)).Select(s => SnapshotMetadata.PromptSpanValue(s.Value)).OfType<(string Prompt, long Frames)>().ToList();

    /// <summary>A setting's value by its key (seed, model, negativePrompt, ...); null where the run lists none.</summary>
    public string? Value(string key) => Settings.Where(s => s.Key == key).Select(s => s.Value).FirstOrDefault();

    /// <summary>
    /// An option as the run listed it (OptionDescriptor.Format) in YAML: a quoted string quoted again, "unset" as null,
    /// a list of strings item by item, numbers, booleans and choices as they are.
    /// </summary>
    static string OptionValue(string formatted)
    {
        if (formatted == "unset") return "~";
        if (IsQuoted(formatted)) return Quoted(formatted[1..^1]);
        // Format writes a list of strings as ['a', 'b'] without escaping the items; "', '" is taken as the separator.
        if (formatted.Length > 2 && formatted[0] == '[' && formatted[^1] == ']' && IsQuoted(formatted[1..^1]))
            return "[" + string.Join(", ", formatted[2..^2].Split("', '").Select(Quoted)) + "]";
        if (formatted.Length >= 2 && formatted[0] == '[' && formatted[^1] == ']')
            return "[" + string.Join(", ", formatted[1..^1].Split(", ", StringSplitOptions.RemoveEmptyEntries).Select(item => item == "unset" ? "~" : item)) + "]";
        return formatted;
    }

    static bool IsQuoted(string text) => text.Length >= 2 && text[0] == '\'' && text[^1] == '\'';

    /// <summary>
    /// A YAML scalar for any text: single-quoted, or double-quoted with escapes when it holds what single quotes would
    /// fold (control characters, Unicode line and paragraph separators).
    /// </summary>
    static string Quoted(string text)
    {
        if (!text.Any(c => char.IsControl(c) || c is '\u2028' or '\u2029')) return "'" + text.Replace("'", "''") + "'";
        var escaped = new StringBuilder("\"");
        foreach (char c in text)
            escaped.Append(c switch
            {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                _ when char.IsControl(c) || c is '\u2028' or '\u2029' => $"\\u{(int)c:x4}",
                _ => c.ToString(),
            });
        return escaped.Append('"').ToString();
    }
}
