using System.Management.Automation;

namespace FifoPipes.PowerShell.Engine;

/// <summary>
/// A -Name parameter as Get-Command reads it: wildcard patterns, case-insensitive, all names when none is given; and
/// a plain name (no wildcard) that matched nothing is an error, where a pattern may match nothing.
/// </summary>
/// <param name="plainNameAlsoMatches">
/// For names a plain name stands for besides itself (owner/name for owner/name@main in the model store): called with the
/// name given and the name tested.
/// </param>
sealed class NameFilter(string[]? names, Func<string, string, bool>? plainNameAlsoMatches = null)
{
    readonly List<(string Given, WildcardPattern Pattern)> patterns =
        (names ?? new[] { "*" }).Select(n => (n, new WildcardPattern(n, WildcardOptions.IgnoreCase))).ToList();
    readonly HashSet<string> matchedGiven = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Whether <paramref name="name"/> is asked for; the names given that match it are remembered for <see cref="UnmatchedPlainNames"/>.</summary>
    public bool Matches(string name)
    {
        bool any = false;
        foreach (var (given, pattern) in patterns)
        {
            if (!pattern.IsMatch(name) && !AlsoMatches(given, name)) continue;
            matchedGiven.Add(given);
            any = true;
        }
        return any;
    }

    bool AlsoMatches(string given, string name) =>
        plainNameAlsoMatches is not null && !WildcardPattern.ContainsWildcardCharacters(given) && plainNameAlsoMatches(given, name);

    /// <summary>The plain names given that matched nothing passed to <see cref="Matches"/>.</summary>
    public IEnumerable<string> UnmatchedPlainNames() =>
        (names ?? Array.Empty<string>()).Where(n => !WildcardPattern.ContainsWildcardCharacters(n) && !matchedGiven.Contains(n));
}
