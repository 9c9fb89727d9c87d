using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using FifoPipes.Abstractions;
using static TorchSharp.torch;

namespace FifoPipes.Core.Media;

/// <summary>
/// The frames of a source video for video-to-video, read forward one at a time through ffmpeg (any video it reads,
/// animated GIFs and single images included), as <see cref="SourceTiming"/> selects them, scaled to cover width x height
/// and centre-cropped as start frames are. The file is never held whole: one frame is in memory at a time.
/// </summary>
public sealed class SourceFrames : IDisposable
{
    /// <summary>The <see cref="FifoInputException"/> id when ffmpeg cannot read the source (an error, no video stream, no frames).</summary>
    public const string UnreadableErrorId = "SourceUnreadable";
    /// <summary>The <see cref="FifoInputException"/> id when the selection starts at or past the end of the file.</summary>
    public const string StartPastEndErrorId = "SourceStartPastEnd";

    readonly string path;
    readonly int width, height;
    readonly SourceTiming timing;
    Process? ffmpeg;
    Task<string>? errors;
    // Every frame is read into this one buffer: FromRgb24 copies it into a tensor, and a frame at 512x320 is 0.5 MB.
    byte[]? buffer;

    /// <summary>
    /// A reader of <paramref name="path"/>'s frames at <paramref name="width"/> x <paramref name="height"/>; ffmpeg starts at the
    /// first <see cref="Next"/> or <see cref="Skip"/>. Not for several threads: it reads forward through one pipe into one buffer.
    /// </summary>
    /// <exception cref="FifoInputException">"SourceNotFound" when <paramref name="path"/> is not a file.</exception>
    public SourceFrames(string path, int width, int height, SourceTiming timing = default)
    {
        this.path = MustExist(path);
        this.width = width;
        this.height = height;
        this.timing = timing;
    }

    /// <summary>Index of the frame <see cref="Next"/> returns.</summary>
    public long Position { get; private set; }

    /// <summary>The frames a selection holds, and their rate: the resampled one, or the file's mean where it gives one.</summary>
    public sealed record Summary(long Frames, double? Fps);

    static readonly ConcurrentDictionary<(string Path, long Bytes, DateTime Written, SourceTiming Timing), Summary> Probed = new();

    /// <summary>
    /// Counts the frames <paramref name="timing"/> selects. The whole file's are counted from the packets of its first
    /// video stream, without decoding; a start time or a frame rate needs the frames decoded (at 2x2 pixels) through the
    /// same filters <see cref="Next"/> reads with, so the count is exactly what the reading yields. The recipe reader and
    /// the run both ask, so the answer is kept while the file keeps its length and write time (another file copied in
    /// with both preserved, cp -p, is taken for the same).
    /// </summary>
    public static Summary Probe(string path, SourceTiming timing = default)
    {
        var file = new FileInfo(MustExist(path));
        return Probed.GetOrAdd((file.FullName, file.Length, file.LastWriteTimeUtc, timing), key => ProbeFile(key.Path, key.Timing));
    }

    static Summary ProbeFile(string path, SourceTiming timing)
    {
        var arguments = timing.IsWholeFile
            ? Input(path, timing).Concat(new[] { "-c", "copy", "-f", "framecrc", "-" })
            : Selecting(path, timing, "scale=2:2", "framecrc").Append("-");
        // framecrc lists one line per frame or packet (stream, dts, pts, duration, size, checksum) after a header giving the time base.
        using var process = FfmpegLocator.StartReading(arguments);
        var stderr = process.StandardError.ReadToEndAsync();
        long count = 0, durations = 0;
        double timeBase = 0;
        while (process.StandardOutput.ReadLine() is { } line)
        {
            if (line.StartsWith("#tb 0:", StringComparison.Ordinal) && line[6..].Trim().Split('/') is [var num, var den]
                && double.TryParse(num, CultureInfo.InvariantCulture, out var n) && double.TryParse(den, CultureInfo.InvariantCulture, out var d) && d > 0)
                timeBase = n / d;
            if (line.Length == 0 || line[0] == '#') continue;
            count++;
            if (line.Split(',') is { Length: >= 4 } fields && long.TryParse(fields[3].Trim(), CultureInfo.InvariantCulture, out var duration)) durations += duration;
        }
        process.WaitForExit();
        // Whatever ffmpeg's exit code: some versions fail when no frame reaches the output.
        if (count == 0 && timing.Start > 0 && StartPastEnd(path, timing.Start) is { } pastEnd) throw pastEnd;
        if (process.ExitCode != 0 || count == 0)
            throw Unreadable(path, process.ExitCode != 0 ? $"exit code {process.ExitCode}" : "it has no video stream", stderr.Result);
        double seconds = durations * timeBase;
        return new Summary(count, timing.Fps ?? (seconds > 0 ? Math.Round(count / seconds, 3) : null));
    }

    /// <summary>The next frame as [3, H, W] float32 in [0, 1], or null after the last.</summary>
    public Tensor? Next()
    {
        var bytes = NextBytes();
        if (bytes is null) return null;
        Position++;
        return FrameConversion.FromRgb24(bytes, width, height);
    }

    /// <summary>Passes over the next frame without converting it (to reach a resumed run's frame); false after the last.</summary>
    public bool Skip()
    {
        if (NextBytes() is null) return false;
        Position++;
        return true;
    }

    byte[]? NextBytes()
    {
        if (ffmpeg is null)
        {
            ffmpeg = FfmpegLocator.StartReading(Selecting(path, timing, VideoClipReader.CoverFilter(width, height), "rawvideo").Concat(new[] { "-pix_fmt", "rgb24", "-" }));
            errors = ffmpeg.StandardError.ReadToEndAsync();
        }
        var frame = buffer ??= new byte[checked(width * height * 3)];
        if (ffmpeg.StandardOutput.BaseStream.ReadAtLeast(frame, frame.Length, throwOnEndOfStream: false) == frame.Length) return frame;
        ffmpeg.WaitForExit();
        if (ffmpeg.ExitCode != 0 || Position == 0) throw Unreadable(path, Position == 0 ? "no frames" : $"exit code {ffmpeg.ExitCode}", errors!.Result);
        return null;
    }

    /// <summary>
    /// ffmpeg reading the frames <paramref name="timing"/> selects through <paramref name="resize"/> into the muxer
    /// <paramref name="format"/> (the output name follows): the count and the reading both run this, so they agree.
    /// Every frame the filters give is passed on once: rawvideo output would otherwise be made constant-rate,
    /// duplicating or dropping frames of a variable-rate clip and shifting the source against the output.
    /// </summary>
    static IEnumerable<string> Selecting(string path, SourceTiming timing, string resize, string format) =>
        Input(path, timing).Concat(new[] { "-an", "-vf", timing.Filter(resize), "-fps_mode", "passthrough", "-f", format });

    /// <summary>ffmpeg reading the file's first video stream, from the selection's start.</summary>
    static IEnumerable<string> Input(string path, SourceTiming timing) =>
        new[] { "-v", "error", "-nostdin" }.Concat(timing.InputArguments()).Concat(new[] { "-i", path, "-map", "0:V:0" });

    /// <summary>
    /// The error for a start after the file's last frame starts, where it has frames (a start inside the last frame's
    /// time selects none either); null where it has none (no video stream, which the caller says).
    /// </summary>
    static FifoInputException? StartPastEnd(string path, double start)
    {
        var whole = Probe(path);
        if (whole.Frames == 0) return null;
        string length = whole.Fps is { } fps
            ? string.Create(CultureInfo.InvariantCulture, $"it lasts about {whole.Frames / fps:0.#} s, its last frame starting at {(whole.Frames - 1) / fps:0.###} s")
            : $"it has {whole.Frames} frames";
        return new FifoInputException(StartPastEndErrorId,
            string.Create(CultureInfo.InvariantCulture, $"Source video '{path}' has no frames from {start} s on: {length}. Give a start at or before its last frame's (source.start, -SourceStart)."));
    }

    static string MustExist(string path) => File.Exists(path) ? path
        : throw new FifoInputException("SourceNotFound", $"Source video '{path}' does not exist. Give a video ffmpeg can read (MP4, WebM, MKV, MOV, GIF, ...).");

    static FifoInputException Unreadable(string path, string what, string stderr) =>
        new(UnreadableErrorId, $"Source video '{path}' could not be read by ffmpeg ({what}{(FfmpegMessages.Cause(stderr) is { Length: > 0 } text ? ": " + text : "")}). " +
                               "Use a video ffmpeg can play (MP4, WebM, MKV, MOV, GIF, ...).");

    /// <summary>Stops an ffmpeg still running (the reading ended before the last frame) and releases it.</summary>
    public void Dispose()
    {
        if (ffmpeg is null) return;
        // Stopped before the end: ffmpeg would block on a full pipe forever.
        try { if (!ffmpeg.HasExited) ffmpeg.Kill(entireProcessTree: true); }
        catch (InvalidOperationException) { }
        ffmpeg.Dispose();
        ffmpeg = null;
    }
}
