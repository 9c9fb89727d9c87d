using System.Globalization;

namespace FifoPipes.Core.Media;

/// <summary>
/// The frame rates a video plays or a source is resampled at: below 0.01 a frame would last minutes (and the sinks
/// would print the rate as 0); no display shows more than 240.
/// </summary>
public static class FrameRate
{
    /// <summary>The least and greatest frame rates accepted, in frames a second (both allowed).</summary>
    public const double Min = 0.01, Max = 240;

    /// <summary>Why <paramref name="fps"/> cannot be a frame rate, or null when it can (or is not given).</summary>
    public static string? Problem(double? fps) =>
        fps is { } rate && !(rate >= Min && rate <= Max) ? string.Create(CultureInfo.InvariantCulture, $"fps must be between {Min} and {Max}, got {rate}") : null;
}
