using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace FifoPipes.Tests.Sinks;

/// <summary>What ffprobe reads from a video, decoding every frame to count them.</summary>
/// <param name="Comment">The container's comment tag, or null.</param>
public sealed record ProbedVideo(string Codec, int Width, int Height, string PixelFormat, int Frames, double Duration, string? Comment = null);

public static class Ffprobe
{
    public static bool Available => OnPath("ffprobe") && OnPath("ffmpeg");

    public static bool OnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Any(folder => File.Exists(Path.Combine(folder, tool)));

    /// <summary>Runs ffmpeg (errors only) with <paramref name="arguments"/>, to make test media; fails the test with ffmpeg's message.</summary>
    public static void Ffmpeg(params string[] arguments)
    {
        var start = new ProcessStartInfo("ffmpeg") { RedirectStandardError = true };
        foreach (var a in new[] { "-v", "error" }.Concat(arguments)) start.ArgumentList.Add(a);
        using var ffmpeg = Process.Start(start)!;
        var errors = ffmpeg.StandardError.ReadToEnd();
        ffmpeg.WaitForExit();
        Xunit.Assert.True(ffmpeg.ExitCode == 0, errors);
    }

    public static ProbedVideo Probe(string path)
    {
        using var doc = Json(path, "-count_frames", "-select_streams", "v:0",
            "-show_entries", "stream=codec_name,width,height,pix_fmt,nb_read_frames:format=duration:format_tags");
        var stream = doc.RootElement.GetProperty("streams")[0];
        var format = doc.RootElement.GetProperty("format");
        return new ProbedVideo(
            stream.GetProperty("codec_name").GetString()!,
            stream.GetProperty("width").GetInt32(),
            stream.GetProperty("height").GetInt32(),
            stream.TryGetProperty("pix_fmt", out var pf) ? pf.GetString()! : "",
            int.Parse(stream.GetProperty("nb_read_frames").GetString()!, CultureInfo.InvariantCulture),
            format.TryGetProperty("duration", out var d) ? double.Parse(d.GetString()!, CultureInfo.InvariantCulture) : double.NaN,
            format.TryGetProperty("tags", out var tags)
                ? tags.EnumerateObject().Where(t => t.Name.Equals("comment", StringComparison.OrdinalIgnoreCase)).Select(t => t.Value.GetString()).FirstOrDefault()
                : null);
    }

    /// <summary>The kinds of a file's streams in order: video, audio, ...</summary>
    public static IReadOnlyList<string> StreamTypes(string path)
    {
        using var doc = Json(path, "-show_entries", "stream=codec_type");
        return doc.RootElement.GetProperty("streams").EnumerateArray().Select(s => s.GetProperty("codec_type").GetString()!).ToList();
    }

    /// <summary>The first audio stream's codec and duration in seconds (to its last packet's end, whatever the container says).</summary>
    public static (string Codec, double Duration) Audio(string path)
    {
        using var doc = Json(path, "-select_streams", "a:0", "-show_entries", "stream=codec_name:packet=pts_time,duration_time");
        var end = doc.RootElement.GetProperty("packets").EnumerateArray()
            .Max(p => double.Parse(p.GetProperty("pts_time").GetString()!, CultureInfo.InvariantCulture) + double.Parse(p.GetProperty("duration_time").GetString()!, CultureInfo.InvariantCulture));
        return (doc.RootElement.GetProperty("streams")[0].GetProperty("codec_name").GetString()!, end);
    }

    /// <summary>The smallest step in seconds between the first audio stream's packets (a muxer squeezes overlapping ones a tick apart).</summary>
    public static double SmallestAudioStep(string path)
    {
        using var doc = Json(path, "-select_streams", "a:0", "-show_entries", "packet=pts_time");
        var times = doc.RootElement.GetProperty("packets").EnumerateArray()
            .Select(p => double.Parse(p.GetProperty("pts_time").GetString()!, CultureInfo.InvariantCulture)).ToList();
        return times.Zip(times.Skip(1), (a, b) => b - a).Min();
    }

    /// <summary>The mean volume in dB of the first <paramref name="seconds"/> of a file's sound (ffmpeg's volumedetect; about -91 for silence).</summary>
    public static double MeanVolume(string path, double seconds)
    {
        var info = new ProcessStartInfo("ffmpeg") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in new[] { "-hide_banner", "-nostdin", "-i", path, "-map", "0:a:0", "-t", seconds.ToString(CultureInfo.InvariantCulture), "-af", "volumedetect", "-f", "null", "-" })
            info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        var match = System.Text.RegularExpressions.Regex.Match(stderr, @"mean_volume: (-?[\d.]+) dB");
        if (!match.Success) throw new InvalidOperationException($"ffmpeg measured no volume in {path}: {stderr}");
        return double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    /// <summary>Every frame of a video (or playlist) decoded to RGB24 bytes of <paramref name="width"/> x <paramref name="height"/>, in order.</summary>
    public static IReadOnlyList<byte[]> RgbFrames(string path, int width, int height)
    {
        var info = new ProcessStartInfo("ffmpeg") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "-v", "error", "-nostdin", "-i", path, "-f", "rawvideo", "-pix_fmt", "rgb24", "-" }) info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var errors = process.StandardError.ReadToEndAsync();
        using var bytes = new MemoryStream();
        process.StandardOutput.BaseStream.CopyTo(bytes);
        process.WaitForExit();
        Xunit.Assert.True(process.ExitCode == 0, errors.Result);
        int size = width * height * 3;
        var all = bytes.ToArray();
        return Enumerable.Range(0, all.Length / size).Select(i => all[(i * size)..((i + 1) * size)]).ToList();
    }

    /// <summary>What ffprobe says of <paramref name="path"/> with <paramref name="arguments"/>, as JSON; its error where it cannot read it.</summary>
    static JsonDocument Json(string path, params string[] arguments)
    {
        var info = new ProcessStartInfo("ffprobe") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "-v", "error" }.Concat(arguments).Concat(new[] { "-of", "json", path })) info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var json = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"ffprobe could not read {path}: {stderr.Result}");
        return JsonDocument.Parse(json);
    }
}
