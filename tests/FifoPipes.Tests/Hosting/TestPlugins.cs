using FifoPipes.Hosting.Plugins;

namespace FifoPipes.Tests.Hosting;

/// <summary>The real plugins, loaded once per test run from the plugins folder beside the test binaries.</summary>
public static class TestPlugins
{
    static readonly Lazy<PluginHost> Loaded = new(() => PluginHost.Load(Folder, Array.Empty<string>()));

    public static string Folder => Path.Combine(AppContext.BaseDirectory, "plugins");

    public static PluginHost Host => Loaded.Value;
}
