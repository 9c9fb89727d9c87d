using System.Globalization;
using System.Text.Json;
using FifoPipes.Abstractions;

namespace FifoPipes.Torch.Diffusers;

/// <summary>
/// Reads one diffusers/transformers config.json and keeps track of what it read, so that a mapping
/// onto our modules can report every key it did not understand instead of silently dropping it.
/// Absent keys and JSON null take the class default, as diffusers' from_config does.
/// Keys that would change the network to something this port cannot build are errors
/// (<see cref="Expect(string, string)"/> and friends); keys nobody looked at end up in <see cref="UnreadKeys"/>.
/// </summary>
public sealed class DiffusersConfig
{
    readonly HashSet<string> read = new(StringComparer.Ordinal);
    readonly List<string> problems = new();
    // Values no model can have (a damaged or hand-edited file), as opposed to ones this port does not build.
    readonly List<string> invalid = new();

    /// <summary>Wraps a parsed config; <paramref name="source"/> names it in messages.</summary>
    /// <exception cref="FifoInputException">"DiffusersConfigInvalid" when <paramref name="json"/> is not a JSON object.</exception>
    public DiffusersConfig(JsonElement json, string source)
    {
        if (json.ValueKind != JsonValueKind.Object)
            throw new FifoInputException("DiffusersConfigInvalid", $"{source} is not a JSON object; is it a diffusers config.json?");
        Json = json;
        Source = source;
    }

    /// <summary>The parsed config object, for what the typed readers do not cover; reading it directly marks no key as read.</summary>
    public JsonElement Json { get; }
    /// <summary>The file (or fixture) the config came from, for messages.</summary>
    public string Source { get; }

    /// <summary>Reads and parses a config.json file.</summary>
    public static DiffusersConfig Load(string path)
    {
        if (!File.Exists(path))
            throw new FifoInputException("DiffusersFileMissing", $"'{path}' does not exist; a diffusers model folder needs a config.json in every component folder (download the whole folder).");
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            return new DiffusersConfig(doc.RootElement.Clone(), path);
        }
        catch (JsonException ex)
        {
            throw new FifoInputException("DiffusersConfigInvalid", $"'{path}' is not valid JSON ({ex.Message}); re-download it.", ex);
        }
    }

    bool TryGet(string key, out JsonElement value)
    {
        read.Add(key);
        return Json.TryGetProperty(key, out value) && value.ValueKind != JsonValueKind.Null;
    }

    /// <summary>Whether <paramref name="key"/> is present and not null. Only a probe: the key still counts as unread until read or ignored.</summary>
    public bool Has(string key) => Json.TryGetProperty(key, out var v) && v.ValueKind != JsonValueKind.Null;

    /// <summary>
    /// Reads <paramref name="key"/> as an integer and marks it read; absent or null gives <paramref name="fallback"/>. A value of
    /// another kind also gives the fallback and is recorded as a problem, which <see cref="Finish"/> throws.
    /// </summary>
    public int Int(string key, int fallback) => TryGet(key, out var v) ? (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) ? i : Bad(key, v, "an integer", fallback)) : fallback;

    /// <summary>
    /// As <see cref="Int(string, int)"/>, within <paramref name="min"/>..<paramref name="max"/>: a value outside is recorded as
    /// invalid (<see cref="Invalid"/>) and returned as it is, so later checks must not trust it before <see cref="Finish"/>.
    /// </summary>
    public int Int(string key, int fallback, int min, int max)
    {
        int value = Int(key, fallback);
        if (value < min || value > max) Invalid(key, $"must be within {min}..{max}");
        return value;
    }

    /// <summary>
    /// As <see cref="Int(string, int)"/>, for a number; JSON that overflows a double (1e400) is recorded as invalid, not
    /// read as an infinity that would silently poison every value computed from it.
    /// </summary>
    public double Double(string key, double fallback)
    {
        if (!TryGet(key, out var v)) return fallback;
        if (v.ValueKind != JsonValueKind.Number) return Bad(key, v, "a number", fallback);
        if (v.TryGetDouble(out double value) && double.IsFinite(value)) return value;
        Invalid(key, "must be a finite number");
        return double.NaN;
    }

    /// <summary>As <see cref="Double(string, double)"/>, within <paramref name="min"/>..<paramref name="max"/> (as <see cref="Int(string, int, int, int)"/>).</summary>
    public double Double(string key, double fallback, double min, double max)
    {
        double value = Double(key, fallback);
        if (double.IsFinite(value) && (value < min || value > max))
            Invalid(key, $"must be within {min.ToString(CultureInfo.InvariantCulture)}..{max.ToString(CultureInfo.InvariantCulture)}");
        return value;
    }

    /// <summary>As <see cref="Int(string, int)"/>, for true or false.</summary>
    public bool Bool(string key, bool fallback) => TryGet(key, out var v) ? (v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : Bad(key, v, "true or false", fallback)) : fallback;

    /// <summary>As <see cref="Int(string, int)"/>, for a string.</summary>
    public string String(string key, string fallback) => TryGet(key, out var v) ? (v.ValueKind == JsonValueKind.String ? v.GetString()! : Bad(key, v, "a string", fallback)) : fallback;

    /// <summary>As <see cref="Int(string, int)"/>, for a list of integers.</summary>
    public IReadOnlyList<int> Ints(string key, IReadOnlyList<int> fallback) => TryGet(key, out var v)
        ? v.ValueKind == JsonValueKind.Array && v.EnumerateArray().All(e => e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out _))
            ? v.EnumerateArray().Select(e => e.GetInt32()).ToArray()
            : Bad(key, v, "a list of integers", fallback)
        : fallback;

    /// <summary>As <see cref="Int(string, int)"/>, for a list of strings.</summary>
    public IReadOnlyList<string> Strings(string key, IReadOnlyList<string> fallback) => TryGet(key, out var v)
        ? v.ValueKind == JsonValueKind.Array && v.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String)
            ? v.EnumerateArray().Select(e => e.GetString()!).ToArray()
            : Bad(key, v, "a list of strings", fallback)
        : fallback;

    /// <summary>Marks keys that do not affect the computation (bookkeeping, training-only, sizes we take from elsewhere).</summary>
    public void Ignore(params string[] keys)
    {
        foreach (var k in keys) read.Add(k);
    }

    /// <summary>The key, when present and not null, must have this value: any other value would need a network we do not build.</summary>
    public void Expect(string key, string supported)
    {
        if (TryGet(key, out var v) && !(v.ValueKind == JsonValueKind.String && v.GetString() == supported))
            problems.Add($"{key} = {v.GetRawText()} (only \"{supported}\" is supported)");
    }

    /// <summary>As <see cref="Expect(string, string)"/>, for a number (compared exactly).</summary>
    public void Expect(string key, double supported)
    {
        if (TryGet(key, out var v) && !(v.ValueKind == JsonValueKind.Number && v.GetDouble() == supported))
            problems.Add($"{key} = {v.GetRawText()} (only {supported.ToString(CultureInfo.InvariantCulture)} is supported)");
    }

    /// <summary>As <see cref="Expect(string, string)"/>, for true or false.</summary>
    public void Expect(string key, bool supported)
    {
        if (TryGet(key, out var v) && !(v.ValueKind is JsonValueKind.True or JsonValueKind.False && v.GetBoolean() == supported))
            problems.Add($"{key} = {v.GetRawText()} (only {(supported ? "true" : "false")} is supported)");
    }

    /// <summary>The key must be absent or null (a feature this port does not implement).</summary>
    public void ExpectNull(string key, string feature)
    {
        if (TryGet(key, out var v)) problems.Add($"{key} = {v.GetRawText()} ({feature} is not supported; it must be null)");
    }

    /// <summary>Records a problem found while interpreting values (e.g. inconsistent block types).</summary>
    public void Problem(string message) => problems.Add(message);

    /// <summary>
    /// Records a value of <paramref name="key"/> that no model can have (the file is damaged or was edited), quoting the value
    /// as the file has it, or saying the key is absent; <paramref name="requirement"/> says what it must be.
    /// <see cref="Finish"/> then throws "DiffusersConfigInvalid".
    /// </summary>
    public void Invalid(string key, string requirement)
    {
        read.Add(key);
        string value = Json.TryGetProperty(key, out var v) && v.ValueKind != JsonValueKind.Null ? $" = {v.GetRawText()}" : " (absent, so the default)";
        invalid.Add($"{key}{value}: {requirement}");
    }

    /// <summary>Keys present in the file that no mapping read or ignored, in file order.</summary>
    public IReadOnlyList<string> UnreadKeys => Json.EnumerateObject().Select(p => p.Name).Where(k => !read.Contains(k)).ToList();

    /// <summary>
    /// Throws <see cref="FifoInputException"/> listing every problem: "DiffusersConfigUnsupported" when a value needs a network
    /// FifoPipes does not build, else "DiffusersConfigInvalid" when values are out of range (<see cref="Invalid"/>);
    /// returns one warning per unread key (the caller logs them: they may or may not matter).
    /// </summary>
    public IReadOnlyList<string> Finish(string what)
    {
        if (problems.Count + invalid.Count > 0)
        {
            string fix = invalid.Count == 0 ? ""
                : " A value out of range means the file is damaged or was edited: restore it from the model's repository (download the model folder again).";
            throw new FifoInputException(problems.Count > 0 ? "DiffusersConfigUnsupported" : "DiffusersConfigInvalid",
                $"{Source}: this {what} configuration cannot be built by FifoPipes: {string.Join("; ", invalid.Concat(problems))}.{fix}");
        }
        return UnreadKeys.Select(k => $"{Source}: unknown {what} config key '{k}' = {Json.GetProperty(k).GetRawText()} was not used; " +
            "if it changes the network the results will be wrong (newer diffusers version?).").ToList();
    }

    /// <summary>Records a wrongly typed value and carries on with the default, so every problem is reported at once.</summary>
    T Bad<T>(string key, JsonElement v, string expected, T fallback)
    {
        problems.Add($"{key} = {v.GetRawText()} (expected {expected})");
        return fallback;
    }
}
