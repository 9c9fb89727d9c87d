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

    [Theory]
    [InlineData(float.PositiveInfinity, 5f)]
    [InlineData(float.PositiveInfinity, float.NegativeInfinity)]
    [InlineData(float.NaN, 5f)]
    public void A_non_finite_expected_value_must_be_matched(float expected, float actual) =>
        Assert.ThrowsAny<XunitException>(() =>
            TensorAssert.Close(tensor(new[] { 1f, expected }), tensor(new[] { 1f, actual }), atol: 1e-3, rtol: 0.5, "golden inf"));

    [Fact]
    public void The_same_non_finite_values_on_both_sides_pass_and_the_rest_is_still_compared()
    {
        TensorAssert.Close(tensor(new[] { float.NaN, float.NegativeInfinity, 1f }), tensor(new[] { float.NaN, float.NegativeInfinity, 1f }), 1e-3, 0, "same");
        Assert.Contains("flat index 2", Assert.Throws<FailException>(() =>
            TensorAssert.Close(tensor(new[] { float.NaN, float.PositiveInfinity, 1f }), tensor(new[] { float.NaN, float.PositiveInfinity, 2f }), 1e-3, 0, "rest")).Message);
    }

    [Fact]
    public void Identical_frames_need_the_same_shape() =>
        Assert.ThrowsAny<XunitException>(() => TensorAssert.Identical(new[] { full(3, 2f) }, new[] { full(1, 2f) }, "broadcast"));
}
