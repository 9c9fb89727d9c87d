using System.Globalization;
using FifoPipes.Abstractions;

namespace FifoPipes.Core.Media;

/// <summary>
/// The run record a video or GIF stores: its run's (<see cref="VideoFrame.Provenance"/>), and, where the file starts
/// past the run's first frame, that frame. A resumed run written to a file of a new name, or frames piped through
/// Select-Object -Skip, start there, and nothing else in the file says so (a resumed run's segment next to its first
/// file says it in its name as well). A PNG frame always says which frame it is (<see cref="OfImage"/>).
/// </summary>
public static class FileRecord
{
    /// <summary>The record's last line, "file.firstFrame=N": no recipe key starts "file.", so it is never read as a setting.</summary>
    public const string FirstFrameKey = "file.firstFrame";

    /// <summary>What a file whose first frame is <paramref name="first"/> stores of its run; null where the frame records none.</summary>
    public static string? Of(VideoFrame first) =>
        first.Provenance is not { } run ? null
        : first.Index == 0 ? run
        : string.Create(CultureInfo.InvariantCulture, $"{run}\n{FirstFrameKey}={first.Index}");

    /// <summary>
    /// What a PNG of one frame stores: the run's record and, always, the frame's index, so a record without it is an
    /// older writer's, whose frames were named by their index (frame_000042.png); the name of one saved where the user
    /// chose (holiday-2024.png) says nothing of it. Null where the frame records no run.
    /// </summary>
    internal static string? OfImage(VideoFrame frame) =>
        frame.Provenance is not { } run ? null : string.Create(CultureInfo.InvariantCulture, $"{run}\n{FirstFrameKey}={frame.Index}");

    /// <summary>A stored record apart: the run's record, and the run's frame the file starts at where it said one.</summary>
    public static (string Run, long? FirstFrame) Split(string record)
    {
        int lastLine = record.LastIndexOf('\n') + 1;
        var last = record.AsSpan(lastLine);
        return last.StartsWith(FirstFrameKey + "=", StringComparison.Ordinal)
               && long.TryParse(last[(FirstFrameKey.Length + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out long firstFrame)
            ? (record[..Math.Max(lastLine - 1, 0)], firstFrame)
            : (record, null);
    }
}
