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

    public static string CodecFor(FfmpegSinkOptions options, FfmpegContainer container) =>
        options.Codec.Length > 0 ? options.Codec : container.DefaultCodec;

    /// <param name="comment">How the video was made, for the container's comment tag; null for none.</param>
    public static IReadOnlyList<string> Build(FfmpegSinkOptions options, FfmpegContainer container, FrameFormat format, string output, bool overwrite,
        string? comment = null)
    {
        var codec = CodecFor(options, container);
        var args = new List<string>
        {
            "-hide_banner", "-nostats", "-loglevel", "warning",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", $"{format.Width}x{format.Height}", "-r", format.FpsText, "-i", "-",
            "-an", "-c:v", codec,
        };

        int crf = options.Crf >= 0 ? options.Crf : RecommendedCrf.GetValueOrDefault(codec, -1);
        if (crf >= 0)
        {
            args.AddRange(new[] { "-crf", crf.ToString(CultureInfo.InvariantCulture) });
            if (CrfNeedsZeroBitrate.Contains(codec)) args.AddRange(new[] { "-b:v", "0" });
        }
        if (codec == "libvpx-vp9") args.AddRange(new[] { "-row-mt", "1" });
        if (options.Preset.Length > 0)
            args.AddRange(codec == "libvpx-vp9" ? new[] { "-deadline", options.Preset } : new[] { "-preset", options.Preset });

        args.AddRange(new[] { "-pix_fmt", options.PixelFormat });
        if (VideoFilters(options, format) is { Count: > 0 } filters) args.AddRange(new[] { "-vf", string.Join(",", filters) });

        if (container == FfmpegContainer.Hls) args.AddRange(HlsArguments(options, output));
        if (container == FfmpegContainer.Mp4)
            args.AddRange(options.Fragmented
                ? new[] { "-movflags", "+frag_keyframe+empty_moov+default_base_moof", "-frag_duration", "1000000" }
                : new[] { "-movflags", "+faststart" });
        // Hand every packet to the file at once: what ffmpeg has encoded survives if it is killed.
        args.AddRange(new[] { "-flush_packets", "1" });

        if (comment is not null) args.AddRange(new[] { "-metadata", "comment=" + comment });
        args.AddRange(CommandLineWords.Split(options.ExtraArgs));
        // ffmpeg's hls muxer finds the playlist's folder (where the init segment goes) by its last '/', also on Windows.
        bool windowsPlaylist = container == FfmpegContainer.Hls && Path.DirectorySeparatorChar == '\\';
        args.AddRange(new[] { "-f", container.Muxer, overwrite ? "-y" : "-n", windowsPlaylist ? output.Replace('\\', '/') : output });
        return args;
    }

    /// <summary>
    /// The playlist lists every segment and grows with the run (an EVENT playlist: a player can start from the beginning
    /// or join live), or only the latest <see cref="FfmpegSinkOptions.Keep"/>, deleting older ones (a live window whose
    /// folder stays bounded however long the run). Segments are written under a temporary name and renamed when complete
    /// (temp_file), so a player never fetches half of one. Segments are fragmented MP4, whose init segment keeps the comment tag (the run's
    /// provenance) that MPEG-TS would drop; a keyframe starts every segment, so each is as long as asked. They lie
    /// beside the playlist, named after it (<see cref="HlsFiles"/>), so a resumed run's new playlist gets segments of its own.
    /// </summary>
    static IEnumerable<string> HlsArguments(FfmpegSinkOptions options, string playlist)
    {
        string seconds = options.Segment.ToString("R", CultureInfo.InvariantCulture);
        var listing = options.Keep > 0
            ? new[] { "-hls_list_size", options.Keep.ToString(CultureInfo.InvariantCulture), "-hls_flags", "delete_segments+temp_file" }
            : new[] { "-hls_list_size", "0", "-hls_playlist_type", "event", "-hls_flags", "temp_file" };
        return new[] { "-force_key_frames", $"expr:gte(t,n_forced*{seconds})", "-hls_time", seconds }.Concat(listing).Concat(new[]
        {
            "-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", HlsFiles.InitName(playlist), "-hls_segment_filename", HlsFiles.SegmentPattern(playlist),
        });
    }

    /// <summary>
    /// Interpolation first, on the frames as made (its motion search costs by the pixel), then resizing, then padding
    /// what the pixel format cannot hold.
    /// </summary>
    static List<string> VideoFilters(FfmpegSinkOptions options, FrameFormat format)
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
    public static bool Interpolates(FfmpegSinkOptions options, FrameFormat format) => options.Interpolate > format.Fps;

    /// <summary>
    /// The size of the encoded frames: scaled by <see cref="FfmpegSinkOptions.Scale"/> (at least a pixel a side), then
    /// padded by a black row or column where a chroma-subsampled pixel format cannot hold an odd side.
    /// </summary>
    public static (int Width, int Height, int ScaledWidth, int ScaledHeight, bool Padded) EncodedSize(FfmpegSinkOptions options, FrameFormat format)
    {
        int width = Math.Max(1, (int)Math.Round(format.Width * options.Scale)), height = Math.Max(1, (int)Math.Round(format.Height * options.Scale));
        bool subsampled = options.PixelFormat.Contains("420") || options.PixelFormat.Contains("422") || options.PixelFormat.StartsWith("nv", StringComparison.Ordinal);
        bool padded = subsampled && (width % 2 == 1 || height % 2 == 1);
        return (padded ? (width + 1) / 2 * 2 : width, padded ? (height + 1) / 2 * 2 : height, width, height, padded);
    }
}
