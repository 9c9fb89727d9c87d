using System.Globalization;

namespace FifoPipes.Core.Media;

/// <summary>
/// Which frames of a source video are read: from <see cref="Start"/> seconds on, resampled to <see cref="Fps"/> frames
/// a second where one is given (ffmpeg's fps filter repeats or drops frames to a constant rate), otherwise every
/// decoded frame as the file has it. Output frame k restyles frame k of what this selects.
/// </summary>
public readonly record struct SourceTiming(double? Fps = null, double Start = 0)
{
    public const double MinFps = 0.01, MaxFps = 240;

    /// <summary>Every frame of the file from its first: the frames can be counted from packets, without decoding.</summary>
    public bool IsWholeFile => Fps is null && Start == 0;

    /// <summary>Why <paramref name="fps"/> cannot resample a source, or null when it can.</summary>
    public static string? FpsProblem(double? fps) =>
        fps is { } rate && !(rate >= MinFps && rate <= MaxFps) ? $"fps must be between {MinFps} and {MaxFps}, got {rate.ToString(CultureInfo.InvariantCulture)}" : null;

    /// <summary>Why <paramref name="start"/> cannot be a start time, or null when it can.</summary>
    public static string? StartProblem(double start) =>
        start >= 0 && double.IsFinite(start) ? null : $"start must be 0 or more seconds into the video, got {start.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>ffmpeg arguments placed before -i: seeking there decodes from the keyframe before and drops frames up to the exact time.</summary>
    internal IEnumerable<string> InputArguments() =>
        Start > 0 ? new[] { "-ss", Start.ToString("R", CultureInfo.InvariantCulture) } : Array.Empty<string>();

    /// <summary>The filter stage ahead of <paramref name="rest"/>: resampling first, so scaling runs on the frames kept.</summary>
    internal string Filter(string rest) =>
        Fps is { } fps ? string.Create(CultureInfo.InvariantCulture, $"fps={fps:R},{rest}") : rest;
}
