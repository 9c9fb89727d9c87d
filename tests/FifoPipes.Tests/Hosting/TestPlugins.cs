using System.Collections.Concurrent;
using FifoPipes.Hosting.Plugins;
using FifoPipes.Tests.Parity;

namespace FifoPipes.Tests.Hosting;

/// <summary>The real plugins, loaded once per test run from the plugins folder beside the test binaries.</summary>
public static class TestPlugins
{
    static readonly Lazy<PluginHost> Loaded = new(() => PluginHost.Load(Folder, Array.Empty<string>()));

    public static string Folder => Path.Combine(AppContext.BaseDirectory, "plugins");

    public static PluginHost Host => Loaded.Value;

    /// <summary>Where a plugin project outside the solution (an example, a test plugin) builds to, from the repository root.</summary>
    public static string BuildOutput(string project) => Path.Combine(ParityCase.RepoRoot, project, "bin", "Debug", "net8.0");

    static readonly ConcurrentDictionary<string, Lazy<PluginHost>> WithExtra = new();

    /// <summary>
    /// The real plugins and those built by <paramref name="project"/>, loaded once per test run: every load makes new
    /// load contexts for all the plugins, which are never unloaded.
    /// </summary>
    public static PluginHost With(string project) =>
        WithExtra.GetOrAdd(project, p => new Lazy<PluginHost>(() => PluginHost.Load(Folder, new[] { BuildOutput(p) }))).Value;
}
