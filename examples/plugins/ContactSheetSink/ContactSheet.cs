using FifoPipes.Abstractions;
using FifoPipes.Core.Sinks;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace ContactSheetSink;

public sealed class ContactSheetOptions : IValidatableOptions
{
    [Option("Put every Nth frame on the sheet (by frame index: 0, N, 2N, ...).", Min = 1)]
    public int Every { get; set; } = 8;

    [Option("Tiles per row.", Min = 1, Max = 64)]
    public int Columns { get; set; } = 6;

    [Option("Most tiles on the sheet; later frames are left off. Bounds the sheet's memory however long the run.", Min = 1, Max = 1024)]
    public int MaxTiles { get; set; } = 48;

    [Option("Width of one tile in pixels (height keeps the frame's aspect ratio); 0 keeps the frame's own size.", Min = 0, Max = 4096)]
    public int TileWidth { get; set; } = 192;

    [Option("Space between tiles and around the sheet, in pixels.", Min = 0, Max = 256)]
    public int Gap { get; set; } = 4;

    [Option("Colour behind the tiles: a hex value such as #202020 or a CSS colour name.")]
    public string Background { get; set; } = "#202020";

    public IEnumerable<OptionProblem> Validate()
    {
        if (Every < 1) yield return new OptionProblem("every", $"every is {Every}; use 1 or more.");
        if (Columns is < 1 or > 64) yield return new OptionProblem("columns", $"columns is {Columns}; use 1 to 64.");
        if (MaxTiles is < 1 or > 1024) yield return new OptionProblem("maxTiles", $"maxTiles is {MaxTiles}; use 1 to 1024.");
        if (TileWidth is < 0 or > 4096) yield return new OptionProblem("tileWidth", $"tileWidth is {TileWidth}; use 0 (frame size) or up to 4096.");
        if (Gap is < 0 or > 256) yield return new OptionProblem("gap", $"gap is {Gap}; use 0 to 256.");
        if (!Color.TryParse(Background, out _))
            yield return new OptionProblem("background", $"background '{Background}' is not a colour; use a hex value such as #202020 or a name such as black.");
    }
}

[FifoPlugin(PluginKind.Sink, "contact-sheet", typeof(ISinkFactory), Extensions = "", OptionsType = typeof(ContactSheetOptions),
    Description = "One PNG grid of every Nth frame, for a quick look at a long run. (Example third-party plugin.)")]
public sealed class ContactSheetSinkFactory : ISinkFactory
{
    public IFrameSink Create(object? options, SinkTarget target, PluginContext context)
    {
        var (settings, path) = Prepare(options, target, context);
        return new ContactSheet(path, target.Overwrite, settings, context.Log);
    }

    // Called before the run computes anything, so bad options or a file in the way stop it at once.
    // Explicit, as every member with a default: a signature typed wrong is then a compiler error, not a method never called.
    void ISinkFactory.Check(object? options, SinkTarget target, PluginContext context) => Prepare(options, target, context);

    static (ContactSheetOptions Settings, string Path) Prepare(object? options, SinkTarget target, PluginContext context)
    {
        var settings = PluginOptions.As<ContactSheetOptions>(options, "contact-sheet sink");
        var problems = settings.Validate().ToList();
        if (problems.Count > 0)
            throw new FifoInputException("SinkOptionInvalid", "The contact-sheet options are invalid: " + string.Join(" ", problems.Select(p => p.Message)));
        var path = context.ResolvePath(target.Path);
        SinkFiles.EnsureWritable(path, target.Overwrite);
        return (settings, path);
    }
}

/// <summary>
/// Holds one image, the sheet, sized for <see cref="ContactSheetOptions.MaxTiles"/> tiles when the
/// first frame shows the tile size; each chosen frame is scaled into its cell and dropped. The PNG is
/// written on <see cref="Complete"/>, cropped to the rows in use.
/// </summary>
public sealed class ContactSheet : IFrameSink
{
    readonly string path;
    readonly bool overwrite;
    readonly ContactSheetOptions options;
    readonly IProgressSink log;
    Image<Rgb24>? sheet;
    Size tile;
    int tiles;
    // A run resumed from a snapshot starts past frame 0; its sheet must not replace the interrupted run's.
    long? firstIndex;
    IReadOnlyList<string>? completed;

    public ContactSheet(string path, bool overwrite, ContactSheetOptions options, IProgressSink log)
    {
        this.path = path;
        this.overwrite = overwrite;
        this.options = options;
        this.log = log;
    }

    public void Write(VideoFrame frame)
    {
        if (completed is not null) throw new InvalidOperationException("The contact sheet was already completed.");
        firstIndex ??= frame.Index;
        if (frame.Index % options.Every != 0 || tiles >= options.MaxTiles) return;
        sheet ??= CreateSheet(frame);

        using var image = Image.LoadPixelData<Rgb24>(frame.Rgb, frame.Width, frame.Height);
        if (image.Size() != tile) image.Mutate(x => x.Resize(tile));
        int column = tiles % options.Columns, row = tiles / options.Columns;
        var at = new Point(options.Gap + column * (tile.Width + options.Gap), options.Gap + row * (tile.Height + options.Gap));
        sheet.Mutate(x => x.DrawImage(image, at, 1f));
        tiles++;
        if (tiles == options.MaxTiles) log.Verbose($"contact-sheet: {path} is full ({tiles} tiles); later frames are left off.");
    }

    Image<Rgb24> CreateSheet(VideoFrame first)
    {
        tile = options.TileWidth == 0
            ? new Size(first.Width, first.Height)
            : new Size(options.TileWidth, Math.Max(1, (int)Math.Round((double)options.TileWidth * first.Height / first.Width)));
        int columns = Math.Min(options.Columns, options.MaxTiles);
        int rows = (options.MaxTiles + columns - 1) / columns;
        var background = Color.Parse(options.Background).ToPixel<Rgb24>();
        return new Image<Rgb24>(options.Gap + columns * (tile.Width + options.Gap), options.Gap + rows * (tile.Height + options.Gap), background);
    }

    public IReadOnlyList<string> Complete()
    {
        if (completed is not null) return completed;
        if (sheet is null) return completed = Array.Empty<string>();
        int columnsUsed = Math.Min(tiles, Math.Min(options.Columns, options.MaxTiles));
        int rowsUsed = (tiles + options.Columns - 1) / options.Columns;
        sheet.Mutate(x => x.Crop(new Rectangle(0, 0,
            options.Gap + columnsUsed * (tile.Width + options.Gap), options.Gap + rowsUsed * (tile.Height + options.Gap))));
        var written = SinkFiles.ContinuationPath(path, firstIndex ?? 0);
        if (written != path)
            log.Warning($"contact-sheet: this run starts at frame {firstIndex}, so its sheet goes to '{written}' and '{path}' is left as it is.");
        using (var file = SinkFiles.OpenForWriting(written, overwrite)) sheet.SaveAsPng(file);
        sheet.Dispose();
        sheet = null;
        log.Verbose($"contact-sheet: wrote {tiles} tiles to {written}");
        return completed = new[] { written };
    }

    public void Dispose()
    {
        sheet?.Dispose();
        sheet = null;
    }
}
