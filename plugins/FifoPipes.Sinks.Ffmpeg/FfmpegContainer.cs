namespace FifoPipes.Sinks.Ffmpeg;

/// <summary>A file format the ffmpeg sinks write, with the codec it gets when none is asked for.</summary>
public sealed record FfmpegContainer(string Name, string Muxer, string DefaultCodec)
{
    public static readonly FfmpegContainer Mp4 = new("mp4", "mp4", "libx264");
    public static readonly FfmpegContainer WebM = new("webm", "webm", "libvpx-vp9");
    public static readonly FfmpegContainer Mkv = new("mkv", "matroska", "libx264");
    public static readonly FfmpegContainer Hls = new("hls", "hls", "libx264");
}
