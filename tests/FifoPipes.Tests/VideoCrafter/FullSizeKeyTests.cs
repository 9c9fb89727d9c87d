using FifoPipes.Models.VideoCrafter;
using FifoPipes.Tests.Parity;
using FifoPipes.Torch.Text;
using FifoPipes.Torch.Vae;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace FifoPipes.Tests.VideoCrafter;

/// <summary>
/// The full-size text tower and VAE, built on the meta device (shapes only, no memory), have exactly
/// the keys and shapes of the real VideoCrafter2 checkpoint under their prefixes.
/// </summary>
public sealed class FullSizeKeyTests
{
    static readonly Device Meta = new(DeviceType.META);

    static List<(string Key, string Shape)> Reference(string prefix) =>
        File.ReadLines(Path.Combine(ParityCase.Root, "..", "reference", "keys", "videocrafter2_model.tsv"))
            .Select(l => l.Split('\t'))
            .Where(f => f[0].StartsWith(prefix, StringComparison.Ordinal))
            .Select(f => (f[0][prefix.Length..], f[1]))
            .ToList();

    static List<(string Key, string Shape)> Keys(nn.Module module) =>
        module.state_dict().Select(kv => (kv.Key, "[" + string.Join(", ", kv.Value.shape) + "]")).ToList();

    static void AssertSameKeys(List<(string Key, string Shape)> expected, List<(string Key, string Shape)> actual)
    {
        var missing = expected.Except(actual).ToList();
        var extra = actual.Except(expected).ToList();
        Assert.True(missing.Count == 0 && extra.Count == 0,
            $"missing: {string.Join(", ", missing.Take(10))}; unexpected: {string.Join(", ", extra.Take(10))}");
        Assert.Equal(expected.Count, actual.Count);
    }

    [Fact]
    public void The_vit_h_text_tower_has_the_checkpoint_keys()
    {
        using var model = new OpenClipTextTransformer(OpenClipTextConfig.VitH14, Meta);
        AssertSameKeys(Reference(VideoCrafterCheckpoint.TextPrefix), Keys(model));
    }

    [Fact]
    public void The_sd_vae_has_the_checkpoint_keys()
    {
        using var model = new AutoencoderKL(AutoencoderKLConfig.StableDiffusion, Meta);
        AssertSameKeys(Reference(VideoCrafterCheckpoint.VaePrefix), Keys(model));
    }

    [Theory]
    [InlineData("videocrafter2_model.tsv", "videocrafter2")]
    [InlineData("videocrafter1_512_model.tsv", "videocrafter1-512")]
    [InlineData("videocrafter1_1024_model.tsv", "videocrafter1-1024")]
    public void The_schedule_buffers_beside_the_networks_are_the_checkpoints(string keys, string preset)
    {
        var shapes = File.ReadLines(Path.Combine(ParityCase.Root, "..", "reference", "keys", keys)).Select(l => l.Split('\t'))
            .ToDictionary(f => f[0], f => f[1].Trim('[', ']').Split(',', StringSplitOptions.RemoveEmptyEntries).Select(long.Parse).ToArray());
        var mismatch = VideoCrafterCheckpoint.ScheduleKeyMismatch(shapes, VideoCrafterPreset.Find(preset)!.Schedule);
        Assert.True(mismatch.IsEmpty, mismatch.Describe());
    }
}
