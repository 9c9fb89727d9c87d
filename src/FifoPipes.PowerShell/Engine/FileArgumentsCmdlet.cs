using System.Management.Automation;

namespace FifoPipes.PowerShell.Engine;

/// <summary>
/// A cmdlet that reads files named as PowerShell's own file cmdlets take them: -Path with wildcards, or -LiteralPath as
/// written, which is also where files piped in from Get-ChildItem bind. Each cmdlet's help describes the files it wants.
/// </summary>
public abstract class FileArgumentsCmdlet : PSCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = "Path", ValueFromPipeline = true)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = Array.Empty<string>();

    [Parameter(Mandatory = true, ParameterSetName = "LiteralPath", ValueFromPipelineByPropertyName = true)]
    [Alias("PSPath", "FullName", "LP")]
    [ValidateNotNullOrEmpty]
    public string[] LiteralPath { get; set; } = Array.Empty<string>();

    /// <summary>The files this pipeline input names, in the order given, each pattern's matches in order (<see cref="PathArguments.Resolve"/>).</summary>
    protected IEnumerable<string> Files()
    {
        bool literal = ParameterSetName == "LiteralPath";
        return (literal ? LiteralPath : Path).SelectMany(path => PathArguments.Resolve(this, path, literal));
    }
}
