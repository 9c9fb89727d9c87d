namespace FifoPipes.Sinks.Ffmpeg;

/// <summary>
/// A file format the ffmpeg sinks write, with the codec it gets when none is asked for. A resumed run's new file joins
/// the interrupted one into <see cref="JoinedExtension"/> (null: the format's own), after <see cref="JoinNote"/>.
/// </summary>
public sealed record FfmpegContainer(string Name, string Muxer, string DefaultCodec, string? JoinedExtension = null, string? JoinNote = null)
{
    public static readonly FfmpegContainer Mp4 = new("mp4", "mp4", "libx264");
    public static readonly FfmpegContainer WebM = new("webm", "webm", "libvpx-vp9");
    public static readonly FfmpegContainer Mkv = new("mkv", "matroska", "libx264");
    // Two playlists join into a video file; a killed run's playlist lacks its end tag, without which ffmpeg takes it
    // for a live stream and waits for more.
    public static readonly FfmpegContainer Hls = new("hls", "hls", "libx264", ".mp4", "if the first run was killed, end its playlist with the line #EXT-X-ENDLIST first");
}
