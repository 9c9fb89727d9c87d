namespace FifoPipes.Models.Analytic.Quality;

/// <summary>
/// A 3 x 5 pixel capital-letter font, so plots can carry their own labels without a font package
/// (SixLabors.Fonts is not available everywhere). Lower case prints as upper case; unknown characters as blanks.
/// </summary>
public static class PixelFont
{
    public const int GlyphWidth = 3, GlyphHeight = 5;

    static readonly Dictionary<char, string> Glyphs = new()
    {
        ['0'] = "###|#.#|#.#|#.#|###", ['1'] = ".#.|##.|.#.|.#.|###", ['2'] = "###|..#|###|#..|###", ['3'] = "###|..#|.##|..#|###",
        ['4'] = "#.#|#.#|###|..#|..#", ['5'] = "###|#..|###|..#|###", ['6'] = "###|#..|###|#.#|###", ['7'] = "###|..#|.#.|.#.|.#.",
        ['8'] = "###|#.#|###|#.#|###", ['9'] = "###|#.#|###|..#|###",
        ['A'] = ".#.|#.#|###|#.#|#.#", ['B'] = "##.|#.#|##.|#.#|##.", ['C'] = ".##|#..|#..|#..|.##", ['D'] = "##.|#.#|#.#|#.#|##.",
        ['E'] = "###|#..|##.|#..|###", ['F'] = "###|#..|##.|#..|#..", ['G'] = ".##|#..|#.#|#.#|.##", ['H'] = "#.#|#.#|###|#.#|#.#",
        ['I'] = "###|.#.|.#.|.#.|###", ['J'] = "..#|..#|..#|#.#|.#.", ['K'] = "#.#|#.#|##.|#.#|#.#", ['L'] = "#..|#..|#..|#..|###",
        ['M'] = "#.#|###|###|#.#|#.#", ['N'] = "##.|#.#|#.#|#.#|#.#", ['O'] = ".#.|#.#|#.#|#.#|.#.", ['P'] = "##.|#.#|##.|#..|#..",
        ['Q'] = ".#.|#.#|#.#|##.|.##", ['R'] = "##.|#.#|##.|#.#|#.#", ['S'] = ".##|#..|.#.|..#|##.", ['T'] = "###|.#.|.#.|.#.|.#.",
        ['U'] = "#.#|#.#|#.#|#.#|###", ['V'] = "#.#|#.#|#.#|#.#|.#.", ['W'] = "#.#|#.#|###|###|#.#", ['X'] = "#.#|#.#|.#.|#.#|#.#",
        ['Y'] = "#.#|#.#|.#.|.#.|.#.", ['Z'] = "###|..#|.#.|#..|###",
        ['.'] = "...|...|...|...|.#.", ['-'] = "...|...|###|...|...", [','] = "...|...|...|.#.|#..", [':'] = "...|.#.|...|.#.|...",
        ['('] = "..#|.#.|.#.|.#.|..#", [')'] = "#..|.#.|.#.|.#.|#..", ['='] = "...|###|...|###|...", ['/'] = "..#|..#|.#.|#..|#..",
        ['+'] = "...|.#.|###|.#.|...", ['_'] = "...|...|...|...|###", ['%'] = "#.#|..#|.#.|#..|#.#"
    };

    /// <summary>Whether pixel (x, y) of the glyph for <paramref name="c"/> is set.</summary>
    public static bool IsSet(char c, int x, int y)
    {
        if (!Glyphs.TryGetValue(c, out var glyph) && !Glyphs.TryGetValue(char.ToUpperInvariant(c), out glyph)) return false;
        return glyph[y * (GlyphWidth + 1) + x] == '#';
    }

    /// <summary>Width in pixels of <paramref name="text"/> at <paramref name="scale"/> (one blank column between glyphs).</summary>
    public static int Measure(string text, int scale) => text.Length * (GlyphWidth + 1) * scale;
}
