using FifoPipes.Abstractions;
using FifoPipes.Core.Media;

namespace FifoPipes.Sinks.Images;

/// <summary>
/// The run a PNG frame records (<see cref="VideoFrame.Provenance"/>, in its "FifoPipes" text chunk), read for the one
/// question the sink asks of a folder: are its frames and this run's one video. Two runs are where their settings are
/// the same and one's prompt schedule goes on from the other's (its last span longer, perhaps more spans after it): a
/// finished run made longer keeps its frames (the sampler's RunExtension), under another run hash.
/// </summary>
internal sealed class FrameRunRecord
{
    FrameRunRecord(string hash, List<string> others, List<(string Prompt, long Frames)> spans, bool spansLeftOut, bool cut)
    {
        Hash = hash; Others = others; Spans = spans; SpansLeftOut = spansLeftOut; Cut = cut;
    }

    /// <summary>The run hash, as the record's first line names it.</summary>
    public string Hash { get; }
    // The settings but the prompt spans, as the record writes them (the plugins' versions and the rate left out: neither
    // is what the frames are, and a run resumes across an update).
    List<string> Others { get; }
    List<(string Prompt, long Frames)> Spans { get; }
    // A long schedule is recorded in part ("prompts: N more"), a long record cut: what is not there cannot differ.
    bool SpansLeftOut { get; }
    bool Cut { get; }

    /// <summary>The frames the run planned; null where the record does not hold its whole schedule.</summary>
    public long? PlannedFrames => SpansLeftOut || Cut || Spans.Count == 0 ? null : Spans.Sum(s => s.Frames);

    /// <summary>The record a PNG file carries; null for one FifoPipes did not write as a frame (the user's own picture, another program's, an unreadable file).</summary>
    public static string? Of(string path)
    {
        try { return ProvenanceReader.Read(path, RecordingFile.Png) is { } record && record.StartsWith(ProvenanceReader.Mark, StringComparison.Ordinal) ? record : null; }
        catch (FifoInputException) { return null; }
    }

    /// <summary>A record read back; null where it is none (it does not start "FifoPipes run").</summary>
    public static FrameRunRecord? Parse(string record)
    {
        var lines = FileRecord.Split(record).Run.Split('\n').ToList();
        if (!lines[0].StartsWith(ProvenanceReader.Mark, StringComparison.Ordinal)) return null;
        // RunProvenance's cut note; the line before it was cut mid-way, so neither is a setting.
        int cutAt = lines.FindIndex(l => l.StartsWith("(cut;", StringComparison.Ordinal));
        if (cutAt > 0) lines.RemoveRange(cutAt - 1, lines.Count - cutAt + 1);
        var (others, spans) = (new List<string>(), new List<(string, long)>());
        bool leftOut = false;
        foreach (var line in lines.Skip(1))
        {
            int equals = line.IndexOf('=');
            if (equals <= 0) { leftOut |= line.StartsWith("prompts: ", StringComparison.Ordinal); continue; }
            var key = line[..equals];
            if (key is "plugins" or "fps") continue;
            if (!SnapshotMetadata.IsPromptSpan(key)) others.Add(line);
            else if (SnapshotMetadata.PromptSpanValue(line[(equals + 1)..]) is { } span) spans.Add(span);
        }
        return new FrameRunRecord(lines[0][ProvenanceReader.Mark.Length..].Trim(), others, spans, leftOut, cutAt > 0);
    }

    /// <summary>Whether this run's frames and <paramref name="other"/>'s are one video: the same run, or one of them made longer.</summary>
    public bool SameVideoAs(FrameRunRecord other)
    {
        if (Hash == other.Hash) return true;
        // A cut record lost its last settings: those both still hold must agree.
        bool othersAgree = Cut || other.Cut
            ? Others.Take(other.Others.Count).SequenceEqual(other.Others.Take(Others.Count), StringComparer.Ordinal)
            : Others.SequenceEqual(other.Others, StringComparer.Ordinal);
        return othersAgree && (GoesOn(this, other) || GoesOn(other, this));
    }

    /// <summary>Whether <paramref name="now"/>'s schedule is <paramref name="then"/>'s, its last span as long or longer, perhaps more after it.</summary>
    static bool GoesOn(FrameRunRecord then, FrameRunRecord now)
    {
        if (then.Spans.Count == 0 || now.Spans.Count < then.Spans.Count) return false;
        // Spans left out after the visible ones: the last visible one is not the run's last, so it may not grow.
        bool thenPartial = then.SpansLeftOut || then.Cut;
        if (thenPartial) return (now.SpansLeftOut || now.Cut) && then.Spans.SequenceEqual(now.Spans.Take(then.Spans.Count));
        int last = then.Spans.Count - 1;
        return then.Spans.Take(last).SequenceEqual(now.Spans.Take(last))
               && now.Spans[last].Prompt == then.Spans[last].Prompt && now.Spans[last].Frames >= then.Spans[last].Frames;
    }

    /// <summary>"run 'hash' (prompt 'lava', seed 3)", as a message names it.</summary>
    public override string ToString()
    {
        var seed = Others.FirstOrDefault(l => l.StartsWith("seed=", StringComparison.Ordinal))?["seed=".Length..];
        var prompt = Spans.Count > 0 ? Spans[0].Prompt : null;
        var about = string.Join(", ", new[] { prompt is null ? null : $"prompt '{(prompt.Length > 60 ? prompt[..60] + "..." : prompt)}'", seed is null ? null : $"seed {seed}" }.OfType<string>());
        return $"run '{Hash}'" + (about.Length > 0 ? $" ({about})" : "");
    }
}
