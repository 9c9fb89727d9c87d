using System.Text.Json;

namespace FifoPipes.Models.OpenSoraPlan.Vae;

/// <summary>
/// CausalVAEModel's constructor arguments (vae/config.json names in comments). Level i of the encoder
/// (and of the decoder, which runs the levels deepest first) has its own block type and resamplers; an
/// empty string means none. Defaults: the released CausalVAEModel_4x8x8 of Open-Sora Plan v1.1.
/// </summary>
public sealed record CausalVaeConfig
{
    public const string ResnetBlock2D = "ResnetBlock2D";
    public const string ResnetBlock3D = "ResnetBlock3D";
    public const string Downsample = "Downsample";
    public const string TimeDownsampleRes2x = "TimeDownsampleRes2x";
    public const string SpatialUpsample2x = "SpatialUpsample2x";
    public const string TimeUpsampleRes2x = "TimeUpsampleRes2x";

    public int HiddenSize { get; init; } = 128;
    public int ZChannels { get; init; } = 4;
    public int[] HiddenSizeMult { get; init; } = { 1, 2, 4, 4 };
    public int EmbedDim { get; init; } = 4;
    public int NumResBlocks { get; init; } = 2;
    public bool DoubleZ { get; init; } = true;
    public string[] EncoderResnetBlocks { get; init; } = { ResnetBlock2D, ResnetBlock2D, ResnetBlock3D, ResnetBlock3D };
    public string[] EncoderSpatialDownsample { get; init; } = { Downsample, Downsample, Downsample, "" };
    public string[] EncoderTemporalDownsample { get; init; } = { "", TimeDownsampleRes2x, TimeDownsampleRes2x, "" };
    public string[] DecoderResnetBlocks { get; init; } = { ResnetBlock3D, ResnetBlock3D, ResnetBlock3D, ResnetBlock3D };
    public string[] DecoderSpatialUpsample { get; init; } = { "", SpatialUpsample2x, SpatialUpsample2x, SpatialUpsample2x };
    public string[] DecoderTemporalUpsample { get; init; } = { "", "", TimeUpsampleRes2x, TimeUpsampleRes2x };

    public static CausalVaeConfig OpenSoraPlanV1_1 { get; } = new();

    public int Levels => HiddenSizeMult.Length;
    /// <summary>Pixels per latent pixel.</summary>
    public int SpatialFactor => 1 << DecoderSpatialUpsample.Count(s => s.Length > 0);
    /// <summary>Each temporal upsample maps T → 2T − 1.</summary>
    public int TemporalUpsamples => DecoderTemporalUpsample.Count(s => s.Length > 0);
    public int TemporalDownsamples => EncoderTemporalDownsample.Count(s => s.Length > 0);

    /// <summary>Frames decoded from <paramref name="latentFrames"/> latents: 1 + 2^k (T − 1).</summary>
    public long DecodedFrames(long latentFrames) => 1 + (latentFrames - 1) * (1L << TemporalUpsamples);

    /// <summary>The inverse: the latent a decoded frame comes from (frame 0 is latent 0's, then 2^k frames each).</summary>
    public long LatentOfFrame(long frame) => frame == 0 ? 0 : (frame - 1) / (1L << TemporalUpsamples) + 1;

    public static CausalVaeConfig FromReferenceArguments(JsonElement c)
    {
        var d = new CausalVaeConfig();
        int Int(string name, int fallback) => c.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt32() : fallback;
        string[] Strings(string name, string[] fallback) => c.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Array
            ? v.EnumerateArray().Select(e => e.GetString() ?? "").ToArray() : fallback;
        void Require(string name, string value)
        {
            if (c.TryGetProperty(name, out var v) && v.GetString() != value)
                throw new NotSupportedException($"CausalVAE: {name} '{v.GetString()}' is not supported (only '{value}', as v1.1 uses).");
        }
        Require("encoder_conv_in", "Conv2d");
        Require("encoder_conv_out", "CausalConv3d");
        Require("decoder_conv_in", "CausalConv3d");
        Require("decoder_conv_out", "CausalConv3d");
        Require("encoder_attention", "AttnBlock3DFix");
        Require("decoder_attention", "AttnBlock3DFix");
        Require("encoder_mid_resnet", ResnetBlock3D);
        Require("decoder_mid_resnet", ResnetBlock3D);
        Require("q_conv", "CausalConv3d");
        if (c.TryGetProperty("attn_resolutions", out var attn) && attn.GetArrayLength() > 0)
            throw new NotSupportedException("CausalVAE: attention inside the levels (attn_resolutions) is not supported; v1.1 has none.");
        var config = new CausalVaeConfig
        {
            HiddenSize = Int("hidden_size", d.HiddenSize),
            ZChannels = Int("z_channels", d.ZChannels),
            HiddenSizeMult = c.TryGetProperty("hidden_size_mult", out var m) ? m.EnumerateArray().Select(e => e.GetInt32()).ToArray() : d.HiddenSizeMult,
            EmbedDim = Int("embed_dim", d.EmbedDim),
            NumResBlocks = Int("num_res_blocks", d.NumResBlocks),
            DoubleZ = !c.TryGetProperty("double_z", out var dz) || dz.GetBoolean(),
            EncoderResnetBlocks = Strings("encoder_resnet_blocks", d.EncoderResnetBlocks),
            EncoderSpatialDownsample = Strings("encoder_spatial_downsample", d.EncoderSpatialDownsample),
            EncoderTemporalDownsample = Strings("encoder_temporal_downsample", d.EncoderTemporalDownsample),
            DecoderResnetBlocks = Strings("decoder_resnet_blocks", d.DecoderResnetBlocks),
            DecoderSpatialUpsample = Strings("decoder_spatial_upsample", d.DecoderSpatialUpsample),
            DecoderTemporalUpsample = Strings("decoder_temporal_upsample", d.DecoderTemporalUpsample),
        };
        config.Validate();
        return config;
    }

    public void Validate()
    {
        int n = Levels;
        var lists = new (string Name, string[] Values, string[] Allowed)[]
        {
            ("encoder_resnet_blocks", EncoderResnetBlocks, new[] { ResnetBlock2D, ResnetBlock3D }),
            ("encoder_spatial_downsample", EncoderSpatialDownsample, new[] { "", Downsample }),
            ("encoder_temporal_downsample", EncoderTemporalDownsample, new[] { "", TimeDownsampleRes2x }),
            ("decoder_resnet_blocks", DecoderResnetBlocks, new[] { ResnetBlock3D }),
            ("decoder_spatial_upsample", DecoderSpatialUpsample, new[] { "", SpatialUpsample2x }),
            ("decoder_temporal_upsample", DecoderTemporalUpsample, new[] { "", TimeUpsampleRes2x }),
        };
        foreach (var (name, values, allowed) in lists)
        {
            if (values.Length != n)
                throw new NotSupportedException($"CausalVAE: {name} has {values.Length} entries for {n} levels.");
            var bad = values.FirstOrDefault(v => !allowed.Contains(v));
            if (bad is not null)
                throw new NotSupportedException($"CausalVAE: {name} entry '{bad}' is not supported (supported: {string.Join(", ", allowed.Select(a => a.Length == 0 ? "\"\"" : a))}).");
        }
    }
}

/// <summary>
/// Tiled decoding as the release does it (<c>enable_tiling</c>): latent tiles of <see cref="LatentSize"/> every
/// LatentSize·(1 − overlap), blended over SampleSize·overlap pixels; time in chunks of <see cref="LatentFrames"/>
/// overlapping by one latent frame.
/// </summary>
public sealed record CausalVaeTiling
{
    /// <summary>tile_sample_min_size (pixels).</summary>
    public int SampleSize { get; init; } = 256;
    /// <summary>tile_latent_min_size.</summary>
    public int LatentSize { get; init; } = 32;
    /// <summary>tile_latent_min_size_t.</summary>
    public int LatentFrames { get; init; } = 17;
    public double Overlap { get; init; } = 0.25;

    /// <summary>The release's hard-coded values (256 pixels, 65 frames) for a VAE of this shape.</summary>
    public static CausalVaeTiling For(CausalVaeConfig config, int sampleSize = 256, int sampleFrames = 65) => new()
    {
        SampleSize = sampleSize,
        LatentSize = sampleSize / (1 << (config.Levels - 1)),
        LatentFrames = (sampleFrames - 1) / (1 << config.TemporalDownsamples) + 1,
    };
}
