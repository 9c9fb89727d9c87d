using FifoPipes.Hosting.Plugins;

namespace FifoPipes.PowerShell.Engine;

/// <summary>
/// Process-wide state of the module: the plugins, each folder loaded once (load contexts cannot be unloaded); a folder
/// added to FIFOPIPES_PLUGIN_PATH during the session is loaded by the next command that asks for plugins.
/// </summary>
static class ModuleState
{
    static readonly object Gate = new();
    static PluginHost? host;
    static string? pluginPathSeen;

    /// <summary>The plugins folder beside the cmdlets assembly, as the build lays the module out.</summary>
    public static string PluginsRoot => Path.Combine(Path.GetDirectoryName(typeof(ModuleState).Assembly.Location)!, "plugins");

    public static PluginHost Plugins
    {
        get
        {
            lock (Gate)
            {
                var pluginPath = Environment.GetEnvironmentVariable(PluginHost.PluginPathVariable);
                if (host is null) host = PluginHost.Load(PluginsRoot, PluginHost.FoldersIn(pluginPath));
                else if (pluginPath != pluginPathSeen) host = host.WithFolders(PluginHost.FoldersIn(pluginPath));
                pluginPathSeen = pluginPath;
                return host;
            }
        }
    }
}
