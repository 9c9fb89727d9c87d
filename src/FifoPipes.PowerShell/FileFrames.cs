using System.Globalization;
using FifoPipes.Core.Media;
using FifoPipes.Core.Sinks;
using FifoPipes.Hosting.Recipes;

namespace FifoPipes.PowerShell;

/// <summary>
/// Which of a run's frames a file FifoPipes wrote holds, read from the file itself and cheaply: a long video's frames
/// are counted from its packets, never decoded.
/// </summary>
internal static class FileFrames
{
    /// <summary>
    /// The run's frame <paramref name="file"/> starts at: where its record says (<see cref="FileRecord"/>), else where a
    /// resumed run's segment is named by it (SinkFiles.ContinuationPath: story.from-000096.mp4), else 0. A PNG frame
    /// records its index; one an older version wrote does not, and was named by it (frame_000042.png). A playlist whose
    /// live window dropped its first segments starts where its first listed one does (<see cref="PlaylistWindow"/>).
    /// Null where that cannot be read.
    /// </summary>
    /// <param name="run">The record read from the file; null reads the file as recording no frame of its own.</param>
    public static long? FirstFrame(string file, RunProvenance? run = null) => FirstFrame(file, ProvenanceReader.KindOf(file), run);

    /// <summary><see cref="FirstFrame(string, RunProvenance?)"/> of a file whose <paramref name="kind"/> the caller has read already.</summary>
    public static long? FirstFrame(string file, RecordingFile? kind, RunProvenance? run)
    {
        if (kind == RecordingFile.Png) return run?.FileFirstFrame ?? TrailingNumber(Path.GetFileNameWithoutExtension(file));
        if (kind == RecordingFile.Playlist && PlaylistWindow.Read(file) is { MediaSequence: > 0 } window) return WindowStart(window, run);
        return run?.FileFirstFrame ?? SinkFiles.SegmentStart(file) ?? 0;
    }

    /// <summary>
    /// The run's frame a live window's first listed segment holds first. Its time is on the timeline of the stream the
    /// record describes, which starts at the record's frame: a playlist carried on in place keeps its first run's record
    /// and timeline, and the part a resume wrote beside it (live.from-000021.m3u8) lists segments moved onto that
    /// timeline, so its name is not where they count from. The run's rate (its record's fps; where it has none, the rate
    /// the sink wrote, which is the run's unless the sink interpolated) turns the time into frames.
    /// </summary>
    static long? WindowStart(PlaylistWindow window, RunProvenance? run)
    {
        if (window.FirstListed() is not { } start) return null;
        double fps = double.TryParse(run?.Value("fps"), NumberStyles.Float, CultureInfo.InvariantCulture, out double recorded) && recorded > 0
            ? recorded
            : start.FramesPerSecond;
        return (run?.FileFirstFrame ?? 0) + (long)Math.Round(start.Seconds * fps);
    }

    /// <summary>The frames <paramref name="requested"/> holds (a PNG folder: its sequence's frame files, <see cref="PngFolder"/>); null where they cannot be counted.</summary>
    /// <param name="file">The file its record was read from: the folder's first frame, or <paramref name="requested"/> itself.</param>
    public static long? Count(string requested, string file) => Count(requested, file, ProvenanceReader.KindOf(file));

    /// <summary><see cref="Count(string, string)"/> of a file whose <paramref name="kind"/> the caller has read already.</summary>
    public static long? Count(string requested, string file, RecordingFile? kind)
    {
        if (Directory.Exists(requested)) return PngFolder.Read(requested).Count;
        return kind switch
        {
            RecordingFile.Gif => FramesInFile.Gif(file),
            RecordingFile.Png => 1,
            _ => FramesInFile.Video(file),
        };
    }

    /// <summary>
    /// The frames a run had output when <paramref name="snapshot"/> was taken, where a resume from it starts: the fifo
    /// sampler's count (FifoSnapshot.Save). Null where the file records none or cannot be read.
    /// </summary>
    public static long? TakenAfter(string snapshot)
    {
        try { return TakenAfter(FifoPipes.Torch.Checkpoints.SafetensorsFile.ReadMetadata(snapshot)); }
        catch (Exception ex) when (ex is FifoPipes.Abstractions.FifoInputException or IOException or UnauthorizedAccessException) { return null; }
    }

    /// <summary><see cref="TakenAfter(string)"/> from a snapshot's metadata the caller has read already.</summary>
    public static long? TakenAfter(IReadOnlyDictionary<string, string> metadata) =>
        long.TryParse(metadata.GetValueOrDefault(EmittedKey), NumberStyles.None, CultureInfo.InvariantCulture, out long emitted) ? emitted : null;

    const string EmittedKey = "emitted";

    public static bool IsPng(string file) => Path.GetExtension(file).Equals(".png", StringComparison.OrdinalIgnoreCase);

    /// <summary>The number a name ends in (frame_000042: 42), or null where it ends in none.</summary>
    static long? TrailingNumber(string name)
    {
        int start = name.Length;
        while (start > 0 && char.IsAsciiDigit(name[start - 1])) start--;
        return start < name.Length && long.TryParse(name.AsSpan(start), NumberStyles.None, CultureInfo.InvariantCulture, out long number) ? number : null;
    }
}
