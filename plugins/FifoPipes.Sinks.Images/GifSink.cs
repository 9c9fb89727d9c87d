using FifoPipes.Abstractions;
using FifoPipes.Core.Media;
using FifoPipes.Core.Sinks;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing.Processors.Dithering;
using SixLabors.ImageSharp.Processing.Processors.Quantization;

namespace FifoPipes.Sinks.Images;

public sealed class GifSinkOptions : IValidatableOptions
{
    [Option("How often the animation plays: 0 loops forever, 1 plays once, N plays N times.", Min = 0, Max = 65536)]
    public int Loop { get; set; } = 0;

    [Option("How each frame's palette is chosen: wu and octree adapt it to the frame; websafe and werner use a fixed palette.",
        Choices = "wu,octree,websafe,werner")]
    public string Quantizer { get; set; } = "wu";

    [Option("Most colours per frame (GIF allows 256) for wu and octree; websafe and werner use their whole palette. Fewer colours make smaller files.", Min = 2, Max = 256)]
    public int Colors { get; set; } = 256;

    [Option("How the lost colours are approximated: floyd-steinberg (error diffusion), bayer4/bayer8 (ordered, flickers less between frames) or none.",
        Choices = "floyd-steinberg,bayer4,bayer8,none")]
    public string Dither { get; set; } = "floyd-steinberg";

    static readonly string[] Quantizers = { "wu", "octree", "websafe", "werner" };
    static readonly string[] Ditherings = { "floyd-steinberg", "bayer4", "bayer8", "none" };

    public IEnumerable<OptionProblem> Validate()
    {
        if (Loop is < 0 or > 65536)
            yield return new OptionProblem("loop", $"loop is {Loop}; use 0 (forever), 1 (once) or a play count up to 65536.");
        if (!Quantizers.Contains(Quantizer))
            yield return new OptionProblem("quantizer", $"quantizer '{Quantizer}' is unknown; use one of {string.Join(", ", Quantizers)}.");
        if (Colors is < 2 or > 256)
            yield return new OptionProblem("colors", $"colors is {Colors}; a GIF frame holds 2 to 256 colours.");
        if (!Ditherings.Contains(Dither))
            yield return new OptionProblem("dither", $"dither '{Dither}' is unknown; use one of {string.Join(", ", Ditherings)}.");
    }

    static QuantizerOptions WholePalette(QuantizerOptions options, int colors) =>
        new() { Dither = options.Dither, DitherScale = options.DitherScale, MaxColors = colors };

    /// <summary>What gives each frame its quantizer: wu a palette of the frame's own (<see cref="WuPalette"/>), the others one quantizer for every frame.</summary>
    internal Func<VideoFrame, IQuantizer> CreateQuantizers()
    {
        var options = new QuantizerOptions
        {
            MaxColors = Colors,
            Dither = Dither switch
            {
                "floyd-steinberg" => ErrorDither.FloydSteinberg,
                "bayer4" => OrderedDither.Bayer4x4,
                "bayer8" => OrderedDither.Bayer8x8,
                _ => null,
            },
        };
        // A fixed palette is used whole: ImageSharp 2 cannot cut it to fewer colours.
        return Quantizer switch
        {
            "octree" => Same(new OctreeQuantizer(options)),
            "websafe" => Same(new WebSafePaletteQuantizer(WholePalette(options, Color.WebSafePalette.Length))),
            "werner" => Same(new WernerPaletteQuantizer(WholePalette(options, Color.WernerPalette.Length))),
            _ => PerFrame(new WuPalette()),
        };

        static Func<VideoFrame, IQuantizer> Same(IQuantizer quantizer) => _ => quantizer;

        Func<VideoFrame, IQuantizer> PerFrame(WuPalette wu) => frame =>
        {
            var palette = wu.Of(frame.Rgb, Colors).Select(c => Color.FromRgb(c.R, c.G, c.B)).ToArray();
            return new PaletteQuantizer(palette, WholePalette(options, palette.Length));
        };
    }
}

[FifoPlugin(PluginKind.Sink, "gif", typeof(ISinkFactory), Extensions = "gif", OptionsType = typeof(GifSinkOptions),
    Description = "Animated GIF written frame by frame (a palette per frame); playable after every frame, so a cancelled run keeps what it made.")]
public sealed class GifSinkFactory : ISinkFactory
{
    public IFrameSink Create(object? options, SinkTarget target, PluginContext context)
    {
        var (settings, path) = Prepare(options, target, context);
        return new GifSink(path, target, settings, context.Log);
    }

    public void Check(object? options, SinkTarget target, PluginContext context) => Prepare(options, target, context);

    static (GifSinkOptions Settings, string Path) Prepare(object? options, SinkTarget target, PluginContext context)
    {
        var settings = SinkOptions.Bind<GifSinkOptions>(options, "gif");
        var path = SinkFiles.FileFor(target, context, "gif");
        SinkFiles.EnsureWritable(path, target.Overwrite, SinkFiles.ResumedBeside);
        return (settings, path);
    }
}

/// <summary>
/// Quantises each frame to its palette (wu: <see cref="WuPalette"/>) and LZW-encodes it with ImageSharp's GIF
/// encoder as a one-frame GIF, then appends that frame's blocks to the file (<see cref="GifFileWriter"/>). Only the
/// current frame, one reusable encode buffer and the Wu palette's tables are in memory.
/// </summary>
public sealed class GifSink : IFrameSink
{
    /// <summary>Browsers stretch delays under 2/100 s to 1/10 s, so faster animations play slower than asked.</summary>
    const int SmallestHonouredDelay = 2;

    string path;
    readonly SinkTarget target;
    readonly GifSinkOptions options;
    readonly IProgressSink log;
    readonly GifEncoder encoder;
    readonly Func<VideoFrame, IQuantizer> quantizerFor;
    readonly MemoryStream encoded = new();
    GifFileWriter? writer;
    FrameFormat? format;
    long framesWritten;
    bool completed;

    public GifSink(string path, SinkTarget target, GifSinkOptions options, IProgressSink log)
    {
        this.path = path;
        this.target = target;
        this.options = options;
        this.log = log;
        quantizerFor = options.CreateQuantizers();
        encoder = new GifEncoder { ColorTableMode = GifColorTableMode.Local };
    }

    public void Write(VideoFrame frame)
    {
        if (completed) throw new InvalidOperationException("The GIF sink was already completed.");
        if (writer is null) Open(frame); else format!.EnsureMatches(frame, path);

        encoded.SetLength(0);
        encoder.Quantizer = quantizerFor(frame);
        using (var image = Image.LoadPixelData<Rgb24>(frame.Rgb, frame.Width, frame.Height))
            image.SaveAsGif(encoded, encoder);
        writer!.AppendFrame(encoded.GetBuffer().AsSpan(0, (int)encoded.Length), DelayOf(framesWritten));
        framesWritten++;
    }

    void Open(VideoFrame first)
    {
        format = FrameFormat.Of(first, target);
        path = SinkFiles.OpenPath(path, first.Index, "gif", log);
        if (100 / format.Fps < SmallestHonouredDelay)
            log.Warning($"gif: {format.FpsText} fps needs frame delays under 2/100 s, which browsers play at 10 fps; use an mp4 or webm sink for fast video.");
        log.Verbose($"gif: writing {format.Width}x{format.Height} at {format.FpsText} fps to {path}");
        writer = new GifFileWriter(SinkFiles.OpenForWriting(path, target.Overwrite, unbuffered: true), format.Width, format.Height, options.Loop, FileRecord.Of(first));
    }

    /// <summary>
    /// GIF delays are whole hundredths of a second; rounding the running end time instead of each
    /// delay keeps the total duration exact (8 fps alternates 12 and 13).
    /// </summary>
    int DelayOf(long frameNumber)
    {
        double fps = format!.Fps;
        return (int)(Math.Round((frameNumber + 1) * 100 / fps, MidpointRounding.AwayFromZero) - Math.Round(frameNumber * 100 / fps, MidpointRounding.AwayFromZero));
    }

    public IReadOnlyList<string> Complete()
    {
        completed = true;
        if (writer is null) return Array.Empty<string>();
        writer.Dispose();
        return new[] { path };
    }

    public void Dispose()
    {
        completed = true;
        writer?.Dispose();
        encoded.Dispose();
    }
}
