using System.Text.Json;
using FifoPipes.Torch.Nn;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace FifoPipes.Torch.Text;

/// <summary>The shape of a T5 v1.1 encoder, in HF config.json names (defaults: t5-v1_1-xxl).</summary>
public sealed record T5EncoderConfig
{
    public int VocabSize { get; init; } = 32128;
    public int DModel { get; init; } = 4096;
    public int DKv { get; init; } = 64;
    public int DFf { get; init; } = 10240;
    public int Layers { get; init; } = 24;
    public int Heads { get; init; } = 64;
    public int RelativeAttentionBuckets { get; init; } = 32;
    public int RelativeAttentionMaxDistance { get; init; } = 128;
    public double LayerNormEpsilon { get; init; } = 1e-6;

    public static T5EncoderConfig V1_1Xxl { get; } = new();

    /// <summary>Reads HF's config.json fields; only the gated-GELU (v1.1) feed-forward is supported.</summary>
    public static T5EncoderConfig FromHuggingFace(JsonElement config)
    {
        int Int(string name, int fallback) => config.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt32() : fallback;
        if (config.TryGetProperty("feed_forward_proj", out var ff) && ff.GetString() != "gated-gelu")
            throw new NotSupportedException($"T5 feed_forward_proj '{ff.GetString()}' is not supported; only 'gated-gelu' (T5 v1.1) is.");
        var d = new T5EncoderConfig();
        return new T5EncoderConfig
        {
            VocabSize = Int("vocab_size", d.VocabSize),
            DModel = Int("d_model", d.DModel),
            DKv = Int("d_kv", d.DKv),
            DFf = Int("d_ff", d.DFf),
            Layers = Int("num_layers", d.Layers),
            Heads = Int("num_heads", d.Heads),
            RelativeAttentionBuckets = Int("relative_attention_num_buckets", d.RelativeAttentionBuckets),
            RelativeAttentionMaxDistance = Int("relative_attention_max_distance", d.RelativeAttentionMaxDistance),
            LayerNormEpsilon = config.TryGetProperty("layer_norm_epsilon", out var e) ? e.GetDouble() : d.LayerNormEpsilon,
        };
    }
}

/// <summary>
/// HF's T5EncoderModel (v1.1): <c>shared</c> and <c>encoder.embed_tokens</c> are one embedding (both keys
/// appear in the state dict), then <c>encoder.block.N</c> and <c>encoder.final_layer_norm</c>.
/// In float16 the feed-forward output projection <c>wo</c> stays float32, as HF keeps it
/// (<c>_keep_in_fp32_modules</c>); bfloat16 needs no such care.
/// </summary>
public sealed class T5EncoderModel : Module<Tensor, Tensor, Tensor>
{
    readonly Embedding shared;
    readonly T5Stack encoder;

    public T5EncoderModel(T5EncoderConfig config, Device? device = null, ScalarType? dtype = null) : base(nameof(T5EncoderModel))
    {
        Config = config;
        shared = Embedding(config.VocabSize, config.DModel, device: device, dtype: dtype);
        encoder = new T5Stack(config, shared, device, dtype);
        register_module("shared", shared);
        register_module("encoder", encoder);
    }

    public T5EncoderConfig Config { get; }

    /// <param name="inputIds">[B, L] int64, right-padded.</param>
    /// <param name="attentionMask">[B, L], 1 for real tokens (incl. &lt;/s&gt;), 0 for padding.</param>
    /// <returns>last_hidden_state [B, L, d_model] (pad positions included: they are not zeroed).</returns>
    public override Tensor forward(Tensor inputIds, Tensor attentionMask) => encoder.forward(inputIds, attentionMask);
}

/// <summary>The encoder stack: embedding lookup (unscaled), blocks sharing block 0's position bias, final RMSNorm.</summary>
public sealed class T5Stack : Module<Tensor, Tensor, Tensor>
{
    readonly Embedding embed_tokens;
    readonly ModuleList<T5Block> block;
    readonly RmsNorm final_layer_norm;

    public T5Stack(T5EncoderConfig config, Embedding embedTokens, Device? device, ScalarType? dtype) : base(nameof(T5Stack))
    {
        embed_tokens = embedTokens;
        block = new ModuleList<T5Block>(Enumerable.Range(0, config.Layers)
            .Select(i => new T5Block(config, hasRelativeBias: i == 0, device, dtype)).ToArray());
        final_layer_norm = new RmsNorm(config.DModel, config.LayerNormEpsilon, device, dtype);
        register_module("embed_tokens", embed_tokens);
        register_module("block", block);
        register_module("final_layer_norm", final_layer_norm);
    }

    public override Tensor forward(Tensor inputIds, Tensor attentionMask)
    {
        using var scope = NewDisposeScope();
        long length = inputIds.shape[1];
        var x = embed_tokens.forward(inputIds);
        // Block 0's relative bias plus the key mask, computed once in float32 and reused by every block.
        var maskBias = (1 - attentionMask.to(ScalarType.Float32)) * float.MinValue;
        var bias = block[0].Layer0.Attention.PositionBias(length, x.device) + maskBias.view(maskBias.shape[0], 1, 1, length);
        foreach (var b in block) x = b.forward(x, bias);
        return final_layer_norm.forward(x).MoveToOuterDisposeScope();
    }
}

/// <summary>One encoder block: <c>layer.0</c> self-attention, <c>layer.1</c> gated feed-forward, both pre-norm residual.</summary>
public sealed class T5Block : Module<Tensor, Tensor, Tensor>
{
    readonly ModuleList<Module> layer;

    public T5Block(T5EncoderConfig config, bool hasRelativeBias, Device? device, ScalarType? dtype) : base(nameof(T5Block))
    {
        layer = new ModuleList<Module>(
            new T5LayerSelfAttention(config, hasRelativeBias, device, dtype),
            new T5LayerFF(config, device, dtype));
        register_module("layer", layer);
    }

    public T5LayerSelfAttention Layer0 => (T5LayerSelfAttention)layer[0];
    public T5LayerFF Layer1 => (T5LayerFF)layer[1];

    public override Tensor forward(Tensor x, Tensor bias)
    {
        using var scope = NewDisposeScope();
        x = Layer1.forward(Layer0.forward(x, bias));
        return ClampInHalf(x).MoveToOuterDisposeScope();
    }

    /// <summary>HF clamps ±inf in float16 so a rare overflow does not poison later blocks.</summary>
    internal static Tensor ClampInHalf(Tensor x)
    {
        if (x.dtype != ScalarType.Float16) return x;
        double limit = 65504.0 - 1000.0;
        return x.clamp(-limit, limit);
    }
}

public sealed class T5LayerSelfAttention : Module<Tensor, Tensor, Tensor>
{
    readonly T5Attention SelfAttention;
    readonly RmsNorm layer_norm;

    public T5LayerSelfAttention(T5EncoderConfig config, bool hasRelativeBias, Device? device, ScalarType? dtype) : base(nameof(T5LayerSelfAttention))
    {
        SelfAttention = new T5Attention(config, hasRelativeBias, device, dtype);
        layer_norm = new RmsNorm(config.DModel, config.LayerNormEpsilon, device, dtype);
        register_module("SelfAttention", SelfAttention);
        register_module("layer_norm", layer_norm);
    }

    public T5Attention Attention => SelfAttention;

    public override Tensor forward(Tensor x, Tensor bias)
    {
        using var scope = NewDisposeScope();
        return (x + SelfAttention.forward(layer_norm.forward(x), bias)).MoveToOuterDisposeScope();
    }
}

public sealed class T5LayerFF : Module<Tensor, Tensor>
{
    readonly T5GatedGeluDense DenseReluDense;
    readonly RmsNorm layer_norm;

    public T5LayerFF(T5EncoderConfig config, Device? device, ScalarType? dtype) : base(nameof(T5LayerFF))
    {
        DenseReluDense = new T5GatedGeluDense(config, device, dtype);
        layer_norm = new RmsNorm(config.DModel, config.LayerNormEpsilon, device, dtype);
        register_module("DenseReluDense", DenseReluDense);
        register_module("layer_norm", layer_norm);
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var y = T5Block.ClampInHalf(x);
        return (y + DenseReluDense.forward(layer_norm.forward(y))).MoveToOuterDisposeScope();
    }
}

/// <summary>T5 v1.1's gated-GELU feed-forward: <c>wo</c>(gelu_tanh(<c>wi_0</c> x) · <c>wi_1</c> x), no biases.</summary>
public sealed class T5GatedGeluDense : Module<Tensor, Tensor>
{
    readonly Linear wi_0;
    readonly Linear wi_1;
    readonly Linear wo;

    public T5GatedGeluDense(T5EncoderConfig config, Device? device, ScalarType? dtype) : base(nameof(T5GatedGeluDense))
    {
        wi_0 = Linear(config.DModel, config.DFf, hasBias: false, device: device, dtype: dtype);
        wi_1 = Linear(config.DModel, config.DFf, hasBias: false, device: device, dtype: dtype);
        // The activations reaching wo overflow float16 in t5-v1_1-xxl.
        var woDtype = dtype == ScalarType.Float16 ? ScalarType.Float32 : dtype;
        wo = Linear(config.DFf, config.DModel, hasBias: false, device: device, dtype: woDtype);
        register_module("wi_0", wi_0);
        register_module("wi_1", wi_1);
        register_module("wo", wo);
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var gate = functional.gelu(wi_0.forward(x), approximate: TorchSharp.Modules.GELU.Approximate.tanh);
        var hidden = gate * wi_1.forward(x);
        return wo.forward(hidden.to(wo.weight!.dtype)).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// T5 self-attention: q, k, v, o without biases, scores q·kᵀ with no 1/√d scaling, plus an additive bias
/// (relative positions and mask), softmax in float32. Block 0 also owns <c>relative_attention_bias</c>.
/// </summary>
public sealed class T5Attention : Module<Tensor, Tensor, Tensor>
{
    readonly Linear q;
    readonly Linear k;
    readonly Linear v;
    readonly Linear o;
    readonly Embedding? relative_attention_bias;
    readonly int heads;
    readonly int dKv;
    readonly int buckets;
    readonly int maxDistance;

    public T5Attention(T5EncoderConfig config, bool hasRelativeBias, Device? device, ScalarType? dtype) : base(nameof(T5Attention))
    {
        heads = config.Heads;
        dKv = config.DKv;
        buckets = config.RelativeAttentionBuckets;
        maxDistance = config.RelativeAttentionMaxDistance;
        long inner = (long)heads * dKv;
        q = Linear(config.DModel, inner, hasBias: false, device: device, dtype: dtype);
        k = Linear(config.DModel, inner, hasBias: false, device: device, dtype: dtype);
        v = Linear(config.DModel, inner, hasBias: false, device: device, dtype: dtype);
        o = Linear(inner, config.DModel, hasBias: false, device: device, dtype: dtype);
        register_module("q", q);
        register_module("k", k);
        register_module("v", v);
        register_module("o", o);
        if (hasRelativeBias)
        {
            relative_attention_bias = Embedding(buckets, heads, device: device, dtype: dtype);
            register_module("relative_attention_bias", relative_attention_bias);
        }
    }

    /// <param name="x">Normalised hidden states [B, L, d].</param>
    /// <param name="bias">Float32 score bias broadcastable to [B, heads, L, L].</param>
    public override Tensor forward(Tensor x, Tensor bias)
    {
        using var scope = NewDisposeScope();
        long batch = x.shape[0], length = x.shape[1];
        Tensor Heads(Tensor t) => t.view(batch, length, heads, dKv).transpose(1, 2);
        var scores = matmul(Heads(q.forward(x)), Heads(k.forward(x)).transpose(2, 3));
        var weights = functional.softmax(scores.to(ScalarType.Float32) + bias, -1).to(x.dtype);
        var mixed = matmul(weights, Heads(v.forward(x))).transpose(1, 2).reshape(batch, length, (long)heads * dKv);
        return o.forward(mixed).MoveToOuterDisposeScope();
    }

    /// <summary>Block 0's bias [1, heads, L, L] (float32) for keys minus queries.</summary>
    public Tensor PositionBias(long length, Device device)
    {
        if (relative_attention_bias is null)
            throw new InvalidOperationException("Only the first T5 block holds relative_attention_bias.");
        using var scope = NewDisposeScope();
        var positions = arange(length, dtype: ScalarType.Int64, device: device);
        var relative = positions.unsqueeze(0) - positions.unsqueeze(1); // [query, key] = key − query
        var values = relative_attention_bias.forward(RelativePositionBucket(relative, buckets, maxDistance));
        return values.permute(2, 0, 1).unsqueeze(0).to(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// T5's bidirectional bucketing: half the buckets per sign; |rel| below half of those is exact, larger
    /// distances are log-spaced up to <paramref name="maxDistance"/> and saturate. Float32 as the reference.
    /// </summary>
    public static Tensor RelativePositionBucket(Tensor relative, int buckets, int maxDistance)
    {
        using var scope = NewDisposeScope();
        int half = buckets / 2;
        int maxExact = half / 2;
        var signOffset = (relative > 0).to(ScalarType.Int64) * half;
        var distance = relative.abs();
        var logRatio = (distance.to(ScalarType.Float32) / maxExact).log() / (float)Math.Log((double)maxDistance / maxExact) * (float)(half - maxExact);
        var large = (logRatio.to(ScalarType.Int64) + maxExact).clamp_max(half - 1);
        var bucket = signOffset + where(distance < maxExact, distance, large);
        return bucket.MoveToOuterDisposeScope();
    }
}
