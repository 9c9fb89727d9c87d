using FifoPipes.Abstractions;
using Xunit;

namespace FifoPipes.Tests.Sinks;

/// <summary>Sink tests that change process-wide state (environment, GC measurements) run alone, after the others.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SerialSinkTests
{
    public const string Name = "Sinks that need the process to themselves";
}

/// <summary>A temporary folder per test class instance, removed afterwards.</summary>
public abstract class SinkTestBase : IDisposable
{
    protected readonly string Dir = Directory.CreateTempSubdirectory("fifo-sink-").FullName;
    protected PluginContext Context => new(workingDirectory: Dir);

    public virtual void Dispose() => Directory.Delete(Dir, recursive: true);

    /// <summary>Deterministic, visibly moving content: a gradient shifted by the frame index plus seeded noise.</summary>
    public static VideoFrame Frame(long index, int width = 32, int height = 24, double fps = 8, int seed = 1)
    {
        var random = new Random(seed * 7919 + (int)index);
        var rgb = new byte[width * height * 3];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                int p = (y * width + x) * 3;
                rgb[p] = (byte)((x * 255 / Math.Max(1, width - 1) + index * 16) & 255);
                rgb[p + 1] = (byte)(y * 255 / Math.Max(1, height - 1));
                rgb[p + 2] = (byte)random.Next(256);
            }
        return new VideoFrame(index, width, height, rgb, "a test", fps, Guid.Empty);
    }

    /// <summary><see cref="Frame"/>s <paramref name="first"/>, <paramref name="first"/> + 1, ...</summary>
    public static IEnumerable<VideoFrame> Frames(int count, int width = 64, int height = 48, long first = 0) =>
        Enumerable.Range(0, count).Select(i => Frame(first + i, width, height));

    /// <summary>An image file's pixels as RGB24 bytes, row by row (what a PNG frame holds, without the record of its run).</summary>
    public static byte[] Pixels(string path)
    {
        using var image = SixLabors.ImageSharp.Image.Load<SixLabors.ImageSharp.PixelFormats.Rgb24>(path);
        var bytes = new byte[image.Width * image.Height * 3];
        image.CopyPixelDataTo(bytes);
        return bytes;
    }

    public static VideoFrame Solid(long index, byte r, byte g, byte b, int width = 16, int height = 12, double fps = 8)
    {
        var rgb = new byte[width * height * 3];
        for (int p = 0; p < rgb.Length; p += 3) { rgb[p] = r; rgb[p + 1] = g; rgb[p + 2] = b; }
        return new VideoFrame(index, width, height, rgb, "solid", fps, Guid.Empty);
    }
}
