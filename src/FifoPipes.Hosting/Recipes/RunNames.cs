namespace FifoPipes.Hosting.Recipes;

/// <summary>
/// {seed} and {hash} in an output path: recipes' sink, snapshot and resume paths and Export-FifoFrames' paths name
/// their run by them, so a sweep writes a file per run.
/// </summary>
public static class RunNames
{
    public const string Seed = "{seed}", Hash = "{hash}";

    /// <summary>
    /// Why <paramref name="path"/> names no run where it looks meant to: a brace word that is seed or hash in other
    /// case, one letter off, or with its letters swapped ("{Seed}", "{seeed}", "{hahs}") would be written into the file
    /// name as it is. Null where there is none; other brace words ("{step}", "{take}") and environment variables
    /// ("${HOST}") are left alone.
    /// </summary>
    public static string? Misspelt(string path)
    {
        foreach (System.Text.RegularExpressions.Match word in System.Text.RegularExpressions.Regex.Matches(path, @"(?<!\$)\{([A-Za-z]+)\}"))
            if (word.Value is not (Seed or Hash) && new[] { "seed", "hash" }.FirstOrDefault(name => Near(word.Groups[1].Value.ToLowerInvariant(), name)) is { } meant)
                return $"'{word.Value}' would be written into the name as it is: only {Seed} and {Hash}, in lower case, are filled in. Did you mean '{{{meant}}}'?";
        return null;
    }

    /// <summary>The same letters in another order, or one letter added, dropped or changed.</summary>
    static bool Near(string word, string name) =>
        word.Order().SequenceEqual(name.Order()) || Math.Abs(word.Length - name.Length) <= 1 && Options.OptionBinder.Distance(word, name) <= 1;

    public static bool In(string path) => path.Contains(Seed, StringComparison.Ordinal) || path.Contains(Hash, StringComparison.Ordinal);

    /// <param name="hash">The run hash, asked for only where the path names it: it reads the options and files.</param>
    public static string Fill(string path, string seed, Func<string> hash) =>
        path.Replace(Seed, seed, StringComparison.Ordinal) is var named && named.Contains(Hash, StringComparison.Ordinal)
            ? named.Replace(Hash, hash(), StringComparison.Ordinal) : named;
}
