using Xunit;
using Xunit.Sdk;
using static TorchSharp.torch;

namespace FifoPipes.Tests.Parity;

/// <summary>The comparison every parity case rests on must be able to fail, NaN included.</summary>
public sealed class TensorAssertTests
{
    [Fact]
    public void Values_within_tolerance_pass() =>
        TensorAssert.Close(tensor(new[] { 1f, 2f }), tensor(new[] { 1.0005f, 2f }), atol: 1e-3, rtol: 0, "close");

    [Fact]
    public void A_value_out_of_tolerance_fails_naming_where() =>
        Assert.Contains("flat index 1", Assert.Throws<FailException>(() =>
            TensorAssert.Close(tensor(new[] { 1f, 2f }), tensor(new[] { 1f, 2.1f }), atol: 1e-3, rtol: 0, "far")).Message);

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    public void A_non_finite_output_fails(float bad) =>
        Assert.ThrowsAny<XunitException>(() =>
            TensorAssert.Close(tensor(new[] { 1f, 2f }), tensor(new[] { 1f, bad }), atol: 1e-3, rtol: 0, "broken"));

    [Fact]
    public void A_shape_mismatch_fails() =>
        Assert.ThrowsAny<XunitException>(() => TensorAssert.Close(zeros(2), zeros(3), 1e-3, 0, "shape"));
}
