using System.Globalization;
using FifoPipes.Abstractions;

namespace FifoPipes.Core.Sinks;

/// <summary>
/// Size and playback rate of a stream, fixed by its first frame: containers and GIF screens cannot
/// change size mid-stream, so a later frame of another size is refused instead of silently scaled.
/// </summary>
public sealed record FrameFormat(int Width, int Height, double Fps)
{
    /// <summary>The <see cref="FifoInputException"/> id of <see cref="EnsureMatches"/>.</summary>
    public const string SizeChangedErrorId = "SinkFrameSizeChanged";
    /// <summary>The <see cref="FifoInputException"/> id of <see cref="Of"/> when neither the target nor the first frame gives a positive, finite rate.</summary>
    public const string FpsInvalidErrorId = "SinkFpsInvalid";

    /// <summary>The target's rate wins; the frame's rate is the fallback when the target leaves it unset (0).</summary>
    public static FrameFormat Of(VideoFrame first, SinkTarget target)
    {
        double fps = target.Fps > 0 ? target.Fps : first.Fps;
        if (!(fps > 0) || double.IsInfinity(fps))
            throw new FifoInputException(FpsInvalidErrorId,
                $"The sink for '{target.Path}' got no usable frame rate (target {target.Fps}, frame {first.Fps}). Set fps to a positive number in the recipe or with -Fps.");
        return new FrameFormat(first.Width, first.Height, fps);
    }

    /// <summary>Refuses a <paramref name="frame"/> whose size is not the stream's; its rate is not compared.</summary>
    /// <param name="output">The output as the message names it.</param>
    /// <exception cref="FifoInputException"><see cref="SizeChangedErrorId"/>.</exception>
    public void EnsureMatches(VideoFrame frame, string output)
    {
        if (frame.Width != Width || frame.Height != Height)
            throw new FifoInputException(SizeChangedErrorId,
                $"Frame {frame.Index} is {frame.Width}x{frame.Height} but '{output}' was started at {Width}x{Height}. " +
                "A video keeps one size: write differently sized frames to separate outputs.");
    }

    /// <summary><see cref="Fps"/> as ffmpeg's arguments take it (<see cref="Decimal"/>).</summary>
    public string FpsText => Decimal(Fps);

    /// <summary>A rate or a time as ffmpeg's arguments take it: plain decimals, at most six places, no exponent.</summary>
    public static string Decimal(double value) => value.ToString("0.######", CultureInfo.InvariantCulture);
}
