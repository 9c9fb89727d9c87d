using System.Management.Automation;
using FifoPipes.Hosting.Engine;

namespace FifoPipes.PowerShell.Engine;

/// <summary>-WhatIf that also says what would stop the real run, where PowerShell's own would only list the outputs.</summary>
static class WhatIf
{
    /// <summary>
    /// <see cref="Cmdlet.ShouldProcess(string, string)"/>, with PowerShell's own wording, that also says whether the
    /// answer came from -WhatIf (rather than No to -Confirm).
    /// </summary>
    public static bool ShouldProcess(Cmdlet cmdlet, string target, string action, out bool whatIf)
    {
        string operation = $"Performing the operation \"{action}\" on target \"{target}\".";
        // The words and caption PowerShell's own two-argument ShouldProcess shows at -Confirm.
        bool go = cmdlet.ShouldProcess(operation, "Are you sure you want to perform this action?" + Environment.NewLine + operation, "Confirm", out var reason);
        whatIf = reason == ShouldProcessReason.WhatIf;
        return go;
    }

    /// <summary>
    /// Warns of every output the sinks would refuse (a file in the way, a missing ffmpeg, an RTMP server that does not
    /// answer: their checks run as for a real run and as Test-FifoRecipe runs them), where the real run stops at the first.
    /// </summary>
    public static void WarnOfRefusals(Cmdlet cmdlet, SinkSet sinks)
    {
        foreach (var (_, _, problem) in sinks.Problems())
            cmdlet.WriteWarning($"What if: the run would stop before its first frame: {problem.Message}");
    }
}
