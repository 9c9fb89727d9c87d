using System.Management.Automation;
using FifoPipes.Abstractions;
using FifoPipes.Core.Media;
using FifoPipes.Hosting.Recipes;
using FifoPipes.PowerShell.Engine;
using FifoPipes.Torch.Checkpoints;

namespace FifoPipes.PowerShell.Commands;

/// <summary>
/// <para type="synopsis">Reads how a video, GIF, PNG frame or snapshot that FifoPipes wrote was made, as settings and as a recipe that makes it again.</para>
/// <para type="description">Every file FifoPipes writes records its run: the run hash, the model and sampler with the options that change frames, the prompts, negative prompt and seed (PNG: a text chunk; GIF: a comment; MP4, WebM, MKV: the comment tag, read through ffmpeg; HLS: its init segment's). The Recipe property turns that back into YAML; New-FifoVideo -Recipe then makes the same frames on the same model files. A schedule of more than 32 prompts is recorded in part, and RecordComplete (also Complete) says so: it is about the record, not the video. Frames is what the run planned; FirstFrame and FramesWritten are what the file holds, counted in it (a video's packets, not decoded; a GIF's images; a PNG folder's frames), so a run stopped early or a resumed run's file shows it (a video or GIF that starts mid-run records where, and a segment's name says it too: story.from-000096.mp4; a PNG frame records which frame it is, whatever its name; a playlist that keeps only its latest segments starts where its first listed one does, by its time); a snapshot gives TakenAfter, the frames the run had made when it was taken. A file with no record (a third-party sink's may keep none) is reported as an error and the other files are still read.</para>
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
                var file = FrameOrFile(path);
                // Sniffed once: the record, the first frame and the count each depend on it.
                if (ProvenanceReader.KindOf(file) is not { } kind)
                {
                    var (run, takenAfter) = FromSnapshot(file);
                    WriteObject(new FifoProvenance(file, run, snapshot: true) { TakenAfter = takenAfter });
                    continue;
                }
                var text = ProvenanceReader.Read(file, kind)
                           ?? throw new FifoInputException("ProvenanceMissing", NoRecord(file));
                var recorded = RunProvenance.Parse(text, file);
                WriteObject(new FifoProvenance(file, recorded)
                {
                    FirstFrame = FileFrames.FirstFrame(file, kind, recorded),
                    FramesWritten = FileFrames.Count(path, file, kind),
                });
            }
            catch (FifoInputException ex)
            {
                WriteError(Errors.From(ex, path));
            }
        }
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
        return (RunProvenance.FromRunSettings(hash, settings, file, metadata.GetValueOrDefault(SnapshotMetadata.Plugins)), TakenAfter(metadata));
    }

    /// <summary>The fifo sampler's count of frames output before the snapshot (FifoSnapshot.Save); null where a sampler records none.</summary>
    static long? TakenAfter(IReadOnlyDictionary<string, string> metadata) =>
        long.TryParse(metadata.GetValueOrDefault(EmittedKey), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long emitted)
            ? emitted
            : null;

    const string EmittedKey = "emitted";

    /// <summary>A PNG sequence's folder (what Export-FifoFrames emits for it) records its run in every frame: its first.</summary>
    static string FrameOrFile(string path)
    {
        if (!Directory.Exists(path)) return path;
        try
        {
            // By number, the shorter name first: frame_999999 comes before frame_1000000.
            return Directory.EnumerateFiles(path).Where(FileFrames.IsPng).OrderBy(f => f.Length).ThenBy(f => f, StringComparer.Ordinal).FirstOrDefault()
                   ?? throw new FifoInputException("ProvenanceMissing", $"The folder '{path}' holds no PNG frames. Give a PNG frame, GIF or video that FifoPipes wrote.");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new FifoInputException("ProvenanceUnreadable", $"The folder '{path}' could not be read ({ex.Message}).", ex);
        }
    }
}
