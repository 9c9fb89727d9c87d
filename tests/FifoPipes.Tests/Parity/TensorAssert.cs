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
        // NaN compares false with everything and inf - inf is NaN, so a tolerance would wave them through: where either
        // side is not finite, both must hold the same infinity or both NaN.
        var bothFinite = a.isfinite().logical_and(e.isfinite());
        var sameNonFinite = a.eq(e).logical_or(a.isnan().logical_and(e.isnan()));
        var notFinite = bothFinite.logical_not().logical_and(sameNonFinite.logical_not()).sum().item<long>();
        Assert.True(notFinite == 0, $"{what}: {notFinite} of {e.numel()} elements are NaN or infinite on one side and not the same on the other");
        var diff = where(bothFinite, (a - e).abs(), zeros_like(a));
        var allowed = atol + rtol * where(bothFinite, e.abs(), zeros_like(e));
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
        {
            // equal() broadcasts, so a [1] tensor would pass for any tensor of one repeated value.
            Assert.True(expected[i].shape.SequenceEqual(actual[i].shape),
                $"{what}: frame {i} has shape [{string.Join(", ", actual[i].shape)}], expected [{string.Join(", ", expected[i].shape)}]");
            if (!expected[i].equal(actual[i]).all().item<bool>())
                Assert.Fail($"{what}: frame {i} differs (max |diff| {(expected[i].to(ScalarType.Float64) - actual[i].to(ScalarType.Float64)).abs().max().item<double>():G3})");
        }
    }
}
