using FifoPipes.Sinks.Images;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using Xunit;

namespace FifoPipes.Tests.Sinks;

/// <summary>A GIF that runs out of room in the middle of a frame still plays every frame before it.</summary>
public sealed class GifFileWriterTests
{
    /// <summary>A stream that, like a full disk, writes what fits below <see cref="Room"/> bytes and then fails.</summary>
    sealed class FullDisk : MemoryStream
    {
        public long Room { get; set; } = long.MaxValue;
        public override void Write(byte[] buffer, int offset, int count)
        {
            int fits = (int)Math.Clamp(Room - Position, 0, count);
            base.Write(buffer, offset, fits);
            if (fits < count) throw new IOException("No space left on device");
        }
        public override void Write(ReadOnlySpan<byte> buffer) => Write(buffer.ToArray(), 0, buffer.Length);
        public override void WriteByte(byte value) => Write(new[] { value }, 0, 1);
    }

    static byte[] OneFrameGif(byte shade)
    {
        using var image = new Image<Rgb24>(6, 4, new Rgb24(shade, (byte)(255 - shade), 40));
        using var encoded = new MemoryStream();
        image.SaveAsGif(encoded);
        return encoded.ToArray();
    }

    [Fact]
    public void A_failed_append_cuts_the_partial_frame_and_restores_the_trailer()
    {
        byte[] first = OneFrameGif(10), second = OneFrameGif(200);
        using var whole = new MemoryStream();
        using (var writer = new GifFileWriter(whole, 6, 4, loop: 0)) writer.AppendFrame(first, 12);
        var oneFrame = whole.ToArray();

        using var disk = new FullDisk();
        using var failing = new GifFileWriter(disk, 6, 4, loop: 0);
        failing.AppendFrame(first, 12);
        disk.Room = disk.Length + 20;   // the second frame's first bytes reach the disk, the rest does not
        Assert.Throws<IOException>(() => failing.AppendFrame(second, 12));

        Assert.Equal(oneFrame, disk.ToArray());
        using var decoded = Image.Load<Rgb24>(disk.ToArray());
        Assert.Equal(1, decoded.Frames.Count);
    }
}
