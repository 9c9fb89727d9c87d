using System.Globalization;
using FifoPipes.Abstractions;
using FifoPipes.Torch.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace FifoPipes.Torch.Diffusers;

/// <summary>
/// What a diffusers config may ask of the modules built from it, checked when the config is read (before any weights), so a
/// damaged or edited config.json is refused naming its key instead of failing deep in a module constructor, hanging, or
/// allocating terabytes. The upper bounds are far above every released model: each module is built, layer by layer and
/// at full size, before a strict load could notice that the weights do not fit, so an absurd count costs minutes and an
/// absurd width exhausts memory first.
/// </summary>
static class DiffusersLimits
{
    /// <summary>layers_per_block: 2 in SD, SDXL and zeroscope (UNet and VAE), 3 at most elsewhere.</summary>
    public const int MaxLayersPerBlock = 32;
    /// <summary>Entries of block_out_channels (resolution levels): 4 in every released UNet and VAE; each halves the size.</summary>
    public const int MaxLevels = 8;
    /// <summary>Any channel or hidden width: 1280 is the widest UNet level released, 4096 the widest text encoder (T5-XXL).</summary>
    public const int MaxWidth = 8192;
    /// <summary>Image or latent channels (in_channels, out_channels, latent_channels): 3 and 4, 16 in SD3/FLUX VAEs.</summary>
    public const int MaxImageChannels = 256;
    /// <summary>num_hidden_layers of a text encoder: 23 in zeroscope's OpenCLIP-H, 32 in bigG.</summary>
    public const int MaxTextLayers = 128;
    /// <summary>intermediate_size / hidden_size: 4 in CLIP.</summary>
    public const int MaxMlpRatio = 16;
    /// <summary>vocab_size: CLIP's 49408; the largest tokenizers have about 260000.</summary>
    public const int MaxVocabulary = 1_000_000;
    /// <summary>max_position_embeddings: CLIP's 77 (the tokenizer's length, checked against it).</summary>
    public const int MaxPositions = 65536;

    /// <summary>block_out_channels: 1..<see cref="MaxLevels"/> levels of 1..<see cref="MaxWidth"/> channels.</summary>
    public static IReadOnlyList<int> BlockChannels(DiffusersConfig c, IReadOnlyList<int> fallback)
    {
        var channels = c.Ints("block_out_channels", fallback);
        if (channels.Count < 1 || channels.Count > MaxLevels || channels.Any(ch => ch < 1 || ch > MaxWidth))
            c.Invalid("block_out_channels", $"must list 1..{MaxLevels} levels of 1..{MaxWidth} channels each");
        return channels;
    }

    /// <summary>Whether block_out_channels passed <see cref="BlockChannels"/>, so checks that divide by it may run.</summary>
    public static bool Usable(IReadOnlyList<int> channels) =>
        channels.Count is >= 1 and <= MaxLevels && channels.All(ch => ch is >= 1 and <= MaxWidth);

    /// <summary>
    /// <paramref name="key"/>'s value <paramref name="divisor"/> (already read) must split every level's channels evenly
    /// (<paramref name="what"/> says into what); nothing is checked unless both are usable.
    /// </summary>
    public static void Divides(DiffusersConfig c, string key, int divisor, IReadOnlyList<int> channels, string what)
    {
        if (divisor < 1 || !Usable(channels)) return;
        if (channels.Any(ch => ch % divisor != 0))
            c.Invalid(key, $"must divide every block_out_channels entry [{string.Join(", ", channels)}] ({divisor} {what})");
    }

    /// <summary>
    /// Refuses a module whose configuration asks for more values than <paramref name="weights"/> hold, before it is built at
    /// full size: a strict load would refuse it anyway, after allocating it (gigabytes for an edited width). The module is
    /// built on the meta device (no memory) by <paramref name="build"/>; parameters named in <paramref name="unused"/> may
    /// be absent from the files. Throws "CheckpointMismatch", as the strict load would.
    /// </summary>
    public static void RequireWeightsFor(Func<Device, nn.Module> build, DiffusersWeights weights, string what, IReadOnlySet<string>? unused = null)
    {
        long needed;
        using (var meta = build(new Device(DeviceType.META)))
            needed = meta.named_parameters().Where(p => unused is null || !unused.Contains(p.name)).Sum(p => p.parameter.numel());
        long held = ValuesIn(weights);
        if (needed <= held) return;
        var config = Path.Combine(weights.Folder, "config.json");
        throw new FifoInputException("CheckpointMismatch",
            $"'{config}' describes a {what} of {needed.ToString("N0", CultureInfo.InvariantCulture)} parameters, but its weights ({weights.Describe()}) hold only {held.ToString("N0", CultureInfo.InvariantCulture)} values: the config is not the one " +
            "these weights were saved with (edited, or from another model). Download the model folder again.");
    }

    /// <summary>The values (elements) the weight files hold, from their indexes: no tensor data is read.</summary>
    static long ValuesIn(DiffusersWeights weights) => weights.Files.Sum(WeightFiles.Values);
}
