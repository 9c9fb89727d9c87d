using System.Globalization;

namespace FifoPipes.Core.Media;

/// <summary>
/// Which frames of a source video are read: from <see cref="Start"/> seconds on, resampled to <see cref="Fps"/> frames
/// a second where one is given (ffmpeg's fps filter repeats or drops frames to a constant rate), otherwise every
/// decoded frame as the file has it. Output frame k restyles frame k of what this selects.
/// </summary>
public readonly record struct SourceTiming(double? Fps = null, double Start = 0)
{
    /// <summary>Every frame of the file from its first: the frames can be counted from packets, without decoding.</summary>
    public bool IsWholeFile => Fps is null && Start == 0;

    /// <summary>Why <paramref name="start"/> cannot be a start time, or null when it can.</summary>
    public static string? StartProblem(double start) =>
        start >= 0 && double.IsFinite(start) ? null : $"start must be 0 or more seconds into the video, got {start.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>The selection in words, for messages: "from 90 s on, at 8 fps".</summary>
    public string Describe() => string.Join(", ", new[]
    {
        Start > 0 ? string.Create(CultureInfo.InvariantCulture, $"from {Start} s on") : null,
        Fps is { } fps ? string.Create(CultureInfo.InvariantCulture, $"at {fps} fps") : null,
    }.OfType<string>());

    /// <summary>ffmpeg arguments placed before -i: seeking there decodes from the keyframe before and drops frames up to the exact time.</summary>
    internal IEnumerable<string> InputArguments() =>
        // Fixed-point: "R" writes a tiny start as 1E-05, which ffmpeg's time parser refuses.
        Start > 0 ? new[] { "-ss", Start.ToString("0.#########", CultureInfo.InvariantCulture) } : Array.Empty<string>();

    /// <summary>The filter stage ahead of <paramref name="rest"/>: resampling first, so scaling runs on the frames kept.</summary>
    internal string Filter(string rest) =>
        Fps is { } fps ? string.Create(CultureInfo.InvariantCulture, $"fps={fps:R},{rest}") : rest;
}
