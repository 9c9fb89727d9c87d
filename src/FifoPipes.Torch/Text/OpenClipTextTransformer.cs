using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace FifoPipes.Torch.Text;

/// <summary>The shape of an open_clip text tower (defaults: ViT-H-14, as VideoCrafter and SD 2 use it).</summary>
public sealed record OpenClipTextConfig
{
    /// <summary>Token width (open_clip's <c>width</c>; transformers' <c>hidden_size</c>): the output is [B, context, width].</summary>
    public int Width { get; init; } = 1024;
    /// <summary>Residual attention blocks in the checkpoint (<c>layers</c>); the last <see cref="SkipLastLayers"/> of them are not run.</summary>
    public int Layers { get; init; } = 24;
    /// <summary>Attention heads per block (<c>heads</c>); they must split <see cref="Width"/> evenly.</summary>
    public int Heads { get; init; } = 16;
    /// <summary>Rows of <c>token_embedding</c> (<c>vocab_size</c>; 49408 for CLIP's BPE).</summary>
    public int VocabSize { get; init; } = 49408;
    /// <summary>Tokens per prompt, the rows of <c>positional_embedding</c> (<c>context_length</c>); forward takes exactly this many.</summary>
    public int ContextLength { get; init; } = 77;
    /// <summary>Width of the MLP's hidden layer as a multiple of <see cref="Width"/> (<c>mlp_ratio</c>).</summary>
    public int MlpRatio { get; init; } = 4;
    /// <summary>text_projection's output width (the CLIP embed_dim; unused by diffusion models but present in checkpoints).</summary>
    public int EmbedDim { get; init; } = 1024;
    /// <summary>How many resblocks from the end to skip: 1 = "penultimate" (VideoCrafter, SD 2), 0 = "last".</summary>
    public int SkipLastLayers { get; init; } = 1;

    /// <summary>OpenCLIP ViT-H-14's text tower (width 1024, 24 layers, 16 heads) used at the penultimate layer, as VideoCrafter's <c>cond_stage_model.model</c>.</summary>
    public static OpenClipTextConfig VitH14 { get; } = new();
}

/// <summary>
/// open_clip's text transformer, named as its state dict (token_embedding, positional_embedding,
/// transformer.resblocks.N.*, ln_final, text_projection, logit_scale) so checkpoints load by prefix only.
/// Forward gives the per-token features after ln_final ([B, context, width]), no pooling.
/// </summary>
public sealed class OpenClipTextTransformer : Module<Tensor, Tensor>
{
    readonly OpenClipTextConfig config;
    readonly Embedding token_embedding;
    readonly Parameter positional_embedding;
    readonly TextTransformer transformer;
    readonly LayerNorm ln_final;
    // Present in every open_clip checkpoint but not used for conditioning; kept so strict loading works.
    readonly Parameter text_projection;
    readonly Parameter logit_scale;

    /// <summary>
    /// Builds the tower on <paramref name="device"/> in <paramref name="dtype"/>. Several parameters (<c>positional_embedding</c>,
    /// the packed in_proj, <c>text_projection</c>, <c>logit_scale</c>, the LayerNorms) start uninitialised, so load a checkpoint before running it.
    /// </summary>
    public OpenClipTextTransformer(OpenClipTextConfig config, Device? device = null, ScalarType? dtype = null) : base(nameof(OpenClipTextTransformer))
    {
        this.config = config;
        token_embedding = Embedding(config.VocabSize, config.Width, device: device, dtype: dtype);
        positional_embedding = new Parameter(empty(new long[] { config.ContextLength, config.Width }, dtype, device), requires_grad: false);
        transformer = new TextTransformer(config, device, dtype);
        ln_final = LayerNorm(config.Width, eps: 1e-5, device: device, dtype: dtype);
        text_projection = new Parameter(empty(new long[] { config.Width, config.EmbedDim }, dtype, device), requires_grad: false);
        logit_scale = new Parameter(empty(Array.Empty<long>(), dtype, device), requires_grad: false);
        RegisterComponents();
    }

    /// <summary>The configuration it was built from.</summary>
    public OpenClipTextConfig Config => config;

    /// <param name="tokens">[B, context] int64 token ids.</param>
    public override Tensor forward(Tensor tokens)
    {
        using var scope = NewDisposeScope();
        var x = token_embedding.forward(tokens) + positional_embedding;
        int active = config.Layers - config.SkipLastLayers;
        // Causal over all positions, padding included (open_clip builds no padding mask).
        using var mask = full(config.ContextLength, config.ContextLength, float.NegativeInfinity, x.dtype, x.device).triu(1);
        x = transformer.forward(x, mask, active);
        return ln_final.forward(x).MoveToOuterDisposeScope();
    }
}

/// <summary>open_clip's Transformer: just the resblocks list.</summary>
public sealed class TextTransformer : Module
{
    readonly ModuleList<ResidualAttentionBlock> resblocks;

    /// <summary>Builds all <see cref="OpenClipTextConfig.Layers"/> blocks (<c>resblocks.N</c>), skipped ones included, so every checkpoint key loads.</summary>
    public TextTransformer(OpenClipTextConfig config, Device? device, ScalarType? dtype) : base(nameof(TextTransformer))
    {
        resblocks = new ModuleList<ResidualAttentionBlock>(
            Enumerable.Range(0, config.Layers).Select(_ => new ResidualAttentionBlock(config, device, dtype)).ToArray());
        RegisterComponents();
    }

    /// <summary>Runs the first <paramref name="layers"/> blocks.</summary>
    public Tensor forward(Tensor x, Tensor mask, int layers)
    {
        for (int i = 0; i < layers; i++) x = resblocks[i].forward(x, mask);
        return x;
    }
}

/// <summary>Pre-LN block: x += attn(ln_1 x); x += mlp(ln_2 x) with c_fc, exact GELU, c_proj.</summary>
public sealed class ResidualAttentionBlock : Module
{
    readonly LayerNorm ln_1;
    readonly PackedMultiheadAttention attn;
    readonly LayerNorm ln_2;
    readonly Sequential mlp;

    /// <summary>A block of <see cref="OpenClipTextConfig.Width"/> with <c>ln_1</c>, <c>attn</c>, <c>ln_2</c> and <c>mlp.c_fc</c>/<c>mlp.c_proj</c>; LayerNorm eps 1e-5.</summary>
    public ResidualAttentionBlock(OpenClipTextConfig config, Device? device, ScalarType? dtype) : base(nameof(ResidualAttentionBlock))
    {
        int w = config.Width, hidden = w * config.MlpRatio;
        ln_1 = LayerNorm(w, eps: 1e-5, device: device, dtype: dtype);
        attn = new PackedMultiheadAttention(w, config.Heads, device, dtype);
        ln_2 = LayerNorm(w, eps: 1e-5, device: device, dtype: dtype);
        mlp = Sequential(
            ("c_fc", Linear(w, hidden, device: device, dtype: dtype)),
            ("gelu", GELU()),
            ("c_proj", Linear(hidden, w, device: device, dtype: dtype)));
        RegisterComponents();
    }

    /// <param name="x">[B, L, width].</param>
    /// <param name="mask">Additive [L, L] score mask (−inf above the diagonal for the causal text tower).</param>
    /// <returns>[B, L, width].</returns>
    public Tensor forward(Tensor x, Tensor mask)
    {
        using var scope = NewDisposeScope();
        x = x + attn.forward(ln_1.forward(x), mask);
        x = x + mlp.forward(ln_2.forward(x));
        return x.MoveToOuterDisposeScope();
    }
}

/// <summary>torch.nn.MultiheadAttention's parameters (packed in_proj q,k,v and out_proj), self-attention only, batch first.</summary>
public sealed class PackedMultiheadAttention : Module
{
    readonly Parameter in_proj_weight;
    readonly Parameter in_proj_bias;
    readonly Linear out_proj;
    readonly int heads;

    /// <summary>
    /// <c>in_proj_weight</c> [3·width, width] and <c>in_proj_bias</c> [3·width] (uninitialised until loaded), <c>out_proj</c>
    /// [width, width]; <paramref name="heads"/> must divide <paramref name="width"/>.
    /// </summary>
    public PackedMultiheadAttention(int width, int heads, Device? device, ScalarType? dtype) : base(nameof(PackedMultiheadAttention))
    {
        this.heads = heads;
        in_proj_weight = new Parameter(empty(new long[] { 3 * width, width }, dtype, device), requires_grad: false);
        in_proj_bias = new Parameter(empty(new long[] { 3 * width }, dtype, device), requires_grad: false);
        out_proj = Linear(width, width, device: device, dtype: dtype);
        RegisterComponents();
    }

    /// <param name="x">[B, L, W]</param>
    /// <param name="additiveMask">[L, L], added to the scores (−inf blocks).</param>
    public Tensor forward(Tensor x, Tensor additiveMask)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], l = x.shape[1], w = x.shape[2], d = w / heads;
        var qkv = functional.linear(x, in_proj_weight, in_proj_bias).view(b, l, 3, heads, d).permute(2, 0, 3, 1, 4);
        // SDPA has no scale argument; 1/sqrt(d) is its default and what MultiheadAttention uses.
        var o = functional.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], attn_mask: additiveMask);
        return out_proj.forward(o.transpose(1, 2).reshape(b, l, w)).MoveToOuterDisposeScope();
    }
}
