using System.Globalization;
using FifoPipes.Abstractions;
using static TorchSharp.torch;

namespace FifoPipes.Core.Media;

/// <summary>
/// The first frames of a video file (MP4, WebM, MKV, MOV, AVI) as RGB tensors, decoded by ffmpeg: scaled to cover
/// width x height and centre-cropped, as the still-image path does, and read from ffmpeg's stdout as raw RGB24.
/// </summary>
public static class VideoClipReader
{
    /// <summary>The ffmpeg filter that scales a video to cover width x height and crops its centre, as still images are fitted.</summary>
    public static string CoverFilter(int width, int height) =>
        string.Create(CultureInfo.InvariantCulture, $"scale={width}:{height}:force_original_aspect_ratio=increase,crop={width}:{height}");

    /// <summary>The <see cref="FifoInputException"/> id of <see cref="Read"/> when ffmpeg fails or gives no frames.</summary>
    public const string UnreadableErrorId = "InitVideoUnreadable";
    static readonly string[] Extensions = { ".mp4", ".m4v", ".webm", ".mkv", ".mov", ".avi" };

    /// <summary>Whether <paramref name="path"/>'s extension (any case) is one read as a video: .mp4, .m4v, .webm, .mkv, .mov, .avi. The file is not opened.</summary>
    public static bool IsVideo(string path) => Extensions.Contains(Path.GetExtension(path), StringComparer.OrdinalIgnoreCase);

    /// <summary>Up to <paramref name="maxFrames"/> frames as [T, 3, H, W] float32 in [0, 1].</summary>
    public static Tensor Read(string path, int width, int height, int maxFrames)
    {
        using (var process = FfmpegLocator.StartReading(new[] { "-v", "error", "-nostdin", "-i", path, "-an", "-vf", CoverFilter(width, height),
                   "-frames:v", maxFrames.ToString(CultureInfo.InvariantCulture),
                   // Each frame once, as decoded: a variable-rate clip (an animated PNG's own delays) is not filled to a constant rate.
                   "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "-" }))
        {
            var errors = process.StandardError.ReadToEndAsync();
            int frameBytes = checked(width * height * 3);
            var frames = new List<byte[]>();
            var stdout = process.StandardOutput.BaseStream;
            while (frames.Count < maxFrames)
            {
                var frame = new byte[frameBytes];
                int read = stdout.ReadAtLeast(frame, frameBytes, throwOnEndOfStream: false);
                if (read < frameBytes) break;
                frames.Add(frame);
            }
            process.WaitForExit();
            if (process.ExitCode != 0 || frames.Count == 0)
                throw new FifoInputException(UnreadableErrorId,
                    $"Start video '{path}' could not be read by ffmpeg ({(frames.Count == 0 ? "no frames" : $"exit code {process.ExitCode}")}: {FfmpegMessages.Cause(errors.Result)}). " +
                    "Use a video ffmpeg can play, or a PNG, JPEG or GIF image.");
            using var scope = NewDisposeScope();
            return stack(frames.Select(f => FrameConversion.FromRgb24(f, width, height)).ToList()).MoveToOuterDisposeScope();
        }
    }
}
