using System.Globalization;
using FifoPipes.Core.Media;

namespace FifoPipes.Sinks.Ffmpeg;

/// <summary>
/// The run a file's record names, as far as a sink must tell runs apart before it adds frames to an earlier file: the
/// same run, or one that only goes on past its end (its last prompt given more frames, perhaps prompts after it, as a
/// resume that extends a finished run does), adds frames that belong there; any other run's would be mixed into it.
/// </summary>
/// <remarks>
/// The record is "FifoPipes run HASH" and key=value lines (docs/reliability.md); the plugins' versions and the rate are
/// left out of the comparison, as a resume goes on across both (the rate is compared by the segments' timing).
/// </remarks>
internal sealed record RecordedRun(string Hash, IReadOnlyList<string> Others, IReadOnlyList<(string Prompt, long Frames)>? Spans, string Seed)
{
    const string PromptKey = "prompts[";
    static readonly string[] NotTheRun = { "plugins=", "fps=" };

    /// <summary>Why <paramref name="earlier"/>'s frames are not this run's (<paramref name="now"/>), naming both runs; null where they are, or either records none.</summary>
    public static string? Other(string? earlier, string? now)
    {
        if (Parse(earlier) is not { } then || Parse(now) is not { } run || then.Hash == run.Hash || run.GoesOnFrom(then) || then.GoesOnFrom(run)) return null;
        return $"{AnotherRuns} ({then.Name}), and this run is {run.Name}";
    }

    /// <summary>How <see cref="Other"/>'s reason starts: a playlist of another run is that run's to end, not this one's.</summary>
    public const string AnotherRuns = "it holds another run's frames";

    /// <summary>"run 1a2b3c (seed 4, 'calm ocean')": enough to tell two runs apart in a message.</summary>
    string Name => $"run {Hash} (seed {Seed}{(Spans is { Count: > 0 } spans ? $", '{spans[0].Prompt}'" : "")})";

    /// <summary>Every setting the same, the prompt schedule <paramref name="earlier"/>'s with its last span as long or longer, perhaps more after it.</summary>
    bool GoesOnFrom(RecordedRun earlier)
    {
        if (Spans is not { } now || earlier.Spans is not { } then || then.Count == 0 || now.Count < then.Count) return false;
        if (!Others.SequenceEqual(earlier.Others, StringComparer.Ordinal)) return false;
        int last = then.Count - 1;
        return now.Take(last).SequenceEqual(then.Take(last)) && now[last].Prompt == then[last].Prompt && now[last].Frames >= then[last].Frames;
    }

    /// <summary>The run a record names; null where there is none. A cut record, or one that leaves prompts out, has no spans: only its hash counts.</summary>
    internal static RecordedRun? Parse(string? record)
    {
        if (record is null) return null;
        var lines = FileRecord.Split(record).Run.Split('\n');
        if (!lines[0].StartsWith(ProvenanceReader.Mark, StringComparison.Ordinal)) return null;
        var others = new List<string>();
        List<(string, long)>? spans = new();
        string seed = "?";
        foreach (var line in lines.Skip(1))
        {
            if (NotTheRun.Any(key => line.StartsWith(key, StringComparison.Ordinal))) continue;
            if (line.StartsWith("seed=", StringComparison.Ordinal)) seed = line[5..];
            int equals = line.IndexOf('=');
            if (!line.StartsWith(PromptKey, StringComparison.Ordinal) || equals < 0)
            {
                // "prompts: 3 more" and the cut note are not settings: the schedule cannot be compared.
                if (equals < 0) spans = null;
                others.Add(line);
                continue;
            }
            // prompts[i]=prompt|frames: the last bar divides, as a prompt may hold bars.
            var value = line[(equals + 1)..];
            int bar = value.LastIndexOf('|');
            if (spans is not null && bar >= 0 && long.TryParse(value.AsSpan(bar + 1), NumberStyles.None, CultureInfo.InvariantCulture, out long frames))
                spans.Add((value[..bar], frames));
            else spans = null;
        }
        return new RecordedRun(lines[0][ProvenanceReader.Mark.Length..].Trim(), others, spans, seed);
    }
}
