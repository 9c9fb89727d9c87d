using System.Management.Automation;

namespace FifoPipes.PowerShell.Engine;

/// <summary>
/// What a cmdlet wrote, as the FileSystem provider's items (Get-Item's objects): a bare FileInfo shows empty mode, owner
/// and size columns, since PowerShell's file view reads properties the provider adds; the provider's item also pipes on
/// to Remove-Item, Copy-Item and the like by its provider path.
/// </summary>
static class WrittenItems
{
    /// <summary>
    /// The written files as output, or, where the command passed its frames on (-PassThru), as verbose lines and on the
    /// information stream (tag <see cref="InformationTag"/>, for -InformationVariable): a file after the frames would
    /// reach the next command (Export-FifoFrames) as input it cannot bind, an error at the end.
    /// </summary>
    public static void Write(PSCmdlet cmdlet, IEnumerable<string> paths, bool framesPassedOn)
    {
        if (!framesPassedOn)
        {
            Write(cmdlet, paths);
            return;
        }
        foreach (var path in paths.Distinct())
        {
            cmdlet.WriteVerbose($"Wrote {path}");
            cmdlet.WriteInformation(path, new[] { InformationTag });
        }
    }

    public const string InformationTag = "FifoWrittenFile";

    public static void Write(PSCmdlet cmdlet, IEnumerable<string> paths)
    {
        foreach (var path in paths.Distinct())
            cmdlet.WriteObject(ItemAt(cmdlet, path));
    }

    static object ItemAt(PSCmdlet cmdlet, string path)
    {
        try
        {
            // Provider-qualified: the FileSystem's item whatever provider the session's location is on.
            if (cmdlet.InvokeProvider.Item.Get(new[] { "FileSystem::" + path }, true, true) is { Count: 1 } items) return items[0];
        }
        catch (Exception ex) when (ex is not PipelineStoppedException)
        {
            // The file is written whatever the provider makes of its path: the lookup only dresses it for display.
        }
        return Directory.Exists(path) ? new DirectoryInfo(path) : new FileInfo(path);
    }
}
