using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using FifoPipes.Abstractions;
using FifoPipes.Hosting.Models;

namespace FifoPipes.PowerShell.Engine;

/// <summary>
/// Tab completion for the names a command takes: plugins of a kind, the catalog's presets, stored models, devices.
/// A completer must never throw at the prompt, so a store or catalog that cannot be read completes nothing.
/// </summary>
public abstract class NameCompleter : IArgumentCompleter
{
    /// <summary>The names to offer, with a tooltip each.</summary>
    protected abstract IEnumerable<(string Name, string Tooltip)> Candidates(IDictionary fakeBoundParameters);

    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var typed = wordToComplete.Trim('\'', '"');
        List<(string Name, string Tooltip)> candidates;
        try { candidates = Candidates(fakeBoundParameters).ToList(); }
        catch (Exception ex) when (ex is FifoInputException or IOException or UnauthorizedAccessException or InvalidOperationException) { yield break; }
        foreach (var (name, tooltip) in candidates
                     .Where(c => c.Name.StartsWith(typed, StringComparison.OrdinalIgnoreCase))
                     .DistinctBy(c => c.Name, StringComparer.OrdinalIgnoreCase)
                     .OrderBy(c => c.Name, StringComparer.OrdinalIgnoreCase))
        {
            // A comma would make PowerShell read a device list as an array, which binds to a string joined by spaces.
            var text = name.All(ch => char.IsLetterOrDigit(ch) || ch is '-' or '_' or '.' or ':') ? name : $"'{name.Replace("'", "''")}'";
            yield return new CompletionResult(text, name, CompletionResultType.ParameterValue, string.IsNullOrEmpty(tooltip) ? name : tooltip);
        }
    }

    protected static IEnumerable<(string, string)> PluginsOf(PluginKind kind) =>
        ModuleState.Plugins.OfKind(kind).Select(p => (p.Name, p.Description));

    protected static IEnumerable<(string, string)> Presets() =>
        ModelCatalog.FromEnvironment().Presets.Select(p => (p.Name, p.Description));
}

/// <summary>-Model: the model plugins and the catalog's presets (a saved preset finds its files in the store).</summary>
public sealed class ModelNameCompleter : NameCompleter
{
    protected override IEnumerable<(string Name, string Tooltip)> Candidates(IDictionary bound) => PluginsOf(PluginKind.Model).Concat(Presets());
}

public sealed class SamplerNameCompleter : NameCompleter
{
    protected override IEnumerable<(string Name, string Tooltip)> Candidates(IDictionary bound) => PluginsOf(PluginKind.Sampler);
}

public sealed class SinkNameCompleter : NameCompleter
{
    protected override IEnumerable<(string Name, string Tooltip)> Candidates(IDictionary bound) => PluginsOf(PluginKind.Sink);
}

public sealed class StudyNameCompleter : NameCompleter
{
    protected override IEnumerable<(string Name, string Tooltip)> Candidates(IDictionary bound) => PluginsOf(PluginKind.Study);
}

/// <summary>Get-FifoPlugin -Name: the plugins of the -Kind already typed, else all of them.</summary>
public sealed class PluginNameCompleter : NameCompleter
{
    protected override IEnumerable<(string Name, string Tooltip)> Candidates(IDictionary bound)
    {
        var kind = bound.Contains("Kind") && Enum.TryParse<PluginKind>(bound["Kind"]?.ToString(), ignoreCase: true, out var k) ? k : (PluginKind?)null;
        return ModuleState.Plugins.Plugins.Where(p => kind is null || p.Kind == kind).Select(p => (p.Name, p.Description));
    }
}

/// <summary>Save-FifoModel -Name: the catalog's presets.</summary>
public sealed class PresetNameCompleter : NameCompleter
{
    protected override IEnumerable<(string Name, string Tooltip)> Candidates(IDictionary bound) => Presets();
}

/// <summary>Get-FifoModel -Name: what the store holds, and with -ListAvailable the presets it could hold (as the command lists them).</summary>
public sealed class StoredModelNameCompleter : NameCompleter
{
    protected override IEnumerable<(string Name, string Tooltip)> Candidates(IDictionary bound) =>
        ModelStore.FromEnvironment().List(bound.Contains(nameof(Commands.GetFifoModelCommand.ListAvailable)) ? ModelCatalog.FromEnvironment() : null)
            .Select(m => (m.Name, m.Complete ? "stored" : "not downloaded yet"));
}

/// <summary>Remove-FifoModel -Name: only what the store holds.</summary>
public sealed class SavedModelNameCompleter : NameCompleter
{
    protected override IEnumerable<(string Name, string Tooltip)> Candidates(IDictionary bound) =>
        ModelStore.FromEnvironment().List().Select(m => (m.Name, m.Complete ? "stored" : "partly downloaded"));
}

/// <summary>-Device: the usual spellings; a device list (cuda:0,cuda:1) is typed out.</summary>
public sealed class DeviceCompleter : NameCompleter
{
    protected override IEnumerable<(string Name, string Tooltip)> Candidates(IDictionary bound) => new[]
    {
        ("cpu", "the CPU"), ("cuda", "the current CUDA GPU"), ("cuda:0", "CUDA GPU 0"), ("cuda:1", "CUDA GPU 1"),
        ("cuda:0,cuda:1", "one model replica on each of two GPUs"),
    };
}
