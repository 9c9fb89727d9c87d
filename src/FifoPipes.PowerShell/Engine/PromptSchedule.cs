using System.Collections;
using System.Management.Automation;

namespace FifoPipes.PowerShell.Engine;

static class PromptSchedule
{
    /// <summary>Frames each prompt gets when nothing decides otherwise: 16 windows of 8 frames.</summary>
    const int DefaultFrames = 16 * 8;

    static string Counted(int count, string noun) => $"{count} {noun}{(count == 1 ? "" : "s")}";

    /// <summary>One frame count for all prompts, or one per prompt.</summary>
    public static void Check(string[] prompts, int[]? frames)
    {
        if (frames is not null && frames.Length != 1 && frames.Length != prompts.Length)
            throw new PSArgumentException($"Give one -Frames value for all prompts or one per prompt: {Counted(prompts.Length, "prompt")}, {Counted(frames.Length, "frame count")}.");
    }

    /// <summary>Pairs prompts with frame counts (<see cref="DefaultFrames"/> each without any), as <see cref="Check"/> allows.</summary>
    public static object[] Build(string[] prompts, int[]? frames)
    {
        frames ??= new[] { DefaultFrames };
        return prompts.Select((p, i) => (object)new Hashtable { ["prompt"] = p, ["frames"] = frames.Length == 1 ? frames[0] : frames[i] }).ToArray();
    }

    /// <summary>Prompts without frame counts: the recipe reader shares a source video's frames among them.</summary>
    public static object[] Sharing(string[] prompts) => prompts.Select(p => (object)new Hashtable { ["prompt"] = p }).ToArray();
}
