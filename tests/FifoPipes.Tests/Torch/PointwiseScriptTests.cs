using FifoPipes.Tests.Parity;
using FifoPipes.Torch.Nn;
using FifoPipes.Torch.UNets;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace FifoPipes.Tests.Torch;

/// <summary>
/// The TorchScript formulations of the UNet's elementwise chains (a GPU speed candidate) against the eager layers. On
/// the CPU the script runs unfused, so these check what it computes; fusion itself is a CUDA matter.
/// </summary>
public sealed class PointwiseScriptTests
{
    static Fp32GroupNorm NormWithRandomAffine(long groups, long channels, double eps)
    {
        var norm = new Fp32GroupNorm(groups, channels, eps);
        using var noGrad = no_grad();
        foreach (var (_, parameter) in norm.named_parameters()) parameter.copy_(randn(channels));
        return norm;
    }

    [Theory]
    [InlineData(new long[] { 6, 64, 5, 7 }, false)]     // per-frame features [(b t), C, H, W]
    [InlineData(new long[] { 6, 64, 5, 7 }, true)]
    [InlineData(new long[] { 2, 64, 4, 5, 7 }, false)]  // video features [b, C, t, H, W], as the temporal layers see them
    [InlineData(new long[] { 2, 64, 4, 5, 7 }, true)]
    public void GroupNorm_and_silu_match_the_eager_layers_in_float32(long[] shape, bool silu)
    {
        manual_seed(11);
        using var norm = NormWithRandomAffine(32, 64, 1e-5);
        using var scope = NewDisposeScope();
        // An offset well above the spread, where statistics from sums lose the most to cancellation.
        var x = randn(shape) * 3 + 20;
        var eager = silu ? norm.ForwardSilu(x) : norm.forward(x);
        norm.Scripted = true;
        var scripted = silu ? norm.ForwardSilu(x) : norm.forward(x);
        TensorAssert.Close(eager, scripted, 2e-4, 1e-4, silu ? "group norm + silu" : "group norm");
        Assert.Equal(ScalarType.Float32, scripted.dtype);
    }

    [Fact]
    public void GroupNorm_in_bfloat16_keeps_float32_statistics_and_returns_bfloat16()
    {
        manual_seed(12);
        using var norm = NormWithRandomAffine(8, 16, 1e-6);
        norm.to(ScalarType.BFloat16);
        using var scope = NewDisposeScope();
        var x = (randn(4, 16, 6, 6) * 2 + 5).to(ScalarType.BFloat16);
        var eager = norm.ForwardSilu(x);
        norm.Scripted = true;
        var scripted = norm.ForwardSilu(x);
        Assert.Equal(ScalarType.BFloat16, scripted.dtype);
        // One bfloat16 rounding of values up to about 10 apart: 2^-8 relative.
        TensorAssert.Close(eager, scripted, 2e-2, 8e-3, "bfloat16 group norm + silu");
    }

    [Fact]
    public void Gelu_gate_matches_the_eager_geglu()
    {
        manual_seed(13);
        using var geglu = new Geglu(12, 20);
        using var scope = NewDisposeScope();
        var x = randn(3, 7, 12);
        var eager = geglu.forward(x);
        geglu.Scripted = true;
        TensorAssert.Close(eager, geglu.forward(x), 1e-6, 1e-6, "GEGLU");
    }

    [Fact]
    public void A_scripted_unet_gives_the_eager_result()
    {
        var config = UNet3DConfig.VideoCrafter2() with
        {
            ModelChannels = 32, ChannelMult = new[] { 1, 2 }, NumResBlocks = 1, AttentionResolutions = new[] { 1, 2 },
            NumHeadChannels = 8, ContextDim = 16, TemporalLength = 4,
        };
        using var unet = new UNet3D(config);
        unet.eval();
        manual_seed(14);
        using (no_grad())
            foreach (var (_, parameter) in unet.named_parameters())
                parameter.copy_(randn(parameter.shape) * 0.1);
        using var scope = NewDisposeScope();
        var x = randn(new long[] { 2, 4, 4, 8, 12 });
        var timesteps = tensor(new long[] { 10, 500 });
        var context = randn(2, 77, 16);
        var fps = tensor(new long[] { 8, 8 });
        var eager = unet.forward(x, timesteps, context, fps);

        unet.ScriptPointwise(true);
        Assert.All(unet.modules().OfType<Fp32GroupNorm>(), norm => Assert.True(norm.Scripted));
        Assert.All(unet.modules().OfType<Geglu>(), geglu => Assert.True(geglu.Scripted));
        Assert.NotEmpty(unet.modules().OfType<Fp32GroupNorm>());
        Assert.NotEmpty(unet.modules().OfType<Geglu>());
        var scripted = unet.forward(x, timesteps, context, fps);
        Assert.True(eager.abs().max().item<float>() > 0.1, "the comparison needs a non-trivial output");
        TensorAssert.Close(eager, scripted, 1e-4, 1e-4, "scripted UNet");
        // Past the profiling calls: the graph executor optimises the graph from then on.
        for (int call = 1; call <= PointwiseScript.CallsBeforeFused; call++)
            TensorAssert.Close(eager, unet.forward(x, timesteps, context, fps), 1e-4, 1e-4, $"scripted UNet, call {call + 1}");
    }
}
