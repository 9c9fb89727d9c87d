using FifoPipes.Sinks.Images;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Memory;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing.Processors.Quantization;
using Xunit;

namespace FifoPipes.Tests.Sinks;

public sealed class WuPaletteTests
{
    /// <summary>A frame with texture at every scale: smooth gradients, stripes and seeded noise.</summary>
    static byte[] Textured(int width, int height, int seed)
    {
        var random = new Random(seed);
        var rgb = new byte[width * height * 3];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                int at = (y * width + x) * 3;
                rgb[at] = (byte)Math.Clamp(255.0 * x / width + random.Next(-20, 21), 0, 255);
                rgb[at + 1] = (byte)Math.Clamp(128 + 100 * Math.Sin(y / 7.0) + random.Next(-20, 21), 0, 255);
                rgb[at + 2] = (byte)Math.Clamp(255.0 * (x + y) / (width + height) * ((x / 16 + y / 16) % 2 == 0 ? 1 : 0.5), 0, 255);
            }
        return rgb;
    }

    /// <summary>Each pixel's squared distance to its nearest palette colour, summed over the channels, on average.</summary>
    static double Error(byte[] rgb, IReadOnlyList<(byte R, byte G, byte B)> palette)
    {
        double sum = 0;
        for (int i = 0; i < rgb.Length; i += 3)
            sum += palette.Min(c => (rgb[i] - c.R) * (rgb[i] - c.R) + (rgb[i + 1] - c.G) * (rgb[i + 1] - c.G) + (rgb[i + 2] - c.B) * (rgb[i + 2] - c.B));
        return sum / (rgb.Length / 3);
    }

    [Fact]
    public void Colours_fewer_than_the_palette_holds_come_back_exactly()
    {
        var colours = new (byte R, byte G, byte B)[] { (255, 0, 0), (0, 128, 64), (10, 20, 30), (250, 250, 250) };
        var rgb = Enumerable.Range(0, 64).SelectMany(i => new[] { colours[i % 4].R, colours[i % 4].G, colours[i % 4].B }).ToArray();

        var palette = new WuPalette().Of(rgb, 256);

        Assert.Equal(colours.OrderBy(c => c), palette.OrderBy(c => c));
    }

    [Fact]
    public void A_single_colour_is_a_palette_of_one()
    {
        var rgb = Enumerable.Repeat(new byte[] { 7, 8, 9 }, 100).SelectMany(p => p).ToArray();
        Assert.Equal(new[] { ((byte)7, (byte)8, (byte)9) }, new WuPalette().Of(rgb, 16));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(16)]
    [InlineData(256)]
    public void A_frame_of_many_colours_gets_as_many_as_asked_for_with_as_little_error_as_ImageSharps_Wu(int colours)
    {
        var rgb = Textured(96, 64, seed: colours);
        var wu = new WuPalette();
        var palette = wu.Of(rgb, colours);

        using var image = Image.LoadPixelData<Rgb24>(rgb, 96, 64);
        using var imageSharp = new WuQuantizer(new QuantizerOptions { MaxColors = colours, Dither = null }).CreatePixelSpecificQuantizer<Rgb24>(Configuration.Default);
        imageSharp.AddPaletteColors(new Buffer2DRegion<Rgb24>(image.Frames.RootFrame.PixelBuffer));
        var theirs = imageSharp.Palette.ToArray().Select(p => (p.R, p.G, p.B)).ToList();

        Assert.Equal(colours, palette.Length);
        // The same algorithm over the same 32-level cube: ImageSharp's also bins alpha, which opaque frames leave at one level.
        Assert.InRange(Error(rgb, palette), 0, Error(rgb, theirs) * 1.01);
        // The tables are cleared for every frame: a second frame's palette does not remember the first.
        var other = Textured(96, 64, seed: colours + 1);
        Assert.Equal(new WuPalette().Of(other, colours), wu.Of(other, colours));
    }

    [Fact]
    public void Input_that_is_not_packed_rgb_is_refused()
    {
        Assert.Throws<ArgumentException>(() => new WuPalette().Of(new byte[4], 16));
        Assert.Throws<ArgumentOutOfRangeException>(() => new WuPalette().Of(new byte[3], 0));
    }
}
