using FifoPipes.Abstractions;
using FifoPipes.Torch.Checkpoints;
using FifoPipes.Torch.Nn;
using FifoPipes.Torch.Text;
using FifoPipes.Torch.Vae;
using TorchSharp;
using static TorchSharp.torch;

namespace FifoPipes.Models.VideoCrafter;

/// <summary>
/// Where the parts of a VideoCrafter (LatentDiffusion) state dict live, and loaders for the text
/// tower and the VAE from an open Lightning model.ckpt. Each part streams only its own keys, cast
/// as it is read, so one part can be loaded, used and freed before the next.
/// </summary>
public static class VideoCrafterCheckpoint
{
    public const string UNetPrefix = "model.diffusion_model.";
    public const string VaePrefix = "first_stage_model.";
    public const string TextPrefix = "cond_stage_model.model.";
    /// <summary>Lightning nests the weights here; DeepSpeed saves use "module".</summary>
    public static readonly string[] StateDictKeys = { "state_dict", "module" };
    /// <summary>What a DeepSpeed save puts before every key under "module" (the reference loader cuts the 16 characters off).</summary>
    public const string DeepSpeedPrefix = "_forward_module.";

    /// <summary>A stored key as the model knows it: without DeepSpeed's <see cref="DeepSpeedPrefix"/>.</summary>
    public static string CanonicalName(string stored) =>
        stored.StartsWith(DeepSpeedPrefix, StringComparison.Ordinal) ? stored[DeepSpeedPrefix.Length..] : stored;

    /// <summary>
    /// A source's tensors under their canonical names (<see cref="CanonicalName"/>) that <paramref name="select"/> keeps:
    /// <paramref name="stream"/> reads the stored names, whatever the file (a zip checkpoint, safetensors).
    /// </summary>
    public static IEnumerable<(string Name, Tensor Tensor)> Canonical(Func<Func<string, bool>, IEnumerable<(string Name, Tensor Tensor)>> stream,
        Func<string, bool> select) =>
        stream(stored => select(CanonicalName(stored))).Select(t => (CanonicalName(t.Name), t.Tensor));

    /// <summary>The 12 DDPM schedule buffers every checkpoint holds, plus scale_arr when use_scale.</summary>
    public static readonly IReadOnlyList<string> ScheduleBuffers = new[]
    {
        "betas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_alphas_cumprod", "sqrt_one_minus_alphas_cumprod",
        "log_one_minus_alphas_cumprod", "sqrt_recip_alphas_cumprod", "sqrt_recipm1_alphas_cumprod", "posterior_variance",
        "posterior_log_variance_clipped", "posterior_mean_coef1", "posterior_mean_coef2",
    };

    /// <summary>
    /// The keys beside the three networks against what LatentDiffusion registers: the 12 buffers, one value per training
    /// step, and scale_arr with use_scale (whose length differs between releases: VC2 appends mid_step values).
    /// </summary>
    public static StateDictMismatch ScheduleKeyMismatch(IReadOnlyDictionary<string, long[]> shapes, NoiseSchedule schedule)
    {
        var networks = new[] { UNetPrefix, VaePrefix, TextPrefix };
        var found = shapes.Where(kv => !networks.Any(kv.Key.StartsWith)).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        var expected = ScheduleBuffers.Select(k => (k, (long[]?)new long[] { schedule.TrainTimesteps })).ToList();
        if (schedule.X0ScaleEnd != 1.0) expected.Add(("scale_arr", null));
        return StrictStateDict.Compare(expected, found);
    }

    public static StateDictMapping TextMapping { get; } = new() { Prefix = TextPrefix };
    public static StateDictMapping VaeMapping { get; } = new() { Prefix = VaePrefix };

    public static OpenClipTextTransformer LoadTextEncoder(TorchZipCheckpoint checkpoint, OpenClipTextConfig config, ScalarType dtype = ScalarType.Float32, Device? device = null)
    {
        return StateDictLoader.LoadedOrDisposed(new OpenClipTextTransformer(config, device, dtype), model => Load(model, checkpoint, TextMapping, dtype));
    }

    public static AutoencoderKL LoadVae(TorchZipCheckpoint checkpoint, AutoencoderKLConfig config, ScalarType dtype = ScalarType.Float32, Device? device = null)
    {
        return StateDictLoader.LoadedOrDisposed(new AutoencoderKL(config, device, dtype), model => Load(model, checkpoint, VaeMapping, dtype));
    }

    /// <summary>Streams the keys under <paramref name="mapping"/>'s prefix into <paramref name="module"/> (strict).</summary>
    public static void Load(nn.Module module, TorchZipCheckpoint checkpoint, StateDictMapping mapping, ScalarType dtype)
    {
        var source = Canonical(stored => checkpoint.Stream(dtype, stored, StateDictKeys), name => name.StartsWith(mapping.Prefix, StringComparison.Ordinal));
        StateDictLoader.Load(module, source, mapping, checkpoint.Path);
        module.eval();
    }
}
