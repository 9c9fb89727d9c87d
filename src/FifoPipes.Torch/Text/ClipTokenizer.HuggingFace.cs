using System.Text;
using System.Text.RegularExpressions;

namespace FifoPipes.Torch.Text;

public sealed partial class ClipTokenizer
{
    /// <summary>
    /// BPE ids of one piece of text between special tokens, as transformers' CLIPTokenizer._tokenize gives them:
    /// no HTML unescaping, and its split regex (which has no open_clip "&lt;start_of_text&gt;" literals).
    /// </summary>
    public IReadOnlyList<int> EncodeHuggingFaceChunk(string text)
    {
        var ids = new List<int>();
        foreach (Match m in HuggingFacePieces().Matches(ClipTextCleaner.CleanWithoutHtmlUnescape(text)))
        {
            // CLIPTokenizer's BPE cache maps these (e.g. upper-case text lower-cased into them) straight to the special ids.
            if (m.Value == "<|startoftext|>") { ids.Add(StartOfText); continue; }
            if (m.Value == "<|endoftext|>") { ids.Add(EndOfText); continue; }
            var sb = new StringBuilder();
            foreach (var b in Encoding.UTF8.GetBytes(m.Value)) sb.Append(ByteToUnicode[b]);
            ids.AddRange(Bpe(sb.ToString()));
        }
        return ids;
    }

    /// <summary>The id of a vocabulary entry, or null.</summary>
    public int? IdOf(string token) => encoder.TryGetValue(token, out var id) ? id : null;

    [GeneratedRegex(@"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+", RegexOptions.IgnoreCase)]
    private static partial Regex HuggingFacePieces();
}
