using System.Net;
using System.Text;
using System.Text.RegularExpressions;

namespace FifoPipes.Torch.Text;

/// <summary>
/// open_clip's prompt cleaning: the ftfy fixes prompts actually meet (mojibake, curly quotes,
/// fullwidth letters, Latin ligatures, NFC), HTML unescaping twice, whitespace collapsing, lower case.
/// </summary>
public static partial class ClipTextCleaner
{
    /// <summary>open_clip's basic_clean (ftfy fixes, HTML unescaped twice) and whitespace_clean, then lower case: the text <see cref="ClipTokenizer.Encode"/> splits.</summary>
    public static string Clean(string text)
    {
        text = FixText(text);
        text = WebUtility.HtmlDecode(WebUtility.HtmlDecode(text));
        text = PythonWhitespace().Replace(text.Trim(), " ").Trim();
        // Trim() may leave Python-only whitespace (\x1c-\x1f) at the ends; the regex collapsed it to one space.
        return text.Trim(' ').ToLowerInvariant();
    }

    /// <summary>The subset of ftfy.fix_text that changes realistic prompts.</summary>
    public static string FixText(string text)
    {
        text = FixMojibake(text);
        var sb = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            switch (c)
            {
                case '\u2018' or '\u2019' or '\u201a' or '\u201b': sb.Append('\''); break;
                case '\u201c' or '\u201d' or '\u201e' or '\u201f': sb.Append('"'); break;
                // Fullwidth ASCII forms fold to ASCII (ftfy fix_character_width); the ideographic space to a space.
                case >= '\uff01' and <= '\uff5e': sb.Append((char)(c - 0xfee0)); break;
                case '\u3000': sb.Append(' '); break;
                case >= '\ufb00' and <= '\ufb06': sb.Append(c.ToString().Normalize(NormalizationForm.FormKC)); break;
                default: sb.Append(c); break;
            }
        }
        return sb.ToString().Normalize(NormalizationForm.FormC);
    }

    /// <summary>
    /// UTF-8 text that was decoded as Windows-1252 ("cafÃ©", "donâ€™t"): a run of characters whose
    /// cp1252 bytes form a valid multi-byte UTF-8 sequence is decoded back. Single accented letters
    /// followed by ordinary text never form such a sequence, so correct text is left alone.
    /// </summary>
    static string FixMojibake(string text)
    {
        return MojibakeCandidate().Replace(text, m =>
        {
            var bytes = new byte[m.Length];
            for (int i = 0; i < m.Length; i++)
            {
                if (!TryCp1252Byte(m.Value[i], out bytes[i])) return m.Value;
            }
            try { return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes); }
            catch (DecoderFallbackException) { return m.Value; }
        });
    }

    // A UTF-8 lead byte (C2-F4) followed by as many continuation bytes (80-BF) as it announces, all as cp1252 characters.
    const string Continuation = "[\u0080-\u00bf\u20ac\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u017d\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u017e\u0178]";

    [GeneratedRegex("[\u00c2-\u00df]" + Continuation + "|[\u00e0-\u00ef]" + Continuation + "{2}|[\u00f0-\u00f4]" + Continuation + "{3}")]
    private static partial Regex MojibakeCandidate();

    // Python's \s also matches the information separators \x1c-\x1f, .NET's does not.
    [GeneratedRegex(@"[\s\x1c-\x1f]+")]
    private static partial Regex PythonWhitespace();

    static readonly Dictionary<char, byte> Cp1252High = new()
    {
        ['\u20ac'] = 0x80, ['\u201a'] = 0x82, ['\u0192'] = 0x83, ['\u201e'] = 0x84, ['\u2026'] = 0x85, ['\u2020'] = 0x86,
        ['\u2021'] = 0x87, ['\u02c6'] = 0x88, ['\u2030'] = 0x89, ['\u0160'] = 0x8a, ['\u2039'] = 0x8b, ['\u0152'] = 0x8c,
        ['\u017d'] = 0x8e, ['\u2018'] = 0x91, ['\u2019'] = 0x92, ['\u201c'] = 0x93, ['\u201d'] = 0x94, ['\u2022'] = 0x95,
        ['\u2013'] = 0x96, ['\u2014'] = 0x97, ['\u02dc'] = 0x98, ['\u2122'] = 0x99, ['\u0161'] = 0x9a, ['\u203a'] = 0x9b,
        ['\u0153'] = 0x9c, ['\u017e'] = 0x9e, ['\u0178'] = 0x9f,
    };

    static bool TryCp1252Byte(char c, out byte b)
    {
        if (c <= '\u00ff') { b = (byte)c; return true; }
        return Cp1252High.TryGetValue(c, out b);
    }
}
