namespace FifoPipes.Torch.Text;

public static partial class ClipTextCleaner
{
    /// <summary>
    /// transformers' CLIPTokenizer cleaning: ftfy fixes, whitespace collapsing, lower case, and no HTML
    /// unescaping (open_clip's <see cref="Clean"/> unescapes twice: "&amp;amp;" differs).
    /// </summary>
    public static string CleanWithoutHtmlUnescape(string text)
    {
        text = FixText(text);
        text = PythonWhitespace().Replace(text.Trim(), " ").Trim();
        return text.Trim(' ').ToLowerInvariant();
    }
}
