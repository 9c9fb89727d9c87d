namespace FifoPipes.Hosting.Recipes;

/// <summary>
/// The recipe's own vocabulary, shared by the reader and by whatever builds recipe trees from parameters: the keys of
/// each mapping and the short forms in which a single value stands for one entry of a mapping.
/// </summary>
public static class RecipeKeys
{
    public static readonly IReadOnlyList<string> Top = new[]
    {
        "apiVersion", "model", "sampler", "prompt", "frames", "prompts", "negativePrompt", "seed", "fps", "width", "height", "sinks", "overwrite",
        "snapshot", "resume", "init", "source", "livePrompt",
    };
    public static readonly IReadOnlyList<string> Use = new[] { "use", "with" };
    public static readonly IReadOnlyList<string> Snapshot = new[] { "path", "every" };
    public static readonly IReadOnlyList<string> Source = new[] { "path", "strength", "fps", "start", "loop" };

    /// <summary>The entry a single value stands for under <paramref name="key"/> (model: analytic is its use; source: a.mp4 its path), or null.</summary>
    public static string? ShortFormEntry(string key) => key switch
    {
        "model" or "sampler" => "use",
        "source" => "path",
        _ => null,
    };

    /// <summary>A short form (source: walk.mp4) as the one entry of the mapping it stands for; null where <paramref name="key"/> has none.</summary>
    public static MapEntry? ShortForm(string key, ScalarNode value) => ShortFormEntry(key) is { } entry ? new MapEntry(entry, value.Location, value) : null;

    /// <summary>
    /// A dotted key (as -Override names one) spelled as the recipe spells its keys, whatever case it came in; a word
    /// that is no key of its mapping, and plugin option names (which bind in any case), stay as given.
    /// </summary>
    public static string[] Canonical(IReadOnlyList<string> parts)
    {
        var canonical = parts.ToArray();
        if (canonical.Length == 0) return canonical;
        canonical[0] = Spelled(canonical[0], Top);
        if (canonical.Length > 1 && KeysUnder(canonical[0]) is { } keys) canonical[1] = Spelled(canonical[1], keys);
        return canonical;
    }

    static IReadOnlyList<string>? KeysUnder(string key) => key switch
    {
        "model" or "sampler" => Use,
        "snapshot" => Snapshot,
        "source" => Source,
        _ => null,
    };

    static string Spelled(string word, IReadOnlyList<string> keys) =>
        keys.FirstOrDefault(k => string.Equals(k, word, StringComparison.OrdinalIgnoreCase)) ?? word;
}
