using FifoPipes.Hosting.Plugins;
using FifoPipes.Tests.Hosting;
using Xunit;

namespace FifoPipes.Tests.PowerShell;

/// <summary>What the plugins a command uses give cause to warn of reaches the user through the cmdlets' warnings.</summary>
[Collection("PowerShell")]
public sealed class PluginWarningCmdletTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("fifo-ps-warn-").FullName;
    readonly string? pluginPath = Environment.GetEnvironmentVariable(PluginHost.PluginPathVariable);

    public void Dispose()
    {
        Environment.SetEnvironmentVariable(PluginHost.PluginPathVariable, pluginPath);
        Directory.Delete(dir, recursive: true);
    }

    [Fact]
    public void Test_FifoRecipe_warns_of_a_sink_whose_namesake_in_the_plugin_path_is_ignored()
    {
        // FaultyPlugins exports a 'gif' sink too, which the built-in one keeps out.
        Environment.SetEnvironmentVariable(PluginHost.PluginPathVariable, TestPlugins.BuildOutput("tests/TestPlugins/FaultyPlugins"));
        File.WriteAllText(Path.Combine(dir, "dup.yaml"), "apiVersion: fifopipes/v1\nprompt: rain\nframes: 5\nsinks: [ { path: a.gif } ]\n");
        using var shell = InProcessShell.New(dir);
        shell.AddScript("Test-FifoRecipe dup.yaml");
        Assert.Empty(shell.Invoke());
        var warning = Assert.Single(shell.Streams.Warning);
        Assert.StartsWith("The sink plugin 'gif' is the one loaded from ", warning.Message);
        Assert.Contains("FaultyPlugins.dll, is ignored. To use that one, rename it in its [FifoPlugin] attribute, or remove its folder from FIFOPIPES_PLUGIN_PATH", warning.Message);
    }
}
