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
    /// <summary>Rows of the shared token embedding (<c>vocab_size</c>).</summary>
    public int VocabSize { get; init; } = 32128;
    /// <summary>Width of every hidden state (<c>d_model</c>): the encoder returns [B, L, d_model].</summary>
    public int DModel { get; init; } = 4096;
    /// <summary>Width of one attention head (<c>d_kv</c>); q, k and v project to heads·d_kv.</summary>
    public int DKv { get; init; } = 64;
    /// <summary>Inner width of the gated-GELU feed-forward (<c>d_ff</c>).</summary>
    public int DFf { get; init; } = 10240;
    /// <summary>Encoder blocks (<c>num_layers</c>).</summary>
    public int Layers { get; init; } = 24;
    /// <summary>Attention heads per block (<c>num_heads</c>).</summary>
    public int Heads { get; init; } = 64;
    /// <summary>Buckets of the relative position bias, half for each direction (<c>relative_attention_num_buckets</c>).</summary>
    public int RelativeAttentionBuckets { get; init; } = 32;
    /// <summary>Distance in tokens from which relative positions share the outermost bucket (<c>relative_attention_max_distance</c>).</summary>
    public int RelativeAttentionMaxDistance { get; init; } = 128;
    /// <summary>Epsilon of every RMSNorm (<c>layer_norm_epsilon</c>).</summary>
    public double LayerNormEpsilon { get; init; } = 1e-6;

    /// <summary>t5-v1_1-xxl's encoder (d_model 4096, 24 layers, 64 heads of 64), Open-Sora Plan's text encoder.</summary>
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

    /// <summary>Builds the encoder on <paramref name="device"/> in <paramref name="dtype"/> with fresh weights (float16 keeps every <c>wo</c> in float32); load an HF T5EncoderModel state dict into it.</summary>
    public T5EncoderModel(T5EncoderConfig config, Device? device = null, ScalarType? dtype = null) : base(nameof(T5EncoderModel))
    {
        Config = config;
        shared = Embedding(config.VocabSize, config.DModel, device: device, dtype: dtype);
        encoder = new T5Stack(config, shared, device, dtype);
        register_module("shared", shared);
        register_module("encoder", encoder);
    }

    /// <summary>The configuration it was built from.</summary>
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

    /// <param name="embedTokens">The model's <c>shared</c> embedding, registered here again as <c>embed_tokens</c> so both keys load the same weights.</param>
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

    /// <param name="inputIds">[B, L] int64 token ids.</param>
    /// <param name="attentionMask">[B, L], 1 for real tokens, 0 for padding; it masks keys only, so pad positions still get outputs.</param>
    /// <returns>The hidden states after <c>final_layer_norm</c>, [B, L, d_model].</returns>
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

    /// <param name="hasRelativeBias">True for block 0 only, which owns <c>layer.0.SelfAttention.relative_attention_bias</c>.</param>
    public T5Block(T5EncoderConfig config, bool hasRelativeBias, Device? device, ScalarType? dtype) : base(nameof(T5Block))
    {
        layer = new ModuleList<Module>(
            new T5LayerSelfAttention(config, hasRelativeBias, device, dtype),
            new T5LayerFF(config, device, dtype));
        register_module("layer", layer);
    }

    /// <summary><c>layer.0</c>, the self-attention sublayer (block 0's also computes the shared position bias).</summary>
    public T5LayerSelfAttention Layer0 => (T5LayerSelfAttention)layer[0];
    /// <summary><c>layer.1</c>, the feed-forward sublayer.</summary>
    public T5LayerFF Layer1 => (T5LayerFF)layer[1];

    /// <param name="x">Hidden states [B, L, d_model].</param>
    /// <param name="bias">Float32 score bias (position bias plus key mask) broadcastable to [B, heads, L, L], the same for every block.</param>
    /// <returns>[B, L, d_model]; float16 values are clamped to ±64504, as HF does, so an overflow does not reach later blocks.</returns>
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

/// <summary>A block's <c>layer.0</c>: x + <c>SelfAttention</c>(<c>layer_norm</c>(x)), pre-RMSNorm residual.</summary>
public sealed class T5LayerSelfAttention : Module<Tensor, Tensor, Tensor>
{
    readonly T5Attention SelfAttention;
    readonly RmsNorm layer_norm;

    /// <param name="hasRelativeBias">True for block 0 only, whose attention owns <c>relative_attention_bias</c>.</param>
    public T5LayerSelfAttention(T5EncoderConfig config, bool hasRelativeBias, Device? device, ScalarType? dtype) : base(nameof(T5LayerSelfAttention))
    {
        SelfAttention = new T5Attention(config, hasRelativeBias, device, dtype);
        layer_norm = new RmsNorm(config.DModel, config.LayerNormEpsilon, device, dtype);
        register_module("SelfAttention", SelfAttention);
        register_module("layer_norm", layer_norm);
    }

    /// <summary>The <c>SelfAttention</c> module, through which the stack takes block 0's <see cref="T5Attention.PositionBias"/>.</summary>
    public T5Attention Attention => SelfAttention;

    /// <summary>[B, L, d_model] → [B, L, d_model]; <paramref name="bias"/> is the float32 score bias broadcastable to [B, heads, L, L].</summary>
    public override Tensor forward(Tensor x, Tensor bias)
    {
        using var scope = NewDisposeScope();
        return (x + SelfAttention.forward(layer_norm.forward(x), bias)).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// A block's <c>layer.1</c>: y + <c>DenseReluDense</c>(<c>layer_norm</c>(y)) (gated GELU despite the key's name), where y is the input,
/// clamped in float16 as HF clamps the attention sublayer's output.
/// </summary>
public sealed class T5LayerFF : Module<Tensor, Tensor>
{
    readonly T5GatedGeluDense DenseReluDense;
    readonly RmsNorm layer_norm;

    /// <summary>The sublayer's <c>DenseReluDense</c> and <c>layer_norm</c> for <paramref name="config"/>'s widths.</summary>
    public T5LayerFF(T5EncoderConfig config, Device? device, ScalarType? dtype) : base(nameof(T5LayerFF))
    {
        DenseReluDense = new T5GatedGeluDense(config, device, dtype);
        layer_norm = new RmsNorm(config.DModel, config.LayerNormEpsilon, device, dtype);
        register_module("DenseReluDense", DenseReluDense);
        register_module("layer_norm", layer_norm);
    }

    /// <summary>[B, L, d_model] → [B, L, d_model]; float32 when the model is float16, because <c>wo</c>'s output is.</summary>
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

    /// <summary>
    /// <c>wi_0</c> and <c>wi_1</c> [d_ff, d_model] and <c>wo</c> [d_model, d_ff], without biases. With a float16 <paramref name="dtype"/>,
    /// <c>wo</c> is float32 because the activations that reach it overflow float16 in t5-v1_1-xxl.
    /// </summary>
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

    /// <summary>[B, L, d_model] → [B, L, d_model] in <c>wo</c>'s dtype (float32 when the model is float16).</summary>
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

    /// <summary>q, k, v [heads·d_kv, d_model] and o [d_model, heads·d_kv], none with a bias.</summary>
    /// <param name="hasRelativeBias">Owns <c>relative_attention_bias</c> [buckets, heads] (block 0 only), which <see cref="PositionBias"/> needs.</param>
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
