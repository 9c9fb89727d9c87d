using FifoPipes.Hosting.Plugins;

namespace FifoPipes.PowerShell.Engine;

/// <summary>Process-wide state of the module: the plugins, loaded once (load contexts cannot be unloaded).</summary>
static class ModuleState
{
    static readonly object Gate = new();
    static PluginHost? host;

    /// <summary>The plugins folder beside the cmdlets assembly, as the build lays the module out.</summary>
    public static string PluginsRoot => Path.Combine(Path.GetDirectoryName(typeof(ModuleState).Assembly.Location)!, "plugins");

    public static PluginHost Plugins
    {
        get
        {
            lock (Gate) return host ??= PluginHost.Load(PluginsRoot);
        }
    }
}
