using Xunit;
using static TorchSharp.torch;

namespace FifoPipes.Tests.Parity;

public static class TensorAssert
{
    /// <summary>allclose(actual, expected, atol, rtol) with a message that says where and by how much it fails.</summary>
    public static void Close(Tensor expected, Tensor actual, double atol, double rtol, string what)
    {
        Assert.True(expected.shape.SequenceEqual(actual.shape),
            $"{what}: shape [{string.Join(", ", actual.shape)}], expected [{string.Join(", ", expected.shape)}]");
        using var scope = NewDisposeScope();
        var e = expected.to(ScalarType.Float64).cpu();
        var a = actual.to(ScalarType.Float64).cpu();
        // NaN compares false with everything, so it must be caught before the tolerance check would wave it through.
        var notFinite = a.isfinite().logical_not().logical_and(e.isfinite()).sum().item<long>();
        Assert.True(notFinite == 0, $"{what}: {notFinite} of {e.numel()} elements are NaN or infinite where the expected values are finite");
        Assert.True(a.isnan().eq(e.isnan()).all().item<bool>(), $"{what}: NaN where the expected tensor has a number, or the other way round");
        var diff = (a - e).abs();
        var allowed = atol + rtol * e.abs();
        var excess = diff - allowed;
        double worst = excess.max().item<double>();
        if (worst > 0)
        {
            long at = excess.argmax().item<long>();
            Assert.Fail($"{what}: max |diff| {diff.max().item<double>():G4} exceeds atol {atol:G3} + rtol {rtol:G3}·|expected| " +
                        $"(worst at flat index {at}: actual {a.flatten()[at].item<double>():G6}, expected {e.flatten()[at].item<double>():G6}; " +
                        $"{(diff > allowed).sum().item<long>()} of {e.numel()} elements out of tolerance)");
        }
    }

    /// <summary>The same number of frames, each bit for bit equal to its counterpart.</summary>
    public static void Identical(IReadOnlyList<Tensor> expected, IReadOnlyList<Tensor> actual, string what)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
            Assert.True(expected[i].equal(actual[i]).all().item<bool>(),
                $"{what}: frame {i} differs (max |diff| {(expected[i] - actual[i]).abs().max().item<float>():G3})");
    }
}
