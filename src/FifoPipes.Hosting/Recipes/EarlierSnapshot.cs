using FifoPipes.Abstractions;
using FifoPipes.Hosting.Engine;

namespace FifoPipes.Hosting.Recipes;

/// <summary>
/// A snapshot already at a run's snapshot path may be an interrupted run's only resume point: like a sink's output,
/// a run replaces it only when told to (-Force, overwrite: true), and a resume from that very file is its run going on.
/// </summary>
public static class EarlierSnapshot
{
    /// <summary>The <see cref="FifoInputException.ErrorId"/> of a run refused because its snapshot path holds one.</summary>
    public const string ErrorId = "SnapshotExists";

    /// <summary>
    /// The refusal of <paramref name="recipe"/>'s run; null when its snapshot path is free, resumed from, or may be
    /// replaced. A file there that is no snapshot (a video, say) is refused even with overwrite on: -Force is for the
    /// earlier snapshot the refusal names, and a snapshot written over a video is no way to make one.
    /// </summary>
    public static FifoInputException? InTheWay(Recipe recipe) =>
        Held(recipe) is not { } path ? null
        : SnapshotFile.OtherKind(path) is { } other ? NotASnapshot(path, other)
        : !recipe.Overwrite ? Refusal(path, SameRun(recipe, path)) : null;

    /// <summary>The snapshot <paramref name="recipe"/>'s first one replaces (it may: overwrite is on); null when none.</summary>
    public static string? Replaced(Recipe recipe) => recipe.Overwrite && Held(recipe) is { } path && SnapshotFile.OtherKind(path) is null ? path : null;

    static string? Held(Recipe recipe)
    {
        if (recipe.Snapshot is not { } snapshot || !File.Exists(snapshot.Path)) return null;
        bool resumedFrom = recipe.ResumeFrom is { } resume && SinkTargets.PathComparer.Equals(Path.GetFullPath(resume), Path.GetFullPath(snapshot.Path));
        return resumedFrom ? null : snapshot.Path;
    }

    // A path that names the run ({hash}) holds this same run's snapshot: another path would not help, resuming would.
    static bool SameRun(Recipe recipe, string path) => Path.GetFileName(path).Contains(recipe.RunHash, StringComparison.Ordinal);

    static FifoInputException NotASnapshot(string path, string kind) => new(SnapshotFile.NotASnapshotErrorId,
        $"'{path}' is {kind}, not a snapshot, and this run's snapshots would replace it. Give the snapshots a path of their own " +
        $"(-SnapshotPath, snapshot.path in the recipe), such as '{OwnPath(path)}'; -Force does not replace a file that is no snapshot.")
    {
        Option = "snapshot",
    };

    /// <summary>A snapshot path beside <paramref name="path"/>, for a refusal to suggest: run.mp4 gives run.snapshot; a run.snapshot that is no snapshot, run.2.snapshot.</summary>
    public static string OwnPath(string path) =>
        Path.ChangeExtension(path, Path.GetExtension(path).Equals(".snapshot", StringComparison.OrdinalIgnoreCase) ? ".2.snapshot" : ".snapshot");

    static FifoInputException Refusal(string path, bool sameRun) => new(ErrorId,
        $"'{path}' holds an earlier snapshot{(sameRun ? " of this same run" : "")}, which this run's first snapshot would replace" +
        (sameRun ? ". To go on from it, resume from it (-Resume, or resume: in the recipe); to start the run over and replace it, use -Force (overwrite: true in the recipe)."
                 : ", and it may be an interrupted run's resume point. To go on from it, resume from it (-Resume, or resume: in the recipe); to keep it, give this run " +
                   "another snapshot path ({hash} in it names one per run); to replace it, use -Force (overwrite: true in the recipe)."))
    {
        Option = "snapshot",
    };
}
