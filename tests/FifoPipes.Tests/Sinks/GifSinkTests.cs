using FifoPipes.Abstractions;
using FifoPipes.Core.Sinks;
using FifoPipes.Sinks.Images;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using Xunit;

namespace FifoPipes.Tests.Sinks;

public sealed class GifSinkTests : SinkTestBase
{
    static readonly GifSinkFactory Factory = new();

    static readonly (byte R, byte G, byte B)[] Colours =
        { (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 0, 0), (255, 255, 255), (12, 34, 56), (200, 100, 50), (90, 180, 45), (1, 2, 3) };

    string Write(SinkTarget target, IEnumerable<VideoFrame> frames, GifSinkOptions? options = null)
    {
        using var sink = Factory.Create(options, target, Context);
        foreach (var f in frames) sink.Write(f);
        return Assert.Single(sink.Complete());
    }

    [Fact]
    public void Decodes_with_every_frame_its_size_colours_and_timing()
    {
        var frames = Colours.Select((c, i) => Solid(i, c.R, c.G, c.B, 16, 12)).ToList();
        var path = Write(new SinkTarget("clip.gif", 8, false), frames);

        using var image = Image.Load<Rgb24>(path);
        Assert.Equal(16, image.Width);
        Assert.Equal(12, image.Height);
        Assert.Equal(10, image.Frames.Count);
        Assert.Equal(0, image.Metadata.GetGifMetadata().RepeatCount);
        for (int i = 0; i < 10; i++)
        {
            // A solid colour survives quantisation exactly: it is its own one-entry palette.
            Assert.Equal(new Rgb24(Colours[i].R, Colours[i].G, Colours[i].B), image.Frames[i][5, 7]);
        }
        // 8 fps in hundredths of a second: the running end time is rounded, so delays alternate 13 and 12.
        var delays = image.Frames.Cast<ImageFrame<Rgb24>>().Select(f => (int)f.Metadata.GetGifMetadata().FrameDelay).ToList();
        Assert.Equal(new[] { 13, 12, 13, 12, 13, 12, 13, 12, 13, 12 }, delays);
        Assert.Equal(125, delays.Sum());
    }

    [SkippableFact]
    public void Ffmpeg_agrees_on_frames_and_duration()
    {
        Skip.IfNot(Ffprobe.Available, "ffprobe is not installed");
        var path = Write(new SinkTarget("clip.gif", 10, false), Enumerable.Range(0, 10).Select(i => Frame(i, 20, 14)));
        var probed = Ffprobe.Probe(path);
        Assert.Equal(("gif", 20, 14, 10), (probed.Codec, probed.Width, probed.Height, probed.Frames));
        Assert.Equal(1.0, probed.Duration, 2);
    }

    [Fact]
    public void The_file_is_a_complete_gif_after_every_frame()
    {
        var path = Path.Combine(Dir, "live.gif");
        using var sink = Factory.Create(new GifSinkOptions { Colors = 16, Dither = "bayer8" }, new SinkTarget(path, 8, false), Context);
        for (int i = 0; i < 4; i++)
        {
            sink.Write(Frame(i, 24, 16));
            using var copy = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var image = Image.Load<Rgb24>(copy);
            Assert.Equal(i + 1, image.Frames.Count);
        }
        sink.Complete();
    }

    [Fact]
    public void Completing_after_3_of_10_frames_leaves_a_playable_3_frame_gif()
    {
        using var sink = Factory.Create(new GifSinkOptions { Loop = 1, Quantizer = "octree" }, new SinkTarget("cut.gif", 8, false), Context);
        for (int i = 0; i < 3; i++) sink.Write(Frame(i));
        var path = Assert.Single(sink.Complete());
        Assert.Equal(path, Assert.Single(sink.Complete()));
        Assert.Throws<InvalidOperationException>(() => sink.Write(Frame(3)));

        using var image = Image.Load<Rgb24>(path);
        Assert.Equal(3, image.Frames.Count);
        Assert.Equal((32, 24), (image.Width, image.Height));
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(3, 2)]
    public void The_loop_option_is_the_play_count(int loop, int netscapeRepeats)
    {
        var path = Write(new SinkTarget("loop.gif", 8, false), new[] { Frame(0), Frame(1) }, new GifSinkOptions { Loop = loop });
        using var image = Image.Load<Rgb24>(path);
        Assert.Equal(netscapeRepeats, image.Metadata.GetGifMetadata().RepeatCount);
    }

    [Fact]
    public void Every_quantizer_and_dither_writes_a_readable_gif_that_each_option_changes()
    {
        var written = new Dictionary<(string Quantizer, string Dither), byte[]>();
        foreach (var quantizer in new[] { "wu", "octree", "websafe", "werner" })
            foreach (var dither in new[] { "floyd-steinberg", "bayer4", "bayer8", "none" })
            {
                var path = Write(new SinkTarget($"{quantizer}-{dither}.gif", 8, false), new[] { Frame(0, 16, 16), Frame(1, 16, 16) },
                    new GifSinkOptions { Quantizer = quantizer, Dither = dither, Colors = 32 });
                using var image = Image.Load<Rgb24>(path);
                Assert.Equal(2, image.Frames.Count);
                for (int i = 0; i < image.Frames.Count; i++)
                {
                    using var frame = image.Frames.CloneFrame(i);
                    var colours = new HashSet<Rgb24>();
                    frame.ProcessPixelRows(rows =>
                    {
                        for (int y = 0; y < rows.Height; y++) foreach (var pixel in rows.GetRowSpan(y)) colours.Add(pixel);
                    });
                    // colors limits the adaptive palettes; the fixed ones are used whole.
                    if (quantizer is "wu" or "octree")
                        Assert.True(colours.Count <= 32, $"{quantizer}/{dither} frame {i}: {colours.Count} colours, more than the 32 asked for");
                    var palette = quantizer switch { "websafe" => Color.WebSafePalette, "werner" => Color.WernerPalette, _ => default };
                    if (!palette.IsEmpty)
                    {
                        var fixedColours = palette.ToArray().Select(c => c.ToPixel<Rgb24>()).ToHashSet();
                        Assert.All(colours, c => Assert.True(fixedColours.Contains(c), $"{quantizer}: {c} is not in its palette"));
                    }
                }
                written[(quantizer, dither)] = File.ReadAllBytes(path);
            }
        // Each quantizer and each dither is taken, not mapped to the default.
        Assert.Equal(4, new[] { "wu", "octree", "websafe", "werner" }.Select(q => Convert.ToHexString(written[(q, "none")])).Distinct().Count());
        Assert.Equal(4, new[] { "floyd-steinberg", "bayer4", "bayer8", "none" }.Select(d => Convert.ToHexString(written[("wu", d)])).Distinct().Count());
    }

    [Fact]
    public void An_existing_file_is_refused_without_force_and_replaced_with_it()
    {
        var path = Path.Combine(Dir, "taken.gif");
        File.WriteAllText(path, "keep me");
        var ex = Assert.Throws<FifoInputException>(() => Factory.Create(null, new SinkTarget(path, 8, false), Context));
        Assert.Equal(SinkFiles.OutputExistsErrorId, ex.ErrorId);
        Assert.Contains(path, ex.Message);
        Assert.Contains("-Force", ex.Message);
        Assert.Equal("keep me", File.ReadAllText(path));

        Write(new SinkTarget(path, 8, true), new[] { Frame(0) });
        using var image = Image.Load<Rgb24>(path);
        Assert.Single(image.Frames);
    }

    [Fact]
    public void A_frame_of_another_size_is_refused()
    {
        using var sink = Factory.Create(null, new SinkTarget("sizes.gif", 8, false), Context);
        sink.Write(Frame(0, 16, 16));
        var ex = Assert.Throws<FifoInputException>(() => sink.Write(Frame(1, 8, 8)));
        Assert.Equal(FrameFormat.SizeChangedErrorId, ex.ErrorId);
        Assert.Single(Image.Load<Rgb24>(Assert.Single(sink.Complete())).Frames);
    }

    [Theory]
    [InlineData("quantizer", "median-cut")]
    [InlineData("dither", "random")]
    [InlineData("colors", "1")]
    [InlineData("loop", "-1")]
    public void Bad_options_name_the_option(string option, string value)
    {
        var options = new GifSinkOptions();
        switch (option)
        {
            case "quantizer": options.Quantizer = value; break;
            case "dither": options.Dither = value; break;
            case "colors": options.Colors = int.Parse(value); break;
            case "loop": options.Loop = int.Parse(value); break;
        }
        var problem = Assert.Single(options.Validate());
        Assert.Equal(option, problem.Option);
        Assert.Throws<FifoInputException>(() => Factory.Create(options, new SinkTarget("x.gif", 8, false), Context));
    }
}

[Collection(SerialSinkTests.Name)]
public sealed class GifSinkMemoryTests : SinkTestBase
{
    [Fact]
    public void Memory_stays_flat_while_thousands_of_frames_stream_through()
    {
        // Wu's quantiser spends a fixed ~50 ms per frame on its histogram; the tree quantiser keeps this test quick.
        var options = new GifSinkOptions { Quantizer = "octree", Colors = 16 };
        using var sink = new GifSinkFactory().Create(options, new SinkTarget("long.gif", 25, false), Context);
        var template = Frame(0, 16, 16);
        // Fresh pixel arrays, as a real run delivers them: a sink that kept frames would keep these.
        VideoFrame Next(int i) => new(i, 16, 16, (byte[])template.Rgb.Clone(), template.Prompt, template.Fps, template.RunId);
        for (int i = 0; i < 200; i++) sink.Write(Next(i));
        long settled = GC.GetTotalMemory(forceFullCollection: true);
        for (int i = 200; i < 3200; i++) sink.Write(Next(i));
        long after = GC.GetTotalMemory(forceFullCollection: true);
        var path = Assert.Single(sink.Complete());

        // Keeping the frames would hold 3000 x 768 bytes of pixels (2.3 MB) plus their encodings.
        Assert.True(after - settled < 512 * 1024, $"managed memory grew by {after - settled} bytes over 3000 frames");
        Assert.True(new FileInfo(path).Length > 3000 * 50, "every frame reached the file");
    }
}
