using System.Management.Automation;
using FifoPipes.Hosting.Engine;
using FifoPipes.Hosting.Recipes;

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
    /// What a run of <paramref name="recipe"/> would do, as -WhatIf and -Confirm say it: "Generate 400 frames", or for a
    /// resume, where it goes on and what it has left to make (the frames its snapshot counts are made already).
    /// </summary>
    public static string Action(Recipe recipe)
    {
        if (recipe.ResumeFrom is not { } snapshot) return $"Generate {recipe.Frames} frames";
        if (FileFrames.TakenAfter(snapshot) is not { } made)
            return $"Resume from '{snapshot}' up to frame {recipe.Frames}";
        long left = recipe.Frames - made;
        return left > 0
            ? $"Resume after frame {made} of {recipe.Frames} from '{snapshot}' ({left} frames to make)"
            : $"Resume after frame {made} from '{snapshot}' (none to make: the run planned {recipe.Frames}; give its last prompt more frames, or add prompts, to go on)";
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
