using System.Text.Json;
using FifoPipes.Tests.Parity;
using FifoPipes.Torch.Diffusers;
using FifoPipes.Torch.Nn;
using FifoPipes.Torch.Text;
using FifoPipes.Torch.UNets;
using FifoPipes.Torch.Vae;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace FifoPipes.Tests.Zeroscope;

/// <summary>
/// The released zeroscope_v2 key lists (diffusers / transformers names), renamed by our maps, load strictly
/// into the full-size modules built on the meta device from zeroscope's configs: every key, every shape.
/// </summary>
public sealed class ZeroscopeFullSizeKeyTests
{
    static readonly Device Meta = new(DeviceType.META);

    /// <summary>The reference keys as meta tensors of their shapes, in file order.</summary>
    static IEnumerable<(string Name, Tensor Tensor)> Reference(string component) =>
        File.ReadLines(Path.Combine(ParityCase.Root, "..", "reference", "keys", $"zeroscope_v2_{component}.tsv"))
            .Select(l => l.Split('\t'))
            .Select(f => (f[0], empty(f[1].Trim('[', ']').Split(", ", StringSplitOptions.RemoveEmptyEntries).Select(long.Parse).ToArray(), device: Meta)));

    static StateDictMismatch Compare(nn.Module module, IEnumerable<(string Name, Tensor Tensor)> mapped)
    {
        var shapes = new Dictionary<string, long[]>(StringComparer.Ordinal);
        foreach (var (name, tensor) in mapped)
        {
            Assert.False(shapes.ContainsKey(name), $"two reference keys map to {name}");
            shapes[name] = tensor.shape;
            tensor.Dispose();
        }
        return StrictStateDict.Compare(module, shapes);
    }

    static DiffusersConfig Json(string json) => new(JsonDocument.Parse(json).RootElement.Clone(), "test config");

    [Fact]
    public void The_unet_built_from_the_default_config_takes_every_released_key()
    {
        // zeroscope's unet/config.json is the class defaults (plus bookkeeping keys).
        var config = DiffusersUNet3D.ConfigFrom(Json("""{"_class_name": "UNet3DConditionModel", "sample_size": 32}"""), out var warnings);
        Assert.Empty(warnings);
        using var unet = new UNet3D(config, Meta);
        var mismatch = Compare(unet, KeyRenaming.Apply(Reference("unet"), k => DiffusersUNet3D.MapKey(k, config)));
        Assert.True(mismatch.IsEmpty, mismatch.Describe());
        Assert.Equal(1_411_233_860L, unet.parameters().Sum(p => p.numel()));
    }

    [Fact]
    public void The_sd_vae_takes_every_released_key()
    {
        var spec = DiffusersAutoencoderKL.ConfigFrom(Json("""
            {"block_out_channels": [128, 256, 512, 512], "layers_per_block": 2, "latent_channels": 4, "norm_num_groups": 32, "sample_size": 768,
             "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"],
             "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"], "scaling_factor": 0.18215}
            """), out var warnings);
        Assert.Empty(warnings);
        Assert.Equal(new[] { 1, 2, 4, 4 }, spec.Config.ChMult);
        Assert.Equal(AutoencoderKLConfig.StableDiffusion with { ChMult = spec.Config.ChMult, AttnResolutions = spec.Config.AttnResolutions }, spec.Config);
        using var vae = new AutoencoderKL(spec.Config, Meta);
        var mismatch = Compare(vae, KeyRenaming.Apply(Reference("vae"), k => DiffusersAutoencoderKL.MapKey(k, spec.Config)));
        Assert.True(mismatch.IsEmpty, mismatch.Describe());
        Assert.Equal(83_653_863L, vae.parameters().Sum(p => p.numel()));
    }

    [Fact]
    public void The_23_layer_text_encoder_takes_every_released_key()
    {
        var config = HfClipTextModel.ConfigFrom(Json("""
            {"hidden_size": 1024, "intermediate_size": 4096, "num_attention_heads": 16, "num_hidden_layers": 23, "vocab_size": 49408,
             "max_position_embeddings": 77, "hidden_act": "gelu", "layer_norm_eps": 1e-05, "projection_dim": 512, "torch_dtype": "float16"}
            """), out var warnings);
        Assert.Empty(warnings);
        using var text = new OpenClipTextTransformer(config, Meta);
        var mismatch = Compare(text, HfClipTextModel.ToOpenClip(Reference("text_encoder")));
        // The contrastive head exists in open_clip only; it is never loaded nor used.
        Assert.Equal(HfClipTextModel.UnusedOpenClipParameters.OrderBy(k => k), mismatch.Missing.OrderBy(k => k));
        Assert.Empty(mismatch.Unexpected);
        Assert.Empty(mismatch.WrongShape);
        long used = text.named_parameters().Where(p => !HfClipTextModel.UnusedOpenClipParameters.Contains(p.name)).Sum(p => p.parameter.numel());
        Assert.Equal(340_387_840L, used);
    }
}
