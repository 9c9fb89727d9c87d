using System.Diagnostics;
using System.Globalization;
using FifoPipes.Abstractions;
using static TorchSharp.torch;

namespace FifoPipes.Core.Media;

/// <summary>
/// The frames of a source video for video-to-video, read forward one at a time, scaled to cover width x height and
/// centre-cropped as start frames are: a video streams through ffmpeg (never held whole), an image or animated GIF
/// is read at once.
/// </summary>
public sealed class SourceFrames : IDisposable
{
    public const string UnreadableErrorId = "SourceUnreadable";

    readonly string path;
    readonly int width, height;
    readonly Tensor? still;
    Process? ffmpeg;
    Task<string>? errors;

    public SourceFrames(string path, int width, int height)
    {
        if (!File.Exists(path))
            throw new FifoInputException("SourceNotFound", $"Source video '{path}' does not exist. Give a video ffmpeg can read (MP4, WebM, MKV, MOV, AVI) or an animated GIF.");
        this.path = path;
        this.width = width;
        this.height = height;
        if (!VideoClipReader.IsVideo(path)) still = ImageFiles.LoadFrames(path, width, height, maxFrames: int.MaxValue);
    }

    /// <summary>Index of the frame <see cref="Next"/> returns.</summary>
    public long Position { get; private set; }

    /// <summary>
    /// Frames in the file at <paramref name="path"/>: a video's packets counted by ffmpeg without decoding them, an
    /// image's frames.
    /// </summary>
    public static long Count(string path)
    {
        if (!File.Exists(path))
            throw new FifoInputException("SourceNotFound", $"Source video '{path}' does not exist. Give a video ffmpeg can read (MP4, WebM, MKV, MOV, AVI) or an animated GIF.");
        if (!VideoClipReader.IsVideo(path))
        {
            using var frames = ImageFiles.LoadFrames(path, 8, 8, maxFrames: int.MaxValue);
            return frames.shape[0];
        }
        using var process = FfmpegLocator.StartReading(new[] { "-v", "error", "-nostdin", "-i", path, "-map", "0:v:0", "-c", "copy", "-f", "framecrc", "-" });
        var stderr = process.StandardError.ReadToEndAsync();
        long count = 0;
        while (process.StandardOutput.ReadLine() is { } line)
            if (line.Length > 0 && line[0] != '#') count++;
        process.WaitForExit();
        if (process.ExitCode != 0 || count == 0)
            throw Unreadable(path, count == 0 ? "no video frames" : $"exit code {process.ExitCode}", stderr.Result);
        return count;
    }

    /// <summary>The next frame as [3, H, W] float32 in [0, 1], or null after the last.</summary>
    public Tensor? Next()
    {
        if (still is not null) return Position < still.shape[0] ? still[Position++].clone() : null;
        var bytes = NextBytes();
        if (bytes is null) return null;
        Position++;
        return FrameConversion.FromRgb24(bytes, width, height);
    }

    /// <summary>Passes over the next frame without converting it (to reach a resumed run's frame); false after the last.</summary>
    public bool Skip()
    {
        if (still is not null ? Position >= still.shape[0] : NextBytes() is null) return false;
        Position++;
        return true;
    }

    byte[]? NextBytes()
    {
        if (ffmpeg is null)
        {
            var filter = string.Create(CultureInfo.InvariantCulture, $"scale={width}:{height}:force_original_aspect_ratio=increase,crop={width}:{height}");
            ffmpeg = FfmpegLocator.StartReading(new[] { "-v", "error", "-nostdin", "-i", path, "-an", "-vf", filter, "-f", "rawvideo", "-pix_fmt", "rgb24", "-" });
            errors = ffmpeg.StandardError.ReadToEndAsync();
        }
        var frame = new byte[checked(width * height * 3)];
        if (ffmpeg.StandardOutput.BaseStream.ReadAtLeast(frame, frame.Length, throwOnEndOfStream: false) == frame.Length) return frame;
        ffmpeg.WaitForExit();
        if (ffmpeg.ExitCode != 0 || Position == 0) throw Unreadable(path, Position == 0 ? "no frames" : $"exit code {ffmpeg.ExitCode}", errors!.Result);
        return null;
    }

    static FifoInputException Unreadable(string path, string what, string stderr) =>
        new(UnreadableErrorId, $"Source video '{path}' could not be read by ffmpeg ({what}: {stderr.Trim()}). Use a video ffmpeg can play, or an animated GIF.");

    public void Dispose()
    {
        still?.Dispose();
        if (ffmpeg is null) return;
        // Stopped before the end: ffmpeg would block on a full pipe forever.
        try { if (!ffmpeg.HasExited) ffmpeg.Kill(entireProcessTree: true); }
        catch (InvalidOperationException) { }
        ffmpeg.Dispose();
        ffmpeg = null;
    }
}
