using System.Globalization;
using FifoPipes.Abstractions;
using FifoPipes.Core.Media;

namespace FifoPipes.Core.Sinks;

/// <summary>The file rules every sink shares: never replace a file without -Force, create folders on demand.</summary>
public static class SinkFiles
{
    /// <summary>The <see cref="FifoInputException"/> id when the output exists and overwriting was not asked for.</summary>
    public const string OutputExistsErrorId = "OutputExists";
    /// <summary>The <see cref="FifoInputException"/> id when the output path is a folder.</summary>
    public const string OutputIsFolderErrorId = "SinkOutputIsFolder";
    /// <summary>The <see cref="FifoInputException"/> id when a sink that writes files is given a network address.</summary>
    public const string OutputIsAddressErrorId = "SinkOutputIsAddress";

    /// <summary>
    /// The file a file-writing <paramref name="sink"/> writes for <paramref name="target"/>, from the context's folder. An
    /// address (rtmp://...) is refused: resolved as a path it would make a file named after its stream key.
    /// </summary>
    public static string FileFor(SinkTarget target, PluginContext context, string sink)
    {
        if (StreamAddress.SchemeOf(target.Path) is { } scheme)
            throw new FifoInputException(OutputIsAddressErrorId,
                $"The {sink} sink writes files, and '{StreamAddress.Display(target.Path)}' is an address ({scheme}://). Send to it with a sink that streams " +
                "(use: stream in a recipe, -Format stream), or give a file path.");
        return context.ResolvePath(target.Path);
    }

    /// <summary>
    /// Checked when a sink is created, so a run fails before any frame is computed rather than after
    /// the first one is finished.
    /// </summary>
    /// <param name="whenExists">What -Force does to the file on a resume, for the refusal (<see cref="ResumedBeside"/>, <see cref="ResumedInPlace"/>).</param>
    public static void EnsureWritable(string path, bool overwrite, string? whenExists = null)
    {
        if (Directory.Exists(path))
            throw new FifoInputException(OutputIsFolderErrorId,
                $"The sink output '{path}' is a folder. Give the path of a file inside it instead.");
        if (FileInPlaceOf(Path.GetDirectoryName(path)) is { } file)
            throw new FifoInputException(OutputUnderFileErrorId,
                $"The sink output '{path}' cannot be written: '{file}' is a file, not a folder. Choose another path.");
        if (!overwrite && File.Exists(path))
            throw OutputExists(path, resumed: whenExists);
        // A file that is there is replaced in place, which a folder that takes no new files still allows.
        if (File.Exists(path)) EnsureFileWritable(path);
        else EnsureFolderWritable(Path.GetDirectoryName(path), path);
    }

    /// <summary>Opens an existing output for writing, changing nothing, so a file this user may not replace is refused before the run.</summary>
    static void EnsureFileWritable(string path) =>
        Try(() => new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite),
            why => $"The sink output '{path}' cannot be replaced ({why}). Fix its permissions, or choose another path.");

    /// <summary>Opens and closes a file, or refuses the output with the message <paramref name="refusal"/> makes of the reason.</summary>
    /// <param name="unnamed">A file of ours the user never named (a probe), left out of the reason.</param>
    static void Try(Func<FileStream> open, Func<string, string> refusal, string? unnamed = null)
    {
        try { open().Dispose(); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            var reason = unnamed is null ? ex.Message : ex.Message.Replace($" : '{unnamed}'", "").Replace($" '{unnamed}'", "");
            throw new FifoInputException(OutputNotWritableErrorId, refusal(reason.TrimEnd('.')), ex);
        }
    }

    /// <summary>The <see cref="FifoInputException"/> id when the output, or the folder it goes in, cannot be written.</summary>
    public const string OutputNotWritableErrorId = "SinkOutputNotWritable";

    /// <summary>
    /// Creates and at once deletes an empty file in <paramref name="folder"/>, or in the nearest folder above it that
    /// exists (the sink makes the rest), so a place this user cannot write (permissions, a read-only or immutable disk) is
    /// refused before any frame is computed, not by the encoder after the model has loaded and made the first frames.
    /// The probe is the one thing a check (-WhatIf, Test-FifoRecipe -Sinks) writes, and it is gone when the check returns.
    /// </summary>
    /// <param name="output">The sink's output, for the message.</param>
    public static void EnsureFolderWritable(string? folder, string output)
    {
        folder = string.IsNullOrEmpty(folder) ? Directory.GetCurrentDirectory() : Path.GetFullPath(folder);
        while (!Directory.Exists(folder) && Path.GetDirectoryName(folder) is { Length: > 0 } above) folder = above;
        if (!Directory.Exists(folder)) return;
        var probe = Path.Combine(folder, $".fifopipes-probe-{Guid.NewGuid():N}");
        Try(() => new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose),
            why => $"The sink output '{output}' cannot be written: '{folder}' does not take new files ({why}). " +
                   "Fix the folder's permissions, or choose a path in a folder you can write.", unnamed: probe);
    }

    /// <summary>For a video a resumed run does not touch: the user who resumes must not fear -Force.</summary>
    public const string ResumedBeside = "A run resumed from a snapshot, given -Force, leaves it as it is and writes its frames to a new segment beside it.";
    /// <summary>For an output a resumed run carries on where it stopped.</summary>
    public const string ResumedInPlace = "A run resumed from a snapshot, given -Force, carries it on in place.";

    /// <summary>The <see cref="FifoInputException"/> id when a file stands where a folder of the output's path would be.</summary>
    public const string OutputUnderFileErrorId = "SinkOutputUnderFile";

    /// <summary>
    /// The file that stands where <paramref name="folder"/> or a folder above it would be (<c>clip.mp4</c> of
    /// <c>clip.mp4/frames</c>), which no -Force makes writable; null where there is none.
    /// </summary>
    public static string? FileInPlaceOf(string? folder)
    {
        for (; !string.IsNullOrEmpty(folder); folder = Path.GetDirectoryName(folder))
        {
            if (Directory.Exists(folder)) return null;
            if (File.Exists(folder)) return folder;
        }
        return null;
    }

    /// <param name="detail">What exists, after "already exists" (" in part: its segments ... are there").</param>
    /// <param name="resumed">What -Force does to it on a resume (<see cref="ResumedBeside"/>, <see cref="ResumedInPlace"/>), after the fix.</param>
    public static FifoInputException OutputExists(string path, string? detail = null, string? resumed = null) =>
        new(OutputExistsErrorId,
            $"The sink output '{path}' already exists{detail}. Use -Force (overwrite: true in a recipe) to replace it, or choose another path." +
            (resumed is null ? "" : " " + resumed));

    /// <summary>
    /// Where a file sink writes when its first frame is not frame 0, as in a resumed run, and its file already exists:
    /// a new segment beside the original (<c>story.mp4</c> → <c>story.from-000096.mp4</c>), so the part an interrupted
    /// run wrote is never replaced. A video cannot be appended to in place without re-encoding, and the interrupted file
    /// may run past the resume point, so joining is left to the user (docs/reliability.md shows how). A new path, or a
    /// run from frame 0, is written as given.
    /// </summary>
    public static string ContinuationPath(string path, long firstFrame)
    {
        if (firstFrame <= 0 || !File.Exists(path)) return path;
        var folder = Path.GetDirectoryName(path) ?? "";
        var number = firstFrame.ToString("D6", CultureInfo.InvariantCulture);
        return Path.Combine(folder, $"{Path.GetFileNameWithoutExtension(path)}{SegmentMark}{number}{Path.GetExtension(path)}");
    }

    /// <summary>
    /// The run's frame a segment <see cref="ContinuationPath"/> named starts at (<c>story.from-000096.mp4</c>: 96); null
    /// for a name it did not make.
    /// </summary>
    public static long? SegmentStart(string path)
    {
        var name = Path.GetFileNameWithoutExtension(path);
        int mark = name.LastIndexOf(SegmentMark, StringComparison.Ordinal);
        if (mark < 0) return null;
        var digits = name[(mark + SegmentMark.Length)..];
        // Six digits at least: ContinuationPath writes D6.
        return digits.Length >= 6 && digits.All(char.IsAsciiDigit) && long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out long first)
            ? first
            : null;
    }

    /// <summary>
    /// The file a video sink opens for its first frame: <see cref="ContinuationPath"/>, with a warning naming the new
    /// segment and the command that joins it to the original and to the segments earlier resumes wrote beside it, each
    /// cut where the next one starts. The cuts count frames, or seconds where the file's frames are not the run's (a
    /// sink that interpolates writes several per frame): <paramref name="firstFrameSeconds"/> is where frame
    /// <paramref name="firstFrame"/> starts in the file. A sink whose files do not join into their own kind names the
    /// <paramref name="joinedExtension"/> to join into, and a <paramref name="joinNote"/> for what to do first.
    /// Files with sound join their sound too, the first cut at <paramref name="soundUntil"/> seconds.
    /// </summary>
    public static string OpenPath(string path, long firstFrame, string sink, IProgressSink log, double? firstFrameSeconds = null,
        string? joinedExtension = null, string? joinNote = null, double? soundUntil = null)
    {
        var segment = ContinuationPath(path, firstFrame);
        if (segment == path) return segment;
        var parts = new List<(string File, long FirstFrame)> { (path, 0) };
        parts.AddRange(EarlierSegments(path, firstFrame));
        parts.Add((segment, firstFrame));
        var inputs = string.Join(" ", parts.Select(p => $"-i \"{p.File}\""));
        var filter = JoinFilter(parts.Select(p => p.FirstFrame).ToList(), firstFrameSeconds / firstFrame, soundUntil / firstFrame);
        var earlier = parts.Count == 2 ? "" : $" and {(parts.Count == 3 ? "the segment an earlier resume" : $"the {parts.Count - 2} segments earlier resumes")} wrote beside it";
        log.Warning($"{sink}: this run starts at frame {firstFrame}, so it writes a new segment '{segment}' and leaves '{path}'{earlier} as {(parts.Count == 2 ? "it is" : "they are")}. " +
                    $"To join them: ffmpeg {inputs} -filter_complex \"{filter}\" joined{joinedExtension ?? Path.GetExtension(path)}" +
                    (joinNote is null ? "" : $" ({joinNote})") + GapNote(parts, framesAreRunFrames: firstFrameSeconds is null));
        return segment;
    }

    /// <summary>
    /// The frames a join cannot have, said so that a gap is not found only in the joined video: those an earlier file
    /// lacks before the next part starts (a file cut short by a kill before its muxer wrote them, a full disk, a copy).
    /// An empty file fails the join outright. Counted only where the files' frames are the run's (a sink that
    /// interpolates writes several per frame) and the file lists them all (a live playlist drops its oldest segments);
    /// a file that cannot be counted is taken as whole.
    /// </summary>
    static string GapNote(IReadOnlyList<(string File, long FirstFrame)> parts, bool framesAreRunFrames)
    {
        for (int i = 0; i + 1 < parts.Count; i++)
        {
            var (file, first) = parts[i];
            long next = parts[i + 1].FirstFrame;
            long? held;
            try { held = new FileInfo(file).Length == 0 ? 0 : framesAreRunFrames ? FramesIn(file) : null; }
            // The note is advice: a file that cannot be read, or no ffmpeg to count it, leaves it unsaid.
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FifoInputException) { held = null; }
            if (held is not { } count || first + count >= next) continue;
            var missing = $"frames {first + count}-{next - 1} are in no file here";
            return count == 0
                ? $". '{file}' is empty (0 bytes), so {missing} and the join cannot work: to have them, make the run again from frame 0"
                : $". '{file}' holds {count} frames, not the {next - first} before frame {next} (it was cut short), so {missing} and the joined video " +
                  $"jumps over them: to have them, make the run again from frame 0, or resume a snapshot taken at frame {first + count} or before";
        }
        return "";
    }

    static long? FramesIn(string file) => Path.GetExtension(file).ToLowerInvariant() switch
    {
        ".gif" => FramesInFile.Gif(file),
        ".m3u8" => null,
        _ => FramesInFile.Video(file),
    };

    /// <summary>
    /// The segments that resumes before this one wrote beside <paramref name="path"/> (<see cref="ContinuationPath"/>),
    /// by their first frame; those from <paramref name="before"/> on hold frames this run makes again, and are left out.
    /// </summary>
    static List<(string File, long FirstFrame)> EarlierSegments(string path, long before)
    {
        var folder = Path.GetDirectoryName(path) ?? "";
        var prefix = Path.GetFileNameWithoutExtension(path) + SegmentMark;
        var extension = Path.GetExtension(path);
        string[] names;
        try { names = Directory.GetFiles(folder.Length > 0 ? folder : ".", prefix + "*" + extension).Select(f => Path.GetFileName(f)).ToArray(); }
        // The hint is advice: a folder that cannot be listed leaves it naming the original only.
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { return new(); }
        // The folder's own matching may ignore case, or match the pattern loosely (Windows' 8.3 names): checked again here.
        // Only the digits between them: a segment of a segment (story.from-000008.from-000016.mp4) continues another file.
        return names.Where(name => name.StartsWith(prefix, StringComparison.Ordinal) && name.EndsWith(extension, StringComparison.Ordinal)
                                   && name.Length > prefix.Length + extension.Length && name[prefix.Length..^extension.Length].All(char.IsAsciiDigit))
            .Select(name => (File: Path.Combine(folder, name), FirstFrame: SegmentStart(name) ?? -1))
            .Where(s => s.FirstFrame > 0 && s.FirstFrame < before)
            .OrderBy(s => s.FirstFrame)
            .ToList();
    }

    /// <summary>What <see cref="ContinuationPath"/> puts between a file's name and a segment's first frame.</summary>
    const string SegmentMark = ".from-";

    /// <summary>
    /// The ffmpeg filter that joins the inputs starting at <paramref name="firstFrames"/>, each but the last cut where the
    /// next one starts: by frame, or by time at <paramref name="secondsPerFrame"/>; with the sound of each, cut at
    /// <paramref name="soundSecondsPerFrame"/>, where the files have sound.
    /// </summary>
    static string JoinFilter(IReadOnlyList<long> firstFrames, double? secondsPerFrame, double? soundSecondsPerFrame)
    {
        var cuts = new List<string>();
        var concatInputs = new System.Text.StringBuilder();
        for (int i = 0; i < firstFrames.Count; i++)
        {
            if (i == firstFrames.Count - 1)
            {
                concatInputs.Append($"[{i}:v]").Append(soundSecondsPerFrame is null ? "" : $"[{i}:a]");
                break;
            }
            long frames = firstFrames[i + 1] - firstFrames[i];
            var end = secondsPerFrame is { } spf ? "end=" + FrameFormat.Decimal(frames * spf) : $"end_frame={frames}";
            cuts.Add($"[{i}:v]trim={end}[v{i}]");
            concatInputs.Append($"[v{i}]");
            if (soundSecondsPerFrame is not { } sound) continue;
            cuts.Add($"[{i}:a]atrim=end={FrameFormat.Decimal(frames * sound)},asetpts=PTS-STARTPTS[s{i}]");
            concatInputs.Append($"[s{i}]");
        }
        return string.Join(";", cuts) + ";" + concatInputs + $"concat=n={firstFrames.Count}" + (soundSecondsPerFrame is null ? "" : ":v=1:a=1");
    }

    /// <summary>Creates the folder <paramref name="path"/> goes in, and those above it, where missing; nothing for a bare file name. IO errors are thrown as they are.</summary>
    public static void CreateParentFolder(string path)
    {
        var folder = Path.GetDirectoryName(path);
        if (!string.IsNullOrEmpty(folder)) Directory.CreateDirectory(folder);
    }

    /// <summary>
    /// Opens <paramref name="path"/> for writing. Without <paramref name="overwrite"/> the open itself
    /// refuses an existing file, so one that appeared after <see cref="EnsureWritable"/> is not lost either.
    /// </summary>
    /// <param name="unbuffered">Write straight through: a writer that must undo a failed write (cut it off with
    /// SetLength) cannot have the failed bytes waiting in a buffer, where every later call would try them again.</param>
    public static FileStream OpenForWriting(string path, bool overwrite, bool unbuffered = false)
    {
        CreateParentFolder(path);
        try
        {
            return new FileStream(path, overwrite ? FileMode.Create : FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read, unbuffered ? 0 : 4096);
        }
        catch (IOException) when (!overwrite && File.Exists(path))
        {
            throw OutputExists(path);
        }
    }
}
