using System.Collections;
using System.Globalization;
using FifoPipes.Hosting.Options;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace FifoPipes.Hosting.Recipes;

/// <summary>
/// A recipe as a tree with locations, whether it came from YAML or from PowerShell parameters, so
/// one reader validates both the same way.
/// </summary>
public abstract record RecipeNode(SourceLocation? Location)
{
    public abstract string Kind { get; }
}

public sealed record ScalarNode(object? Value, bool IsText, SourceLocation? Location) : RecipeNode(Location)
{
    public override string Kind => "a value";
    public OptionValue ToOptionValue() => new(Value, Location, IsText);
}

public sealed record SequenceNode(IReadOnlyList<RecipeNode> Items, SourceLocation? Location) : RecipeNode(Location)
{
    public override string Kind => "a list";
}

public sealed record MapEntry(string Key, SourceLocation? KeyLocation, RecipeNode Value);

public sealed record MapNode(IReadOnlyList<MapEntry> Entries, SourceLocation? Location) : RecipeNode(Location)
{
    public override string Kind => "a mapping";
    public RecipeNode? this[string key] => Entries.FirstOrDefault(e => e.Key == key)?.Value;
}

public static class RecipeNodes
{
    /// <summary>
    /// For a syntax error on a line that names the run ({seed}, {hash}) outside quotes: YAML reads those braces as a
    /// mapping, which its own message ("did not find expected ',' or '}'") does not say.
    /// </summary>
    static string BraceHint(string text, int line)
    {
        var lines = text.Split('\n');
        if (line < 1 || line > lines.Length) return "";
        var unquoted = WithoutQuotedText(lines[line - 1]);
        var named = new[] { "{seed}", "{hash}" }.FirstOrDefault(name => unquoted.Contains(name, StringComparison.Ordinal));
        return named is null ? "" : $". Quote a value holding {named}: path: 'clip-{named}.mp4'";
    }

    /// <summary>
    /// The parser's complaint in the user's terms, where they went wrong: YamlDotNet reports a tab or an unknown alias
    /// at the start of the mapping it was reading (often line 1), and its indentation messages name no cause.
    /// </summary>
    static (string Message, int Line, int Column) SyntaxProblem(YamlException ex, string text)
    {
        var lines = text.Split('\n');
        string parser = FirstLine(ex.InnerException?.Message ?? ex.Message).TrimEnd('.');
        int line = (int)ex.Start.Line, column = (int)ex.Start.Column;
        if (parser.Contains("tab", StringComparison.OrdinalIgnoreCase)
            && Array.FindIndex(lines, l => l.TrimEnd('\r').Length > 0 && l[..(l.Length - l.TrimStart(' ', '\t').Length)].Contains('\t')) is var tabbed and >= 0)
            return ($"line {tabbed + 1} is indented with a tab; YAML indents with spaces only", tabbed + 1, lines[tabbed].IndexOf('\t') + 1);
        if (ex is AnchorNotFoundException && System.Text.RegularExpressions.Regex.Match(parser, "'([^']*)'") is { Success: true } anchor)
        {
            int at = Array.FindIndex(lines, l => System.Text.RegularExpressions.Regex.IsMatch(WithoutQuotedText(l), $@"\*{System.Text.RegularExpressions.Regex.Escape(anchor.Groups[1].Value)}(?![\w-])"));
            return ($"the alias '*{anchor.Groups[1].Value}' names no anchor: define it before its first use with '&{anchor.Groups[1].Value}', or check its spelling",
                at >= 0 ? at + 1 : line, at >= 0 ? lines[at].IndexOf('*') + 1 : column);
        }
        return (parser + BraceHint(text, line) + LayoutHint(parser, lines, line, column), line, column);
    }

    /// <summary>For the parser's messages about a mapping it could not read: the two mistakes that cause nearly all of them.</summary>
    static string LayoutHint(string parser, string[] lines, int line, int column)
    {
        bool layout = parser.Contains("mapping", StringComparison.OrdinalIgnoreCase) || parser.Contains("expected key", StringComparison.OrdinalIgnoreCase)
                      || parser.Contains("'-' indicator", StringComparison.Ordinal);
        if (!layout || line < 1 || line > lines.Length) return "";
        // key: value: more is a second mapping inside an unquoted value, and the parser stops in the value, past the key's
        // ': '. Stopped at the key itself (or before it), the line is read as part of the one above: its indentation.
        var unquoted = WithoutQuotedText(lines[line - 1]);
        int first = unquoted.IndexOf(": ", StringComparison.Ordinal);
        return first >= 0 && column - 1 > first && unquoted.IndexOf(": ", first + 2, StringComparison.Ordinal) >= 0
            ? ". A value holding ': ' needs quotes: prompt: \"the time: midnight\""
            : ". Check this line's indentation against the lines above it: keys of one mapping start in the same column, list items under their key";
    }

    /// <summary>The line with its '...' and "..." strings taken out.</summary>
    static string WithoutQuotedText(string line) => System.Text.RegularExpressions.Regex.Replace(line, "'[^']*'|\"(?:[^\"\\\\]|\\\\.)*\"", "");

    /// <summary>Parses YAML text; a syntax error becomes a located diagnostic.</summary>
    public static RecipeNode? FromYaml(string text, string file, List<Diagnostic> diagnostics)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException ex)
        {
            var (message, line, column) = SyntaxProblem(ex, text);
            diagnostics.Add(new Diagnostic("(syntax)", "YAML syntax error: " + message, new SourceLocation(file, line, column), Array.Empty<string>()));
            return null;
        }
        catch (Exception ex) when (ex is InvalidOperationException or ArgumentException or IndexOutOfRangeException)
        {
            // YamlDotNet's scanner fails this way on some malformed input; point at where parsing stopped.
            diagnostics.Add(new Diagnostic("(syntax)", "YAML syntax error: the document could not be parsed past this point",
                LastParsedPosition(text, file), Array.Empty<string>()));
            return null;
        }
        if (stream.Documents.Count == 0)
        {
            diagnostics.Add(new Diagnostic("(document)", "the recipe is empty", new SourceLocation(file, 1, 1), Array.Empty<string>()));
            return null;
        }
        if (stream.Documents.Count > 1)
            diagnostics.Add(new Diagnostic("(document)", "a recipe file holds one YAML document; remove the extra '---' documents",
                At(file, stream.Documents[1].RootNode.Start), Array.Empty<string>()));
        var budget = new NodeBudget();
        var root = Convert(stream.Documents[0].RootNode, file, diagnostics, budget);
        if (budget.Exceeded)
        {
            diagnostics.Add(new Diagnostic("(document)", $"the recipe expands to more than {NodeBudget.Limit} values or nests deeper than {NodeBudget.MaxDepth} levels (aliases that repeat aliases?); write it out plainly",
                At(file, stream.Documents[0].RootNode.Start), Array.Empty<string>()));
            return null;
        }
        return root;
    }

    /// <summary>
    /// YAML aliases share nodes, so a small file can expand exponentially or even refer to itself; recipes are
    /// small and shallow, so cap both the number of values and the nesting depth of the walk.
    /// </summary>
    sealed class NodeBudget
    {
        public const int Limit = 100_000;
        public const int MaxDepth = 64;
        int used;
        public bool Exceeded => used > Limit;
        public bool Take() => ++used <= Limit;
        public void Exhaust() => used = Limit + 1;
    }

    /// <summary>YAML's merge key: "&lt;&lt;: *defaults" copies the keys of the mapping (or list of mappings) it names.</summary>
    const string MergeKey = "<<";

    /// <summary>
    /// The entries a merge key brings in, each keeping the location it was written at. Every merged copy is converted
    /// again, so it counts against the node budget as often as it is used: merges cannot inflate a recipe unchecked.
    /// </summary>
    static IEnumerable<MapEntry> Merged(YamlNode value, string file, List<Diagnostic> diagnostics, NodeBudget budget, int depth)
    {
        var sources = value is YamlSequenceNode list ? list.Children.ToList() : new List<YamlNode> { value };
        foreach (var source in sources)
        {
            if (Convert(source, file, diagnostics, budget, depth) is MapNode map)
                foreach (var entry in map.Entries) yield return entry;
            else
                diagnostics.Add(new Diagnostic(MergeKey, "'<<' merges a mapping (<<: *defaults) or a list of them; this is neither", At(file, source.Start), Array.Empty<string>()));
        }
    }

    static SourceLocation LastParsedPosition(string text, string file)
    {
        var last = new SourceLocation(file, 1, 1);
        try
        {
            var parser = new Parser(new StringReader(text));
            while (parser.MoveNext()) last = new SourceLocation(file, (int)parser.Current!.End.Line, (int)parser.Current.End.Column);
        }
        catch (Exception) { /* the failure is what we were looking for */ }
        return last;
    }

    static string FirstLine(string s) => s.Split('\n')[0].Trim();

    static SourceLocation At(string file, Mark mark) => new(file, (int)mark.Line, (int)mark.Column);

    static RecipeNode Convert(YamlNode node, string file, List<Diagnostic> diagnostics, NodeBudget budget, int depth = 0)
    {
        if (depth > NodeBudget.MaxDepth) budget.Exhaust();
        if (!budget.Take()) return new ScalarNode(null, true, At(file, node.Start));
        switch (node)
        {
            case YamlScalarNode scalar:
                // A quoted "" is an empty string; a plain empty scalar is null.
                bool plain = scalar.Style == ScalarStyle.Plain;
                return new ScalarNode(plain && scalar.Value is "" or "~" or "null" ? null : scalar.Value, true, At(file, node.Start));
            case YamlSequenceNode sequence:
                return new SequenceNode(sequence.Children.Select(c => Convert(c, file, diagnostics, budget, depth + 1)).ToList(), At(file, node.Start));
            case YamlMappingNode mapping:
                var entries = new List<MapEntry>();
                var merged = new List<MapEntry>();
                foreach (var (key, value) in mapping.Children)
                {
                    var keyText = key is YamlScalarNode k ? k.Value ?? "" : key.ToString();
                    if (key is YamlScalarNode { Style: ScalarStyle.Plain, Value: MergeKey })
                    {
                        merged.AddRange(Merged(value, file, diagnostics, budget, depth + 1));
                        continue;
                    }
                    if (entries.Any(e => e.Key == keyText))
                    {
                        diagnostics.Add(new Diagnostic(keyText, $"key '{keyText}' appears twice in this mapping; keep one", At(file, key.Start), Array.Empty<string>()));
                        continue;
                    }
                    entries.Add(new MapEntry(keyText, At(file, key.Start), Convert(value, file, diagnostics, budget, depth + 1)));
                }
                // YAML's merge: the mapping's own keys win, then the merged mappings' in the order given.
                foreach (var entry in merged)
                    if (!entries.Any(e => e.Key == entry.Key)) entries.Add(entry);
                return new MapNode(entries, At(file, node.Start));
            default:
                return new ScalarNode(null, true, At(file, node.Start));
        }
    }

    /// <summary>Builds a tree from PowerShell values: hashtables, arrays and scalars.</summary>
    public static RecipeNode FromObject(object? value)
    {
        value = Unwrap(value);
        switch (value)
        {
            case null: return new ScalarNode(null, false, null);
            case string s: return new ScalarNode(s, false, null);
            case IDictionary dictionary:
                return new MapNode(dictionary.Keys.Cast<object>()
                    .Select(k => new MapEntry(System.Convert.ToString(k, CultureInfo.InvariantCulture) ?? "", null, FromObject(dictionary[k])))
                    .ToList(), null);
            case IEnumerable items when value is not string:
                return new SequenceNode(items.Cast<object?>().Select(FromObject).ToList(), null);
            default:
                return new ScalarNode(value, false, null);
        }
    }

    /// <summary>PowerShell wraps values in PSObject; the real value is its BaseObject (read by reflection to stay host-neutral).</summary>
    static object? Unwrap(object? value)
    {
        while (value is not null && value.GetType().FullName == "System.Management.Automation.PSObject")
            value = value.GetType().GetProperty("BaseObject")?.GetValue(value);
        return value;
    }
}
