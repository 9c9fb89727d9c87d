using FifoPipes.Core.Media;
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
    /// Whether <paramref name="later"/> is <paramref name="earlier"/> made longer (<see cref="RunRecord.Extends"/>: the
    /// fifo sampler's RunExtension); records cut short keep part of their schedule and are not compared.
    /// </summary>
    static bool Extends(RunProvenance earlier, RunProvenance later) => Record(later).Extends(Record(earlier));

    static RunRecord Record(RunProvenance run) => RunRecord.From(run.RunHash, run.Settings, run.MissingPrompts > 0, run.Cut);
}
