using System.Globalization;
using FifoPipes.Core.Sinks;

namespace FifoPipes.Sinks.Ffmpeg;

/// <summary>The ffmpeg arguments for one output: raw RGB24 frames in on stdin, an encoded file out.</summary>
public static class FfmpegCommand
{
    static readonly Dictionary<string, int> RecommendedCrf = new(StringComparer.Ordinal)
    {
        ["libx264"] = 18,
        ["libx264rgb"] = 18,
        ["libx265"] = 22,
        ["libvpx-vp9"] = 31,
        ["libaom-av1"] = 30,
        ["libsvtav1"] = 30,
    };

    /// <summary>Encoders whose constant-quality mode needs the bitrate cap lifted, else -crf is only a floor.</summary>
    static readonly HashSet<string> CrfNeedsZeroBitrate = new(StringComparer.Ordinal) { "libvpx-vp9", "libaom-av1" };

    public static string CodecFor(FfmpegEncodingOptions options, FfmpegContainer container) =>
        options.Codec.Length > 0 ? options.Codec : container.DefaultCodec;

    /// <param name="comment">How the video was made, for the container's comment tag; null for none.</param>
    /// <param name="soundFrom">Seconds into the sound file where its first turn starts (a resumed run goes on with it).</param>
    public static IReadOnlyList<string> Build(FfmpegSinkOptions options, FfmpegContainer container, FrameFormat format, string output, bool overwrite,
        string? comment = null, double soundFrom = 0)
    {
        bool audio = options.Audio.Length > 0;
        var extra = CommandLineWords.Split(options.ExtraArgs).ToList();
        var args = Quiet().Concat(RawFrames(format, waiting: audio)).ToList();
        args.AddRange(audio ? SecondInput(LoopedSound(options.Audio)) : new[] { "-an" });
        args.AddRange(VideoEncoding(options, CodecFor(options, container), format));
        // The muxer cuts the sound where the frames end, not a few hundred milliseconds after (it waits for both to reach the end).
        if (audio) args.AddRange(AudioEncoding(AudioCodecFor(container), SoundStart(soundFrom, extra)).Concat(new[] { "-fflags", "+shortest", "-max_interleave_delta", "100M" }));
        if (container == FfmpegContainer.Hls) args.AddRange(HlsArguments(options, output));
        if (container == FfmpegContainer.Mp4)
            args.AddRange(options.Fragmented
                ? new[] { "-movflags", "+frag_keyframe+empty_moov+default_base_moof", "-frag_duration", "1000000" }
                : new[] { "-movflags", "+faststart" });
        args.AddRange(FlushEveryPacket);

        if (comment is not null) args.AddRange(new[] { "-metadata", "comment=" + comment });
        args.AddRange(container == FfmpegContainer.Hls ? HlsExtraArguments.AddedToOwn(extra) : extra);
        // ffmpeg's hls muxer finds the playlist's folder (where the init segment goes) by its last '/', also on Windows.
        bool windowsPlaylist = container == FfmpegContainer.Hls && Path.DirectorySeparatorChar == '\\';
        args.AddRange(new[] { "-f", container.Muxer, overwrite ? "-y" : "-n", windowsPlaylist ? output.Replace('\\', '/') : output });
        return args;
    }

    /// <summary>
    /// The arguments for a live stream to <paramref name="address"/>: paced at the frames' rate where asked (a server
    /// plays what arrives as it arrives), encoded without lookahead so each frame leaves as it comes, a keyframe every
    /// <see cref="StreamSinkOptions.Keyframes"/> seconds for players that join, and a silent audio track where asked.
    /// </summary>
    /// <param name="soundFrom">Seconds into the sound file where its first turn starts (a stream connected again goes on with it).</param>
    public static IReadOnlyList<string> BuildStream(StreamSinkOptions options, StreamProtocol protocol, FrameFormat format, string address, double soundFrom = 0)
    {
        var (codec, defaultPreset) = StreamCodec(options);
        bool x26x = codec is "libx264" or "libx265";
        var args = Quiet().ToList();
        bool audio = options.Audio.Length > 0 || options.SilentAudio;
        // -re paces the frames' input only.
        if (options.Realtime) args.Add("-re");
        args.AddRange(RawFrames(format, waiting: options.Realtime || audio));
        if (options.Audio.Length > 0) args.AddRange(SecondInput(LoopedSound(options.Audio)));
        else if (options.SilentAudio) args.AddRange(SecondInput("-f", "lavfi", "-i", "anullsrc=channel_layout=stereo:sample_rate=44100"));
        args.AddRange(VideoEncoding(options, codec, format, defaultPreset));
        if (x26x) args.AddRange(new[] { "-tune", "zerolatency" });
        if (options.BitsPerSecond > 0)
            args.AddRange(new[] { "-maxrate", options.Bitrate, "-bufsize", (2 * options.BitsPerSecond).ToString("R", CultureInfo.InvariantCulture) });
        args.AddRange(KeyframesEvery(options.Keyframes));
        var extra = CommandLineWords.Split(options.ExtraArgs).ToList();
        if (audio) args.AddRange(AudioEncoding("aac", SoundStart(soundFrom, extra)));
        args.AddRange(protocol.OutputArguments);
        args.AddRange(FlushEveryPacket);
        args.AddRange(extra);
        args.AddRange(new[] { "-f", protocol.Muxer, address });
        return args;
    }

    /// <summary>
    /// The sink's video encoding (and its sound's, where <paramref name="audioCodec"/> names one) of two black frames
    /// into <paramref name="muxer"/>: what <see cref="EncoderTrial"/> runs before the run. The frames' size is not known yet, so they are
    /// 256x256 (above hardware encoders' smallest, 145 for NVENC). Extra arguments go where the run puts them, when
    /// given: the trial with them may fail only for want of the real frames (a crop), which <see cref="EncoderTrial"/> tells apart.
    /// </summary>
    /// <param name="muxer">Where the frames go: the sink's container, or none for the encoder alone.</param>
    /// <param name="extra">The sink's extra arguments, tried where the run puts them; none for the encoder alone.</param>
    internal static IReadOnlyList<string> Trial(FfmpegEncodingOptions options, string codec, string? audioCodec, TrialMuxer muxer, string defaultPreset = "",
        IReadOnlyList<string>? extra = null)
    {
        var format = new FrameFormat(TrialSide, TrialSide, 8);
        // Errors only: the first line then says what went wrong, before ffmpeg's general lines after it.
        var args = new List<string> { "-hide_banner", "-nostats", "-loglevel", "error", "-nostdin", "-f", "lavfi", "-i", $"color=black:s={TrialSide}x{TrialSide}:r={format.FpsText}" };
        if (audioCodec is not null) args.AddRange(SecondInput("-f", "lavfi", "-i", "anullsrc=channel_layout=stereo:sample_rate=44100"));
        args.AddRange(VideoEncoding(options, codec, format, defaultPreset));
        if (audioCodec is not null) args.AddRange(AudioEncoding(audioCodec));
        if (extra is not null) args.AddRange(extra);
        // After the extra arguments: the trial's own output options (a pipe's movflags) win over theirs.
        args.AddRange(new[] { "-frames:v", "2" }.Concat(muxer.Arguments));
        return args;
    }

    const int TrialSide = 256;

    /// <summary>The sound's codec in a file of <paramref name="container"/>: Opus in WebM, AAC elsewhere.</summary>
    public static string AudioCodecFor(FfmpegContainer container) => container == FfmpegContainer.WebM ? "libopus" : "aac";

    /// <summary>The codec and default preset of a live stream: x264 and x265 at veryfast, as fast as a stream needs.</summary>
    public static (string Codec, string DefaultPreset) StreamCodec(StreamSinkOptions options)
    {
        var codec = CodecFor(options, FfmpegContainer.Mp4);
        return (codec, codec is "libx264" or "libx265" ? "veryfast" : "");
    }

    /// <summary>A keyframe every <paramref name="seconds"/> of video: where a segment may start, or a player join.</summary>
    static string[] KeyframesEvery(double seconds) =>
        new[] { "-force_key_frames", string.Create(CultureInfo.InvariantCulture, $"expr:gte(t,n_forced*{seconds:R})") };

    /// <summary>What a log says where the pixel format makes ffmpeg pad the frames; null where it does not.</summary>
    public static string? PaddingNote(FfmpegEncodingOptions options, FrameFormat format) =>
        EncodedSize(options, format) is { Padded: true } encoded
            ? $"frames are padded to {encoded.Width}x{encoded.Height} with black; {options.PixelFormat} needs even sides."
            : null;

    /// <summary>The command line as a log shows it: each argument as <paramref name="shown"/> makes it, quoted for a shell.</summary>
    public static string Show(IEnumerable<string> arguments, Func<string, string> shown) =>
        string.Join(' ', arguments.Select(a => CommandLineWords.Quote(shown(a))));

    /// <summary>
    /// The sound as the second input (a file looped without end, or silence: the video decides the length), its first
    /// audio track mapped beside the frames.
    /// </summary>
    static string[] SecondInput(params string[] input) => input.Concat(new[] { "-map", "0:v", "-map", "1:a:0" }).ToArray();

    /// <summary>A sound file looped without end.</summary>
    static string[] LoopedSound(string path) => new[] { "-stream_loop", "-1", "-i", path };

    /// <summary>
    /// The audio codec, after <paramref name="soundStart"/> (<see cref="SoundStart"/>) where the sound does not start at
    /// its beginning; the endless audio input (a looped file, silence) ends with the frames.
    /// </summary>
    static string[] AudioEncoding(string codec, string? soundStart = null) =>
        (soundStart is not null ? new[] { "-af", soundStart } : Array.Empty<string>())
        .Concat(new[] { "-c:a", codec, "-b:a", "128k", "-shortest" }).ToArray();

    /// <summary>
    /// The filter that starts the sound's first turn <paramref name="soundFrom"/> seconds in (later turns from its start),
    /// trimmed after the loop: ffmpeg 5.1 starts every later turn of a looped input seeked with -ss that far too early,
    /// and the muxer squeezes the overlap into packets a tick apart. Null where the sound starts at its beginning, or
    /// where the user's own audio filter in <paramref name="extra"/> takes the trim first (ffmpeg keeps only the last -af).
    /// </summary>
    static string? SoundStart(double soundFrom, List<string> extra)
    {
        if (soundFrom <= 0) return null;
        var trim = $"atrim=start={FrameFormat.Decimal(soundFrom)},asetpts=PTS-STARTPTS";
        int own = extra.FindLastIndex(a => a is "-af" or "-filter:a" or "-filter:a:0");
        if (own < 0 || own + 1 >= extra.Count) return trim;
        extra[own + 1] = trim + "," + extra[own + 1];
        return null;
    }

    static string[] Quiet() => new[] { "-hide_banner", "-nostats", "-loglevel", "warning" };

    /// <summary>The frames' input queue where they wait (-thread_queue_size): ffmpeg fills it ahead of a paced read.</summary>
    internal const int InputQueueFrames = 64;

    /// <param name="waiting">Beside a second input (sound), or paced by -re, frames wait in their queue longer than its
    /// default eight allow; otherwise the eight are all a killed ffmpeg loses.</param>
    static string[] RawFrames(FrameFormat format, bool waiting) =>
        (waiting ? new[] { "-thread_queue_size", InputQueueFrames.ToString(CultureInfo.InvariantCulture) } : Array.Empty<string>())
        .Concat(new[] { "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", $"{format.Width}x{format.Height}", "-r", format.FpsText, "-i", "-" }).ToArray();

    // Hand every packet to the file (or the connection) at once: what ffmpeg has encoded survives if it is killed.
    static readonly string[] FlushEveryPacket = { "-flush_packets", "1" };

    /// <summary>The video codec with its quality, speed and pixel format, and the filters before it.</summary>
    static List<string> VideoEncoding(FfmpegEncodingOptions options, string codec, FrameFormat format, string defaultPreset = "")
    {
        var args = new List<string> { "-c:v", codec };
        int crf = options.Crf >= 0 ? options.Crf : RecommendedCrf.GetValueOrDefault(codec, -1);
        if (crf >= 0)
        {
            args.AddRange(new[] { "-crf", crf.ToString(CultureInfo.InvariantCulture) });
            if (CrfNeedsZeroBitrate.Contains(codec)) args.AddRange(new[] { "-b:v", "0" });
        }
        if (codec == "libvpx-vp9") args.AddRange(new[] { "-row-mt", "1" });
        var preset = options.Preset.Length > 0 ? options.Preset : defaultPreset;
        if (preset.Length > 0)
            args.AddRange(codec == "libvpx-vp9" ? new[] { "-deadline", preset } : new[] { "-preset", preset });

        args.AddRange(new[] { "-pix_fmt", options.PixelFormat });
        if (VideoFilters(options, format) is { Count: > 0 } filters) args.AddRange(new[] { "-vf", string.Join(",", filters) });
        return args;
    }

    /// <summary>
    /// The playlist lists every segment and grows with the run (an EVENT playlist: a player can start from the beginning
    /// or join live), or only the latest <see cref="FfmpegSinkOptions.Keep"/>, deleting older ones (a live window whose
    /// folder stays bounded however long the run). Segments are written under a temporary name and renamed when complete
    /// (temp_file), so a player never fetches half of one. Segments are fragmented MP4, whose init segment keeps the comment tag (the run's
    /// provenance) that MPEG-TS would drop; a keyframe starts every segment, so each is as long as asked. They lie
    /// beside the playlist, named after it (<see cref="HlsFiles"/>), so a resumed run's new playlist gets segments of its own.
    /// ffmpeg leaves the playlist open (omit_endlist) and the sink ends it when the run ends: a killed run's playlist stays
    /// open, so its viewers wait for the resumed run to carry it on (<see cref="HlsContinuation"/>).
    /// </summary>
    static IEnumerable<string> HlsArguments(FfmpegSinkOptions options, string playlist)
    {
        string seconds = options.Segment.ToString("R", CultureInfo.InvariantCulture);
        var listing = options.Keep > 0
            ? new[] { "-hls_list_size", options.Keep.ToString(CultureInfo.InvariantCulture), "-hls_flags", "delete_segments+temp_file+omit_endlist" }
            : new[] { "-hls_list_size", "0", "-hls_playlist_type", "event", "-hls_flags", "temp_file+omit_endlist" };
        return KeyframesEvery(options.Segment).Concat(new[] { "-hls_time", seconds }).Concat(listing).Concat(new[]
        {
            "-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", HlsFiles.InitName(playlist), "-hls_segment_filename", HlsFiles.SegmentPattern(playlist),
        });
    }

    /// <summary>
    /// Interpolation first, on the frames as made (its motion search costs by the pixel), then resizing, then padding
    /// what the pixel format cannot hold.
    /// </summary>
    static List<string> VideoFilters(FfmpegEncodingOptions options, FrameFormat format)
    {
        var filters = new List<string>();
        // minterpolate stops at the last frame's start, dropping its interval; a held copy of it keeps most of that time.
        if (Interpolates(options, format))
            filters.Add(string.Create(CultureInfo.InvariantCulture, $"tpad=stop_mode=clone:stop=1,minterpolate=fps={options.Interpolate:R}:mi_mode=mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1"));
        var size = EncodedSize(options, format);
        if ((size.ScaledWidth, size.ScaledHeight) != (format.Width, format.Height))
            filters.Add(string.Create(CultureInfo.InvariantCulture, $"scale={size.ScaledWidth}:{size.ScaledHeight}:flags=lanczos"));
        if (size.Padded)
            filters.Add("pad=ceil(iw/2)*2:ceil(ih/2)*2");
        return filters;
    }

    /// <summary>Whether the file gets more frames than the sink is given: interpolation to a rate above the frames' own.</summary>
    public static bool Interpolates(FfmpegEncodingOptions options, FrameFormat format) => options.Interpolate > format.Fps;

    /// <summary>
    /// The size of the encoded frames: scaled by <see cref="FfmpegSinkOptions.Scale"/> (at least a pixel a side), then
    /// padded by a black row or column where a chroma-subsampled pixel format cannot hold an odd side.
    /// </summary>
    public static (int Width, int Height, int ScaledWidth, int ScaledHeight, bool Padded) EncodedSize(FfmpegEncodingOptions options, FrameFormat format)
    {
        int width = Math.Max(1, (int)Math.Round(format.Width * options.Scale)), height = Math.Max(1, (int)Math.Round(format.Height * options.Scale));
        bool subsampled = options.PixelFormat.Contains("420") || options.PixelFormat.Contains("422") || options.PixelFormat.StartsWith("nv", StringComparison.Ordinal);
        bool padded = subsampled && (width % 2 == 1 || height % 2 == 1);
        return (padded ? (width + 1) / 2 * 2 : width, padded ? (height + 1) / 2 * 2 : height, width, height, padded);
    }
}
