using FifoPipes.Abstractions;
using FifoPipes.Core;
using FifoPipes.Core.Media;
using FifoPipes.Core.Sinks;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace FifoPipes.Sinks.Images;

public sealed class PngSinkOptions : IValidatableOptions
{
    [Option("zlib compression level: 0 stores the pixels uncompressed, 9 makes the smallest files. Pixels are lossless at every level.", Min = 0, Max = 9)]
    public int CompressionLevel { get; set; } = 6;

    public IEnumerable<OptionProblem> Validate()
    {
        if (CompressionLevel is < 0 or > 9)
            yield return new OptionProblem("compressionLevel", $"compressionLevel is {CompressionLevel}; use a whole number from 0 to 9.");
    }
}

[FifoPlugin(PluginKind.Sink, "png", typeof(ISinkFactory), Extensions = "png", OptionsType = typeof(PngSinkOptions),
    Description = "One lossless PNG file per frame. Path: a folder (frame_%06d.png inside it), a pattern such as frames/f_%05d.png, or clip.png (clip_000000.png, ...).")]
public sealed class PngSequenceSinkFactory : ISinkFactory
{
    public IFrameSink Create(object? options, SinkTarget target, PluginContext context)
    {
        var (settings, pattern) = Prepare(options, target, context);
        return new PngSequenceSink(pattern, target.Overwrite, settings, context.Log);
    }

    public void Check(object? options, SinkTarget target, PluginContext context) => Prepare(options, target, context);

    static (PngSinkOptions Settings, FramePattern Pattern) Prepare(object? options, SinkTarget target, PluginContext context)
    {
        var settings = SinkOptions.Bind<PngSinkOptions>(options, "png");
        var pattern = FramePattern.FromTargetPath(SinkFiles.FileFor(target, context, "png"));
        if (SinkFiles.FileInPlaceOf(pattern.Folder) is { } file)
            throw new FifoInputException(SinkFiles.OutputUnderFileErrorId,
                $"The png sink writes its frames into the folder '{pattern.Folder}', but '{file}' is a file. Give a folder, a pattern such as frames/f_%05d.png, or a name such as clip.png.");
        // First: a folder this user may not write is often one they may not list either, which the refusal below does.
        SinkFiles.EnsureFolderWritable(pattern.Folder, target.Path);
        if (!target.Overwrite) RefuseExistingSequence(pattern);
        return (settings, pattern);
    }

    /// <summary>
    /// Any frame an earlier run left under the pattern counts, not just frame 0: mixing two runs' frames in one folder
    /// makes a sequence that silently belongs to neither. A file FifoPipes did not write (no run record: the user's own
    /// 2019.png under %d.png) is no earlier run's; the sink leaves it alone and refuses only to write over it.
    /// </summary>
    static void RefuseExistingSequence(FramePattern pattern)
    {
        // By number, in one pass (an endless run leaves millions): the names differ only in their digits, and a wider number
        // is a later frame (%d pads nothing).
        static int ByNumber(string a, string b) => a.Length != b.Length ? a.Length.CompareTo(b.Length) : string.CompareOrdinal(a, b);
        string? first = null, last = null;
        long count = 0;
        foreach (var frame in pattern.ExistingFrames())
        {
            if (PngFrameRecord.Of(frame) is null) continue;
            count++;
            if (first is null || ByNumber(frame, first) < 0) first = frame;
            if (last is null || ByNumber(frame, last) > 0) last = frame;
        }
        if (first is not null)
            throw SinkFiles.OutputExists(first, count == 1
                ? $" (a frame of an earlier run matching the pattern {pattern})"
                : $" ({count} frames of an earlier run match the pattern {pattern}, up to {Path.GetFileName(last)})", SinkFiles.ResumedInPlace);
    }
}

/// <summary>
/// Writes frame N to the pattern's file N (the frame's own index, so a resumed run continues the
/// numbering). Each file is written under a temporary name and renamed, so a cancelled or crashed run
/// never leaves a half-written PNG. It keeps a count, not a list of the files: an endless run writes millions.
/// </summary>
public sealed class PngSequenceSink : IFrameSink
{
    readonly FramePattern pattern;
    readonly bool overwrite;
    readonly PngEncoder encoder;
    readonly IProgressSink log;
    long written;
    string? firstPath;
    bool completed;
    Guid run;
    long runOffset, nextNumber;

    public PngSequenceSink(FramePattern pattern, bool overwrite, PngSinkOptions options, IProgressSink log)
    {
        this.pattern = pattern;
        this.overwrite = overwrite;
        this.log = log;
        encoder = ImageFiles.ProvenancePngEncoder((PngCompressionLevel)options.CompressionLevel);
    }

    public void Write(VideoFrame frame)
    {
        if (completed) throw new InvalidOperationException("The PNG sequence sink was already completed.");
        long number = Number(frame);
        var path = pattern.PathFor(number);
        if (written == 0)
        {
            TakeOverFolder(frame);
            log.Verbose($"png: writing frames to {pattern}");
        }
        // A file that appeared since (or past a run whose length the record does not say) is refused as it comes.
        if (written > 0 && File.Exists(path) && PngFrameRecord.Of(path) is null) throw NotAFrame(path, number);
        var partial = path + ".partial";
        try
        {
            using var image = ImageFiles.PngImage(frame);
            using var file = SinkFiles.OpenForWriting(partial, overwrite: true);
            image.Save(file, encoder);
        }
        catch
        {
            // A full disk must not leave a truncated file behind; the frames already renamed into place stay.
            try { File.Delete(partial); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
        try
        {
            File.Move(partial, path, overwrite);
        }
        catch (IOException) when (!overwrite && File.Exists(path))
        {
            File.Delete(partial);
            throw SinkFiles.OutputExists(path);
        }
        written++;
        firstPath ??= path;
    }

    /// <summary>
    /// The frame's own index, so a resumed run continues the sequence in place; a later run piped into the same sink
    /// (two New-FifoVideo calls into one Export-FifoFrames) follows the earlier one, as it does in a video file,
    /// instead of writing over its frames.
    /// </summary>
    long Number(VideoFrame frame)
    {
        if (written > 0 && frame.RunId != run) runOffset = Math.Max(0, nextNumber - frame.Index);
        run = frame.RunId;
        long number = frame.Index + runOffset;
        nextNumber = Math.Max(nextNumber, number + 1);
        return number;
    }

    /// <summary>
    /// One output however long the video: the folder when the target named one, else the sequence's first frame (the
    /// folder around a pattern may hold anything; a caller piping it on must not get that).
    /// </summary>
    public IReadOnlyList<string> Complete()
    {
        completed = true;
        if (written == 0) return Array.Empty<string>();
        return new[] { pattern.NamesFolder ? Path.GetFullPath(pattern.Folder) : firstPath! };
    }

    /// <summary>
    /// Before the first frame is written, what the folder holds under the pattern: the frames of an earlier run that a
    /// fresh run (from frame 0) given -Force removes, so the folder never mixes two videos, even when this run is
    /// killed and resumed later; files FifoPipes did not write, which this run must not write over; and, for a run
    /// that goes on from a later frame (a resume), whether the frames there are this video's, and all there.
    /// </summary>
    void TakeOverFolder(VideoFrame first)
    {
        var run = first.Provenance is { } record ? RunRecord.Parse(record) : null;
        long end = run?.PlannedFrames ?? long.MaxValue;
        bool resumed = first.Index > 0;
        var earlierFrames = new List<string>();
        var before = new FramesBefore(first.Index);
        foreach (var file in pattern.ExistingFrames())
        {
            long number = pattern.NumberOf(Path.GetFileName(file))!.Value;
            if (number < first.Index)
            {
                // A resume's frames before its first are the video it goes on; only the nearest is read (below).
                before.Add(number, file);
                continue;
            }
            var found = PngFrameRecord.Of(file);
            if (found is null && number < end) throw NotAFrame(file, number);
            if (found is null) continue;
            if (resumed) RefuseOtherRun(run, found, file, first.Index);
            else earlierFrames.Add(file);
        }
        if (resumed && before.Nearest is { } nearest && PngFrameRecord.Of(nearest) is { } previous) RefuseOtherRun(run, previous, nearest, first.Index);
        if (resumed && before.Gaps() is { } gaps)
            log.Warning($"png: {gaps} before frame {first.Index}, where this run goes on in '{pattern.Folder}', so the sequence has a gap there. " +
                        "To fill it, resume from a snapshot taken before the gap, or make the run again into an empty folder.");
        if (overwrite && !resumed)
            foreach (var file in earlierFrames) File.Delete(file);
    }

    // Records compared once: every frame of a run holds the same record but its frame line.
    readonly Dictionary<string, bool> sameVideo = new(StringComparer.Ordinal);

    /// <summary>Refuses to go on in a folder whose frame <paramref name="file"/> is another video's.</summary>
    void RefuseOtherRun(RunRecord? run, string found, string file, long firstIndex)
    {
        if (run is null) return;
        var key = FileRecord.Split(found).Run;
        if (!sameVideo.TryGetValue(key, out bool same))
            sameVideo[key] = same = RunRecord.Parse(key) is not { } theirs || theirs.SameVideoAs(run);
        if (same) return;
        throw new FifoInputException(OtherRunErrorId,
            $"This run goes on from frame {firstIndex} in '{pattern.Folder}', but the frames there are another video's: '{file}' is of " +
            $"{RunRecord.Parse(key)}, and this run is {run}. Going on there would mix the two videos and replace the other's frames. " +
            $"Give this run's frames another folder or pattern (they go on from frame {firstIndex} there), or the folder the snapshot's run wrote its frames to.");
    }

    /// <summary>The <see cref="FifoInputException.ErrorId"/> of a resume into a folder of another run's frames.</summary>
    public const string OtherRunErrorId = "SinkFramesOfAnotherRun";
    /// <summary>The <see cref="FifoInputException.ErrorId"/> of a file FifoPipes did not write where a frame goes.</summary>
    public const string NotAFrameErrorId = "SinkFileNotAFrame";

    FifoInputException NotAFrame(string file, long number) => new(NotAFrameErrorId,
        $"'{file}' is where frame {number} of this run goes (the pattern {pattern}), but FifoPipes did not write it (it carries no FifoPipes run record): " +
        "it is left as it is, -Force or not. Move it away, or give the frames another folder or pattern (such as frames/f_%06d.png).");

    /// <summary>
    /// The frames a folder holds before a resumed run's first, by number: a resume goes on the video in place, so
    /// missing ones (deleted, or never written) leave a gap that nothing fills.
    /// </summary>
    sealed class FramesBefore(long first)
    {
        readonly System.Collections.BitArray held = new((int)Math.Min(first, int.MaxValue));
        long count;
        long nearest = -1;

        /// <summary>The latest frame before the first, whose record says whose video the folder holds.</summary>
        public string? Nearest { get; private set; }

        public void Add(long number, string file)
        {
            if (number < held.Length && !held[(int)number]) { held[(int)number] = true; count++; }
            if (number > nearest) (nearest, Nearest) = (number, file);
        }

        /// <summary>"frames 10-19 and 30 (11 of the 50) are missing", for a folder that holds some of them; null where it holds all or none.</summary>
        public string? Gaps()
        {
            // None: a resumed run sent to a new folder, or frames piped through Select-Object -Skip.
            if (count == 0 || count >= held.Length) return null;
            var ranges = new List<string>();
            int runs = 0;
            for (int i = 0; i < held.Length; i++)
            {
                if (held[i]) continue;
                int start = i;
                while (i + 1 < held.Length && !held[i + 1]) i++;
                if (++runs <= 4) ranges.Add(start == i ? $"{start}" : $"{start}-{i}");
            }
            string listed = ranges.Count == 1 ? ranges[0] : string.Join(", ", ranges.SkipLast(1)) + " and " + ranges[^1];
            return $"frame{(held.Length - count == 1 ? "" : "s")} {listed}{(runs > 4 ? $" and {runs - 4} more spans" : "")} ({held.Length - count} of the {held.Length}) " +
                   $"{(held.Length - count == 1 ? "is" : "are")} missing";
        }
    }

    public void Dispose() => completed = true;
}

/// <summary>The run record a PNG file carries, read for the sink's one question of a file where a frame goes: did FifoPipes write it.</summary>
internal static class PngFrameRecord
{
    /// <summary>The record; null for a file FifoPipes did not write as a frame (the user's own picture, another program's, an unreadable file).</summary>
    public static string? Of(string path)
    {
        try { return ProvenanceReader.Read(path, RecordingFile.Png) is { } record && record.StartsWith(ProvenanceReader.Mark, StringComparison.Ordinal) ? record : null; }
        catch (FifoInputException) { return null; }
    }
}
