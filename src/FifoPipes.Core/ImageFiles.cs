using FifoPipes.Abstractions;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Formats.Png.Chunks;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;
using static TorchSharp.torch;

namespace FifoPipes.Core;

/// <summary>Reading and writing still images, animated GIFs and (through ffmpeg) video clips as RGB tensors.</summary>
public static class ImageFiles
{
    /// <summary>
    /// Loads an image (every frame of an animated GIF or PNG) or the first frames of a video clip, resized and
    /// centre-cropped to <paramref name="width"/> x <paramref name="height"/>, as [T, 3, H, W] float32 in [0, 1].
    /// </summary>
    public static Tensor LoadFrames(string path, int width, int height, int maxFrames = 64)
    {
        if (!File.Exists(path))
            throw new FifoInputException("InitImageNotFound", $"Start image '{path}' does not exist. Give the path of a PNG, JPEG or GIF file, or a short video.");
        // ImageSharp decodes only an animated PNG's default image; ffmpeg's apng demuxer reads its frames.
        if (Media.VideoClipReader.IsVideo(path) || IsAnimatedPng(path)) return Media.VideoClipReader.Read(path, width, height, maxFrames);
        Image<Rgb24> image;
        try { image = Image.Load<Rgb24>(path); }
        // ImageSharp's own text for an unknown format lists its decoder classes: no help to someone who gave a text file.
        catch (UnknownImageFormatException ex)
        {
            throw new FifoInputException("InitImageUnreadable",
                $"Start image '{path}' is not an image or video that can be read (damaged, or another kind of file). Use a PNG, JPEG or GIF image, or a short video.", ex);
        }
        catch (InvalidImageContentException ex)
        {
            throw new FifoInputException("InitImageUnreadable", $"Start image '{path}' is damaged ({FirstLine(ex)}). Save it again, or use another image.", ex);
        }
        catch (NotSupportedException ex)
        {
            throw new FifoInputException("InitImageUnreadable",
                $"Start image '{path}' uses a feature that cannot be read here ({FirstLine(ex)}). Save it as a plain PNG or JPEG.", ex);
        }
        using (image)
        {
            image.Mutate(x => x.Resize(new ResizeOptions { Size = new SixLabors.ImageSharp.Size(width, height), Mode = ResizeMode.Crop }));
            int count = Math.Min(image.Frames.Count, maxFrames);
            var frames = new List<Tensor>(count);
            using var scope = NewDisposeScope();
            for (int i = 0; i < count; i++)
            {
                using var frame = image.Frames.CloneFrame(i);
                frames.Add(FrameConversion.FromRgb24(Pixels(frame), width, height));
            }
            return stack(frames).MoveToOuterDisposeScope();
        }
    }

    static string FirstLine(Exception error) => error.Message.Split('\n')[0].TrimEnd('.');

    static readonly byte[] PngSignature = { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A };

    /// <summary>Whether a PNG file is animated: an acTL chunk comes before its first IDAT (the APNG specification).</summary>
    public static bool IsAnimatedPng(string path)
    {
        using var file = File.OpenRead(path);
        Span<byte> header = stackalloc byte[8];
        if (file.ReadAtLeast(header, 8, throwOnEndOfStream: false) < 8 || !header.SequenceEqual(PngSignature)) return false;
        // Chunks: a 4-byte big-endian length, a 4-byte type, the data, a 4-byte CRC.
        while (file.ReadAtLeast(header, 8, throwOnEndOfStream: false) == 8)
        {
            var type = header[4..8];
            if (type.SequenceEqual("acTL"u8)) return true;
            if (type.SequenceEqual("IDAT"u8)) return false;
            long length = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(header[..4]);
            file.Seek(length + 4, SeekOrigin.Current);
        }
        return false;
    }

    /// <summary>The <see cref="FifoInputException"/> id of <see cref="SaveImage"/> for an extension that names no format it writes.</summary>
    public const string ImageFormatUnknownErrorId = "ImageFormatUnknown";

    /// <summary>
    /// Saves one frame in the format its extension names: PNG with its provenance, or JPEG (quality 95), WebP (lossless)
    /// or BMP, which keep pixels only. A missing folder is made, as the sinks make theirs, once the name is known to
    /// have a format: a refused name leaves nothing behind.
    /// </summary>
    public static void SaveImage(VideoFrame frame, string path)
    {
        var encoder = EncoderFor(path);
        Sinks.SinkFiles.CreateParentFolder(path);
        using var image = PngImage(frame);
        image.Save(path, encoder);
    }

    /// <summary>The encoder <paramref name="path"/>'s extension names; a <see cref="FifoInputException"/> where it names none.</summary>
    static SixLabors.ImageSharp.Formats.IImageEncoder EncoderFor(string path) => Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".png" => DefaultPngEncoder,
        ".jpg" or ".jpeg" => new SixLabors.ImageSharp.Formats.Jpeg.JpegEncoder { Quality = 95 },
        ".webp" => new SixLabors.ImageSharp.Formats.Webp.WebpEncoder { FileFormat = SixLabors.ImageSharp.Formats.Webp.WebpFileFormatType.Lossless },
        ".bmp" => new SixLabors.ImageSharp.Formats.Bmp.BmpEncoder(),
        _ => throw new FifoInputException(ImageFormatUnknownErrorId,
            $"'{path}' names no image format a frame is saved in: use .png (which keeps how the frame was made, for Get-FifoProvenance), .jpg, .webp or .bmp."),
    };

    /// <summary>The PNG text keyword under which frames record how they were made.</summary>
    public const string ProvenanceKeyword = "FifoPipes";

    /// <summary>
    /// The frame as an image whose PNG metadata holds its provenance and which of the run's frames it is
    /// (<see cref="Media.FileRecord.OfImage"/>; see <see cref="ProvenancePngEncoder"/>).
    /// </summary>
    public static Image<Rgb24> PngImage(VideoFrame frame)
    {
        var image = Image.LoadPixelData<Rgb24>(frame.Rgb, frame.Width, frame.Height);
        // iTXt (a translated keyword makes ImageSharp choose it): UTF-8, so prompts in any script survive.
        if (Media.FileRecord.OfImage(frame) is { } record) image.Metadata.GetPngMetadata().TextData.Add(new PngTextData(ProvenanceKeyword, record, "", ProvenanceKeyword));
        return image;
    }

    /// <summary>One encoder for every saved frame: encoders hold no state between images.</summary>
    static readonly PngEncoder DefaultPngEncoder = ProvenancePngEncoder(PngCompressionLevel.DefaultCompression);

    /// <summary>An 8-bit RGB PNG encoder that writes the text chunks and no other metadata (no resolution, gamma or EXIF).</summary>
    public static PngEncoder ProvenancePngEncoder(PngCompressionLevel level) => new()
    {
        ColorType = PngColorType.Rgb,
        BitDepth = PngBitDepth.Bit8,
        CompressionLevel = level,
        ChunkFilter = PngChunkFilter.ExcludePhysicalChunk | PngChunkFilter.ExcludeGammaChunk | PngChunkFilter.ExcludeExifChunk,
    };

    static byte[] Pixels(Image<Rgb24> image)
    {
        var bytes = new byte[image.Width * image.Height * 3];
        image.CopyPixelDataTo(bytes);
        return bytes;
    }
}
