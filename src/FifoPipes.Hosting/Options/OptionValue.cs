namespace FifoPipes.Hosting.Options;

/// <summary>Where a value came from: file, line and column (1-based) of a recipe, or a parameter.</summary>
public sealed record SourceLocation(string File, int Line, int Column)
{
    public override string ToString() => $"{File}:{Line}:{Column}";
}

/// <summary>
/// A value to bind to an option: either YAML text (scalar or list of scalars) or an object from
/// PowerShell, with where it came from so errors can point at it.
/// </summary>
public sealed record OptionValue(object? Value, SourceLocation? Location, bool IsText)
{
    public static OptionValue FromText(string? text, SourceLocation? location) => new(text, location, true);
    public static OptionValue FromTextList(IReadOnlyList<string> items, SourceLocation? location) => new(items, location, true);
    public static OptionValue FromObject(object? value, SourceLocation? location = null) => new(value, location, false);
}
