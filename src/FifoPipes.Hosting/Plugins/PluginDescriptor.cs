using FifoPipes.Abstractions;
using FifoPipes.Hosting.Options;

namespace FifoPipes.Hosting.Plugins;

/// <summary>A plugin as the host knows it: its metadata, options and where it came from.</summary>
public sealed class PluginDescriptor
{
    internal PluginDescriptor(PluginMetadata metadata, string source, Version contracts, Func<object> create)
    {
        Contracts = contracts;
        Kind = metadata.Kind;
        Name = metadata.Name;
        Version = metadata.Version;
        Description = metadata.Description;
        OptionsType = metadata.OptionsType;
        Extensions = Listed(metadata.Extensions, e => e.TrimStart('.'));
        Schemes = Listed(metadata.Schemes, s => s.EndsWith("://", StringComparison.Ordinal) ? s[..^3] : s);
        // As declared, and what a sampler built against older contracts never heard of.
        var declared = Listed(metadata.Refuses, i => i);
        Refuses = metadata.Kind != PluginKind.Sampler ? Array.Empty<string>()
            : SamplerInputs.Every.Where(input => contracts < SamplerInputs.Since(input) || declared.Contains(input.ToLowerInvariant())).ToArray();
        Options = OptionDescriptor.For(OptionsType);
        Source = source;
        this.create = create;
    }

    readonly Func<object> create;

    /// <summary>A comma-separated metadata list ("mp4, .m4v"; "rtmp,srt://"), each item bare and in lower case.</summary>
    static string[] Listed(string? text, Func<string, string> bare) =>
        (text ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(i => bare(i).ToLowerInvariant()).ToArray();

    public PluginKind Kind { get; }
    public string Name { get; }
    public string Version { get; }
    public string Description { get; }
    public Type? OptionsType { get; }
    public IReadOnlyList<string> Extensions { get; }
    /// <summary>For sinks: the address schemes it sends to (rtmp, srt, ...).</summary>
    public IReadOnlyList<string> Schemes { get; }
    /// <summary>For samplers: the run inputs it does not take (<see cref="SamplerInputs"/> names): those it declares, and those newer than the contracts it was built against.</summary>
    public IReadOnlyList<string> Refuses { get; }

    /// <summary>Whether this sampler does not take the run input <paramref name="input"/> (a <see cref="SamplerInputs"/> name).</summary>
    public bool RefusesInput(string input) => Refuses.Contains(input, StringComparer.OrdinalIgnoreCase);
    public IReadOnlyList<OptionDescriptor> Options { get; }
    /// <summary>The FifoPipes.Abstractions version the plugin was built against: what it knows of the contracts.</summary>
    public Version Contracts { get; }
    /// <summary>The assembly file the plugin was loaded from.</summary>
    public string Source { get; }

    /// <summary>Creates the plugin's export (IModelAdapter, ISamplerFactory or ISinkFactory).</summary>
    public T Create<T>() where T : class => (T)create();

    public override string ToString() => $"{Kind} {Name} {Version}";
}

/// <summary>A plugin (or plugin assembly) that could not be loaded; the others still work.</summary>
public sealed record PluginLoadError(string Source, string? Name, string Message)
{
    /// <summary>The names of the plugins a refused assembly declares, read from its metadata: where a missing plugin may be told to be.</summary>
    public IReadOnlyList<string> Holds { get; init; } = Array.Empty<string>();

    /// <summary>The plugin loaded anyway, and this says what will fail in it (a dependency missing from its folder): no reason a plugin is missing.</summary>
    public bool Loaded { get; init; }

    /// <summary>For a plugin ignored because another of its kind and name loaded first: that one, which whoever uses it is warned of.</summary>
    public PluginDescriptor? IgnoredFor { get; init; }

    public override string ToString() => Name is null ? $"{Source}: {Message}" : $"{Name} ({Source}): {Message}";
}
