using System.Globalization;

namespace FifoPipes.Core.Media;

/// <summary>
/// How many frames a video or GIF file holds, read cheaply from the file itself: a long video's frames are counted from
/// its packets, never decoded, and a GIF's images by walking its blocks. Both count what a file cut short (a run killed
/// while writing, a full disk) holds whole.
/// </summary>
public static class FramesInFile
{
    /// <summary>
    /// The video frames of a video or HLS playlist: ffmpeg copies its packets to nowhere and reports how many, reading
    /// the container without decoding. Null where ffmpeg cannot read it.
    /// </summary>
    /// <exception cref="FifoPipes.Abstractions.FifoInputException">ffmpeg cannot be found or started (<see cref="FfmpegLocator.NotFoundErrorId"/>).</exception>
    public static long? Video(string path)
    {
        using var process = FfmpegLocator.StartReading(new[]
        {
            "-v", "error", "-nostdin", "-nostats", "-progress", "pipe:1", "-i", path, "-map", "0:v:0", "-c", "copy", "-f", "null", "-",
        });
        // Read, not shown: a full stderr pipe would stall ffmpeg, and a file it cannot count is reported as uncounted.
        _ = process.StandardError.ReadToEndAsync();
        var report = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0) return null;
        // The report repeats its block as the copy goes; the last block's frame= is the total.
        return report.Split('\n').Select(l => l.Trim()).LastOrDefault(l => l.StartsWith("frame=", StringComparison.Ordinal)) is { } last
               && long.TryParse(last["frame=".Length..], NumberStyles.None, CultureInfo.InvariantCulture, out long frames)
            ? frames
            : null;
    }

    /// <summary>
    /// The images of a GIF, found by walking its blocks without decoding any: the images a file cut short holds whole
    /// (a run killed while the GIF sink wrote leaves one without its trailer).
    /// </summary>
    public static long Gif(string path)
    {
        using var gif = File.OpenRead(path);
        var screen = new byte[13];
        if (gif.ReadAtLeast(screen, screen.Length, throwOnEndOfStream: false) < screen.Length) return 0;
        if (!Skip(gif, ColourTableBytes(screen[10]))) return 0;
        long images = 0;
        while (true)
        {
            switch (gif.ReadByte())
            {
                case 0x21: // an extension: its label, then its data
                    if (gif.ReadByte() < 0 || !SkipSubBlocks(gif)) return images;
                    break;
                case 0x2C: // an image: its descriptor, colour table, LZW code size, then its data
                    var descriptor = new byte[9];
                    if (gif.ReadAtLeast(descriptor, descriptor.Length, throwOnEndOfStream: false) < descriptor.Length
                        || !Skip(gif, ColourTableBytes(descriptor[8]) + 1) || !SkipSubBlocks(gif))
                        return images;
                    images++;
                    break;
                default: // the trailer, the file's end, or bytes no GIF holds there
                    return images;
            }
        }
    }

    /// <summary>The bytes of the colour table a screen's or image's packed flags announce.</summary>
    static int ColourTableBytes(byte flags) => (flags & 0x80) == 0 ? 0 : 3 << ((flags & 0x07) + 1);

    /// <summary>Skips data sub-blocks up to their terminator; false where the file ends first.</summary>
    static bool SkipSubBlocks(Stream gif)
    {
        while (true)
        {
            int size = gif.ReadByte();
            if (size < 0) return false;
            if (size == 0) return true;
            if (!Skip(gif, size)) return false;
        }
    }

    static bool Skip(Stream gif, int bytes)
    {
        if (gif.Position + bytes > gif.Length) return false;
        gif.Seek(bytes, SeekOrigin.Current);
        return true;
    }
}
