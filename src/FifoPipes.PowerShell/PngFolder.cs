using System.Globalization;
using FifoPipes.Abstractions;
using FifoPipes.Core.Media;

namespace FifoPipes.PowerShell;

/// <summary>
/// The frames of a PNG sequence in a folder, told apart from the other PNGs a folder may hold (a cover, a contact sheet,
/// a frame saved by hand): the files of the one name the png sink gave them, a prefix, the frame's number and a suffix
/// (frame_000042.png; shot_42_v2.png from the pattern shot_%d_v2.png). They are numbered by frame, so the numbers a
/// sequence lacks between its first and last are frames deleted or never written.
/// </summary>
internal sealed class PngFolder
{
    readonly List<(long Number, string File)> frames;

    PngFolder(List<(long Number, string File)> frames, IReadOnlyList<(long From, long To)> missing)
    {
        this.frames = frames;
        Missing = missing;
    }

    /// <summary>The sequence's lowest-numbered frame: where the folder starts, and whose record names the run.</summary>
    public string First => frames[0].File;
    /// <summary>Its highest-numbered frame: a run extended in place (-Resume with more frames) wrote it, and its record names the longer run.</summary>
    public string Last => frames[^1].File;
    /// <summary>The frame files of the sequence.</summary>
    public long Count => frames.Count;
    /// <summary>The numbers between <see cref="First"/> and <see cref="Last"/> that have no file, as ranges; none for a whole sequence.</summary>
    public IReadOnlyList<(long From, long To)> Missing { get; }

    /// <summary>
    /// The sequence in <paramref name="folder"/>. Its name is the first frame's (<see cref="FindFirst"/>), cut where its
    /// number is; a folder of PNGs none of which records a run gives its first PNG alone, so the caller reports that it
    /// records none. Input errors where the folder holds no PNG or cannot be read.
    /// </summary>
    public static PngFolder Read(string folder)
    {
        List<string> pngs;
        try
        {
            pngs = Directory.EnumerateFiles(folder).Where(FileFrames.IsPng).ToList();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new FifoInputException("ProvenanceUnreadable", $"The folder '{folder}' could not be read ({ex.Message}).", ex);
        }
        if (pngs.Count == 0)
            throw new FifoInputException("ProvenanceMissing", $"The folder '{folder}' holds no PNG frames. Give a PNG frame, GIF or video that FifoPipes wrote.");
        var (first, number) = FindFirst(pngs);
        if (number is not { } field) return new PngFolder(new() { (0, first) }, Array.Empty<(long, long)>());
        string name = Path.GetFileName(first), prefix = name[..field.Start], suffix = name[field.End..];
        var sequence = pngs.Select(f => (Number: NumberIn(Path.GetFileName(f), prefix, suffix), File: f))
            .Where(f => f.Number is not null).Select(f => (f.Number!.Value, f.File))
            .OrderBy(f => f.Value).ThenBy(f => f.File.Length).ThenBy(f => f.File, StringComparer.Ordinal).ToList();
        return new PngFolder(sequence, Gaps(sequence.Select(f => f.Value)));
    }

    /// <summary>
    /// The sequence's first frame, and where its name holds its number. The png sink names a folder's frames
    /// frame_NNNNNN.png, so those come first; then any PNG whose name holds a number, by number (the shorter name first).
    /// The first that records a run is the sequence's, its number the digits that say its recorded frame (the last digits
    /// where it records none, as an older version's frames do). Where none records a run, the first PNG, with no number.
    /// </summary>
    static (string File, (int Start, int End)? Number) FindFirst(List<string> pngs)
    {
        var numbered = pngs.Where(f => DigitRuns(Path.GetFileName(f)).Count > 0)
            .OrderBy(f => NumberIn(Path.GetFileName(f), DefaultPrefix, DefaultSuffix) is null)
            .ThenBy(f => f.Length).ThenBy(f => f, StringComparer.Ordinal);
        foreach (var file in numbered)
        {
            if (!RecordsRun(file, out long? recorded)) continue;
            var name = Path.GetFileName(file);
            var runs = DigitRuns(name);
            var match = runs.LastOrDefault(r => long.TryParse(name.AsSpan(r.Start, r.End - r.Start), NumberStyles.None, CultureInfo.InvariantCulture, out long n) && n == recorded);
            return (file, match != default ? match : runs[^1]);
        }
        return (pngs.OrderBy(f => f.Length).ThenBy(f => f, StringComparer.Ordinal).First(), null);
    }

    // The name the png sink gives a folder's frames (FramePattern.DefaultFileName, frame_%06d.png).
    const string DefaultPrefix = "frame_", DefaultSuffix = ".png";

    /// <summary>Whether <paramref name="file"/> records a run, and the frame it says it is (null where an older version's frame says none).</summary>
    static bool RecordsRun(string file, out long? frame)
    {
        frame = null;
        try
        {
            if (ProvenanceReader.Read(file, RecordingFile.Png) is not { } text || !text.StartsWith(ProvenanceReader.Mark, StringComparison.Ordinal)) return false;
            frame = FileRecord.Split(text).FirstFrame;
            return true;
        }
        // A PNG that cannot be read is no frame of the sequence, not a reason to give up on the folder.
        catch (FifoInputException) { return false; }
    }

    /// <summary>Where each run of ASCII digits in <paramref name="name"/> starts and ends.</summary>
    static List<(int Start, int End)> DigitRuns(string name)
    {
        var runs = new List<(int, int)>();
        for (int i = 0; i < name.Length; i++)
        {
            if (!char.IsAsciiDigit(name[i])) continue;
            int start = i;
            while (i < name.Length && char.IsAsciiDigit(name[i])) i++;
            runs.Add((start, i));
        }
        return runs;
    }

    /// <summary>The number of a name made of <paramref name="prefix"/>, digits and <paramref name="suffix"/>; null for any other name.</summary>
    static long? NumberIn(string name, string prefix, string suffix) =>
        name.Length > prefix.Length + suffix.Length
        && name.StartsWith(prefix, StringComparison.Ordinal) && name.EndsWith(suffix, StringComparison.Ordinal)
        && long.TryParse(name.AsSpan(prefix.Length, name.Length - prefix.Length - suffix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out long number)
            ? number
            : null;

    /// <summary>The runs of numbers missing from <paramref name="sorted"/> between its first and last.</summary>
    static List<(long From, long To)> Gaps(IEnumerable<long> sorted)
    {
        var gaps = new List<(long, long)>();
        long? previous = null;
        foreach (long number in sorted)
        {
            if (previous is { } p && number > p + 1) gaps.Add((p + 1, number - 1));
            previous = number;
        }
        return gaps;
    }

    /// <summary>Ranges as a reader writes them: "30-39, 120".</summary>
    public static string Format(IEnumerable<(long From, long To)> ranges) =>
        string.Join(", ", ranges.Select(r => r.From == r.To
            ? r.From.ToString(CultureInfo.InvariantCulture)
            : string.Create(CultureInfo.InvariantCulture, $"{r.From}-{r.To}")));
}
