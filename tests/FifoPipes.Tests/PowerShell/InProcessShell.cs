using System.Management.Automation;
using System.Management.Automation.Runspaces;
using FifoPipes.PowerShell.Commands;
using Xunit;

namespace FifoPipes.Tests.PowerShell;

/// <summary>A real PowerShell runspace in this process with the module's cmdlets imported.</summary>
static class InProcessShell
{
    /// <summary>New-FifoVideo arguments for a tiny analytic video that takes milliseconds.</summary>
    public const string Tiny = "-ModelOption @{ height = 8; width = 8; channels = 2; frames = 4 } -Partitions 2 -Seed 3";

    public static System.Management.Automation.PowerShell New(string workingDirectory)
    {
        var shell = System.Management.Automation.PowerShell.Create(InitialSessionState.CreateDefault2());
        shell.AddCommand("Import-Module").AddParameter("Assembly", typeof(NewFifoVideoCommand).Assembly).Invoke();
        shell.Commands.Clear();
        // Set-Location lives in a module only pwsh ships; the session state API does the same.
        shell.Runspace.SessionStateProxy.Path.SetLocation(workingDirectory);
        return shell;
    }

    /// <summary>Runs a script that must succeed; returns its output objects.</summary>
    public static List<object> Run(string workingDirectory, string script)
    {
        using var shell = New(workingDirectory);
        shell.AddScript(script);
        var output = shell.Invoke();
        if (shell.HadErrors)
            throw new Xunit.Sdk.XunitException("PowerShell errors: " + string.Join(" | ", shell.Streams.Error.Select(e => e.ToString())));
        return output.Select(o => o.BaseObject).ToList();
    }

    /// <summary>Runs a script that must fail; returns its (first) error.</summary>
    public static ErrorRecord RunFailing(string workingDirectory, string script)
    {
        using var shell = New(workingDirectory);
        shell.AddScript(script);
        try { shell.Invoke(); }
        catch (RuntimeException ex) { return ex.ErrorRecord; }
        Assert.True(shell.HadErrors, "expected the script to fail");
        return shell.Streams.Error[0];
    }
}
