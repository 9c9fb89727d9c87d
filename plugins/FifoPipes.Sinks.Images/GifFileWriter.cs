using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace FifoPipes.Sinks.Images;

/// <summary>
/// Builds an animated GIF one frame at a time straight on disk. The trailer byte is rewritten after
/// every frame, so the file is a complete, playable GIF between any two frames and memory does not
/// grow with the number of frames. Every frame carries its own (local) colour table: frames of a
/// video differ too much for one shared palette, and no palette has to be known in advance.
/// </summary>
internal sealed class GifFileWriter : IDisposable
{
    const byte ExtensionIntroducer = 0x21;
    const byte GraphicControlLabel = 0xF9;
    const byte ApplicationLabel = 0xFF;
    const byte CommentLabel = 0xFE;
    const byte ImageSeparator = 0x2C;
    const byte Trailer = 0x3B;

    readonly Stream file;
    long trailerPosition;

    /// <param name="loop">0 repeats forever, 1 plays once, N plays N times.</param>
    /// <param name="comment">Text for a comment extension (how the video was made), or null.</param>
    public GifFileWriter(Stream file, int width, int height, int loop, string? comment = null)
    {
        if (width is < 1 or > ushort.MaxValue || height is < 1 or > ushort.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(width), $"A GIF is at most 65535x65535 pixels, got {width}x{height}.");
        this.file = file;
        Span<byte> screen = stackalloc byte[13];
        Encoding.ASCII.GetBytes("GIF89a", screen);
        BinaryPrimitives.WriteUInt16LittleEndian(screen[6..], (ushort)width);
        BinaryPrimitives.WriteUInt16LittleEndian(screen[8..], (ushort)height);
        screen[10] = 0x70; // no global colour table, 8 bits of colour resolution
        screen[11] = 0;    // background colour index
        screen[12] = 0;    // square pixels
        file.Write(screen);
        if (loop != 1) WriteLoopExtension(loop == 0 ? 0 : loop - 1);
        if (comment is not null) WriteComment(comment);
        trailerPosition = file.Position;
        WriteTrailer();
    }

    /// <summary>The NETSCAPE2.0 block: its count is extra repetitions after the first play, 0 forever.</summary>
    void WriteLoopExtension(int repetitions)
    {
        Span<byte> block = stackalloc byte[19];
        block[0] = ExtensionIntroducer;
        block[1] = ApplicationLabel;
        block[2] = 11;
        Encoding.ASCII.GetBytes("NETSCAPE2.0", block[3..]);
        block[14] = 3;
        block[15] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(block[16..], (ushort)Math.Min(repetitions, ushort.MaxValue));
        block[18] = 0;
        file.Write(block);
    }

    /// <summary>
    /// A comment extension: the text, escaped to the 7-bit ASCII the format asks for
    /// (<see cref="FifoPipes.Core.Media.ProvenanceReader.EscapeGifComment"/>), in data sub-blocks of at most 255 bytes,
    /// then the block terminator.
    /// </summary>
    void WriteComment(string comment)
    {
        var text = Encoding.ASCII.GetBytes(FifoPipes.Core.Media.ProvenanceReader.EscapeGifComment(comment));
        var block = new List<byte> { ExtensionIntroducer, CommentLabel };
        foreach (var piece in text.Chunk(255))
        {
            block.Add((byte)piece.Length);
            block.AddRange(piece);
        }
        block.Add(0);
        file.Write(block.ToArray());
    }

    /// <summary>
    /// Appends the image of <paramref name="singleFrameGif"/> (a whole GIF holding one frame) as the next frame. The frame
    /// and a new trailer go to the file in one write (the file should be unbuffered); if it fails (a full disk), the
    /// partial frame is cut off and the old trailer put back, so the file still plays every frame before it.
    /// </summary>
    public void AppendFrame(ReadOnlySpan<byte> singleFrameGif, int delayCentiseconds)
    {
        var frame = EncodedGifFrame.Parse(singleFrameGif);
        var bytes = Encode(frame, delayCentiseconds);
        try
        {
            file.Position = trailerPosition;
            file.Write(bytes);
            file.Flush();
        }
        catch (IOException)
        {
            RestoreEnd();
            throw;
        }
        // Only now does the new frame count: the trailer is the last byte written.
        trailerPosition += bytes.Length - 1;
    }

    /// <summary>Best effort after a failed append: the disk that just failed may refuse this too.</summary>
    void RestoreEnd()
    {
        try
        {
            file.SetLength(trailerPosition);
            file.Position = trailerPosition;
            WriteTrailer();
        }
        catch (IOException) { }
    }

    /// <summary>Graphic control block, image descriptor, colour table, image data and the trailer.</summary>
    ReadOnlySpan<byte> Encode(EncodedGifFrame frame, int delayCentiseconds)
    {
        // One buffer for every frame: an endless GIF must not allocate (and copy) each frame's bytes twice.
        var bytes = frameBytes;
        bytes.ResetWrittenCount();
        Span<byte> control = stackalloc byte[8];
        control[0] = ExtensionIntroducer;
        control[1] = GraphicControlLabel;
        control[2] = 4;
        control[3] = 1 << 2; // disposal: leave the frame in place; no transparency, every pixel is opaque
        BinaryPrimitives.WriteUInt16LittleEndian(control[4..], (ushort)Math.Clamp(delayCentiseconds, 0, ushort.MaxValue));
        control[6] = 0;
        control[7] = 0;
        bytes.Write(control);

        Span<byte> descriptor = stackalloc byte[10];
        descriptor[0] = ImageSeparator;
        frame.Placement.CopyTo(descriptor[1..]);
        descriptor[9] = (byte)(0x80 | (frame.Interlaced ? 0x40 : 0) | frame.ColorTableSizeBits);
        bytes.Write(descriptor);
        bytes.Write(frame.ColorTable);
        bytes.Write(frame.ImageData);
        bytes.GetSpan(1)[0] = Trailer;
        bytes.Advance(1);
        return bytes.WrittenSpan;
    }

    readonly ArrayBufferWriter<byte> frameBytes = new();

    void WriteTrailer()
    {
        file.WriteByte(Trailer);
        file.Flush();
    }

    public void Dispose() => file.Dispose();

    /// <summary>The parts of a one-frame GIF (as an encoder wrote it) that make up its frame.</summary>
    internal readonly ref struct EncodedGifFrame
    {
        /// <summary>Left, top, width, height: 8 bytes as in the image descriptor.</summary>
        public ReadOnlySpan<byte> Placement { get; init; }
        public bool Interlaced { get; init; }
        /// <summary>The colour table size field: the table holds 2^(bits+1) entries.</summary>
        public int ColorTableSizeBits { get; init; }
        public ReadOnlySpan<byte> ColorTable { get; init; }
        /// <summary>LZW minimum code size, data sub-blocks and their terminator.</summary>
        public ReadOnlySpan<byte> ImageData { get; init; }

        public static EncodedGifFrame Parse(ReadOnlySpan<byte> gif)
        {
            if (gif.Length < 13 || !gif[..3].SequenceEqual("GIF"u8))
                throw new InvalidDataException("The GIF encoder produced no GIF header.");
            byte screenFlags = gif[10];
            int at = 13;
            ReadOnlySpan<byte> globalTable = default;
            int globalBits = screenFlags & 0x07;
            if ((screenFlags & 0x80) != 0)
            {
                int length = 3 << (globalBits + 1);
                globalTable = gif.Slice(at, length);
                at += length;
            }
            while (at < gif.Length)
            {
                switch (gif[at])
                {
                    case ExtensionIntroducer:
                        at = SkipSubBlocks(gif, at + 2);
                        break;
                    case ImageSeparator:
                        var placement = gif.Slice(at + 1, 8);
                        byte flags = gif[at + 9];
                        at += 10;
                        ReadOnlySpan<byte> table = globalTable;
                        int bits = globalBits;
                        if ((flags & 0x80) != 0)
                        {
                            bits = flags & 0x07;
                            int length = 3 << (bits + 1);
                            table = gif.Slice(at, length);
                            at += length;
                        }
                        if (table.IsEmpty) throw new InvalidDataException("The GIF encoder wrote a frame without a colour table.");
                        int dataStart = at;
                        int dataEnd = SkipSubBlocks(gif, at + 1);
                        return new EncodedGifFrame
                        {
                            Placement = placement,
                            Interlaced = (flags & 0x40) != 0,
                            ColorTableSizeBits = bits,
                            ColorTable = table,
                            ImageData = gif[dataStart..dataEnd],
                        };
                    default:
                        throw new InvalidDataException($"Unexpected GIF block 0x{gif[at]:X2} at byte {at} of the encoded frame.");
                }
            }
            throw new InvalidDataException("The GIF encoder wrote no image.");
        }

        /// <summary>Returns the index just past the zero-length terminator of the sub-blocks starting at <paramref name="at"/>.</summary>
        static int SkipSubBlocks(ReadOnlySpan<byte> gif, int at)
        {
            while (true)
            {
                int size = gif[at];
                at += 1 + size;
                if (size == 0) return at;
            }
        }
    }
}
