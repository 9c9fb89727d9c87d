using System.Text.Json;

namespace FifoPipes.Models.OpenSoraPlan.Latte;

/// <summary>
/// The LatteT2V constructor arguments that shape the network (Open-Sora Plan v1.1's config.json names in
/// comments). Defaults are the released 65x512x512 model.
/// </summary>
public sealed record LatteConfig
{
    /// <summary>num_attention_heads.</summary>
    public int Heads { get; init; } = 16;
    /// <summary>attention_head_dim.</summary>
    public int HeadDim { get; init; } = 72;
    public int InChannels { get; init; } = 4;
    /// <summary>out_channels: 8 = ε (first 4) plus the learned variance.</summary>
    public int OutChannels { get; init; } = 8;
    public int Layers { get; init; } = 28;
    /// <summary>sample_size (latent height, width) the 2-D position table is built for.</summary>
    public int SampleHeight { get; init; } = 64;
    public int SampleWidth { get; init; } = 64;
    public int PatchSize { get; init; } = 2;
    /// <summary>caption_channels: width of the text encoder's output (T5-XXL: 4096).</summary>
    public int CaptionChannels { get; init; } = 4096;
    /// <summary>video_length: frames per call; the temporal position table has this length.</summary>
    public int VideoLength { get; init; } = 17;
    public double NormEps { get; init; } = 1e-6;
    /// <summary>Rows of caption_projection.y_embedding (a buffer the checkpoint holds; unused at inference).</summary>
    public int CaptionTokens { get; init; } = 120;

    public int Width => Heads * HeadDim;

    public static LatteConfig OpenSoraPlan65 { get; } = new();
    public static LatteConfig OpenSoraPlan221 { get; } = new() { VideoLength = 56 };

    /// <summary>Reads the reference constructor arguments (config.json of the release or a parity case).</summary>
    public static LatteConfig FromReferenceArguments(JsonElement config)
    {
        int Int(string name, int fallback) => config.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt32() : fallback;
        var d = new LatteConfig();
        int sh = d.SampleHeight, sw = d.SampleWidth;
        if (config.TryGetProperty("sample_size", out var s))
        {
            if (s.ValueKind == JsonValueKind.Array && s.GetArrayLength() == 2) { sh = s[0].GetInt32(); sw = s[1].GetInt32(); }
            else if (s.ValueKind == JsonValueKind.Number) sh = sw = s.GetInt32();
            else throw new NotSupportedException($"LatteT2V: sample_size {s.GetRawText()} is neither [height, width] nor one number.");
        }
        // These change the computation without changing a weight's shape, so the strict load cannot catch them.
        foreach (var (name, supported) in new[]
                 {
                     ("norm_type", "\"ada_norm_single\""), ("activation_fn", "\"gelu-approximate\""), ("use_rope", "false"),
                     ("only_cross_attention", "false"), ("double_self_attention", "false"), ("patch_size_t", "1"),
                 })
            RequireJson(config, name, supported);
        foreach (var name in new[] { "interpolation_scale_h", "interpolation_scale_w", "interpolation_scale_t" })
            RequireJson(config, name, "null");
        return new LatteConfig
        {
            Heads = Int("num_attention_heads", d.Heads),
            HeadDim = Int("attention_head_dim", d.HeadDim),
            InChannels = Int("in_channels", d.InChannels),
            OutChannels = Int("out_channels", d.OutChannels),
            Layers = Int("num_layers", d.Layers),
            SampleHeight = sh,
            SampleWidth = sw,
            PatchSize = Int("patch_size", d.PatchSize),
            CaptionChannels = Int("caption_channels", d.CaptionChannels),
            VideoLength = Int("video_length", d.VideoLength),
            NormEps = config.TryGetProperty("norm_eps", out var e) ? e.GetDouble() : d.NormEps,
        };
    }

    /// <summary>A field that may be absent, or must hold exactly <paramref name="supported"/> (a JSON literal).</summary>
    static void RequireJson(JsonElement config, string name, string supported)
    {
        if (config.TryGetProperty(name, out var v) && v.GetRawText() != supported)
            throw new NotSupportedException($"LatteT2V: {name} {v.GetRawText()} is not supported (only {supported}, as Open-Sora Plan v1.1 uses).");
    }
}
