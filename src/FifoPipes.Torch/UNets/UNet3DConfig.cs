using System.Text.Json;
using FifoPipes.Abstractions;

namespace FifoPipes.Torch.UNets;

/// <summary>
/// The constructor arguments of lvdm's <c>UNetModel</c> (openaimodel3d.py), with the reference names in
/// <see cref="FromReferenceArguments"/>. Options the released models never use (scale-shift norm,
/// ResBlock up/down sampling, causal or cross-attending temporal layers, image cross-attention) are rejected by <see cref="Validate"/>.
/// </summary>
public sealed record UNet3DConfig
{
    /// <summary>Channels of the latent x (<c>in_channels</c>).</summary>
    public int InChannels { get; init; } = 4;
    /// <summary>Channels of the predicted eps (<c>out_channels</c>).</summary>
    public int OutChannels { get; init; } = 4;
    /// <summary>Channels of <c>conv_in</c> and of level 0 (<c>model_channels</c>); the time embedding is 4× as wide.</summary>
    public int ModelChannels { get; init; } = 320;
    /// <summary>Each level's channels as a multiple of <see cref="ModelChannels"/> (<c>channel_mult</c>); <see cref="BlockChannels"/> overrides it.</summary>
    public IReadOnlyList<int> ChannelMult { get; init; } = new[] { 1, 2, 4, 4 };
    /// <summary>ResBlocks per level on the way down (<c>num_res_blocks</c>); the way up has one more per level.</summary>
    public int NumResBlocks { get; init; } = 2;
    /// <summary>Downsample factors (1, 2, 4, ...) whose levels get a spatial + temporal transformer.</summary>
    public IReadOnlyList<int> AttentionResolutions { get; init; } = new[] { 4, 2, 1 };
    /// <summary>Channels per head; -1 to use <see cref="NumHeads"/> instead.</summary>
    public int NumHeadChannels { get; init; } = 64;
    /// <summary>Heads per transformer when <see cref="NumHeadChannels"/> is -1.</summary>
    public int NumHeads { get; init; } = -1;
    /// <summary>Blocks per spatial transformer and in <c>init_attn</c> (<c>transformer_depth</c>).</summary>
    public int TransformerDepth { get; init; } = 1;
    /// <summary>Blocks per temporal transformer other than <c>init_attn</c> (<c>temporal_transformer_depth</c>).</summary>
    public int TemporalTransformerDepth { get; init; } = 1;
    /// <summary>Width of the text context the spatial cross-attention reads (<c>context_dim</c>; 1024 for OpenCLIP-H).</summary>
    public int ContextDim { get; init; } = 1024;
    /// <summary>Linear (not 1×1 conv) proj_in/proj_out in the block transformers.</summary>
    public bool UseLinear { get; init; } = true;
    /// <summary>A TemporalConvBlock (<c>temopral_conv</c>) after every ResBlock (VideoCrafter2, zeroscope).</summary>
    public bool TemporalConv { get; init; }
    /// <summary>3×3×3 instead of 3×1×1 kernels in the first two temporal convs.</summary>
    public bool TempspatialAware { get; init; }
    /// <summary>A temporal transformer after every spatial one (<c>temporal_attention</c>).</summary>
    public bool TemporalAttention { get; init; } = true;
    /// <summary>The temporal transformers' attn2 is self-attention too (<c>temporal_selfatt_only</c>); false is rejected.</summary>
    public bool TemporalSelfAttOnly { get; init; } = true;
    /// <summary>Relative-position temporal attention (VideoCrafter1).</summary>
    public bool UseRelativePosition { get; init; }
    /// <summary>Causal temporal attention (<c>use_causal_attention</c>); true is rejected.</summary>
    public bool UseCausalAttention { get; init; }
    /// <summary>Frames seen in training; the relative-position clamp distance.</summary>
    public int TemporalLength { get; init; } = 16;
    /// <summary>The <c>init_attn</c> temporal transformer after conv_in.</summary>
    public bool AdditionAttention { get; init; } = true;
    /// <summary>An fps embedding added to the time embedding (VideoCrafter2, VideoCrafter1-1024).</summary>
    public bool FpsCond { get; init; }
    /// <summary>Convolutional down- and upsamplers (<c>conv_resample</c>); false is rejected.</summary>
    public bool ConvResample { get; init; } = true;
    /// <summary>Time embedding as scale and shift of the ResBlocks' second norm (<c>use_scale_shift_norm</c>); true is rejected.</summary>
    public bool UseScaleShiftNorm { get; init; }
    /// <summary>ResBlocks as down- and upsamplers (<c>resblock_updown</c>); true is rejected.</summary>
    public bool ResblockUpdown { get; init; }
    /// <summary>Image cross-attention in the spatial transformers (<c>use_image_attention</c>, for image conditioning); true is rejected.</summary>
    public bool UseImageAttention { get; init; }
    /// <summary>Dimensionality of the UNet's convolutions (<c>dims</c>); only 2, per-frame, is supported.</summary>
    public int Dims { get; init; } = 2;
    /// <summary>Groups of every GroupNorm (32 in all released models; diffusers' norm_num_groups).</summary>
    public int NormGroups { get; init; } = 32;
    /// <summary>
    /// Explicit channels per level (diffusers' block_out_channels); null = ChannelMult × ModelChannels.
    /// Needed when a level's width is not an integer multiple of the first (e.g. [16, 24]).
    /// </summary>
    public IReadOnlyList<int>? BlockChannels { get; init; }
    /// <summary>
    /// Latent sizes that are not multiples of 2^(levels-1) are allowed: every upsampler resizes (nearest) to the
    /// size of the skip it meets next (diffusers' forward_upsample_size). lvdm has no such path, so VideoCrafter rejects those sizes.
    /// </summary>
    public bool UpsampleToSkipSize { get; init; }

    /// <summary>Width of the time (and fps) embedding every ResBlock receives: 4 × <see cref="ModelChannels"/>.</summary>
    public int TimeEmbedDim => ModelChannels * 4;
    /// <summary>Resolution levels: the length of <see cref="BlockChannels"/> when set, else of <see cref="ChannelMult"/>.</summary>
    public int Levels => BlockChannels?.Count ?? ChannelMult.Count;
    /// <summary>Feature channels of resolution level <paramref name="level"/> (0 = full resolution).</summary>
    public int ChannelsAt(int level) => BlockChannels is { } explicitChannels ? explicitChannels[level] : ChannelMult[level] * ModelChannels;

    /// <summary>VideoCrafter2 (<c>t2v_512_v2.0</c>): temporal convs, fps conditioning, no relative position.</summary>
    public static UNet3DConfig VideoCrafter2() => new() { TemporalConv = true, UseRelativePosition = false, FpsCond = true };

    /// <summary>VideoCrafter1 320×512 (<c>t2v_512_v1.0</c>): relative-position temporal attention, no fps.</summary>
    public static UNet3DConfig VideoCrafter1_512() => new() { TemporalConv = false, UseRelativePosition = true, FpsCond = false };

    /// <summary>VideoCrafter1 576×1024 (<c>t2v_1024_v1.0</c>): relative position and fps conditioning.</summary>
    public static UNet3DConfig VideoCrafter1_1024() => new() { TemporalConv = false, UseRelativePosition = true, FpsCond = true };

    /// <summary>Reads the reference constructor arguments (snake_case, as in the yaml or a fixture's config); absent ones keep the reference defaults of the released models above.</summary>
    public static UNet3DConfig FromReferenceArguments(JsonElement args) => new UNet3DConfig().WithReferenceArguments(args);

    /// <summary>The reference argument names <see cref="WithReferenceArguments"/> understands.</summary>
    public static IReadOnlyList<string> ReferenceArgumentNames { get; } = new[]
    {
        "in_channels", "out_channels", "model_channels", "channel_mult", "num_res_blocks", "attention_resolutions",
        "num_head_channels", "num_heads", "transformer_depth", "temporal_transformer_depth", "context_dim", "use_linear",
        "temporal_conv", "tempspatial_aware", "temporal_attention", "temporal_selfatt_only", "use_relative_position",
        "use_causal_attention", "temporal_length", "addition_attention", "fps_cond", "conv_resample", "use_scale_shift_norm",
        "resblock_updown", "use_image_attention", "dims",
    };

    /// <summary>This configuration with the reference arguments present in <paramref name="args"/> replacing its values (validated).</summary>
    public UNet3DConfig WithReferenceArguments(JsonElement args)
    {
        // Absent or null keeps the value; any other kind than the argument's is an error, never silently the default.
        bool Given(string name, out JsonElement v) => args.TryGetProperty(name, out v) && v.ValueKind != JsonValueKind.Null;
        InvalidOperationException WrongKind(string name, JsonElement v, string expected) =>
            new($"UNet argument '{name}' must be {expected}, got {v.GetRawText()}.");
        int Int(string name, int fallback) => !Given(name, out var v) ? fallback
            : v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) ? i : throw WrongKind(name, v, "an integer");
        bool Bool(string name, bool fallback) => !Given(name, out var v) ? fallback
            : v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : throw WrongKind(name, v, "true or false");
        IReadOnlyList<int> Ints(string name, IReadOnlyList<int> fallback) => !Given(name, out var v) ? fallback
            : v.ValueKind == JsonValueKind.Array && v.EnumerateArray().All(e => e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out _))
                ? v.EnumerateArray().Select(e => e.GetInt32()).ToArray() : throw WrongKind(name, v, "a list of integers");

        var d = this;
        var config = new UNet3DConfig
        {
            InChannels = Int("in_channels", d.InChannels),
            OutChannels = Int("out_channels", d.OutChannels),
            ModelChannels = Int("model_channels", d.ModelChannels),
            ChannelMult = Ints("channel_mult", d.ChannelMult),
            NumResBlocks = Int("num_res_blocks", d.NumResBlocks),
            AttentionResolutions = Ints("attention_resolutions", d.AttentionResolutions),
            NumHeadChannels = Int("num_head_channels", d.NumHeadChannels),
            NumHeads = Int("num_heads", d.NumHeads),
            TransformerDepth = Int("transformer_depth", d.TransformerDepth),
            TemporalTransformerDepth = Int("temporal_transformer_depth", d.TemporalTransformerDepth),
            ContextDim = Int("context_dim", d.ContextDim),
            UseLinear = Bool("use_linear", d.UseLinear),
            TemporalConv = Bool("temporal_conv", d.TemporalConv),
            TempspatialAware = Bool("tempspatial_aware", d.TempspatialAware),
            TemporalAttention = Bool("temporal_attention", d.TemporalAttention),
            TemporalSelfAttOnly = Bool("temporal_selfatt_only", d.TemporalSelfAttOnly),
            UseRelativePosition = Bool("use_relative_position", d.UseRelativePosition),
            UseCausalAttention = Bool("use_causal_attention", d.UseCausalAttention),
            TemporalLength = Int("temporal_length", d.TemporalLength),
            AdditionAttention = Bool("addition_attention", d.AdditionAttention),
            FpsCond = Bool("fps_cond", d.FpsCond),
            ConvResample = Bool("conv_resample", d.ConvResample),
            UseScaleShiftNorm = Bool("use_scale_shift_norm", d.UseScaleShiftNorm),
            ResblockUpdown = Bool("resblock_updown", d.ResblockUpdown),
            UseImageAttention = Bool("use_image_attention", d.UseImageAttention),
            Dims = Int("dims", d.Dims),
        };
        config.Validate();
        return config;
    }

    /// <summary>Throws <see cref="FifoInputException"/> "UNetConfigInvalid" for values this port cannot build.</summary>
    public void Validate()
    {
        var problems = new List<string>();
        if (InChannels < 1 || OutChannels < 1 || ModelChannels < 1) problems.Add("in_channels, out_channels and model_channels must be positive");
        if (ChannelMult.Count == 0 || ChannelMult.Any(m => m < 1)) problems.Add("channel_mult must be a non-empty list of positive integers");
        if (NumResBlocks < 1) problems.Add("num_res_blocks must be at least 1");
        if (BlockChannels is { } bc && (bc.Count == 0 || bc.Any(c => c < 1) || bc[0] != ModelChannels))
            problems.Add("block channels must be a non-empty list of positive integers starting with model_channels");
        var levelChannels = Enumerable.Range(0, Levels).Select(ChannelsAt).ToList();
        if (NormGroups < 1) problems.Add("norm groups must be positive");
        else if (levelChannels.Prepend(ModelChannels).Any(c => c % NormGroups != 0)) problems.Add($"every level's channel count must be a multiple of {NormGroups} (the GroupNorm groups)");
        if (NumHeadChannels == -1 && NumHeads < 1) problems.Add("set num_head_channels or num_heads");
        if (NumHeadChannels != -1 && NumHeadChannels < 1) problems.Add("num_head_channels must be positive or -1");
        if (NumHeadChannels > 0 && levelChannels.Any(c => c % NumHeadChannels != 0)) problems.Add("every level's channel count must be a multiple of num_head_channels");
        if (AdditionAttention && NumHeadChannels < 1) problems.Add("addition_attention (init_attn, 8 heads of num_head_channels) needs num_head_channels");
        if (TransformerDepth < 1 || TemporalTransformerDepth < 1) problems.Add("transformer depths must be at least 1");
        if ((UseRelativePosition || UseCausalAttention) && TemporalLength < 1) problems.Add("temporal_length must be positive with relative position or causal attention");
        if (Dims != 2) problems.Add($"dims {Dims} is not supported (only 2: per-frame 2D convolutions)");
        if (UseScaleShiftNorm) problems.Add("use_scale_shift_norm is not supported (no released VideoCrafter model uses it)");
        if (ResblockUpdown) problems.Add("resblock_updown is not supported (no released VideoCrafter model uses it)");
        if (!ConvResample) problems.Add("conv_resample false is not supported");
        if (UseCausalAttention) problems.Add("use_causal_attention is not supported");
        if (!TemporalSelfAttOnly) problems.Add("temporal_selfatt_only false (text cross-attention in temporal layers) is not supported");
        if (UseImageAttention) problems.Add("use_image_attention is not supported");
        if (problems.Count > 0)
            throw new FifoInputException("UNetConfigInvalid", "Invalid VideoCrafter UNet configuration: " + string.Join("; ", problems) + ".");
    }

    /// <summary>(heads, head width) of a block transformer at <paramref name="channels"/>, as the reference derives them.</summary>
    public (int Heads, int HeadDim) HeadsAt(int channels) =>
        NumHeadChannels == -1 ? (NumHeads, channels / NumHeads) : (channels / NumHeadChannels, NumHeadChannels);
}
