using System.Runtime.CompilerServices;
using FifoPipes.Core.Devices;
using FifoPipes.Tests.Parity;
using FifoPipes.Tests.Sampling;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace FifoPipes.Tests;

public sealed class CpuKernels
{
    /// <summary>
    /// Tests build networks directly rather than through an adapter's device check, so the test process gets the check
    /// before any of them runs: on a machine whose oneDNN is wrong, every convolution test would fail for that alone.
    /// </summary>
    [ModuleInitializer]
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Usage", "CA2255", Justification = "The check must precede every test in the process.")]
    internal static void CheckedBeforeAnyTest() => CpuKernelCheck.EnsureCorrect(null);

    [Fact]
    public void After_the_check_convolutions_with_padded_channels_match_float64_in_float32_and_bfloat16()
    {
        var log = new RecordingSink();
        CpuKernelCheck.EnsureCorrect(log);
        // Where it had to turn oneDNN off, every caller hears why its convolutions are slow.
        Assert.Equal(CpuKernelCheck.Finding is null ? 0 : 1, log.Warnings.Count);
        Assert.Equal(CpuKernelCheck.OneDnnTurnedOff, log.Warnings.Any(w => w.Contains("turned oneDNN off for this process")));
        // A finding the check could not mend fails here, in its own words.
        if (CpuKernelCheck.Finding is { } finding) Assert.True(CpuKernelCheck.OneDnnTurnedOff, finding);
        using var generator = new Generator(7);
        // Other shapes than the probe's: 40 and 20 channels, a stride, an odd size; a batch of 2 and over 20480 elements,
        // or libtorch keeps a float32 convolution from oneDNN.
        foreach (var (channels, stride) in new[] { (40L, 1L), (20L, 2L) })
        {
            var x = randn(new long[] { 2, channels, 23, 29 }, generator: generator);
            var weight = randn(new long[] { channels, channels, 3, 3 }, generator: generator) / 10;
            Tensor Conv(Tensor input, Tensor w) => nn.functional.conv2d(input, w, strides: new[] { stride, stride }, padding: new long[] { 1, 1 });
            var exact = Conv(x.to(ScalarType.Float64), weight.to(ScalarType.Float64));
            TensorAssert.Close(exact, Conv(x, weight).to(ScalarType.Float64), 1e-4, 1e-4, $"float32, {channels} channels");
            var rounded = Conv(x.bfloat16().to(ScalarType.Float64), weight.bfloat16().to(ScalarType.Float64));
            TensorAssert.Close(rounded, Conv(x.bfloat16(), weight.bfloat16()).to(ScalarType.Float64), 0.1, 0.02, $"bfloat16, {channels} channels");
        }
    }
}
