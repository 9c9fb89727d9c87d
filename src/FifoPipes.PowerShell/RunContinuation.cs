using FifoPipes.Abstractions;
using FifoPipes.Hosting.Recipes;

namespace FifoPipes.PowerShell;

/// <summary>
/// Which run a file that two runs wrote belongs to. A PNG sequence and an HLS playlist are carried on in place by a
/// resumed run, and a run extended past its end (-Resume with more frames) has a run hash of its own, the longer run's:
/// its frames are the very frames of a run planned that long, first ones included, so the file is that run's, and its
/// record, in the last frame or the last part's init segment, is the one whose recipe makes the whole file again.
/// </summary>
internal static class RunContinuation
{
    /// <summary>
    /// The run <paramref name="first"/> and <paramref name="last"/>, the records of a file's first and last frames, say
    /// the file holds: the longer run where the last goes on from the first, else the first. A last record of another
    /// run entirely (frames piped in from a second run, files copied in) comes back as a note saying so; null where
    /// there is nothing to say.
    /// </summary>
    /// <param name="lastPart">What the last record belongs to, as the note names it: "its last frame, 59".</param>
    public static (RunProvenance Run, string? Note) Of(RunProvenance first, RunProvenance? last, string lastPart)
    {
        if (last is null || last.RunHash == first.RunHash) return (first, null);
        if (Extends(first, last)) return (last, null);
        return (first, $"{lastPart} was made by another run, {last.RunHash}; this record is of the run {first.RunHash} that made the first.");
    }

    /// <summary>
    /// Whether <paramref name="later"/> is <paramref name="earlier"/> made longer: every setting alike but the prompt
    /// schedule (and the plugins' versions, which a resume may change with a warning), which is the earlier one's with
    /// its last span longer and perhaps more spans after it (the fifo sampler's RunExtension). Records cut short keep
    /// part of their schedule and are not compared.
    /// </summary>
    static bool Extends(RunProvenance earlier, RunProvenance later)
    {
        if (!Whole(earlier) || !Whole(later)) return false;
        var (thenOthers, thenSpans) = Split(earlier);
        var (nowOthers, nowSpans) = Split(later);
        if (!thenOthers.SequenceEqual(nowOthers) || thenSpans is not { Count: > 0 } || nowSpans is null || nowSpans.Count < thenSpans.Count) return false;
        int last = thenSpans.Count - 1;
        for (int i = 0; i < last; i++)
            if (thenSpans[i] != nowSpans[i]) return false;
        return nowSpans[last].Prompt == thenSpans[last].Prompt && nowSpans[last].Frames >= thenSpans[last].Frames
               && nowSpans.Sum(s => s.Frames) > thenSpans.Sum(s => s.Frames);
    }

    static bool Whole(RunProvenance run) => run.MissingPrompts == 0 && !run.Cut;

    const string PluginsKey = "plugins";

    /// <summary>The settings but the prompts and plugins, and the prompt spans (null where one is not text|frames).</summary>
    static (List<KeyValuePair<string, string>> Others, List<(string Prompt, long Frames)>? Spans) Split(RunProvenance run)
    {
        var others = new List<KeyValuePair<string, string>>();
        var spans = new List<(string Prompt, long Frames)>();
        foreach (var setting in run.Settings)
        {
            if (setting.Key == PluginsKey) continue;
            if (!SnapshotMetadata.IsPromptSpan(setting.Key)) { others.Add(setting); continue; }
            if (SnapshotMetadata.PromptSpanValue(setting.Value) is not { } span) return (others, null);
            spans.Add(span);
        }
        return (others, spans);
    }
}
