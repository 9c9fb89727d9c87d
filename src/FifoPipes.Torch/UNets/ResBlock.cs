using FifoPipes.Torch.Nn;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace FifoPipes.Torch.UNets;

/// <summary>
/// The reference ResBlock: <c>in_layers</c> [GN32 (fp32), SiLU, conv3×3], + <c>emb_layers</c> [SiLU, Linear]
/// per channel, <c>out_layers</c> [GN32 (fp32), SiLU, (dropout), conv3×3], plus the (1×1 conv) skip; then,
/// with temporal convs, <c>temopral_conv</c> (sic, the checkpoint's spelling) over the frames.
/// </summary>
public sealed class ResBlock : Module<Tensor, FrameConditioning, Tensor>, IFrameLayer
{
    readonly NormSiluConv in_layers;
    readonly Sequential emb_layers;
    readonly NormSiluConv out_layers;
    readonly Module<Tensor, Tensor>? skip_connection;
    readonly TemporalConvBlock? temopral_conv;

    /// <summary>A ResBlock from <paramref name="channels"/> to <paramref name="outChannels"/> fed an <paramref name="embChannels"/>-wide time embedding; its GroupNorms (eps 1e-5) have <paramref name="normGroups"/> groups.</summary>
    /// <param name="temporalConv">Adds <c>temopral_conv</c> (VideoCrafter2, zeroscope).</param>
    /// <param name="tempspatialAware">3×3×3 instead of 3×1×1 kernels in the temporal stack's first two convs.</param>
    public ResBlock(int channels, int embChannels, int outChannels, bool temporalConv, bool tempspatialAware,
        Device? device = null, ScalarType? dtype = null, int normGroups = 32)
        : base(nameof(ResBlock))
    {
        in_layers = new NormSiluConv(new Fp32GroupNorm(normGroups, channels, 1e-5, device, dtype),
            "2", Conv2d(channels, outChannels, 3, padding: 1, device: device, dtype: dtype));
        emb_layers = Sequential(
            ("0", SiLU()),
            ("1", Linear(embChannels, outChannels, device: device, dtype: dtype)));
        out_layers = new NormSiluConv(new Fp32GroupNorm(normGroups, outChannels, 1e-5, device, dtype),
            "3", Conv2d(outChannels, outChannels, 3, padding: 1, device: device, dtype: dtype));
        register_module("in_layers", in_layers);
        register_module("emb_layers", emb_layers);
        register_module("out_layers", out_layers);
        if (outChannels != channels)
        {
            skip_connection = Conv2d(channels, outChannels, 1, device: device, dtype: dtype);
            register_module("skip_connection", skip_connection);
        }
        if (temporalConv)
        {
            temopral_conv = new TemporalConvBlock(outChannels, tempspatialAware, device, dtype, normGroups);
            register_module("temopral_conv", temopral_conv);
        }
    }

    /// <inheritdoc/>
    public Tensor Forward(Tensor h, FrameConditioning cond) => forward(h, cond);

    /// <summary>[(b t), C, H, W] → [(b t), C_out, H, W], <see cref="FrameConditioning.Emb"/> added per channel and frame.</summary>
    public override Tensor forward(Tensor x, FrameConditioning cond)
    {
        using var scope = NewDisposeScope();
        var h = in_layers.forward(x);
        h = h + emb_layers.forward(cond.Emb).to(h.dtype).unsqueeze(-1).unsqueeze(-1);
        h = out_layers.forward(h);
        h = (skip_connection is null ? x : skip_connection.forward(x)) + h;
        if (temopral_conv is not null)
        {
            var video = FrameLayout.ToVideo(h, cond.Batch, cond.Frames);
            h = FrameLayout.ToFrames(LayerTiming.Run(temopral_conv, video, temopral_conv, static (v, conv) => conv.forward(v)));
        }
        return h.MoveToOuterDisposeScope();
    }
}

/// <summary>
/// ModelScope's temporal conv stack on video features [b, C, t, H, W]: four [GN32, SiLU, (dropout),
/// Conv3d k(3,1,1)] stages and a residual; keys <c>conv1.0/.2</c>, <c>conv{2,3,4}.0/.3</c>.
/// GroupNorm statistics span all frames of a sample.
/// </summary>
public sealed class TemporalConvBlock : Module<Tensor, Tensor>
{
    readonly NormSiluConv conv1, conv2, conv3, conv4;

    /// <summary>A stack over <paramref name="channels"/>, its GroupNorms (eps 1e-5) with <paramref name="normGroups"/> groups.</summary>
    /// <param name="spatialAware">3×3×3 kernels in conv1 and conv2 instead of 3×1×1 (<c>tempspatial_aware</c>).</param>
    public TemporalConvBlock(int channels, bool spatialAware, Device? device = null, ScalarType? dtype = null, int normGroups = 32)
        : base(nameof(TemporalConvBlock))
    {
        var wide = spatialAware ? (3L, 3L, 3L) : (3L, 1L, 1L);
        var widePad = spatialAware ? (1L, 1L, 1L) : (1L, 0L, 0L);
        Conv3d Conv((long, long, long) k, (long, long, long) p) =>
            Conv3d(channels, channels, k, padding: p, device: device, dtype: dtype);
        Fp32GroupNorm Norm() => new(normGroups, channels, 1e-5, device, dtype);
        conv1 = new(Norm(), "2", Conv(wide, widePad));
        conv2 = new(Norm(), "3", Conv(wide, widePad));
        conv3 = new(Norm(), "3", Conv((3, 1, 1), (1, 0, 0)));
        conv4 = new(Norm(), "3", Conv((3, 1, 1), (1, 0, 0)));
        register_module("conv1", conv1);
        register_module("conv2", conv2);
        register_module("conv3", conv3);
        register_module("conv4", conv4);
    }

    /// <summary>[b, C, t, H, W] → [b, C, t, H, W]; the convs pad the time axis with zeros.</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = conv4.forward(conv3.forward(conv2.forward(conv1.forward(x))));
        return (h + x).MoveToOuterDisposeScope();
    }
}
