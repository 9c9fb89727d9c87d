using FifoPipes.Abstractions;

namespace FifoPipes.Hosting.Models;

/// <summary>
/// The stored files a recipe's model reads because it names a saved preset. A file damaged on disk since its save (a
/// disk error, an edit; its size unchanged, so the store still counts it) fails the model's load with the reader's
/// own error, which knows nothing of the store: this adds how to fetch the file again.
/// </summary>
/// <param name="LocalPaths">Where the preset's files are in the store.</param>
public sealed record StoredPresetFiles(string Preset, IReadOnlyList<string> LocalPaths)
{
    /// <summary>Runs <paramref name="call"/>, a model's describe or load, adding the fix to an error that finds one of the stored files damaged.</summary>
    public static T Explained<T>(StoredPresetFiles? stored, Func<T> call)
    {
        try { return call(); }
        catch (FifoInputException failure) when (stored?.Explain(failure) is { } explained) { throw explained; }
    }

    /// <summary>
    /// <paramref name="failure"/> with the fix added where it says a stored file's content is wrong; null for any other
    /// error, which is left as it was thrown.
    /// </summary>
    public FifoInputException? Explain(FifoInputException failure)
    {
        if (!IsDamage(failure.ErrorId)) return null;
        var said = Slashed(failure.Message);
        // The longest: "model.ckpt" must not be taken for the "model.ckpt.index" the error names.
        if (LocalPaths.Where(p => said.Contains(Slashed(p), StringComparison.Ordinal)).MaxBy(p => p.Length) is not { } damaged) return null;
        var message = failure.Message.TrimEnd();
        var explained = new FifoInputException(failure.ErrorId, $"{message}{(message.EndsWith('.') ? "" : ".")} {Fix(damaged)}", failure) { Option = failure.Option };
        // What the reader and the run marked on it (the reason, which plugin refused) stays readable on the error thrown on.
        foreach (System.Collections.DictionaryEntry entry in failure.Data) explained.Data[entry.Key] = entry.Value;
        return explained;
    }

    string Fix(string path) =>
        $"The file is in the model store, saved for the preset '{Preset}': run Save-FifoModel -Name {Preset} -Verify to check the stored files " +
        $"and download the damaged ones again (or delete '{path}' and run Save-FifoModel -Name {Preset}).";

    /// <summary>
    /// The readers' ids for content that is not what it should be. Not "...Unreadable" (the disk failed a read; the file
    /// may be whole) nor a mismatch with the options (a whole file of another model): downloading again would not help.
    /// </summary>
    static bool IsDamage(string errorId) =>
        errorId.EndsWith("Corrupt", StringComparison.Ordinal) || errorId.EndsWith("ConfigInvalid", StringComparison.Ordinal);

    // Option values name stored folders with forward slashes on every platform; the readers repeat what they were given.
    static string Slashed(string text) => text.Replace('\\', '/');
}
