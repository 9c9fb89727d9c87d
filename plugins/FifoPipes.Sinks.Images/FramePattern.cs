using System.Globalization;
using System.Text;
using FifoPipes.Abstractions;

namespace FifoPipes.Sinks.Images;

/// <summary>
/// A file name with one printf-style frame number field, as ffmpeg writes them: <c>frame_%06d.png</c>.
/// Only <c>%d</c> and <c>%0Nd</c> are accepted (and <c>%%</c> for a literal percent sign), so the
/// names sort the same way the frames play. A percent sign in no such field is a folder's own (50%off).
/// </summary>
public sealed class FramePattern
{
    public const string InvalidErrorId = "SinkPatternInvalid";
    public const string DefaultFileName = "frame_%06d.png";

    FramePattern(string folder, string prefix, int digits, string suffix, bool namesFolder = false)
    {
        Folder = folder; Prefix = prefix; Digits = digits; Suffix = suffix; NamesFolder = namesFolder;
    }

    /// <summary>True when the target path was the folder itself (it got <see cref="DefaultFileName"/>), not a pattern or stem.</summary>
    public bool NamesFolder { get; }

    public string Folder { get; }
    public string Prefix { get; }
    /// <summary>Zero-padded width of the number; 0 for no padding.</summary>
    public int Digits { get; }
    public string Suffix { get; }

    public string PathFor(long number) =>
        Path.Combine(Folder, Prefix + number.ToString(CultureInfo.InvariantCulture).PadLeft(Digits, '0') + Suffix);

    /// <summary>True for a file name this pattern could have produced.</summary>
    public bool Matches(string fileName) => NumberOf(fileName) is not null;

    /// <summary>
    /// The frame number of a file name this pattern could have produced; null for any other. <see cref="PathFor"/> pads to
    /// <see cref="Digits"/> and no further, so a shorter number, or a longer one with a leading zero, is no name of it
    /// (under %d, 0123.png is not frame 123; under %06d, 42.png is not frame 42).
    /// </summary>
    internal long? NumberOf(string fileName)
    {
        if (fileName.Length <= Prefix.Length + Suffix.Length
            || !fileName.StartsWith(Prefix, StringComparison.Ordinal) || !fileName.EndsWith(Suffix, StringComparison.Ordinal)) return null;
        var digits = fileName.AsSpan(Prefix.Length, fileName.Length - Prefix.Length - Suffix.Length);
        if (digits.IndexOfAnyExceptInRange('0', '9') >= 0 || digits.Length < Digits) return null;
        if (digits.Length > Math.Max(Digits, 1) && digits[0] == '0') return null;
        return long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out long number) ? number : null;
    }

    /// <summary>The files in the folder this pattern could have produced (none when the folder does not exist).</summary>
    public IEnumerable<string> ExistingFrames() =>
        Directory.Exists(Folder) ? Directory.EnumerateFiles(Folder).Where(f => Matches(Path.GetFileName(f))) : Enumerable.Empty<string>();

    /// <summary>The pattern as a user reads it: <c>folder/frame_N.png</c>.</summary>
    public override string ToString() => Path.Combine(Folder, Prefix + "N" + Suffix);

    /// <summary>
    /// Reads a sink path: a pattern (<c>out/f_%05d.png</c>), a single file name that becomes a
    /// stem (<c>out/clip.png</c> writes <c>out/clip_000000.png</c>, ...), or a folder that gets
    /// <see cref="DefaultFileName"/>.
    /// </summary>
    public static FramePattern FromTargetPath(string fullPath)
    {
        var folder = Path.GetDirectoryName(fullPath) ?? "";
        var name = Path.GetFileName(fullPath);
        if (HasNumberField(folder))
            throw Invalid(fullPath, "only the file name may hold the frame number field, not the folder");
        bool png = name.EndsWith(".png", StringComparison.OrdinalIgnoreCase);
        // A PNG name's percent sign in no field is a pattern gone wrong (f_%s.png); a folder's is its own (50%off).
        if (HasNumberField(name) || (png && name.Contains('%'))) return Parse(folder, name, fullPath);
        if (png)
            return new FramePattern(folder, Path.GetFileNameWithoutExtension(name) + "_", 6, Path.GetExtension(name));
        if (MediaFileExtensions.Contains(Path.GetExtension(name)))
            throw new FifoInputException(NamesMediaFileErrorId,
                $"'{fullPath}' names a {Path.GetExtension(name)} file, and the png sink writes one PNG file per frame into a folder, which would get that name. " +
                $"For a {Path.GetExtension(name)} file leave out the png format (-Format png, use: png); for frames give a folder ('{Path.ChangeExtension(fullPath, null)}') " +
                $"or a PNG name ('{Path.ChangeExtension(fullPath, ".png")}' writes {Path.GetFileNameWithoutExtension(name)}_000000.png, ...).");
        return Parse(fullPath, DefaultFileName, fullPath, namesFolder: true);
    }

    /// <summary>The <see cref="FifoInputException.ErrorId"/> of a path that names a video or image file of another kind.</summary>
    public const string NamesMediaFileErrorId = "SinkPathNamesMediaFile";

    // A folder is any path without .png; one ending like a video or picture file is a format slip, not a folder's name.
    static readonly HashSet<string> MediaFileExtensions = new(StringComparer.OrdinalIgnoreCase)
    {
        ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".gif", ".apng", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff",
    };

    /// <summary>
    /// Whether <paramref name="text"/> holds what reads as a frame number field (% and digits before a d, %%
    /// aside); any other percent sign is a name's own (a folder 50%off, or 100%).
    /// </summary>
    static bool HasNumberField(string text)
    {
        for (int i = 0; i < text.Length; i++)
        {
            if (text[i] != '%') continue;
            if (i + 1 < text.Length && text[i + 1] == '%') { i++; continue; }
            int end = i + 1;
            while (end < text.Length && char.IsAsciiDigit(text[end])) end++;
            if (end < text.Length && text[end] == 'd') return true;
        }
        return false;
    }

    static FramePattern Parse(string folder, string name, string shownPath, bool namesFolder = false)
    {
        var prefix = new StringBuilder();
        var suffix = new StringBuilder();
        int? digits = null;
        for (int i = 0; i < name.Length; i++)
        {
            var text = digits is null ? prefix : suffix;
            if (name[i] != '%') { text.Append(name[i]); continue; }
            if (i + 1 < name.Length && name[i + 1] == '%') { text.Append('%'); i++; continue; }
            int end = i + 1;
            while (end < name.Length && char.IsAsciiDigit(name[end])) end++;
            var width = name[(i + 1)..end];
            if (end >= name.Length || name[end] != 'd' || (width.Length > 0 && width[0] != '0' ))
                throw Invalid(shownPath, $"'{name[i..Math.Min(end + 1, name.Length)]}' is not a frame number field; use %d or %0Nd such as %06d");
            if (digits is not null)
                throw Invalid(shownPath, "it has more than one frame number field");
            digits = width.Length == 0 ? 0 : int.Parse(width, CultureInfo.InvariantCulture);
            if (digits > 18) throw Invalid(shownPath, "a frame number needs at most 18 digits");
            i = end;
        }
        if (digits is null) throw Invalid(shownPath, "it has no frame number field such as %06d");
        return new FramePattern(folder, prefix.ToString(), digits.Value, suffix.ToString(), namesFolder);
    }

    static FifoInputException Invalid(string path, string why) =>
        new(InvalidErrorId, $"The image sequence path '{path}' is not usable: {why}. Example: frames/frame_%06d.png, or just a folder.");
}
