using System.Collections;
using System.Management.Automation;
using FifoPipes.Hosting.Options;
using FifoPipes.Hosting.Plugins;

namespace FifoPipes.PowerShell.Engine;

/// <summary>A cmdlet's option hashtable (-Option, -SamplerOption) bound onto a plugin's options class.</summary>
static class OptionTable
{
    /// <summary>
    /// Binds the entries <paramref name="keep"/> accepts (all by default; PSObjects unwrapped, keys in any case), then
    /// <paramref name="extra"/> values the cmdlet's own parameters set. Problems come back as one error naming <paramref name="parameter"/>.
    /// </summary>
    public static (object? Options, ErrorRecord? Error) Bind(PluginDescriptor plugin, IDictionary? values, string parameter,
        Func<string, bool>? keep = null, IReadOnlyDictionary<string, object?>? extra = null)
    {
        var bound = (values ?? new Hashtable()).Cast<DictionaryEntry>()
            .Where(e => keep is null || keep(e.Key.ToString()!))
            .ToDictionary(e => e.Key.ToString()!, e => OptionValue.FromObject(e.Value is PSObject p ? p.BaseObject : e.Value), StringComparer.OrdinalIgnoreCase);
        foreach (var (key, value) in extra ?? new Dictionary<string, object?>())
            if (value is not null) bound[key] = OptionValue.FromObject(value);
        var diagnostics = new List<Diagnostic>();
        var options = OptionBinder.Bind(plugin.OptionsType, bound, $"{plugin.Name} options", null, diagnostics);
        return (options, diagnostics.Count > 0 ? Errors.InvalidOptions(diagnostics, ParameterOf(diagnostics, extra) ?? parameter) : null);
    }

    /// <summary>
    /// The cmdlet parameter (-Frames) that set the value the first problem is about, where every problem is about a value
    /// the cmdlet's parameters set (one may follow from another), rather than the hashtable they were merged into.
    /// </summary>
    static string? ParameterOf(List<Diagnostic> diagnostics, IReadOnlyDictionary<string, object?>? extra)
    {
        var keys = diagnostics.Select(d => d.Path[(d.Path.LastIndexOf('.') + 1)..]).ToList();
        bool SetByParameter(string key) => extra?.Any(e => e.Value is not null && string.Equals(e.Key, key, StringComparison.OrdinalIgnoreCase)) == true;
        return keys.Count > 0 && keys.All(SetByParameter) ? "-" + char.ToUpperInvariant(keys[0][0]) + keys[0][1..] : null;
    }
}
