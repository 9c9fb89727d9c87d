using FifoPipes.Torch.UNets;
using Xunit;

namespace FifoPipes.Tests.Speed;

/// <summary>The analytic FLOP count against the figures counted on the reference modules (design notes, MODELS.md §4).</summary>
public sealed class UNet3DFlopsTests
{
    static void Near(double expectedTera, double actual, double tolerance, string what) =>
        Assert.True(Math.Abs(actual / 1e12 - expectedTera) <= tolerance * expectedTera,
            $"{what}: {actual / 1e12:F3} TFLOP, expected {expectedTera} within {tolerance:P0}");

    [Fact]
    public void VideoCrafter2_16x320x512_is_12_6_tflop_with_the_reference_breakdown()
    {
        var flops = UNet3DFlops.Count(UNet3DConfig.VideoCrafter2(), batch: 1, frames: 16, height: 40, width: 64);
        Near(12.58, flops.Total, 0.02, "total");
        Near(5.87, flops.Linear, 0.03, "linear");
        Near(5.90, flops.Conv, 0.03, "conv");
        Near(1.7, flops.TemporalConv, 0.05, "temporal conv");
        Near(0.82, flops.Attention, 0.05, "attention");
    }

    [Theory]
    [InlineData("vc1-512", 40, 64, 10.91)]
    [InlineData("vc1-1024", 72, 128, 46.3)]
    public void VideoCrafter1_presets_match_the_reference_totals(string preset, int height, int width, double tera)
    {
        var config = preset == "vc1-512" ? UNet3DConfig.VideoCrafter1_512() : UNet3DConfig.VideoCrafter1_1024();
        Near(tera, UNet3DFlops.Count(config, 1, 16, height, width).Total, 0.03, preset);
    }

    [Fact]
    public void Flops_scale_linearly_with_the_batch()
    {
        var one = UNet3DFlops.Count(UNet3DConfig.VideoCrafter2(), 1, 16, 40, 64).Total;
        var sixteen = UNet3DFlops.Count(UNet3DConfig.VideoCrafter2(), 16, 16, 40, 64).Total;
        Assert.Equal(16 * one, sixteen, 1e-6 * sixteen);
    }
}
