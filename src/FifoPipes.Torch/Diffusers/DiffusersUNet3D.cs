using System.Globalization;
using System.Text.RegularExpressions;
using FifoPipes.Abstractions;
using FifoPipes.Torch.Checkpoints;
using FifoPipes.Torch.UNets;
using static TorchSharp.torch;

namespace FifoPipes.Torch.Diffusers;

/// <summary>
/// diffusers' <c>UNet3DConditionModel</c> (zeroscope, ModelScope) as our <see cref="UNet3D"/>: the same
/// network as VideoCrafter2's without the fps embedding. The config maps onto <see cref="UNet3DConfig"/>
/// and the keys onto lvdm's names by index arithmetic (the inverse of diffusers' ModelScope conversion).
/// </summary>
public static partial class DiffusersUNet3D
{
    const string CrossAttnDown = "CrossAttnDownBlock3D", Down = "DownBlock3D", CrossAttnUp = "CrossAttnUpBlock3D", Up = "UpBlock3D";

    /// <summary>
    /// Maps unet/config.json onto <see cref="UNet3DConfig"/>. Throws "DiffusersConfigUnsupported" for values that
    /// need another network and "DiffusersConfigInvalid" for values no UNet can have or far beyond any released one (both
    /// by the diffusers key names, before any weights load); <paramref name="warnings"/> lists keys this mapping does not know.
    /// </summary>
    public static UNet3DConfig ConfigFrom(DiffusersConfig c, out IReadOnlyList<string> warnings)
    {
        c.Ignore("_class_name", "_diffusers_version", "_name_or_path", "_use_default_values", "sample_size");
        var blockChannels = DiffusersLimits.BlockChannels(c, new[] { 320, 640, 1280, 1280 });
        var downTypes = c.Strings("down_block_types", new[] { CrossAttnDown, CrossAttnDown, CrossAttnDown, Down });
        var upTypes = c.Strings("up_block_types", new[] { Up, CrossAttnUp, CrossAttnUp, CrossAttnUp });
        int layers = c.Int("layers_per_block", 2, 1, DiffusersLimits.MaxLayersPerBlock);
        int inChannels = c.Int("in_channels", 4, 1, DiffusersLimits.MaxImageChannels);
        int outChannels = c.Int("out_channels", 4, 1, DiffusersLimits.MaxImageChannels);
        int groups = c.Int("norm_num_groups", 32, 1, DiffusersLimits.MaxWidth);
        int crossAttentionDim = c.Int("cross_attention_dim", 1024, 1, DiffusersLimits.MaxWidth);
        int headDim = HeadDim(c);
        // Every GroupNorm splits a level's channels (conv_in's and transformer_in's are level 0's) into equal groups, and
        // every level's transformers into heads of attention_head_dim (the VideoCrafter UNet we build needs it at all levels).
        DiffusersLimits.Divides(c, "norm_num_groups", groups, blockChannels, "GroupNorm groups of equal size");
        DiffusersLimits.Divides(c, "attention_head_dim", headDim, blockChannels, "channels per attention head");
        c.Expect("act_fn", "silu");
        c.Expect("norm_eps", 1e-5);
        c.Expect("downsample_padding", 1);
        c.Expect("mid_block_scale_factor", 1);
        c.ExpectNull("num_attention_heads", "num_attention_heads (diffusers raises NotImplementedError for it too)");
        c.ExpectNull("time_cond_proj_dim", "a timestep condition projection (LCM)");

        if (downTypes.Count != blockChannels.Count || upTypes.Count != blockChannels.Count)
            c.Problem($"down_block_types ({downTypes.Count}), up_block_types ({upTypes.Count}) and block_out_channels ({blockChannels.Count}) must have one entry per level");
        var attentionResolutions = new List<int>();
        for (int level = 0; level < downTypes.Count; level++)
        {
            if (downTypes[level] == CrossAttnDown) attentionResolutions.Add(1 << level);
            else if (downTypes[level] != Down) c.Problem($"down_block_types[{level}] = {downTypes[level]} (only {CrossAttnDown} and {Down})");
            int mirror = downTypes.Count - 1 - level;
            string expectedUp = downTypes[level] == CrossAttnDown ? CrossAttnUp : Up;
            if (mirror < upTypes.Count && upTypes[mirror] != expectedUp)
                c.Problem($"up_block_types[{mirror}] = {upTypes[mirror]}, but it mirrors down_block_types[{level}] = {downTypes[level]} and must be {expectedUp}");
        }
        warnings = c.Finish("UNet3DConditionModel");
        var config = new UNet3DConfig
        {
            InChannels = inChannels,
            OutChannels = outChannels,
            ModelChannels = blockChannels.Count > 0 ? blockChannels[0] : 0,
            BlockChannels = blockChannels,
            NumResBlocks = layers,
            AttentionResolutions = attentionResolutions,
            NumHeadChannels = headDim,
            ContextDim = crossAttentionDim,
            UseLinear = true,
            TemporalConv = true,
            TemporalAttention = true,
            AdditionAttention = true,
            UseRelativePosition = false,
            FpsCond = false,
            NormGroups = groups,
            UpsampleToSkipSize = true,
        };
        // The checks above should leave nothing for the UNet's own; should one remain, it is still found here, naming the file.
        try { config.Validate(); }
        catch (FifoInputException ex)
        {
            throw new FifoInputException("DiffusersConfigUnsupported", $"{c.Source}: this UNet3DConditionModel configuration cannot be built by FifoPipes: {ex.Message}", ex);
        }
        return config;
    }

    /// <summary>attention_head_dim: despite its name the width of every head (blocks get C / it heads); one value for all levels.</summary>
    static int HeadDim(DiffusersConfig c)
    {
        if (c.Has("attention_head_dim") && c.Json.GetProperty("attention_head_dim").ValueKind == System.Text.Json.JsonValueKind.Array)
        {
            var perLevel = c.Ints("attention_head_dim", Array.Empty<int>());
            if (perLevel.Distinct().Count() != 1) c.Problem($"attention_head_dim = [{string.Join(", ", perLevel)}] (one value for every level is supported; transformer_in needs a single one too)");
            else if (perLevel[0] < 1 || perLevel[0] > DiffusersLimits.MaxWidth) c.Invalid("attention_head_dim", $"must be within 1..{DiffusersLimits.MaxWidth}");
            return perLevel.Count > 0 ? perLevel[0] : 64;
        }
        return c.Int("attention_head_dim", 64, 1, DiffusersLimits.MaxWidth);
    }

    /// <summary>The <see cref="UNet3D"/> key for a diffusers UNet3DConditionModel key (unknown keys map to themselves).</summary>
    public static MappedKey? MapKey(string key, UNet3DConfig config)
    {
        int l = config.NumResBlocks, levels = config.Levels;
        bool HasAttention(int level) => config.AttentionResolutions.Contains(1 << level);
        static string I(int i) => i.ToString(CultureInfo.InvariantCulture);

        if (key.StartsWith("transformer_in.", StringComparison.Ordinal))
        {
            // transformer_in holds Linear projections; lvdm's init_attn holds the same weights as Conv1d [out, in, 1].
            var rest = key["transformer_in.".Length..];
            bool projection = rest is "proj_in.weight" or "proj_out.weight";
            return new MappedKey("init_attn.0." + rest, projection ? 1 : 0);
        }
        foreach (var (from, to) in TopLevel)
            if (key.StartsWith(from, StringComparison.Ordinal)) return new MappedKey(to + key[from.Length..]);

        var m = DownLayer().Match(key);
        if (m.Success)
        {
            int level = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), j = int.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture);
            return new MappedKey($"input_blocks.{I(1 + level * (l + 1) + j)}.{Part(m.Groups[2].Value, m.Groups[4].Value)}");
        }
        m = Downsampler().Match(key);
        if (m.Success)
        {
            int level = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            return new MappedKey($"input_blocks.{I(1 + level * (l + 1) + l)}.0.op.{m.Groups[2].Value}");
        }
        m = MidLayer().Match(key);
        if (m.Success)
        {
            // mid: resnets.0 (+temp_convs.0), attentions.0, temp_attentions.0, resnets.1 (+temp_convs.1).
            int i = int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
            string kind = m.Groups[1].Value;
            int index = kind switch { "resnets" or "temp_convs" => i == 0 ? 0 : 3, "attentions" => 1, _ => 2 };
            return new MappedKey($"middle_block.{I(index)}.{Part(kind, m.Groups[3].Value)[2..]}");
        }
        m = UpLayer().Match(key);
        if (m.Success)
        {
            int u = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), j = int.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture);
            return new MappedKey($"output_blocks.{I(u * (l + 1) + j)}.{Part(m.Groups[2].Value, m.Groups[4].Value)}");
        }
        m = Upsampler().Match(key);
        if (m.Success)
        {
            int u = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            int slot = HasAttention(levels - 1 - u) ? 3 : 1;
            return new MappedKey($"output_blocks.{I(u * (l + 1) + l)}.{I(slot)}.conv.{m.Groups[2].Value}");
        }
        return new MappedKey(key);
    }

    /// <summary>"0.in_layers.0.weight" etc.: the position inside a block (resnet 0, spatial 1, temporal 2) and the inner name.</summary>
    static string Part(string kind, string rest) => kind switch
    {
        "resnets" => "0." + ResnetName(rest),
        "temp_convs" => "0.temopral_conv." + rest,
        "attentions" => "1." + rest,
        _ => "2." + rest, // temp_attentions
    };

    static string ResnetName(string rest)
    {
        foreach (var (from, to) in ResnetRenames)
            if (rest.StartsWith(from, StringComparison.Ordinal)) return to + rest[from.Length..];
        return rest;
    }

    static readonly (string From, string To)[] TopLevel =
    {
        ("time_embedding.linear_1.", "time_embed.0."),
        ("time_embedding.linear_2.", "time_embed.2."),
        ("conv_in.", "input_blocks.0.0."),
        ("conv_norm_out.", "out.0."),
        ("conv_out.", "out.2."),
    };

    static readonly (string From, string To)[] ResnetRenames =
    {
        ("norm1.", "in_layers.0."),
        ("conv1.", "in_layers.2."),
        ("time_emb_proj.", "emb_layers.1."),
        ("norm2.", "out_layers.0."),
        ("conv2.", "out_layers.3."),
        ("conv_shortcut.", "skip_connection."),
    };

    [GeneratedRegex(@"^down_blocks\.(\d+)\.(resnets|temp_convs|attentions|temp_attentions)\.(\d+)\.(.+)$")]
    private static partial Regex DownLayer();
    [GeneratedRegex(@"^down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.+)$")]
    private static partial Regex Downsampler();
    [GeneratedRegex(@"^mid_block\.(resnets|temp_convs|attentions|temp_attentions)\.(\d+)\.(.+)$")]
    private static partial Regex MidLayer();
    [GeneratedRegex(@"^up_blocks\.(\d+)\.(resnets|temp_convs|attentions|temp_attentions)\.(\d+)\.(.+)$")]
    private static partial Regex UpLayer();
    [GeneratedRegex(@"^up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.+)$")]
    private static partial Regex Upsampler();

    /// <summary>
    /// Refuses ("CheckpointMismatch") a <paramref name="config"/> that asks for more parameters than <paramref name="weights"/>
    /// hold, counted on the meta device from the files' indexes: what <see cref="Load"/> checks first, for a check that loads nothing.
    /// </summary>
    public static void RequireWeights(DiffusersWeights weights, UNet3DConfig config) =>
        DiffusersLimits.RequireWeightsFor(meta => new UNet3D(config, meta), weights, "UNet3DConditionModel");

    /// <summary>
    /// Builds the UNet and streams <paramref name="weights"/> into it (strict: every key and shape must match). A config asking
    /// for more parameters than the files hold is refused ("CheckpointMismatch") before anything is allocated.
    /// </summary>
    public static UNet3D Load(DiffusersWeights weights, UNet3DConfig config, ScalarType dtype = ScalarType.Float32, Device? device = null)
    {
        RequireWeights(weights, config);
        var unet = new UNet3D(config, device, dtype);
        try
        {
            StateDictLoader.Load(unet, KeyRenaming.Apply(weights.Stream(dtype), k => MapKey(k, config)), new StateDictMapping(), weights.Describe());
        }
        catch
        {
            unet.Dispose();
            throw;
        }
        unet.eval();
        return unet;
    }
}
