namespace FifoPipes.Hosting.Models;

/// <summary>
/// The names Get-FifoModel and Remove-FifoModel take: a saved preset's name, or owner/name@revision for files saved by
/// hand, where owner/name alone means that repository at the revisions the store holds of it.
/// </summary>
public static class StoredModelNames
{
    /// <summary>
    /// Whether <paramref name="given"/> (a name without wildcards) names the stored model <paramref name="stored"/>: the same
    /// name in any case, or owner/name for owner/name@revision, as Save-FifoModel -Repository takes it without -Revision.
    /// </summary>
    public static bool Names(string given, string stored) =>
        string.Equals(given, stored, StringComparison.OrdinalIgnoreCase)
        || (IsRepositoryWithoutRevision(given) && stored.StartsWith(given + "@", StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// The stored models <paramref name="given"/> names when it is owner/name alone and the store holds that repository
    /// at several revisions, for a command that must not pick one for the user; empty otherwise.
    /// </summary>
    public static IReadOnlyList<string> AmbiguousRevisions(string given, IEnumerable<string> stored)
    {
        if (!IsRepositoryWithoutRevision(given)) return Array.Empty<string>();
        var named = stored.Where(s => Names(given, s)).ToList();
        return named.Count > 1 ? named : Array.Empty<string>();
    }

    // A preset's name has no slash, and a pattern (me/*) is the caller's to match.
    static bool IsRepositoryWithoutRevision(string name) =>
        name.Contains('/') && !name.Contains('@') && name.IndexOfAny(WildcardCharacters) < 0;

    static readonly char[] WildcardCharacters = { '*', '?', '[', ']' };
}
