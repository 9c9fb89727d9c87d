using System.Globalization;
using FifoPipes.Models.OpenSoraPlan.Latte;
using FifoPipes.Models.OpenSoraPlan.Vae;
using FifoPipes.Tests.Parity;
using FifoPipes.Torch.Nn;
using FifoPipes.Torch.Text;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace FifoPipes.Tests.OpenSora;

/// <summary>
/// The full-size Open-Sora Plan v1.1 parts, built on the meta device, must have exactly the released
/// state dicts (keys and shapes), and the element counts the README measured.
/// </summary>
public sealed class FullSizeKeyTests
{
    static readonly Device Meta = new(DeviceType.META);

    static List<(string Key, long[] Shape)> ReferenceKeys(string tsv)
    {
        var path = Path.Combine(ParityCase.Root, "..", "reference", "keys", tsv);
        Assert.True(File.Exists(path), $"reference key list {path} is missing");
        return File.ReadLines(path).Where(l => l.Length > 0).Select(line =>
        {
            var cols = line.Split('\t');
            var shape = cols[1].Trim('[', ']').Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(s => long.Parse(s, CultureInfo.InvariantCulture)).ToArray();
            return (cols[0], shape);
        }).ToList();
    }

    static void AssertSameStateDict(nn.Module module, string tsv, long expectedElements)
    {
        var expected = ReferenceKeys(tsv);
        var mismatch = StrictStateDict.Compare(module, expected.ToDictionary(e => e.Key, e => e.Shape));
        Assert.True(mismatch.IsEmpty, $"{tsv}:{Environment.NewLine}{mismatch.Describe()}");
        long elements = expected.Sum(e => e.Shape.Aggregate(1L, (a, b) => a * b));
        Assert.Equal(expectedElements, elements);
    }

    [Fact]
    public void Latte_65x512x512_matches_the_released_transformer()
    {
        using var model = new LatteT2V(LatteConfig.OpenSoraPlan65, Meta);
        AssertSameStateDict(model, "opensora_v1_1_latte_65x512x512.tsv", 1_057_738_400);
        Assert.Equal(968, model.state_dict().Count);
    }

    [Fact]
    public void Latte_221x512x512_has_the_same_keys()
    {
        using var model = new LatteT2V(LatteConfig.OpenSoraPlan221, Meta);
        AssertSameStateDict(model, "opensora_v1_1_latte_65x512x512.tsv", 1_057_738_400);
    }

    [Fact]
    public void CausalVae_matches_the_released_vae()
    {
        using var vae = new CausalVae(CausalVaeConfig.OpenSoraPlanV1_1, Meta);
        AssertSameStateDict(vae, "opensora_v1_1_causalvae.tsv", 246_859_499);
        Assert.Equal(8, vae.Config.SpatialFactor);
        Assert.Equal(65, vae.Config.DecodedFrames(17));
        Assert.Equal(221, vae.Config.DecodedFrames(56));
    }

    [Fact]
    public void T5_xxl_encoder_matches_the_released_encoder()
    {
        using var t5 = new T5EncoderModel(T5EncoderConfig.V1_1Xxl, Meta);
        var expected = ReferenceKeys("t5_v1_1_xxl_encoder.tsv");
        var mismatch = StrictStateDict.Compare(t5, expected.ToDictionary(e => e.Key, e => e.Shape));
        Assert.True(mismatch.IsEmpty, mismatch.Describe());
        // shared.weight and encoder.embed_tokens.weight are one tensor.
        long unique = t5.parameters().Sum(p => p.numel());
        Assert.Equal(4_762_310_656L, unique);
    }

    [Fact]
    public void Release_tiling_uses_latent_tiles_of_32_and_17_frames()
    {
        var tiling = CausalVaeTiling.For(CausalVaeConfig.OpenSoraPlanV1_1);
        Assert.Equal(32, tiling.LatentSize);
        Assert.Equal(17, tiling.LatentFrames);
        Assert.Equal(new[] { (0L, 17L), (16L, 33L), (32L, 49L), (48L, 56L) }, CausalVae.TimeChunks(56, 17));
        Assert.Equal(new[] { (0L, 17L) }, CausalVae.TimeChunks(17, 17));
    }
}
