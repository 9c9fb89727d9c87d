namespace FifoPipes.Hosting.Recipes;

/// <summary>
/// {seed} and {hash} in an output path: recipes' sink, snapshot and resume paths and Export-FifoFrames' paths name
/// their run by them, so a sweep writes a file per run.
/// </summary>
public static class RunNames
{
    public const string Seed = "{seed}", Hash = "{hash}";

    public static bool In(string path) => path.Contains(Seed, StringComparison.Ordinal) || path.Contains(Hash, StringComparison.Ordinal);

    /// <param name="hash">The run hash, asked for only where the path names it: it reads the options and files.</param>
    public static string Fill(string path, string seed, Func<string> hash) =>
        path.Replace(Seed, seed, StringComparison.Ordinal) is var named && named.Contains(Hash, StringComparison.Ordinal)
            ? named.Replace(Hash, hash(), StringComparison.Ordinal) : named;
}
