using FifoPipes.Abstractions;
using FifoPipes.Hosting.Options;
using Xunit;

namespace FifoPipes.Tests.Hosting;

/// <summary>Binding values onto a plugin's options class, as recipes and cmdlet hashtables do.</summary>
public sealed class OptionBinderTests
{
    public sealed class ThirdPartyOptions
    {
        int strength = 1;

        [Option("Update rule.", Choices = "ddim,ddpm")] public string Step { get; set; } = "ddim";
        [Option("A name.")] public string Label { get; set; } = "";
        [Option("How hard; the setter itself refuses zero.")]
        public int Strength { get => strength; set => strength = value != 0 ? value : throw new ArgumentOutOfRangeException(nameof(value), "zero does nothing"); }
        [Option("Steps; unset for the default.")] public int? Steps { get; set; }
        [Option("Sizes, each at least 1.", Min = 1)] public int[] Sizes { get; set; } = { 1 };
        [Option("How.")] public Mode Route { get; set; }
    }

    public enum Mode { slow_path, fast_path }

    static (ThirdPartyOptions? Options, List<Diagnostic> Diagnostics) Bind(params (string Name, OptionValue Value)[] values)
    {
        var diagnostics = new List<Diagnostic>();
        var options = (ThirdPartyOptions?)OptionBinder.Bind(typeof(ThirdPartyOptions), values.ToDictionary(v => v.Name, v => v.Value), "sampler.with", null, diagnostics);
        return (options, diagnostics);
    }

    [Fact]
    public void A_lists_items_keep_the_options_bounds_and_enum_names_may_be_written_with_or_without_separators()
    {
        var (_, diagnostics) = Bind(("sizes", OptionValue.FromTextList(new[] { "4", "-5" }, null)));
        Assert.Contains("item 1: -5 is below the minimum 1", Assert.Single(diagnostics).Message);
        foreach (var spelling in new[] { "fast_path", "fast-path", "fastPath" })
        {
            var (options, none) = Bind(("route", OptionValue.FromText(spelling, null)));
            Assert.Empty(none);
            Assert.Equal(Mode.fast_path, options!.Route);
        }
    }

    [Fact]
    public void A_choice_is_stored_in_its_declared_spelling()
    {
        var (options, diagnostics) = Bind(("step", OptionValue.FromText("DDPM", null)));
        Assert.Empty(diagnostics);
        Assert.Equal("ddpm", options!.Step);
    }

    [Fact]
    public void A_setter_that_throws_is_a_diagnostic_naming_the_option()
    {
        var (_, diagnostics) = Bind(("strength", OptionValue.FromText("0", null)));
        var problem = Assert.Single(diagnostics);
        Assert.Equal("sampler.with.strength", problem.Path);
        Assert.Contains("the plugin refused 0: zero does nothing", problem.Message);
    }

    [Fact]
    public void A_list_for_a_single_value_is_refused_from_powershell_as_from_yaml()
    {
        var (_, fromPowerShell) = Bind(("label", OptionValue.FromObject(new object[] { "a", "b" })));
        Assert.Contains("got a list", Assert.Single(fromPowerShell).Message);
        var (_, fromYaml) = Bind(("steps", OptionValue.FromTextList(new[] { "1", "2" }, null)));
        Assert.Contains("got a list", Assert.Single(fromYaml).Message);
    }

    [Fact]
    public void A_quoted_null_is_text_and_only_a_real_null_is_unset()
    {
        var (options, diagnostics) = Bind(("label", OptionValue.FromText("null", null)), ("steps", OptionValue.FromText(null, null)));
        Assert.Empty(diagnostics);
        Assert.Equal("null", options!.Label);
        Assert.Null(options.Steps);
        var (_, empty) = Bind(("steps", OptionValue.FromText("", null)));
        Assert.Contains("expected an integer", Assert.Single(empty).Message);
    }
}
