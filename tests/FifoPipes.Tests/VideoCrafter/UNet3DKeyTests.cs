using System.Globalization;
using FifoPipes.Torch.UNets;
using FifoPipes.Tests.Parity;
using FifoPipes.Torch.Nn;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace FifoPipes.Tests.VideoCrafter;

/// <summary>
/// The full-size UNets, built on the meta device (structure and shapes, no memory), must have exactly
/// the state dict of the released checkpoints: same keys, same shapes, same order.
/// </summary>
public sealed class UNet3DKeyTests
{
    public static TheoryData<string> Presets() => new() { "videocrafter2_model.tsv", "videocrafter1_512_model.tsv", "videocrafter1_1024_model.tsv" };

    static UNet3DConfig PresetFor(string tsv) => tsv switch
    {
        "videocrafter2_model.tsv" => UNet3DConfig.VideoCrafter2(),
        "videocrafter1_512_model.tsv" => UNet3DConfig.VideoCrafter1_512(),
        "videocrafter1_1024_model.tsv" => UNet3DConfig.VideoCrafter1_1024(),
        _ => throw new ArgumentException(tsv),
    };

    /// <summary>The UNet rows of a reference key list (key, shape), prefix removed, in file order.</summary>
    static List<(string Key, long[] Shape)> ReferenceUNetKeys(string tsv)
    {
        var path = Path.Combine(ParityCase.Root, "..", "reference", "keys", tsv);
        Assert.True(File.Exists(path), $"reference key list {path} is missing");
        var rows = new List<(string, long[])>();
        foreach (var line in File.ReadLines(path))
        {
            var cols = line.Split('\t');
            if (!cols[0].StartsWith(UNet3D.CheckpointPrefix, StringComparison.Ordinal)) continue;
            var shape = cols[1].Trim('[', ']').Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(s => long.Parse(s, CultureInfo.InvariantCulture)).ToArray();
            rows.Add((cols[0][UNet3D.CheckpointPrefix.Length..], shape));
        }
        return rows;
    }

    [Theory]
    [MemberData(nameof(Presets))]
    public void Full_size_state_dict_matches_the_released_checkpoint(string tsv)
    {
        var expected = ReferenceUNetKeys(tsv);
        Assert.True(expected.Count > 1000, $"{tsv}: only {expected.Count} UNet keys read");
        using var unet = new UNet3D(PresetFor(tsv), device: new Device(DeviceType.META));

        var mismatch = StrictStateDict.Compare(unet, expected.ToDictionary(e => e.Key, e => e.Shape));
        Assert.True(mismatch.IsEmpty, $"{tsv}:{Environment.NewLine}{mismatch.Describe()}");
        Assert.Equal(expected.Select(e => e.Key), StrictStateDict.Shapes(unet).Select(s => s.Key));
    }

    [Fact]
    public void Full_size_parameter_counts_match_the_measured_ones()
    {
        static long Count(UNet3DConfig config)
        {
            using var unet = new UNet3D(config, device: new Device(DeviceType.META));
            return unet.parameters().Sum(p => p.numel());
        }
        Assert.Equal(1_413_284_420L, Count(UNet3DConfig.VideoCrafter2()));
        Assert.Equal(1_144_485_956L, Count(UNet3DConfig.VideoCrafter1_512()));
        Assert.Equal(1_146_536_516L, Count(UNet3DConfig.VideoCrafter1_1024()));
    }
}
