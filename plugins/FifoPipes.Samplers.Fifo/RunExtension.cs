using FifoPipes.Abstractions;

namespace FifoPipes.Samplers.Fifo;

/// <summary>
/// A run that goes on past the end of a snapshot's run: every setting the same but the prompt schedule, which is the
/// snapshot's with its last span longer and perhaps more spans after it. Every window of a FIFO iteration takes the
/// prompt of the queue's head frame, which never reaches the end of the run before the run's last snapshot, and the
/// run otherwise never looks at its length: so the extension makes exactly the frames of a run planned that long,
/// spans added after the old end included.
/// </summary>
public sealed record RunExtension(long FramesBefore, long FramesNow)
{
    /// <summary>The extension <paramref name="runSettings"/> makes of <paramref name="snapshotSettings"/> (run settings as the run hash reads them); null where it is not one.</summary>
    public static RunExtension? Of(string snapshotSettings, string runSettings)
    {
        var (thenOthers, thenSpans) = Split(snapshotSettings);
        var (nowOthers, nowSpans) = Split(runSettings);
        if (!thenOthers.SequenceEqual(nowOthers, StringComparer.Ordinal) || !Extends(thenSpans, nowSpans)) return null;
        long before = thenSpans!.Sum(s => s.Frames), now = nowSpans!.Sum(s => s.Frames);
        return now > before ? new RunExtension(before, now) : null;
    }

    /// <summary>Whether the run's prompt schedule is the snapshot's or goes on from it, whatever the other settings (so a refusal need not list it).</summary>
    public static bool PromptsGoOn(string snapshotSettings, string runSettings) => Extends(Split(snapshotSettings).Spans, Split(runSettings).Spans);

    /// <summary>The same spans, the last one as long or longer, perhaps more after it.</summary>
    static bool Extends(List<(string Prompt, long Frames)>? then, List<(string Prompt, long Frames)>? now)
    {
        if (then is null || now is null || then.Count == 0 || now.Count < then.Count) return false;
        int last = then.Count - 1;
        for (int i = 0; i < last; i++)
            if (then[i] != now[i]) return false;
        return now[last].Prompt == then[last].Prompt && now[last].Frames >= then[last].Frames;
    }

    /// <summary>The settings other than the prompts, as lines, and the prompt spans (null where a span's value is not text|frames).</summary>
    static (List<string> Others, List<(string Prompt, long Frames)>? Spans) Split(string settings)
    {
        var others = new List<string>();
        var spans = new List<(string, long)>();
        foreach (var (key, value) in SnapshotMetadata.Settings(settings))
        {
            if (!SnapshotMetadata.IsPromptSpan(key)) { others.Add(key + "=" + value); continue; }
            if (SnapshotMetadata.PromptSpanValue(value) is not { } span) return (others, null);
            spans.Add(span);
        }
        return (others, spans);
    }
}
