using System.Collections.ObjectModel;
using System.Management.Automation;

namespace FifoPipes.PowerShell.Engine;

/// <summary>
/// -Path and -LiteralPath as PowerShell's own file cmdlets take them: -Path expands wildcards to every matching file, in
/// order; a path without wildcards, and any -LiteralPath, is taken as written, so a missing file is reported where it is
/// read, with the rest of its problems.
/// </summary>
static class PathArguments
{
    /// <summary>The file system paths meant; none (after an error naming the pattern) when a wildcard matches nothing.</summary>
    public static IReadOnlyList<string> Resolve(PSCmdlet cmdlet, string path, bool literal)
    {
        var paths = cmdlet.SessionState.Path;
        if (literal || !WildcardPattern.ContainsWildcardCharacters(path))
            return new[] { paths.GetUnresolvedProviderPathFromPSPath(path) };
        Collection<string> matches;
        ProviderInfo provider;
        try { matches = paths.GetResolvedProviderPathFromPSPath(path, out provider); }
        catch (Exception ex) when (ex is ItemNotFoundException or System.Management.Automation.DriveNotFoundException or ProviderNotFoundException) { matches = new Collection<string>(); provider = null!; }
        if (matches.Count > 0 && provider.Name != "FileSystem")
        {
            cmdlet.WriteError(new ErrorRecord(new PSArgumentException($"'{path}' is a {provider.Name} path; give files."), "NotAFileSystemPath", ErrorCategory.InvalidArgument, path));
            return Array.Empty<string>();
        }
        if (matches.Count == 0)
            cmdlet.WriteError(new ErrorRecord(new ItemNotFoundException($"No file matches '{path}'. Use -LiteralPath for a name that holds [ ] or * itself."),
                "PathNotFound", ErrorCategory.ObjectNotFound, path));
        return matches.OrderBy(p => p, StringComparer.Ordinal).ToList();
    }
}
