namespace FifoPipes.Sinks.Ffmpeg;

/// <summary>
/// Where <see cref="EncoderTrial"/>'s two frames go: the muxer the run writes with, so a codec its container cannot
/// hold (H.264 in WebM) is refused before the run, not when ffmpeg writes the file's header at the first frame. They go
/// to ffmpeg's stdout, which the trial drops: a refused check leaves no file behind.
/// </summary>
/// <param name="Arguments">ffmpeg's output arguments, the output included.</param>
/// <param name="Destination">What the codec goes into, for a message: "a .webm file", "the FLV that rtmp:// carries".</param>
/// <param name="Fix">What to do instead, for a message: the codecs that fit, or a container that takes the codec.</param>
sealed record TrialMuxer(IReadOnlyList<string> Arguments, string Destination, string Fix)
{
    /// <summary>The encoder alone, into no container: tells a refused encoder from a refused container.</summary>
    public static readonly TrialMuxer None = new(new[] { "-f", "null", "-" }, "nothing", "");

    // MP4 on a pipe must be fragmented: a plain one seeks back to write its index. The codec's fit is checked as the header is written, either way.
    static readonly string[] Mp4OnAPipe = { "-movflags", "+frag_keyframe+empty_moov", "-f", "mp4", "pipe:1" };

    static readonly TrialMuxer Mp4 = new(Mp4OnAPipe, "an .mp4 file", "use codec libx264, libx265 or libaom-av1, or write .mkv (Matroska takes almost any codec)");
    static readonly TrialMuxer WebM = new(OnAPipe("webm"), "a .webm file", "use codec libvpx-vp9 or libaom-av1, or write .mp4/.mkv");
    static readonly TrialMuxer Mkv = new(OnAPipe("matroska"), "an .mkv file", "use codec libx264, libx265 or libvpx-vp9");
    // The playlist's segments are fragmented MP4 (FfmpegCommand.HlsArguments); the hls muxer itself would write files.
    static readonly TrialMuxer Hls = new(Mp4OnAPipe, "an hls playlist's segments (fragmented MP4)", "use codec libx264 or libx265, or write .mkv");

    public static TrialMuxer For(FfmpegContainer container) =>
        container == FfmpegContainer.WebM ? WebM
        : container == FfmpegContainer.Mkv ? Mkv
        : container == FfmpegContainer.Hls ? Hls
        : Mp4;

    public static TrialMuxer For(StreamProtocol protocol) => new(OnAPipe(protocol.Muxer),
        $"the {(protocol.Muxer == "flv" ? "FLV" : "MPEG-TS")} that {protocol.Scheme}:// carries",
        protocol.Muxer == "flv" ? "use codec libx264, the one RTMP servers take" : "use codec libx264 or libx265");

    static string[] OnAPipe(string muxer) => new[] { "-f", muxer, "pipe:1" };
}
