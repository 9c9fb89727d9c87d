using System.Management.Automation;
using FifoPipes.Abstractions;
using FifoPipes.Hosting.Options;
using FifoPipes.Hosting.Plugins;
using FifoPipes.PowerShell.Engine;

namespace FifoPipes.PowerShell.Commands;

/// <summary>
/// <para type="synopsis">Lists the model, sampler and sink plugins, with their options, and reports plugins that failed to load.</para>
/// <para type="description">Plugins come from the module's plugins folder and from the folders in FIFOPIPES_PLUGIN_PATH. A plugin that fails to load is reported as a non-terminating error naming it; the others still work.</para>
/// <example><code>Get-FifoPlugin</code></example>
/// <example><code>(Get-FifoPlugin fifo).Options | Format-Table Name, Type, Default, Description</code></example>
/// </summary>
[Cmdlet(VerbsCommon.Get, "FifoPlugin")]
[OutputType(typeof(FifoPluginInfo))]
public sealed class GetFifoPluginCommand : PSCmdlet
{
    /// <summary><para type="description">Plugin names; wildcards allowed.</para></summary>
    [Parameter(Position = 0)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(PluginNameCompleter))]
    public string[]? Name { get; set; }

    // A string, not the engine's enum: PowerShell reads parameter types before the engine can be loaded.
    /// <summary><para type="description">Model, Sampler, Sink or Study.</para></summary>
    [Parameter]
    [ValidateSet("Model", "Sampler", "Sink", "Study", IgnoreCase = true)]
    public string? Kind { get; set; }

    protected override void EndProcessing()
    {
        var host = ModuleState.Plugins;
        var names = new NameFilter(Name);
        foreach (var plugin in host.Plugins.OrderBy(p => p.Kind).ThenBy(p => p.Name, StringComparer.OrdinalIgnoreCase))
        {
            if (Kind is not null && !string.Equals(plugin.Kind.ToString(), Kind, StringComparison.OrdinalIgnoreCase)) continue;
            if (names.Matches(plugin.Name)) WriteObject(new FifoPluginInfo(plugin));
        }
        // A plugin that failed to load is reported with why, and so is not also "not found"; one that loaded lacking a
        // dependency is reported with the plugins listed from its assembly.
        var listedSources = host.Plugins.Where(p => names.Matches(p.Name)).Select(p => p.Source).ToHashSet();
        foreach (var error in host.Errors)
        {
            if (Name is not null && !(error.Name is not null ? names.Matches(error.Name) : error.Loaded && listedSources.Contains(error.Source))) continue;
            WriteError(error.Loaded
                ? new ErrorRecord(new InvalidOperationException("Plugin loaded with a dependency missing: " + error), "PluginDependencyMissing", ErrorCategory.ObjectNotFound, error.Source)
                : new ErrorRecord(new InvalidOperationException("Plugin failed to load: " + error), "PluginLoadFailed", ErrorCategory.ResourceUnavailable, error.Source));
        }
        foreach (var name in names.UnmatchedPlainNames())
        {
            var ofKind = host.Plugins.Where(p => Kind is null || string.Equals(p.Kind.ToString(), Kind, StringComparison.OrdinalIgnoreCase))
                .Select(p => p.Name).Order(StringComparer.OrdinalIgnoreCase).ToList();
            var meant = OptionBinder.Suggest(name, ofKind) is { } near ? $" Did you mean '{near}'?" : "";
            WriteError(new ErrorRecord(new ItemNotFoundException($"There is no {(Kind ?? "").ToLowerInvariant()}{(Kind is null ? "" : " ")}plugin '{name}'.{meant} Plugins: {string.Join(", ", ofKind)}."),
                "PluginNotFound", ErrorCategory.ObjectNotFound, name));
        }
    }
}

/// <summary>A plugin's metadata as PowerShell shows it.</summary>
public sealed class FifoPluginInfo
{
    internal FifoPluginInfo(PluginDescriptor d)
    {
        Kind = d.Kind.ToString();
        Name = d.Name;
        Version = d.Version;
        Description = d.Description;
        Extensions = d.Extensions.ToArray();
        Schemes = d.Schemes.ToArray();
        Refuses = d.Refuses.ToArray();
        Source = d.Source;
        Options = d.Options.Select(o => new FifoPluginOption(o)).ToArray();
    }

    public string Kind { get; }
    public string Name { get; }
    public string Version { get; }
    public string Description { get; }
    public string[] Extensions { get; }
    /// <summary>For sinks: the address schemes it sends to (rtmp, srt, ...).</summary>
    public string[] Schemes { get; }
    /// <summary>For samplers: the run inputs it does not take (init, source, livePrompt, snapshot), which a recipe is refused for.</summary>
    public string[] Refuses { get; }
    public FifoPluginOption[] Options { get; }
    public string Source { get; }
    public override string ToString() => $"{Kind} {Name} {Version}";
}

public sealed class FifoPluginOption
{
    internal FifoPluginOption(OptionDescriptor o)
    {
        Name = o.Name;
        Type = o.TypeName;
        Default = OptionDescriptor.Format(o.Default);
        Description = o.Description;
        Choices = o.Choices.ToArray();
        Min = Limit(o.Min, o.Type);
        Max = Limit(o.Max, o.Type);
    }

    public string Name { get; }
    public string Type { get; }
    public string Default { get; }
    public string Description { get; }
    public string[] Choices { get; }
    /// <summary>The smallest value allowed, as the option's own type (an integer option's is an integer); null for none.</summary>
    public object? Min { get; }
    /// <summary>The largest value allowed, as <see cref="Min"/>.</summary>
    public object? Max { get; }

    static object? Limit(double? limit, Type type) =>
        limit is { } value && (Nullable.GetUnderlyingType(type) ?? type) is var t && (t == typeof(int) || t == typeof(long)) ? (object)(long)value : limit;
    public override string ToString() => $"{Name} ({Type}, default {Default})";
}
