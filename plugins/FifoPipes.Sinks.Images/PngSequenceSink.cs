using FifoPipes.Abstractions;
using FifoPipes.Core;
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
    /// Any file the pattern could produce counts, not just frame 0: mixing two runs' frames in one
    /// folder makes a sequence that silently belongs to neither.
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
        var path = pattern.PathFor(Number(frame));
        if (written == 0)
        {
            RemoveEarlierSequence(frame.Index);
            log.Verbose($"png: writing frames to {pattern}");
        }
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
    /// A fresh run (from frame 0) written over an earlier sequence removes its frames before writing the first one, so
    /// the folder never mixes two videos, even when this run is killed and resumed later. A resumed run (its first frame
    /// is not 0) continues the sequence in place and removes nothing.
    /// </summary>
    void RemoveEarlierSequence(long firstIndex)
    {
        if (!overwrite || firstIndex != 0) return;
        foreach (var file in pattern.ExistingFrames().ToList()) File.Delete(file);
    }

    public void Dispose() => completed = true;
}
