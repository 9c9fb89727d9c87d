using System.Management.Automation;
using FifoPipes.Abstractions;
using FifoPipes.Core.Media;
using FifoPipes.Hosting.Recipes;
using FifoPipes.PowerShell.Engine;
using FifoPipes.Torch.Checkpoints;

namespace FifoPipes.PowerShell.Commands;

/// <summary>
/// <para type="synopsis">Reads how a video, GIF, PNG frame or snapshot that FifoPipes wrote was made, as settings and as a recipe that makes it again.</para>
/// <para type="description">Every file FifoPipes writes records its run: the run hash, the model and sampler with the options that change frames, the prompts, negative prompt and seed (PNG: a text chunk; GIF: a comment; MP4, WebM, MKV: the comment tag, read through ffmpeg; HLS: its init segment's). The Recipe property turns that back into YAML; New-FifoVideo -Recipe then makes the same frames on the same model files. A schedule of more than 32 prompts is recorded in part, and RecordComplete (also Complete) says so: it is about the record, not the video. Frames is what the run planned; FirstFrame and FramesWritten are what the file holds, counted in it (a video's packets, not decoded; a GIF's images; a PNG folder's frames), so a run stopped early or a resumed run's file shows it (a video or GIF that starts mid-run records where, and a segment's name says it too: story.from-000096.mp4; a PNG frame records which frame it is, whatever its name; a playlist that keeps only its latest segments starts where its first listed one does, by its time). A PNG sequence's folder is read as the folder (File and Path name it; RecordPath is the frame its record came from) and counts its sequence's frame files only, not other PNGs beside them; frames missing between its first and last are named in MissingFrames and a warning. A sequence or playlist that a longer run carried on in place (-Resume with more frames) is that run's: its last frame or part records it, and its Frames and Recipe are the longer run's, which makes every frame again. Where a file holds frames of another run after its own, or more frames than its run planned, Note says why and a warning repeats it. A snapshot gives TakenAfter, the frames the run had made when it was taken. A file with no record (a third-party sink's may keep none) is reported as an error and the other files are still read.</para>
/// <example><code>Get-FifoProvenance story.mp4 | Format-List RunHash, Settings</code></example>
/// <example><code>(Get-FifoProvenance frames/frame_000000.png).Recipe | Set-Content again.yaml; New-FifoVideo -Recipe again.yaml | Export-FifoFrames again.mp4</code></example>
/// <example><code>Get-FifoProvenance story.mp4, story.from-000096.mp4, run.snapshot | Format-List File, Frames, FirstFrame, FramesWritten, TakenAfter</code></example>
/// </summary>
[Cmdlet(VerbsCommon.Get, "FifoProvenance", DefaultParameterSetName = "Path")]
[OutputType(typeof(FifoProvenance))]
public sealed class GetFifoProvenanceCommand : FileArgumentsCmdlet
{
    protected override void ProcessRecord()
    {
        foreach (var path in Files())
        {
            try
            {
                var record = Directory.Exists(path) ? FromFolder(path) : FromFile(path);
                if (record.Note is { } note) WriteWarning($"'{path}': {note}");
                WriteObject(record);
            }
            catch (FifoInputException ex)
            {
                WriteError(Errors.From(ex, path));
            }
        }
    }

    /// <summary>A file's record; a playlist's from its last part too, which a longer run that carried it on wrote.</summary>
    static FifoProvenance FromFile(string file)
    {
        // Sniffed once: the record, the first frame and the count each depend on it.
        if (ProvenanceReader.KindOf(file) is not { } kind)
        {
            var (snapshot, takenAfter) = FromSnapshot(file);
            return new FifoProvenance(file, snapshot, snapshot: true) { TakenAfter = takenAfter };
        }
        var first = Recorded(file, kind);
        var (run, note) = kind == RecordingFile.Playlist && LastPartRecord(file) is { } last
            ? RunContinuation.Of(first, last, $"Its last part (from frame {last.FileFirstFrame ?? 0})")
            : (first, null);
        long? written = FileFrames.Count(file, file, kind);
        return new FifoProvenance(file, run)
        {
            FirstFrame = FileFrames.FirstFrame(file, kind, first),
            FramesWritten = written,
            Note = note ?? MoreThanPlanned(run, written, folder: false),
        };
    }

    /// <summary>
    /// A PNG sequence's folder: its frame files only (<see cref="PngFolder"/>), read through its first frame and its last,
    /// which a longer run that carried it on wrote; the frames it lacks between them are named.
    /// </summary>
    static FifoProvenance FromFolder(string folder)
    {
        var frames = PngFolder.Read(folder);
        var first = Recorded(frames.First, RecordingFile.Png);
        var last = frames.Last == frames.First ? null : RecordOrNull(frames.Last);
        var (run, note) = RunContinuation.Of(first, last, $"Its last frame, {System.IO.Path.GetFileName(frames.Last)},");
        string? missing = frames.Missing.Count > 0 ? PngFolder.Format(frames.Missing) : null;
        if (missing is not null)
            note = Join($"Frames {missing} are missing: the folder holds {frames.Count} frame files from {System.IO.Path.GetFileName(frames.First)} to {System.IO.Path.GetFileName(frames.Last)}.", note);
        return new FifoProvenance(folder, run, recordPath: ReferenceEquals(run, first) ? frames.First : frames.Last)
        {
            FirstFrame = FileFrames.FirstFrame(frames.First, RecordingFile.Png, first),
            FramesWritten = frames.Count,
            MissingFrames = missing,
            Note = Join(note, MoreThanPlanned(run, frames.Count, folder: true)),
        };
    }

    static string? Join(string? a, string? b) => a is null ? b : b is null ? a : a + " " + b;

    /// <summary>The run <paramref name="file"/> records; an input error where it records none.</summary>
    static RunProvenance Recorded(string file, RecordingFile kind) =>
        RunProvenance.Parse(ProvenanceReader.Read(file, kind) ?? throw new FifoInputException("ProvenanceMissing", NoRecord(file)), file);

    /// <summary>The run a sequence's last frame records; null where it cannot be read: the first frame's record still stands.</summary>
    static RunProvenance? RecordOrNull(string frame)
    {
        try { return ProvenanceReader.Read(frame, RecordingFile.Png) is { } text ? RunProvenance.Parse(text, frame) : null; }
        catch (FifoInputException) { return null; }
    }

    /// <summary>
    /// The record of a playlist's last part, where its init segment is not the first one's: a resumed run with other
    /// encoder settings, or one that made the run longer, whose record differs, lists its part after a discontinuity with
    /// its own init segment (a part whose init segment is the first one's byte for byte is the same run's). Null where
    /// there is none or it cannot be read.
    /// </summary>
    static RunProvenance? LastPartRecord(string playlist)
    {
        try
        {
            if (HlsPlaylist.Parse(File.ReadAllText(playlist)) is not { } listed || listed.Segments[^1].Map == listed.Segments[0].Map) return null;
            var init = HlsPlaylist.FileOf(playlist, listed.Segments[^1].Map);
            return ProvenanceReader.Read(init, RecordingFile.Video) is { } text ? RunProvenance.Parse(text, init) : null;
        }
        catch (Exception ex) when (ex is FifoInputException or IOException or UnauthorizedAccessException) { return null; }
    }

    /// <summary>Why a file holds more frames than its run planned, which the table would show unexplained; null where it holds no more.</summary>
    static string? MoreThanPlanned(RunProvenance run, long? written, bool folder)
    {
        long planned = run.PromptSpans.Sum(s => s.Frames);
        if (written is not { } count || count <= planned) return null;
        if (run.MissingPrompts > 0 || run.Cut)
            return $"It holds {count} frames, more than the {planned} its record lists: the record keeps only part of a long prompt schedule.";
        return folder
            ? $"It holds {count} frame files, more than the {planned} its run planned: frames of a later run piped into the same sink are numbered on after the run's own."
            : $"It holds {count} frames, more than the {planned} its run planned: a sink that interpolates (interpolate) writes several frames per frame of the run, and frames of a later run piped into the same sink follow the run's own.";
    }

    /// <summary>
    /// Why a file of a kind runs are recorded in holds no record: every sink of FifoPipes' own keeps one, but a
    /// third-party sink need not, and another program (an image editor saving it again) drops it.
    /// </summary>
    static string NoRecord(string file) =>
        $"'{file}' records no FifoPipes run. A sink that keeps no record may have written it (FifoPipes' own sinks all keep one; a third-party sink, " +
        "such as the contact-sheet example, may not), or another program (an image editor that saves it again drops the record), or a FifoPipes " +
        "version from before runs were recorded. Read the run from a file FifoPipes' own sinks wrote (png, gif, mp4, webm, mkv, hls) or from its snapshot.";

    /// <summary>
    /// A snapshot (safetensors) records the run it belongs to in its metadata, and the frames the run had output when it
    /// was taken; anything else is not a file runs are recorded in.
    /// </summary>
    static (RunProvenance Run, long? TakenAfter) FromSnapshot(string file)
    {
        if (!File.Exists(file))
            throw new FifoInputException("ProvenanceFileNotFound", $"'{file}' does not exist. Give a PNG frame, GIF, video or snapshot that FifoPipes wrote.");
        IReadOnlyDictionary<string, string>? metadata = null;
        try { metadata = SafetensorsFile.ReadMetadata(file); }
        catch (FifoInputException ex) when (SafetensorsFile.Begins(file))
        {
            throw new FifoInputException("ProvenanceUnreadable",
                $"'{file}' is a damaged safetensors file ({ex.Data[SafetensorsFile.ReasonKey] ?? ex.Message}): a snapshot cut short by a full disk or a copy, say. " +
                "Its run cannot be read; give another file the run wrote.", ex);
        }
        catch (FifoInputException) { }
        if (metadata is null || !metadata.TryGetValue(SnapshotMetadata.RunHash, out var hash) || !metadata.TryGetValue(SnapshotMetadata.RunSettings, out var settings) || settings.Length == 0)
            throw new FifoInputException("ProvenanceUnsupported",
                $"'{file}' is not a file FifoPipes records runs in. Give {ProvenanceReader.FilesThatRecordRuns}.");
        return (RunProvenance.FromRunSettings(hash, settings, file, metadata.GetValueOrDefault(SnapshotMetadata.Plugins)), FileFrames.TakenAfter(metadata));
    }
}
