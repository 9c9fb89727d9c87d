using System.Text.RegularExpressions;
using FifoPipes.Torch.Checkpoints;
using FifoPipes.Torch.Text;
using static TorchSharp.torch;

namespace FifoPipes.Torch.Diffusers;

/// <summary>
/// transformers' <c>CLIPTextModel</c> (its <c>last_hidden_state</c>) on our open_clip-named
/// <see cref="OpenClipTextTransformer"/>: run all num_hidden_layers blocks, then the final LayerNorm.
/// Keys are renamed and the separate q/k/v projections concatenated into open_clip's packed in_proj.
/// </summary>
public static partial class HfClipTextModel
{
    /// <summary>open_clip parameters with no CLIPTextModel counterpart (the contrastive head); never used for conditioning.</summary>
    public static readonly IReadOnlySet<string> UnusedOpenClipParameters = new HashSet<string>(StringComparer.Ordinal) { "text_projection", "logit_scale" };

    /// <summary>
    /// Maps a transformers CLIPTextConfig onto <see cref="OpenClipTextConfig"/>, running every layer (a diffusers text encoder that
    /// wants the penultimate layer, like zeroscope's, ships without the last). Throws <c>FifoInputException</c>
    /// "DiffusersConfigUnsupported" unless hidden_act is "gelu" and layer_norm_eps is 1e-5, and "DiffusersConfigInvalid" for
    /// widths that do not divide evenly or sizes far beyond any released text encoder (see DiffusersLimits).
    /// </summary>
    /// <param name="warnings">One message per config key that nothing read, for the caller to log.</param>
    public static OpenClipTextConfig ConfigFrom(DiffusersConfig c, out IReadOnlyList<string> warnings)
    {
        c.Ignore("_name_or_path", "architectures", "model_type", "torch_dtype", "transformers_version",
            // training-only or used by other heads / the tokenizer, not by last_hidden_state
            "attention_dropout", "dropout", "initializer_factor", "initializer_range", "projection_dim",
            "bos_token_id", "eos_token_id", "pad_token_id");
        int width = c.Int("hidden_size", 512, 1, DiffusersLimits.MaxWidth);
        int intermediate = c.Int("intermediate_size", 2048);
        int heads = c.Int("num_attention_heads", 8, 1, DiffusersLimits.MaxWidth);
        int layers = c.Int("num_hidden_layers", 12, 1, DiffusersLimits.MaxTextLayers);
        int vocab = c.Int("vocab_size", 49408, 1, DiffusersLimits.MaxVocabulary);
        int positions = c.Int("max_position_embeddings", 77, 1, DiffusersLimits.MaxPositions);
        c.Expect("hidden_act", "gelu");
        c.Expect("layer_norm_eps", 1e-5);
        bool widthUsable = width is >= 1 and <= DiffusersLimits.MaxWidth;
        if (widthUsable && heads >= 1 && width % heads != 0) c.Invalid("num_attention_heads", $"must split hidden_size {width} into equal heads");
        // The MLP is hidden_size × (intermediate_size / hidden_size) wide: the ratio must be a whole, positive and sane number.
        if (widthUsable && (intermediate < width || intermediate % width != 0 || intermediate / width > DiffusersLimits.MaxMlpRatio))
            c.Invalid("intermediate_size", $"must be hidden_size {width} times 1..{DiffusersLimits.MaxMlpRatio}");
        warnings = c.Finish("CLIPTextModel");
        return new OpenClipTextConfig
        {
            Width = width,
            Layers = layers,
            Heads = heads,
            VocabSize = vocab,
            ContextLength = positions,
            MlpRatio = intermediate / width,
            EmbedDim = width,
            SkipLastLayers = 0,
        };
    }

    /// <summary>The open_clip key for a CLIPTextModel key; null drops it (the position_ids buffer of older saves).</summary>
    public static MappedKey? MapKey(string key)
    {
        if (key == "text_model.embeddings.position_ids") return null;
        foreach (var (from, to) in Renames)
            if (key.StartsWith(from, StringComparison.Ordinal)) return new MappedKey(to + key[from.Length..]);
        var m = LayerKey().Match(key);
        if (m.Success)
        {
            var rest = m.Groups[2].Value;
            foreach (var (from, to) in LayerRenames)
                if (rest.StartsWith(from, StringComparison.Ordinal))
                    return new MappedKey($"transformer.resblocks.{m.Groups[1].Value}.{to}{rest[from.Length..]}");
        }
        return new MappedKey(key);
    }

    static readonly (string From, string To)[] Renames =
    {
        ("text_model.embeddings.token_embedding.", "token_embedding."),
        ("text_model.embeddings.position_embedding.weight", "positional_embedding"),
        ("text_model.final_layer_norm.", "ln_final."),
    };

    static readonly (string From, string To)[] LayerRenames =
    {
        ("self_attn.out_proj.", "attn.out_proj."),
        ("layer_norm1.", "ln_1."),
        ("layer_norm2.", "ln_2."),
        ("mlp.fc1.", "mlp.c_fc."),
        ("mlp.fc2.", "mlp.c_proj."),
    };

    /// <summary>
    /// Renames a CLIPTextModel state dict to open_clip's, packing each layer's q/k/v projections into
    /// <c>attn.in_proj_weight</c> / <c>in_proj_bias</c> ([3D, D] = cat(q, k, v), torch's MultiheadAttention layout).
    /// A layer missing one of the three keeps its HF names, so strict loading reports it.
    /// </summary>
    public static IEnumerable<(string Name, Tensor Tensor)> ToOpenClip(IEnumerable<(string Name, Tensor Tensor)> source)
    {
        var pending = new Dictionary<(string Layer, string Kind), Dictionary<string, (string Key, Tensor Tensor)>>();
        foreach (var (name, tensor) in source)
        {
            var m = QkvKey().Match(name);
            if (!m.Success)
            {
                var mapped = MapKey(name);
                if (mapped is null) { tensor.Dispose(); continue; }
                yield return (mapped.Key, tensor);
                continue;
            }
            var slot = (m.Groups[1].Value, m.Groups[3].Value);
            if (!pending.TryGetValue(slot, out var parts)) pending[slot] = parts = new Dictionary<string, (string, Tensor)>(StringComparer.Ordinal);
            parts[m.Groups[2].Value] = (name, tensor);
            if (parts.Count < 3) continue;
            pending.Remove(slot);
            var packed = cat(new[] { parts["q"].Tensor, parts["k"].Tensor, parts["v"].Tensor }, 0);
            foreach (var p in parts.Values) p.Tensor.Dispose();
            yield return ($"transformer.resblocks.{slot.Item1}.attn.in_proj_{slot.Item2}", packed);
        }
        foreach (var parts in pending.Values)
            foreach (var (key, tensor) in parts.Values) yield return (key, tensor);
    }

    [GeneratedRegex(@"^text_model\.encoder\.layers\.(\d+)\.(.+)$")]
    private static partial Regex LayerKey();
    [GeneratedRegex(@"^text_model\.encoder\.layers\.(\d+)\.self_attn\.(q|k|v)_proj\.(weight|bias)$")]
    private static partial Regex QkvKey();

    /// <summary>
    /// Refuses ("CheckpointMismatch") a <paramref name="config"/> that asks for more parameters than <paramref name="weights"/>
    /// hold (the unused contrastive head aside): what <see cref="Load(DiffusersWeights, OpenClipTextConfig, ScalarType, Device?)"/>
    /// checks first, for a check that loads nothing.
    /// </summary>
    public static void RequireWeights(DiffusersWeights weights, OpenClipTextConfig config) =>
        DiffusersLimits.RequireWeightsFor(meta => new OpenClipTextTransformer(config, meta), weights, "CLIPTextModel", UnusedOpenClipParameters);

    /// <summary>
    /// Builds the text tower and streams the component's weight files into it, cast to <paramref name="dtype"/> (strict except
    /// the unused contrastive head). A config asking for more parameters than the files hold is refused ("CheckpointMismatch")
    /// before anything is allocated.
    /// </summary>
    public static OpenClipTextTransformer Load(DiffusersWeights weights, OpenClipTextConfig config, ScalarType dtype = ScalarType.Float32, Device? device = null)
    {
        RequireWeights(weights, config);
        return Load(weights.Stream(dtype), weights.Describe(), config, dtype, device);
    }

    /// <summary>Builds the text tower and streams CLIPTextModel-named tensors into it (strict except the unused contrastive head).</summary>
    public static OpenClipTextTransformer Load(IEnumerable<(string Name, Tensor Tensor)> tensors, string source, OpenClipTextConfig config, ScalarType dtype = ScalarType.Float32, Device? device = null)
    {
        var model = new OpenClipTextTransformer(config, device, dtype);
        try
        {
            StateDictLoader.Load(model, ToOpenClip(tensors), new StateDictMapping { Ignored = UnusedOpenClipParameters }, source);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        model.eval();
        return model;
    }

}
