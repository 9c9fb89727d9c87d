using System.Collections;
using System.Management.Automation;

namespace FifoPipes.PowerShell.Engine;

static class PromptSchedule
{
    /// <summary>Pairs prompts with frame counts: one count for all prompts, or one per prompt.</summary>
    public static object[] Build(string[] prompts, int[]? frames)
    {
        frames ??= new[] { 16 * 8 };
        if (frames.Length != 1 && frames.Length != prompts.Length)
            throw new PSArgumentException($"Give one -Frames value for all prompts or one per prompt: {prompts.Length} prompts, {frames.Length} frame counts.");
        return prompts.Select((p, i) => (object)new Hashtable { ["prompt"] = p, ["frames"] = frames.Length == 1 ? frames[0] : frames[i] }).ToArray();
    }

    /// <summary>Prompts without frame counts: the recipe reader shares a source video's frames among them.</summary>
    public static object[] Sharing(string[] prompts) => prompts.Select(p => (object)new Hashtable { ["prompt"] = p }).ToArray();
}
