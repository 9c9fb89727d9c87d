using FifoPipes.Core;
using Xunit;

namespace FifoPipes.Tests.Media;

/// <summary>RGB24 bytes and [3, H, W] tensors, both ways.</summary>
public sealed class FrameConversionTests
{
    [Fact]
    public void Rgb24_bytes_become_channel_planes_in_zero_to_one_and_come_back_unchanged()
    {
        const int width = 3, height = 2;
        var rgb = Enumerable.Range(0, width * height * 3).Select(i => (byte)(i * 13 % 256)).ToArray();
        using var planes = FrameConversion.FromRgb24(rgb, width, height);
        Assert.Equal(new long[] { 3, height, width }, planes.shape);
        // Pixel (x 2, y 1) is bytes 15..17: its green is channel 1 there.
        Assert.Equal(rgb[(1 * width + 2) * 3 + 1] / 255f, planes[1, 1, 2].item<float>(), 6);
        Assert.Equal(rgb, FrameConversion.ToRgb24(planes));
    }

    [Theory]
    [InlineData(new long[] { 16, 16 })]
    [InlineData(new long[] { 4, 16, 16 })]
    [InlineData(new long[] { 1, 3, 16, 16 })]
    public void A_decoded_tensor_that_is_not_one_rgb_frame_is_refused_by_its_shape(long[] shape)
    {
        using var wrong = TorchSharp.torch.zeros(shape);
        var ex = Assert.Throws<ArgumentException>(() => FrameConversion.ToFrame(wrong, 0, "rain", 8, Guid.NewGuid()));
        Assert.StartsWith($"Expected an RGB tensor [3, H, W], got [{string.Join(", ", shape)}].", ex.Message);
    }
}
