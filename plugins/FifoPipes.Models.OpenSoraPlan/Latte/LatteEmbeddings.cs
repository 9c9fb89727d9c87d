using FifoPipes.Torch.Nn;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace FifoPipes.Models.OpenSoraPlan.Latte;

/// <summary>diffusers TimestepEmbedding: <c>linear_1</c> → SiLU → <c>linear_2</c>.</summary>
public sealed class TimestepMlp : Module<Tensor, Tensor>
{
    readonly Linear linear_1;
    readonly Linear linear_2;

    public TimestepMlp(long inDim, long width, Device? device = null, ScalarType? dtype = null) : base(nameof(TimestepMlp))
    {
        linear_1 = Linear(inDim, width, hasBias: true, device: device, dtype: dtype);
        linear_2 = Linear(width, width, hasBias: true, device: device, dtype: dtype);
        register_module("linear_1", linear_1);
        register_module("linear_2", linear_2);
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return linear_2.forward(functional.silu(linear_1.forward(x))).MoveToOuterDisposeScope();
    }
}

/// <summary>PixArtAlphaCombinedTimestepSizeEmbeddings without size conditioning: only <c>timestep_embedder</c>.</summary>
public sealed class CombinedTimestepEmbedding : Module<Tensor, Tensor>
{
    public const int SinusoidChannels = 256;
    readonly TimestepMlp timestep_embedder;

    public CombinedTimestepEmbedding(long width, Device? device = null, ScalarType? dtype = null) : base(nameof(CombinedTimestepEmbedding))
    {
        timestep_embedder = new TimestepMlp(SinusoidChannels, width, device, dtype);
        register_module("timestep_embedder", timestep_embedder);
    }

    /// <summary>Timesteps [N] → emb_t [N, d]; the sinusoid is [cos | sin] in float32, cast to the weights' dtype.</summary>
    public override Tensor forward(Tensor timesteps)
    {
        using var scope = NewDisposeScope();
        var dtype = timestep_embedder.parameters().First().dtype;
        var sinusoid = TimestepSinusoid.Embed(timesteps, SinusoidChannels, cosFirst: true).to(dtype);
        return timestep_embedder.forward(sinusoid).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// PixArt-α's AdaLayerNormSingle: <c>emb</c> gives emb_t [N, d] and <c>linear</c>(SiLU(emb_t)) the six
/// shared modulation vectors t6 [N, 6d] that every block offsets by its own table.
/// </summary>
public sealed class AdaLayerNormSingle : Module<Tensor, (Tensor T6, Tensor EmbT)>
{
    readonly CombinedTimestepEmbedding emb;
    readonly Linear linear;

    public AdaLayerNormSingle(long width, Device? device = null, ScalarType? dtype = null) : base(nameof(AdaLayerNormSingle))
    {
        emb = new CombinedTimestepEmbedding(width, device, dtype);
        linear = Linear(width, 6 * width, hasBias: true, device: device, dtype: dtype);
        register_module("emb", emb);
        register_module("linear", linear);
    }

    public override (Tensor T6, Tensor EmbT) forward(Tensor timesteps)
    {
        using var scope = NewDisposeScope();
        var embT = emb.forward(timesteps);
        var t6 = linear.forward(functional.silu(embT));
        return (t6.MoveToOuterDisposeScope(), embT.MoveToOuterDisposeScope());
    }
}

/// <summary>
/// PixArtAlphaTextProjection: <c>linear_1</c> → tanh GELU → <c>linear_2</c>, plus the <c>y_embedding</c>
/// buffer (the learned null caption of training; the checkpoint holds it, inference never reads it).
/// </summary>
public sealed class CaptionProjection : Module<Tensor, Tensor>
{
    readonly Tensor y_embedding;
    readonly Linear linear_1;
    readonly Linear linear_2;

    public CaptionProjection(long captionChannels, long width, int captionTokens, Device? device = null, ScalarType? dtype = null) : base(nameof(CaptionProjection))
    {
        y_embedding = zeros(new long[] { captionTokens, captionChannels }, dtype: dtype, device: device);
        linear_1 = Linear(captionChannels, width, hasBias: true, device: device, dtype: dtype);
        linear_2 = Linear(width, width, hasBias: true, device: device, dtype: dtype);
        register_buffer("y_embedding", y_embedding);
        register_module("linear_1", linear_1);
        register_module("linear_2", linear_2);
    }

    public override Tensor forward(Tensor caption)
    {
        using var scope = NewDisposeScope();
        var hidden = functional.gelu(linear_1.forward(caption), approximate: TorchSharp.Modules.GELU.Approximate.tanh);
        return linear_2.forward(hidden).MoveToOuterDisposeScope();
    }
}

/// <summary>PixArt's PatchEmbed without its table: <c>proj</c> Conv2d(k = s = patch) then tokens row-major [N, P, d].</summary>
public sealed class PatchEmbed : Module<Tensor, Tensor>
{
    readonly Conv2d proj;

    public PatchEmbed(long inChannels, long width, int patch, Device? device = null, ScalarType? dtype = null) : base(nameof(PatchEmbed))
    {
        proj = Conv2d(inChannels, width, patch, stride: patch, bias: true, device: device, dtype: dtype);
        register_module("proj", proj);
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return proj.forward(x).flatten(2).transpose(1, 2).MoveToOuterDisposeScope();
    }
}
