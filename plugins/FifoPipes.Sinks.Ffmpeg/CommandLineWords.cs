using System.Text;

namespace FifoPipes.Sinks.Ffmpeg;

/// <summary>
/// Splits an option string into arguments the way a POSIX shell would for the simple cases:
/// whitespace separates, single or double quotes group, backslash escapes inside double quotes and
/// outside quotes. Arguments go to the process as a list, so nothing is re-quoted or expanded.
/// </summary>
public static class CommandLineWords
{
    public static IReadOnlyList<string> Split(string text)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        bool inWord = false;
        char quote = '\0';
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (quote == '\'')
            {
                if (c == '\'') quote = '\0'; else word.Append(c);
            }
            else if (c == '\\' && i + 1 < text.Length && (quote == '\0' || text[i + 1] is '"' or '\\'))
            {
                word.Append(text[++i]);
                inWord = true;
            }
            else if (quote == '"')
            {
                if (c == '"') quote = '\0'; else word.Append(c);
            }
            else if (c is '"' or '\'')
            {
                quote = c;
                inWord = true;
            }
            else if (char.IsWhiteSpace(c))
            {
                if (inWord) words.Add(word.ToString());
                word.Clear();
                inWord = false;
            }
            else
            {
                word.Append(c);
                inWord = true;
            }
        }
        if (quote != '\0') throw new FormatException($"a {quote} quote is not closed");
        if (inWord) words.Add(word.ToString());
        return words;
    }

    /// <summary>An argument as a POSIX shell would take it back: as it is where nothing in it is special, else single-quoted.</summary>
    public static string Quote(string argument) =>
        argument.Length > 0 && argument.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '/' or ':' or '+' or '=')
            ? argument
            : "'" + argument.Replace("'", "'\\''") + "'";
}
