using System.Globalization;
using System.Text.RegularExpressions;
using FifoPipes.Abstractions;

namespace FifoPipes.Sinks.Ffmpeg;

/// <summary>How every ffmpeg sink encodes: the codec, its quality and speed, and the frames' treatment before it.</summary>
public partial class FfmpegEncodingOptions : IValidatableOptions
{
    [Option("ffmpeg video encoder, e.g. libx264, libx265, libvpx-vp9, libsvtav1. Empty: libx264 for mp4, mkv, hls and streams, libvpx-vp9 for webm.")]
    public string Codec { get; set; } = "";

    [Option("Constant quality (lower is better and bigger). -1 uses the codec's recommended value: 18 for libx264, 22 for libx265, 31 for libvpx-vp9, 30 for AV1.",
        Min = -1, Max = 63)]
    public int Crf { get; set; } = -1;

    [Option("Encoder speed preset: -preset for libx264/libx265 (ultrafast ... veryslow) and libsvtav1 (0-13); -deadline for libvpx-vp9 (realtime, good, best). Empty leaves the encoder's default (the stream sink: veryfast for x264/x265).")]
    public string Preset { get; set; } = "";

    [Option("Pixel format of the encoded video. yuv420p plays everywhere; yuv444p keeps full colour detail but many players refuse it.")]
    public string PixelFormat { get; set; } = "yuv420p";

    [Option("Frame rate to motion-interpolate to before encoding (ffmpeg's minterpolate, motion-compensated), e.g. 24 for a model's 8 fps: " +
            "smoother motion at no diffusion cost. 0 keeps the frames as made.", Min = 0, Max = 240)]
    public double Interpolate { get; set; }

    [Option("Resize the frames by this factor before encoding (lanczos), e.g. 2 for 640x1024 from 320x512. 1 keeps their size.", Min = 0.25, Max = 8)]
    public double Scale { get; set; } = 1;

    [Option("An audio file (mp3, wav, ogg, m4a, ...) played under the video from its start, looped for as long as the video runs, " +
            "e.g. a music bed for a stream. A relative path is taken from the working folder (a recipe's: its own). A resumed run's new file, " +
            "and a stream that connects again, go on with it where it was. Empty: no sound.")]
    public string Audio { get; set; } = "";

    [Option("More ffmpeg output options, added just before the output file, e.g. \"-tune animation -g 48\". Quote arguments that contain spaces.")]
    public string ExtraArgs { get; set; } = "";

    public virtual IEnumerable<OptionProblem> Validate()
    {
        if (Codec.Length > 0 && !Name().IsMatch(Codec))
            yield return new OptionProblem("codec", $"codec '{Codec}' is not an encoder name; use one from `ffmpeg -encoders`, e.g. libx264.");
        if (Crf is < -1 or > 63)
            yield return new OptionProblem("crf", $"crf is {Crf}; use -1 (codec default) or 0 to 51 (x264/x265), 0 to 63 (vp9, av1).");
        if (Preset.Length > 0 && !Name().IsMatch(Preset))
            yield return new OptionProblem("preset", $"preset '{Preset}' is not a preset name such as medium, slow or good.");
        // Options set in code skip the binder's Min and Max (and its refusal of NaN).
        if (!(Interpolate == 0 || Interpolate is >= 1 and <= 240))
            yield return new OptionProblem("interpolate", string.Create(CultureInfo.InvariantCulture, $"interpolate is {Interpolate}; use 0 (off) or a frame rate from 1 to 240, e.g. 24."));
        if (!(Scale is >= 0.25 and <= 8))
            yield return new OptionProblem("scale", string.Create(CultureInfo.InvariantCulture, $"scale is {Scale}; use a factor from 0.25 to 8, e.g. 2 (1 keeps the size)."));
        if (!Name().IsMatch(PixelFormat))
            yield return new OptionProblem("pixelFormat", $"pixelFormat '{PixelFormat}' is not a pixel format name; use one from `ffmpeg -pix_fmts`, e.g. yuv420p.");
        string? extraProblem = null;
        try { CommandLineWords.Split(ExtraArgs); }
        catch (FormatException ex) { extraProblem = ex.Message; }
        if (extraProblem is not null)
            yield return new OptionProblem("extraArgs", $"extraArgs cannot be read: {extraProblem}");
    }

    [GeneratedRegex("^[A-Za-z0-9_][A-Za-z0-9_.-]*$")]
    protected static partial Regex Name();

    /// <summary>These options with <see cref="Audio"/> resolved against <paramref name="context"/>'s folder, refused where it is not a file.</summary>
    internal T WithAudioFrom<T>(PluginContext context, string sink) where T : FfmpegEncodingOptions
    {
        if (Audio.Length == 0) return (T)this;
        var path = context.ResolvePath(Audio);
        if (!File.Exists(path))
            throw new FifoInputException(AudioMissingErrorId, $"The {sink} sink's audio file '{path}' does not exist. Give the path of a sound file (mp3, wav, ...), or leave audio out.");
        var copy = (T)MemberwiseClone();
        copy.Audio = path;
        return copy;
    }

    public const string AudioMissingErrorId = "SinkAudioMissing";
}

/// <summary>The file sinks' options: the encoding, and how the mp4 and hls containers are laid out.</summary>
public sealed class FfmpegSinkOptions : FfmpegEncodingOptions
{
    [Option("mp4 only: write a fragmented MP4 (a playable part every second), so a crash or killed ffmpeg keeps the frames already encoded. " +
            "false writes a classic MP4 with its index at the front, which is lost entirely if ffmpeg does not finish.")]
    public bool Fragmented { get; set; } = true;

    [Option("hls only: seconds of video per segment file (each starts on a keyframe). Players start about three segments behind the run. " +
            "At least 1: the playlist states its longest segment in whole seconds, and a shorter one would state 0, which players refuse.", Min = MinSegmentSeconds, Max = 60)]
    public double Segment { get; set; } = 2;

    /// <summary>
    /// The shortest segment: ffmpeg writes EXT-X-TARGETDURATION as the longest segment rounded to whole seconds, half to
    /// even, so half-second segments would make it 0, which RFC 8216 forbids (every EXTINF rounded must fit under it).
    /// </summary>
    const double MinSegmentSeconds = 1;

    [Option("hls only: how many of the latest segments the playlist lists; older ones are deleted, so a stream that runs for days keeps a bounded " +
            "folder. 0 lists and keeps every segment (a growing playlist a player can also start from the beginning).", Min = 0, Max = 1000000)]
    public int Keep { get; set; }

    /// <summary>The options set away from their defaults that <paramref name="container"/> has no use for (an mp4's keep), each with the container it is for.</summary>
    public IReadOnlyList<(string Option, FfmpegContainer Container)> UnusedBy(FfmpegContainer container)
    {
        var defaults = new FfmpegSinkOptions();
        return new (string Option, FfmpegContainer For, bool Set)[]
            {
                ("fragmented", FfmpegContainer.Mp4, Fragmented != defaults.Fragmented),
                ("segment", FfmpegContainer.Hls, Segment != defaults.Segment),
                ("keep", FfmpegContainer.Hls, Keep != defaults.Keep),
            }
            .Where(o => o.Set && o.For != container).Select(o => (o.Option, o.For)).ToList();
    }

    public override IEnumerable<OptionProblem> Validate()
    {
        foreach (var problem in base.Validate()) yield return problem;
        if (Keep < 0)
            yield return new OptionProblem("keep", $"keep is {Keep}; use 0 (every segment) or how many of the latest segments to list, e.g. 6.");
        if (!(Segment is >= MinSegmentSeconds and <= 60))
            yield return new OptionProblem("segment", string.Create(CultureInfo.InvariantCulture,
                $"segment is {Segment} s; use 1 to 60 seconds, e.g. 2 (a playlist states its segments' length in whole seconds, and under 1 it would state 0)."));
    }
}
