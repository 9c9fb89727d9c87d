using FifoPipes.Core.Media;

namespace FifoPipes.Sinks.Ffmpeg;

/// <summary>
/// Whether a file's frames are of another run than the one about to add frames to it (<see cref="RunRecord.SameVideoAs"/>:
/// the same run, or one made longer, adds frames that belong there; any other's would be mixed into it).
/// </summary>
internal static class RecordedRun
{
    /// <summary>Why <paramref name="earlier"/>'s frames are not this run's (<paramref name="now"/>), naming both runs; null where they are, or either records none.</summary>
    public static string? Other(string? earlier, string? now) =>
        earlier is not null && now is not null && RunRecord.Parse(earlier) is { } then && RunRecord.Parse(now) is { } run && !then.SameVideoAs(run)
            ? $"{AnotherRuns} ({Name(then)}), and this run is {Name(run)}"
            : null;

    /// <summary>How <see cref="Other"/>'s reason starts: a playlist of another run is that run's to end, not this one's.</summary>
    public const string AnotherRuns = "it holds another run's frames";

    /// <summary>"run 1a2b3c (seed 4, 'calm ocean')": enough to tell two runs apart in a message.</summary>
    static string Name(RunRecord run) => $"run {run.Hash} (seed {run.Seed ?? "?"}{(run.FirstPrompt is { } prompt ? $", '{prompt}'" : "")})";
}
