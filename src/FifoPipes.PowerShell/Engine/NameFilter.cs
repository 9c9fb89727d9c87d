using System.Management.Automation;

namespace FifoPipes.PowerShell.Engine;

/// <summary>
/// A -Name parameter as Get-Command reads it: wildcard patterns, case-insensitive, all names when none is given; and
/// a plain name (no wildcard) that matched nothing is an error, where a pattern may match nothing.
/// </summary>
sealed class NameFilter(string[]? names)
{
    readonly List<WildcardPattern> patterns = (names ?? new[] { "*" }).Select(n => new WildcardPattern(n, WildcardOptions.IgnoreCase)).ToList();
    readonly HashSet<string> matched = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Whether <paramref name="name"/> is asked for; a match is remembered for <see cref="UnmatchedPlainNames"/>.</summary>
    public bool Matches(string name)
    {
        if (!patterns.Any(p => p.IsMatch(name))) return false;
        matched.Add(name);
        return true;
    }

    /// <summary>The plain names given that matched nothing passed to <see cref="Matches"/>.</summary>
    public IEnumerable<string> UnmatchedPlainNames() =>
        (names ?? Array.Empty<string>()).Where(n => !WildcardPattern.ContainsWildcardCharacters(n) && !matched.Contains(n));
}
