using System.Collections;
using System.Globalization;
using FifoPipes.Abstractions;

namespace FifoPipes.Hosting.Options;

/// <summary>A problem found while reading or binding input, with where it is and what would be valid.</summary>
public sealed record Diagnostic(string Path, string Message, SourceLocation? Location, IReadOnlyList<string> ValidChoices)
{
    public string? File => Location?.File;
    public int Line => Location?.Line ?? 0;
    public int Column => Location?.Column ?? 0;

    public override string ToString()
    {
        var where = Location is null ? "" : Location + ": ";
        return $"{where}{Path}: {Message}{Choices()}";
    }

    /// <summary>" Valid: a, b." after the message (which gets its full stop first), or "" where there are none.</summary>
    public string Choices()
    {
        if (ValidChoices.Count == 0) return "";
        bool ended = Message.EndsWith('.') || Message.EndsWith('?') || Message.EndsWith('!');
        return (ended ? "" : ".") + " Valid: " + string.Join(", ", ValidChoices) + ".";
    }
}

/// <summary>
/// Binds named values onto a plugin's options class strictly: unknown names, wrong types, values
/// out of range and the class's own <see cref="IValidatableOptions"/> checks all become diagnostics.
/// </summary>
public static class OptionBinder
{
    public static object? Bind(Type? optionsType, IReadOnlyDictionary<string, OptionValue> values, string path,
        SourceLocation? blockLocation, List<Diagnostic> diagnostics, IReadOnlyDictionary<string, SourceLocation>? keyLocations = null)
    {
        var options = OptionDescriptor.For(optionsType);
        if (optionsType is null)
        {
            foreach (var (key, value) in values)
                diagnostics.Add(new Diagnostic($"{path}.{key}", "this plugin takes no options", KeyLocation(key, value), Array.Empty<string>()));
            return null;
        }
        var instance = Activator.CreateInstance(optionsType)!;
        foreach (var (key, value) in values)
        {
            var option = options.FirstOrDefault(o => string.Equals(o.Name, key, StringComparison.OrdinalIgnoreCase));
            if (option is null)
            {
                var names = options.Select(o => o.Name).ToList();
                var hint = Hint(key, names);
                diagnostics.Add(new Diagnostic($"{path}.{key}", $"unknown option '{key}'.{hint}", KeyLocation(key, value), names));
                continue;
            }
            if (!TryConvert(value, option.Type, out var converted, out var problem) || converted is null && !option.AcceptsNull && Fail("a value is required", out problem))
            {
                diagnostics.Add(new Diagnostic($"{path}.{option.Name}", problem, value.Location ?? blockLocation, option.Choices));
                continue;
            }
            if (RangeProblem(option, converted) is { } rangeProblem)
            {
                diagnostics.Add(new Diagnostic($"{path}.{option.Name}", rangeProblem, value.Location ?? blockLocation, option.Choices));
                continue;
            }
            converted = Canonical(option, converted);
            // A setter is third-party code too: what it refuses is a problem with this value, located like the others.
            try { option.Property.SetValue(instance, converted); }
            catch (System.Reflection.TargetInvocationException ex) when (ex.InnerException is not null)
            {
                diagnostics.Add(new Diagnostic($"{path}.{option.Name}", $"the plugin refused {OptionDescriptor.Format(converted)}: {ex.InnerException.Message}",
                    value.Location ?? blockLocation, option.Choices));
            }
        }
        if (instance is IValidatableOptions validatable)
        {
            IReadOnlyList<OptionProblem> problems;
            // A plugin's own check is third-party code: whatever it throws is a problem with these options, not a crash;
            // one that is not a refusal (a NullReferenceException) says so by its type, so the user knows whose it is.
            try { problems = validatable.Validate().ToList(); }
            catch (Exception ex)
            {
                string kind = ex is ArgumentException or FifoInputException or FormatException ? "" : $" with a bug of its own ({ex.GetType().Name})";
                problems = new[] { new OptionProblem("(options)", $"the plugin's option check failed{kind}: {ex.Message}") };
            }
            foreach (var p in problems)
            {
                var location = values.FirstOrDefault(v => string.Equals(v.Key, p.Option, StringComparison.OrdinalIgnoreCase)).Value?.Location ?? blockLocation;
                diagnostics.Add(new Diagnostic($"{path}.{p.Option}", p.Message, location, Array.Empty<string>()));
            }
        }
        return instance;

        SourceLocation? KeyLocation(string key, OptionValue value) =>
            keyLocations is not null && keyLocations.TryGetValue(key, out var at) ? at : value.Location ?? blockLocation;
    }

    static bool Fail(string message, out string problem)
    {
        problem = message;
        return true;
    }

    /// <summary>"DDPM" is the choice "ddpm": the plugin (and the run's hash) sees the declared spelling, in a list as alone.</summary>
    static object? Canonical(OptionDescriptor option, object? value)
    {
        if (option.Choices.Count == 0) return value;
        string Declared(string typed) => option.Choices.FirstOrDefault(c => string.Equals(c, typed, StringComparison.OrdinalIgnoreCase)) ?? typed;
        return value switch
        {
            string one => Declared(one),
            string[] many => many.Select(Declared).ToArray(),
            _ => value,
        };
    }

    static string? RangeProblem(OptionDescriptor option, object? value)
    {
        if (value is null) return null;
        // A list's items each keep the option's bounds and choices.
        if (value is Array items)
        {
            for (int i = 0; i < items.Length; i++)
                if (RangeProblem(option, items.GetValue(i)) is { } itemProblem) return $"item {i}: {itemProblem}";
            return null;
        }
        if (option.Choices.Count > 0 && value is string s && !option.Choices.Contains(s, StringComparer.OrdinalIgnoreCase))
            return $"'{s}' is not one of the allowed values";
        if (value is IConvertible c && value is not string and not bool and not Enum)
        {
            double d = c.ToDouble(CultureInfo.InvariantCulture);
            if (double.IsNaN(d) || double.IsInfinity(d)) return "must be a finite number";
            if (option.Min is { } min && d < min) return $"{OptionDescriptor.Format(value)} is below the minimum {min.ToString(CultureInfo.InvariantCulture)}";
            if (option.Max is { } max && d > max) return $"{OptionDescriptor.Format(value)} is above the maximum {max.ToString(CultureInfo.InvariantCulture)}";
        }
        return null;
    }

    /// <summary>Converts YAML text or a PowerShell object to <paramref name="type"/>; explains the failure otherwise.</summary>
    public static bool TryConvert(OptionValue value, Type type, out object? result, out string problem)
    {
        result = null;
        problem = "";
        var target = Nullable.GetUnderlyingType(type) ?? type;
        bool nullable = Nullable.GetUnderlyingType(type) is not null || !type.IsValueType;
        object? raw = value.Value;

        // Only a real null is empty: the recipe reader already made plain ~, null and empty scalars null, so a quoted "null" is text.
        bool empty = raw is null;
        if (empty && target == typeof(string)) { result = raw is null ? null : ""; return true; }
        if (empty)
        {
            if (nullable) return true;
            problem = $"a value is required (expected {Expected(type)})";
            return false;
        }

        if (target.IsArray)
        {
            var element = target.GetElementType()!;
            IEnumerable<object?> items = raw switch
            {
                string single => new object?[] { single },
                IEnumerable e => e.Cast<object?>(),
                _ => new[] { raw },
            };
            var list = new List<object?>();
            int i = 0;
            foreach (var item in items)
            {
                if (!TryConvert(value with { Value = item }, element, out var converted, out var inner))
                {
                    problem = $"item {i}: {inner}";
                    return false;
                }
                list.Add(converted);
                i++;
            }
            var array = Array.CreateInstance(element, list.Count);
            for (int k = 0; k < list.Count; k++) array.SetValue(list[k], k);
            result = array;
            return true;
        }

        if (!value.IsText && target.IsInstanceOfType(raw)) { result = raw; return true; }
        // A list for a single value (YAML [a, b], or PowerShell's 'a','b') is refused, not bound as its type's name.
        if (raw is not string && (value.IsText || raw is IEnumerable))
        {
            problem = $"expected {Expected(type)}, got a list or mapping";
            return false;
        }
        string text = Convert.ToString(raw, CultureInfo.InvariantCulture) ?? "";

        try
        {
            if (target.IsEnum)
            {
                static string Plain(string name) => name.Replace("-", "").Replace("_", "");
                var match = Enum.GetNames(target).FirstOrDefault(n => string.Equals(Plain(n), Plain(text), StringComparison.OrdinalIgnoreCase))
                            ?? throw new FormatException();
                result = Enum.Parse(target, match);
            }
            else if (Parsers.TryGetValue(target, out var parse)) result = parse(text);
            else { problem = $"options of type {target.Name} are not supported"; return false; }
            return true;
        }
        catch (OverflowException) when (target == typeof(int) || target == typeof(long))
        {
            // A whole number, only too large: say so, with the limit, rather than that it is no integer.
            var (min, max) = target == typeof(int) ? ((long)int.MinValue, (long)int.MaxValue) : (long.MinValue, long.MaxValue);
            problem = text.TrimStart().StartsWith('-') ? $"{text} is too small: the least is {min}" : $"{text} is too large: the most is {max}";
            return false;
        }
        catch (Exception ex) when (ex is FormatException or OverflowException)
        {
            problem = $"expected {Expected(type)}, got '{text}'";
            return false;
        }
    }

    /// <summary>The scalar types options may have besides enums, each with its parser: the one list of what binds.</summary>
    static readonly Dictionary<Type, Func<string, object>> Parsers = new()
    {
        [typeof(string)] = text => text,
        [typeof(bool)] = text => text.ToLowerInvariant() switch
        {
            "true" or "yes" or "on" => true,
            "false" or "no" or "off" => false,
            _ => throw new FormatException(),
        },
        [typeof(int)] = text => int.Parse(text, NumberStyles.Integer, CultureInfo.InvariantCulture),
        [typeof(long)] = text => long.Parse(text, NumberStyles.Integer, CultureInfo.InvariantCulture),
        [typeof(double)] = text => double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture),
        [typeof(float)] = text => float.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture),
    };

    /// <summary>Whether <see cref="TryConvert"/> binds to <paramref name="type"/>: a scalar above, an enum, or a flat array of one.</summary>
    public static bool Converts(Type type)
    {
        var target = Nullable.GetUnderlyingType(type) ?? type;
        if (target.IsArray) return target.GetArrayRank() == 1 && !target.GetElementType()!.IsArray && Converts(target.GetElementType()!);
        return target.IsEnum || Parsers.ContainsKey(target);
    }

    static string Expected(Type type)
    {
        var target = Nullable.GetUnderlyingType(type) ?? type;
        if (target.IsEnum) return "one of " + string.Join(", ", Enum.GetNames(target).Select(OptionDescriptor.CamelCase));
        return Type.GetTypeCode(target) switch
        {
            TypeCode.Int32 => "an integer", TypeCode.Int64 => "an integer",
            TypeCode.Double or TypeCode.Single => "a number", TypeCode.Boolean => "true or false",
            TypeCode.String => "a string", _ => target.Name,
        };
    }

    /// <summary>What to say after "unknown ... 'key'.": the nearest name, or nothing.</summary>
    public static string Hint(string key, IEnumerable<string> names) =>
        Suggest(key, names) is { } near ? $" Did you mean '{near}'?" : "";

    /// <summary>The closest name within a small edit distance, for "did you mean".</summary>
    public static string? Suggest(string typed, IEnumerable<string> names)
    {
        string? best = null;
        int bestDistance = int.MaxValue;
        foreach (var name in names)
        {
            int d = Distance(typed.ToLowerInvariant(), name.ToLowerInvariant());
            if (d < bestDistance) { bestDistance = d; best = name; }
        }
        return best is not null && bestDistance <= Math.Max(2, typed.Length / 3) ? best : null;
    }

    internal static int Distance(string a, string b)
    {
        var prev = new int[b.Length + 1];
        var cur = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++) prev[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            cur[0] = i;
            for (int j = 1; j <= b.Length; j++)
                cur[j] = Math.Min(Math.Min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            (prev, cur) = (cur, prev);
        }
        return prev[b.Length];
    }
}
