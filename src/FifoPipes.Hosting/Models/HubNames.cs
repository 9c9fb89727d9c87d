using FifoPipes.Abstractions;

namespace FifoPipes.Hosting.Models;

/// <summary>
/// Checks the names that become URLs and store paths (repository ids, revisions, file paths), so a
/// catalog entry or a hub listing can never write outside the model store.
/// </summary>
public static class HubNames
{
    /// <summary>owner/name, as the hub spells repository ids.</summary>
    public static string CheckRepository(string repository)
    {
        var parts = (repository ?? "").Split('/');
        if (parts.Length != 2 || !parts.All(IsNamePart))
            throw new FifoInputException("InvalidRepository",
                $"'{repository}' is not a model repository id; give it as owner/name, e.g. VideoCrafter/VideoCrafter2.");
        return repository!;
    }

    /// <summary>A branch, tag or commit; "refs/pr/N" style refs are allowed.</summary>
    public static string CheckRevision(string revision)
    {
        if (string.IsNullOrWhiteSpace(revision) || revision.Split('/').Any(p => p is "" or "." or ".." || p.Any(c => char.IsControl(c) || c is '\\' or ':' or '?' or '#' or '%')))
            throw new FifoInputException("InvalidRevision", $"'{revision}' is not a revision; give a branch (main), a tag or a commit id.");
        return revision;
    }

    /// <summary>
    /// A relative path inside a repository, with forward slashes and no '..'. On Windows also none of the characters it
    /// reserves: "C:evil.dll" would be a path on drive C, not in the store.
    /// </summary>
    public static string CheckFilePath(string path)
    {
        if (string.IsNullOrWhiteSpace(path) || path.StartsWith('/') || path.Contains('\\') ||
            path.Split('/').Any(p => p is "" or "." or ".." || p.Any(char.IsControl) || (OperatingSystem.IsWindows() && p.IndexOfAny(WindowsReserved) >= 0)))
            throw new FifoInputException("InvalidModelFile", $"'{path}' is not a file path inside a repository (relative, forward slashes, no '..'), e.g. unet/config.json.");
        return path;
    }

    static readonly char[] WindowsReserved = { ':', '*', '?', '"', '<', '>', '|' };

    /// <summary>The store folder name of a revision: slashes (refs/pr/46) become "--".</summary>
    public static string RevisionFolder(string revision) => CheckRevision(revision).Replace("/", "--", StringComparison.Ordinal);

    /// <summary>Each path segment escaped for a URL, the slashes kept.</summary>
    public static string EscapePath(string path) => string.Join('/', path.Split('/').Select(Uri.EscapeDataString));

    static bool IsNamePart(string p) =>
        p.Length is > 0 and <= 96 && p is not ("." or "..") && char.IsAsciiLetterOrDigit(p[0]) &&
        p.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');
}
