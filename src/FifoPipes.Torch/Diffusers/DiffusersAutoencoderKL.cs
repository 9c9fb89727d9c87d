using System.Globalization;
using System.Text.RegularExpressions;
using FifoPipes.Torch.Checkpoints;
using FifoPipes.Torch.Vae;
using static TorchSharp.torch;

namespace FifoPipes.Torch.Diffusers;

/// <summary>A diffusers AutoencoderKL config as our LDM-named <see cref="AutoencoderKL"/> plus the latent scale the pipeline applies.</summary>
public sealed record DiffusersVaeSpec(AutoencoderKLConfig Config, double ScalingFactor);

/// <summary>
/// diffusers' <c>AutoencoderKL</c> layout (down_blocks/up_blocks/mid_block) mapped onto LDM's names
/// (down/up/mid), accepting both spellings of the mid-block attention: current <c>to_q/to_k/to_v/to_out.0</c>
/// and old (diffusers ≤ 0.15) <c>query/key/value/proj_attn</c>, Linear weights that LDM holds as 1×1 convs.
/// </summary>
public static partial class DiffusersAutoencoderKL
{
    const double MinScalingFactor = 1e-3, MaxScalingFactor = 1e3;

    /// <summary>
    /// Maps a diffusers AutoencoderKL config.json onto <see cref="AutoencoderKLConfig"/> and its scaling_factor. Throws
    /// <c>FifoInputException</c> "DiffusersConfigUnsupported" for a VAE this port cannot build (other block types, no quant
    /// convs, a latent shift or per-channel normalisation, block_out_channels that are not multiples of the first), and
    /// "DiffusersConfigInvalid" for values no VAE can have or far beyond any released one (see DiffusersLimits).
    /// </summary>
    /// <param name="warnings">One message per config key that nothing read, for the caller to log.</param>
    public static DiffusersVaeSpec ConfigFrom(DiffusersConfig c, out IReadOnlyList<string> warnings)
    {
        c.Ignore("_class_name", "_diffusers_version", "_name_or_path", "_use_default_values", "sample_size",
            // A precision hint for fp16 pipelines (run the VAE in fp32); the network is the same.
            "force_upcast");
        var blockChannels = DiffusersLimits.BlockChannels(c, new[] { 64 });
        var downTypes = c.Strings("down_block_types", new[] { "DownEncoderBlock2D" });
        var upTypes = c.Strings("up_block_types", new[] { "UpDecoderBlock2D" });
        int layers = c.Int("layers_per_block", 1, 1, DiffusersLimits.MaxLayersPerBlock);
        int inChannels = c.Int("in_channels", 3, 1, DiffusersLimits.MaxImageChannels);
        int outChannels = c.Int("out_channels", 3, 1, DiffusersLimits.MaxImageChannels);
        int latent = c.Int("latent_channels", 4, 1, DiffusersLimits.MaxImageChannels);
        int groups = c.Int("norm_num_groups", 32, 1, DiffusersLimits.MaxWidth);
        // Every GroupNorm (resnets, mid attention, norm_out) splits a level's channels into equal groups.
        DiffusersLimits.Divides(c, "norm_num_groups", groups, blockChannels, "GroupNorm groups of equal size");
        // Latents are the posterior mean times this, and decoding divides by it: released VAEs use 0.13..1.6 (SD 0.18215,
        // SDXL 0.13025, SD3 1.5305). Far outside, the latents the sampler sees or the frames it decodes overflow or vanish.
        double scaling = c.Double("scaling_factor", 0.18215, MinScalingFactor, MaxScalingFactor);
        c.Expect("act_fn", "silu");
        c.Expect("use_quant_conv", true);
        c.Expect("use_post_quant_conv", true);
        c.Expect("mid_block_add_attention", true);
        c.ExpectNull("shift_factor", "a latent shift");
        c.ExpectNull("latents_mean", "per-channel latent normalisation");
        c.ExpectNull("latents_std", "per-channel latent normalisation");
        if (downTypes.Count != blockChannels.Count || upTypes.Count != blockChannels.Count)
            c.Problem($"down_block_types ({downTypes.Count}), up_block_types ({upTypes.Count}) and block_out_channels ({blockChannels.Count}) must have one entry per level");
        if (downTypes.Any(t => t != "DownEncoderBlock2D")) c.Problem($"down_block_types = [{string.Join(", ", downTypes)}] (only DownEncoderBlock2D)");
        if (upTypes.Any(t => t != "UpDecoderBlock2D")) c.Problem($"up_block_types = [{string.Join(", ", upTypes)}] (only UpDecoderBlock2D)");
        if (DiffusersLimits.Usable(blockChannels) && blockChannels.Any(ch => ch % blockChannels[0] != 0))
            c.Problem($"block_out_channels = [{string.Join(", ", blockChannels)}] (every entry must be a positive multiple of the first)");
        warnings = c.Finish("AutoencoderKL");
        int ch = blockChannels[0];
        var config = new AutoencoderKLConfig
        {
            Ch = ch,
            ChMult = blockChannels.Select(b => b / ch).ToArray(),
            NumResBlocks = layers,
            ZChannels = latent,
            DoubleZ = true,
            InChannels = inChannels,
            OutCh = outChannels,
            EmbedDim = latent,
            NormGroups = groups,
        };
        return new DiffusersVaeSpec(config, scaling);
    }

    /// <summary>The LDM key for a diffusers AutoencoderKL key (unknown keys map to themselves).</summary>
    public static MappedKey? MapKey(string key, AutoencoderKLConfig config)
    {
        static string I(int i) => i.ToString(CultureInfo.InvariantCulture);
        static int N(Group g) => int.Parse(g.Value, CultureInfo.InvariantCulture);
        var m = Resnet().Match(key);
        if (m.Success)
        {
            string part = m.Groups[1].Value == "encoder"
                ? $"encoder.down.{m.Groups[3].Value}"
                : $"decoder.up.{I(config.ChMult.Length - 1 - N(m.Groups[3]))}";
            return new MappedKey($"{part}.block.{m.Groups[4].Value}.{ResnetName(m.Groups[5].Value)}");
        }
        m = Downsampler().Match(key);
        if (m.Success) return new MappedKey($"encoder.down.{m.Groups[1].Value}.downsample.conv.{m.Groups[2].Value}");
        m = Upsampler().Match(key);
        if (m.Success) return new MappedKey($"decoder.up.{I(config.ChMult.Length - 1 - N(m.Groups[1]))}.upsample.conv.{m.Groups[2].Value}");
        m = MidResnet().Match(key);
        if (m.Success) return new MappedKey($"{m.Groups[1].Value}.mid.block_{I(N(m.Groups[2]) + 1)}.{ResnetName(m.Groups[3].Value)}");
        m = MidAttention().Match(key);
        if (m.Success)
        {
            var (name, linear) = m.Groups[2].Value switch
            {
                "group_norm" => ("norm", false),
                "to_q" or "query" => ("q", true),
                "to_k" or "key" => ("k", true),
                "to_v" or "value" => ("v", true),
                _ => ("proj_out", true), // to_out.0 / proj_attn
            };
            return new MappedKey($"{m.Groups[1].Value}.mid.attn_1.{name}.{m.Groups[3].Value}", linear ? 2 : 0);
        }
        m = Ends().Match(key);
        if (m.Success) return new MappedKey($"{m.Groups[1].Value}.norm_out.{m.Groups[2].Value}");
        return new MappedKey(key);
    }

    static string ResnetName(string rest) => rest.StartsWith("conv_shortcut.", StringComparison.Ordinal) ? "nin_shortcut." + rest["conv_shortcut.".Length..] : rest;

    [GeneratedRegex(@"^(encoder|decoder)\.(down_blocks|up_blocks)\.(\d+)\.resnets\.(\d+)\.(.+)$")]
    private static partial Regex Resnet();
    [GeneratedRegex(@"^encoder\.down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.+)$")]
    private static partial Regex Downsampler();
    [GeneratedRegex(@"^decoder\.up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.+)$")]
    private static partial Regex Upsampler();
    [GeneratedRegex(@"^(encoder|decoder)\.mid_block\.resnets\.([01])\.(.+)$")]
    private static partial Regex MidResnet();
    [GeneratedRegex(@"^(encoder|decoder)\.mid_block\.attentions\.0\.(group_norm|to_q|to_k|to_v|to_out\.0|query|key|value|proj_attn)\.(weight|bias)$")]
    private static partial Regex MidAttention();
    [GeneratedRegex(@"^(encoder|decoder)\.conv_norm_out\.(.+)$")]
    private static partial Regex Ends();

    /// <summary>
    /// Refuses ("CheckpointMismatch") a <paramref name="config"/> that asks for more parameters than <paramref name="weights"/>
    /// hold: what <see cref="Load(DiffusersWeights, AutoencoderKLConfig, ScalarType, Device?)"/> checks first, for a check that loads nothing.
    /// </summary>
    public static void RequireWeights(DiffusersWeights weights, AutoencoderKLConfig config) =>
        DiffusersLimits.RequireWeightsFor(meta => new AutoencoderKL(config, meta), weights, "AutoencoderKL");

    /// <summary>
    /// Builds the VAE and streams the component's weight files into it, cast to <paramref name="dtype"/> (strict). A config
    /// asking for more parameters than the files hold is refused ("CheckpointMismatch") before anything is allocated.
    /// </summary>
    public static AutoencoderKL Load(DiffusersWeights weights, AutoencoderKLConfig config, ScalarType dtype = ScalarType.Float32, Device? device = null)
    {
        RequireWeights(weights, config);
        return Load(weights.Stream(dtype), weights.Describe(), config, dtype, device);
    }

    /// <summary>Builds the VAE and streams diffusers-named tensors into it (strict).</summary>
    public static AutoencoderKL Load(IEnumerable<(string Name, Tensor Tensor)> tensors, string source, AutoencoderKLConfig config, ScalarType dtype = ScalarType.Float32, Device? device = null)
    {
        var vae = new AutoencoderKL(config, device, dtype);
        try
        {
            StateDictLoader.Load(vae, KeyRenaming.Apply(tensors, k => MapKey(k, config)), new StateDictMapping(), source);
        }
        catch
        {
            vae.Dispose();
            throw;
        }
        vae.eval();
        return vae;
    }
}
