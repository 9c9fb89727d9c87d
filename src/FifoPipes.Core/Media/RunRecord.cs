using FifoPipes.Abstractions;

namespace FifoPipes.Core.Media;

/// <summary>
/// The run a file's record names (<see cref="VideoFrame.Provenance"/>: "FifoPipes run HASH" and key=value lines), read
/// for the one question a sink or reader asks before it treats two files' frames as one video: are they. Two runs are
/// where their settings are the same and one's prompt schedule goes on from the other's (its last span longer, perhaps
/// more spans after it): a finished run made longer keeps its frames (the sampler's RunExtension), under another run
/// hash. The plugins' versions and the rate are not compared: a run resumes across both.
/// </summary>
public sealed class RunRecord
{
    RunRecord(string hash, List<string> others, List<(string Prompt, long Frames)> spans, bool spansLeftOut, bool cut)
    {
        Hash = hash; Others = others; Spans = spans; SpansLeftOut = spansLeftOut; Cut = cut;
    }

    /// <summary>The run hash, as the record's first line names it.</summary>
    public string Hash { get; }
    // The settings but the prompt spans, as the record writes them.
    List<string> Others { get; }
    List<(string Prompt, long Frames)> Spans { get; }
    // A long schedule is recorded in part ("prompts: N more"), a long record cut: what is not there cannot differ.
    bool SpansLeftOut { get; }
    bool Cut { get; }

    /// <summary>The frames the run planned; null where the record does not hold its whole schedule.</summary>
    public long? PlannedFrames => SpansLeftOut || Cut || Spans.Count == 0 ? null : Spans.Sum(s => s.Frames);

    /// <summary>The seed the record names; null where it names none.</summary>
    public string? Seed => Others.FirstOrDefault(l => l.StartsWith("seed=", StringComparison.Ordinal))?["seed=".Length..];

    /// <summary>The first prompt of its schedule; null where it records none.</summary>
    public string? FirstPrompt => Spans.Count > 0 ? Spans[0].Prompt : null;

    /// <summary>A record read back; null where it is none (it does not start "FifoPipes run").</summary>
    public static RunRecord? Parse(string record)
    {
        var lines = FileRecord.Split(record).Run.Split('\n').ToList();
        if (!lines[0].StartsWith(ProvenanceReader.Mark, StringComparison.Ordinal)) return null;
        // RunProvenance's cut note; the line before it was cut mid-way, so neither is a setting.
        int cutAt = lines.FindIndex(l => l.StartsWith("(cut;", StringComparison.Ordinal));
        if (cutAt > 0) lines.RemoveRange(cutAt - 1, lines.Count - cutAt + 1);
        bool leftOut = lines.Skip(1).Any(l => l.StartsWith("prompts: ", StringComparison.Ordinal));
        var settings = lines.Skip(1).Select(l => (Line: l, At: l.IndexOf('='))).Where(l => l.At > 0)
            .Select(l => KeyValuePair.Create(l.Line[..l.At], l.Line[(l.At + 1)..]));
        return From(lines[0][ProvenanceReader.Mark.Length..].Trim(), settings, leftOut, cutAt > 0);
    }

    /// <summary>A record already read into its settings (key, value; RunProvenance), with whether prompts were left out of it or it was cut.</summary>
    public static RunRecord From(string hash, IEnumerable<KeyValuePair<string, string>> settings, bool promptsLeftOut, bool cut)
    {
        var (others, spans) = (new List<string>(), new List<(string, long)>());
        foreach (var (key, value) in settings)
        {
            if (key is "plugins" or "fps") continue;
            if (!SnapshotMetadata.IsPromptSpan(key)) others.Add(key + "=" + value);
            else if (SnapshotMetadata.PromptSpanValue(value) is { } span) spans.Add(span);
        }
        return new RunRecord(hash, others, spans, promptsLeftOut, cut);
    }

    /// <summary>Whether this run's frames and <paramref name="other"/>'s are one video: the same run, or one of them made longer.</summary>
    public bool SameVideoAs(RunRecord other)
    {
        if (Hash == other.Hash) return true;
        // A cut record lost its last settings: those both still hold must agree.
        bool othersAgree = Cut || other.Cut
            ? Others.Take(other.Others.Count).SequenceEqual(other.Others.Take(Others.Count), StringComparer.Ordinal)
            : Others.SequenceEqual(other.Others, StringComparer.Ordinal);
        return othersAgree && (GoesOn(this, other) || GoesOn(other, this));
    }

    /// <summary>Whether <paramref name="now"/>'s schedule is <paramref name="then"/>'s, its last span as long or longer, perhaps more after it.</summary>
    static bool GoesOn(RunRecord then, RunRecord now)
    {
        if (then.Spans.Count == 0 || now.Spans.Count < then.Spans.Count) return false;
        // Spans left out after the visible ones: the last visible one is not the run's last, so it may not grow.
        bool thenPartial = then.SpansLeftOut || then.Cut;
        if (thenPartial) return (now.SpansLeftOut || now.Cut) && then.Spans.SequenceEqual(now.Spans.Take(then.Spans.Count));
        int last = then.Spans.Count - 1;
        return then.Spans.Take(last).SequenceEqual(now.Spans.Take(last))
               && now.Spans[last].Prompt == then.Spans[last].Prompt && now.Spans[last].Frames >= then.Spans[last].Frames;
    }

    /// <summary>
    /// Whether this run is <paramref name="earlier"/> made longer, not the same or shorter: both records whole, every
    /// setting alike, the schedule going on from the earlier one's with more frames in all.
    /// </summary>
    public bool Extends(RunRecord earlier) =>
        PlannedFrames is { } now && earlier.PlannedFrames is { } then && now > then
        && Others.SequenceEqual(earlier.Others, StringComparer.Ordinal) && GoesOn(earlier, this);

    /// <summary>"run 'hash' (prompt 'lava', seed 3)", as a message names it.</summary>
    public override string ToString()
    {
        var (seed, prompt) = (Seed, FirstPrompt);
        var about = string.Join(", ", new[] { prompt is null ? null : $"prompt '{(prompt.Length > 60 ? prompt[..60] + "..." : prompt)}'", seed is null ? null : $"seed {seed}" }.OfType<string>());
        return $"run '{Hash}'" + (about.Length > 0 ? $" ({about})" : "");
    }
}
