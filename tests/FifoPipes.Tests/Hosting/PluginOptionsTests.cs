using FifoPipes.Abstractions;
using Xunit;

namespace FifoPipes.Tests.Hosting;

/// <summary>A plugin's options as its own type: what the host gives, every default for none, and a named refusal of anything else.</summary>
public sealed class PluginOptionsTests
{
    sealed class Options
    {
        public int Steps { get; set; } = 7;
    }

    [Fact]
    public void The_hosts_options_come_as_they_are_and_none_as_every_default()
    {
        var given = new Options { Steps = 3 };
        Assert.Same(given, PluginOptions.As<Options>(given, "test sampler"));
        Assert.Equal(7, PluginOptions.As<Options>(null, "test sampler").Steps);
    }

    [Fact]
    public void Options_of_another_type_are_refused_naming_the_plugin_and_both_types()
    {
        var ex = Assert.Throws<ArgumentException>(() => PluginOptions.As<Options>("steps: 3", "test sampler"));
        Assert.Equal("options", ex.ParamName);
        Assert.StartsWith("The test sampler takes Options, got String (a plugin reads its options as the OptionsType its [FifoPlugin] names).", ex.Message);
        // Our plugins take theirs so too.
        var fifo = TestPlugins.Host.Require(PluginKind.Sampler, "fifo").Create<ISamplerFactory>();
        Assert.StartsWith("The fifo sampler takes FifoOptions, got Options (", Assert.Throws<ArgumentException>(() => fifo.Create(new Options(), new PluginContext())).Message);
    }
}
