using FifoPipes.Hosting.Plugins;

namespace FifoPipes.PowerShell.Engine;

/// <summary>
/// Process-wide state of the module: the plugins, each folder loaded once (load contexts cannot be unloaded); a folder
/// added to FIFOPIPES_PLUGIN_PATH during the session, or built into after it was listed, is loaded by the next command
/// that asks for plugins.
/// </summary>
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
            lock (Gate)
            {
                var listed = PluginHost.FoldersIn(Environment.GetEnvironmentVariable(PluginHost.PluginPathVariable));
                return host = host is null ? PluginHost.Load(PluginsRoot, listed) : host.WithFolders(listed);
            }
        }
    }
}
