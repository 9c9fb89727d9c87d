using System.Reflection;
using FifoPipes.Abstractions;

namespace FifoPipes.Hosting.Options;

/// <summary>One option of a plugin, read off its options class: YAML name, type, default, limits.</summary>
public sealed class OptionDescriptor
{
    OptionDescriptor(PropertyInfo property, object? defaultValue)
    {
        Property = property;
        Name = CamelCase(property.Name);
        Type = property.PropertyType;
        Default = defaultValue;
        AcceptsNull = !Type.IsValueType
            ? new NullabilityInfoContext().Create(property).WriteState != NullabilityState.NotNull
            : Nullable.GetUnderlyingType(Type) is not null;
        var attribute = property.GetCustomAttribute<OptionAttribute>();
        Description = attribute?.Description ?? "";
        ChangesFrames = attribute?.ChangesFrames ?? true;
        FrameSide = attribute?.FrameSide ?? FrameSide.None;
        PixelsPerUnit = Math.Max(1, attribute?.PixelsPerUnit ?? 1);
        PixelStep = Math.Max(PixelsPerUnit, attribute?.PixelStep ?? 1);
        Min = attribute is null || double.IsNaN(attribute.Min) ? null : attribute.Min;
        Max = attribute is null || double.IsNaN(attribute.Max) ? null : attribute.Max;
        var underlying = Nullable.GetUnderlyingType(Type) ?? Type;
        Choices = underlying.IsEnum
            ? Enum.GetNames(underlying).Select(CamelCase).ToArray()
            : (attribute?.Choices ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }

    internal PropertyInfo Property { get; }
    public string Name { get; }
    public Type Type { get; }
    /// <summary>See <see cref="OptionAttribute.ChangesFrames"/>: only such options belong to a run's identity.</summary>
    public bool ChangesFrames { get; }
    /// <summary>See <see cref="OptionAttribute.FrameSide"/>: the side of the frames this option sizes, if any.</summary>
    public FrameSide FrameSide { get; }
    public int PixelsPerUnit { get; }
    /// <summary>Sizes are multiples of this many pixels (<see cref="OptionAttribute.PixelStep"/>, at least <see cref="PixelsPerUnit"/>).</summary>
    public int PixelStep { get; }
    /// <summary>Type as a user reads it: integer, number, boolean, string, list of ..., with '?' when it may be left unset.</summary>
    public string TypeName => Describe(Type);
    public object? Default { get; }
    /// <summary>Whether the option may be left empty (a nullable type); the plugin's own annotations decide.</summary>
    public bool AcceptsNull { get; }
    public string Description { get; }
    public double? Min { get; }
    public double? Max { get; }
    public IReadOnlyList<string> Choices { get; }

    public override string ToString() => $"{Name} ({TypeName}, default {Format(Default)})";

    public static IReadOnlyList<OptionDescriptor> For(Type? optionsType)
    {
        if (optionsType is null) return Array.Empty<OptionDescriptor>();
        var defaults = Activator.CreateInstance(optionsType);
        // A base class's options first (reflection lists the derived class's first), each class's in declaration order.
        return optionsType.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanWrite && p.GetSetMethod() is not null && p.GetIndexParameters().Length == 0)
            .OrderBy(p => Depth(p.DeclaringType!)).ThenBy(p => p.MetadataToken)
            .Select(p => new OptionDescriptor(p, p.GetValue(defaults)))
            .ToList();
    }

    static int Depth(Type type) => type.BaseType is { } parent ? 1 + Depth(parent) : 0;

    /// <summary>Whether recipes and hashtables can set it.</summary>
    public bool Settable => OptionBinder.Converts(Type);

    public static string CamelCase(string name) =>
        string.IsNullOrEmpty(name) || char.IsLower(name[0]) ? name : char.ToLowerInvariant(name[0]) + name[1..];

    static string Describe(Type type)
    {
        if (Nullable.GetUnderlyingType(type) is { } inner) return Describe(inner) + "?";
        if (type.IsArray) return "list of " + Describe(type.GetElementType()!);
        if (type.IsEnum) return "one of " + string.Join("|", Enum.GetNames(type).Select(CamelCase));
        return Type.GetTypeCode(type) switch
        {
            TypeCode.Int32 or TypeCode.Int64 => "integer",
            TypeCode.Single or TypeCode.Double => "number",
            TypeCode.Boolean => "boolean",
            TypeCode.String => "string",
            _ => type.Name,
        };
    }

    public static string Format(object? value) => value switch
    {
        null => "unset",
        string s => $"'{s}'",
        bool b => b ? "true" : "false",
        Enum e => CamelCase(e.ToString()),
        Array a => "[" + string.Join(", ", a.Cast<object?>().Select(Format)) + "]",
        IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}
