using FifoPipes.Models.VideoCrafter;
using FifoPipes.Tests.Parity;
using FifoPipes.Torch.Checkpoints;
using FifoPipes.Torch.Vae;
using Xunit;
using static TorchSharp.torch;

namespace FifoPipes.Tests.VideoCrafter;

public sealed class FrameDecoderTests
{
    [Fact]
    public void A_pushed_latent_is_unscaled_decoded_and_mapped_to_unit_range()
    {
        var c = ParityCase.Load("videocrafter/vae_decode_tiny");
        using var vae = new AutoencoderKL(VcParityConfig.Vae(c.Config.GetProperty("ddconfig"), 4));
        VcParityConfig.LoadStrict(vae, c.WeightsPath);
        using var decoder = new VaeFrameDecoder(vae, VideoCrafterPreset.VideoCrafter2().ScaleFactor);
        var z = c["z"][0];
        var frames = decoder.Push(z * VideoCrafterPreset.VideoCrafter2().ScaleFactor);
        var frame = Assert.Single(frames);
        using var expected = ((c["image"][0].clamp(-1.0, 1.0) + 1.0) / 2.0);
        TensorAssert.Close(expected, frame, 2 * c.Atol, c.Rtol, "decoded frame");
        Assert.Empty(decoder.Flush());
    }
}
