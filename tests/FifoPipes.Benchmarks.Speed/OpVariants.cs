using System.Globalization;
using FifoPipes.Torch.Nn;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace FifoPipes.Benchmarks.Speed;

/// <summary>
/// --ops: the UNet's heaviest operations at the preset's first-level size on the batched schedule's input
/// (--rows x window frames), each timed alone, with the alternatives that compute the same thing beside them
/// and their largest difference, to decide which formulation the UNet should use on this device.
/// </summary>
public sealed class OpVariants(BatchedCall target)
{
    public static int Run(BenchOptions options) => new OpVariants(BatchedCall.From(options)).Run();

    int Run()
    {
        var (preset, device, dtype, rows, t, h, w) = target;
        long n = rows * t, c = preset.UNet.ModelChannels, d = preset.UNet.NumHeadChannels, heads = c / d;
        using var mode = inference_mode();
        using var scope = NewDisposeScope();
        Console.WriteLine($"ops: {n} frames x {c} channels x {h}x{w}, {heads} heads of {d}, {dtype} on {device}");

        var x = randn(new[] { n, c, h, w }, dtype, device);
        var gnWeight = randn(c, dtype: dtype, device: device);
        var gnBias = randn(c, dtype: dtype, device: device);
        Compare("group_norm 32 (frames)",
            ("float32 throughout (unrounded)", () => F.group_norm(x.to(ScalarType.Float32), 32, gnWeight.to(ScalarType.Float32), gnBias.to(ScalarType.Float32), 1e-5)),
            ("float32 statistics by casting", () => F.group_norm(x.to(ScalarType.Float32), 32, gnWeight.to(ScalarType.Float32), gnBias.to(ScalarType.Float32), 1e-5).to(dtype)),
            ("native in the dtype", () => F.group_norm(x, 32, gnWeight, gnBias, 1e-5)));
        // The ResBlocks' and temporal conv stages' pair, as the UNet runs it: the layer itself, eager and scripted. The
        // script's graph executor profiles its first calls and fuses after them, so it runs a few times before it is timed.
        using var norm = new Fp32GroupNorm(32, (int)c, 1e-5, device, dtype);
        using var scriptedNorm = new Fp32GroupNorm(32, (int)c, 1e-5, device, dtype) { Scripted = true };
        scriptedNorm.load_state_dict(norm.state_dict());
        Prewarm(() => scriptedNorm.ForwardSilu(x));
        Compare("group_norm 32 + silu (frames)",
            ("eager: float32 statistics, silu in place", () => norm.ForwardSilu(x)),
            ("scripted: sums, one fused pass", () => scriptedNorm.ForwardSilu(x)));

        var video = x.view(rows, t, c, h, w).permute(0, 2, 1, 3, 4).contiguous();
        var temporalWeight = randn(new[] { c, c, 3L, 1, 1 }, dtype, device) * 0.02;
        Compare("temporal conv k(3,1,1)",
            ("conv3d", () => F.conv3d(video, temporalWeight, padding: new[] { 1L, 0, 0 })),
            ("conv2d over (t, h*w)", () => F.conv2d(video.view(rows, c, t, h * w), temporalWeight.view(c, c, 3, 1), padding: new[] { 1L, 0 }).view(rows, c, t, h, w)));

        var convWeight = randn(new[] { c, c, 3L, 3 }, dtype, device) * 0.02;
        var xLast = ChannelsLast(x);
        var weightLast = ChannelsLast(convWeight);
        Compare("conv2d 3x3",
            ("NCHW", () => F.conv2d(x, convWeight, padding: new[] { 1L, 1 })),
            ("NHWC strides", () => F.conv2d(xLast, weightLast, padding: new[] { 1L, 1 })));

        Compare("layout frames -> video (contiguous)",
            ("permute copy", () => x.view(rows, t, c, h, w).permute(0, 2, 1, 3, 4).contiguous()));

        var q = randn(new[] { n, heads, h * w, d }, dtype, device);
        Report("sdpa spatial self-attention", 4.0 * n * heads * (h * w) * (h * w) * d, () => F.scaled_dot_product_attention(q, q, q));
        // The temporal layers' layout: heads split off the channels of [(b h w), t, heads*d] tokens, a strided view.
        var temporalTokens = randn(new[] { rows * h * w, t, heads, d }, dtype, device);
        var qt = temporalTokens.transpose(1, 2);
        // The same tokens in the per-frame layout [rows, t, h*w, heads*d], and as a strided view of it with the frames as
        // the sequence: attention there would spare the temporal layers both layout copies.
        var frameTokens = temporalTokens.view(rows, h * w, t, c).transpose(1, 2).contiguous();
        var qf = frameTokens.view(rows, t, h * w * heads, d).transpose(1, 2);
        Tensor AsTemporalTokens(Tensor o) => o.reshape(rows, h * w, heads, t, d).reshape(rows * h * w, heads, t, d);
        Compare($"temporal self-attention ({t} keys)",
            ("sdpa", () => F.scaled_dot_product_attention(qt, qt, qt), null),
            ("sdpa, flash kernel off", () => WithoutFlashKernel(() => F.scaled_dot_product_attention(qt, qt, qt)), null),
            ("sdpa on a frame-layout view", () => F.scaled_dot_product_attention(qf, qf, qf), AsTemporalTokens),
            ("explicit scores, float32 softmax", () => ExplicitAttention(qt, qt, qt, d), null),
            ("packed rows, block-diagonal mask", () => PackedAttention(temporalTokens), null));
        var projIn = randn(new[] { c, c }, dtype, device) * 0.05;
        var projInBias = randn(c, dtype: dtype, device: device) * 0.1;
        Compare("temporal entry: norm, tokens, proj_in",
            ("group_norm, token copy, linear", () =>
            {
                using var step = NewDisposeScope();
                var normed = F.group_norm(x.view(rows, t, c, h, w).permute(0, 2, 1, 3, 4), 32, gnWeight, gnBias, 1e-6);
                return F.linear(normed.permute(0, 3, 4, 2, 1).reshape(rows * h * w, t, c), projIn, projInBias).MoveToOuterDisposeScope();
            }, null),
            ("statistics, norm folded into proj_in", () => FoldedTemporalEntry(x, rows, 32, gnWeight, gnBias, 1e-6, projIn, projInBias),
                tokens => tokens.permute(0, 2, 1, 3).reshape(rows * h * w, t, c)));
        Compare("layout video -> temporal tokens",
            ("permute(0,3,4,2,1) copy", () => video.permute(0, 3, 4, 2, 1).reshape(rows * h * w, t, c)));
        var temporalOut = randn(new[] { rows, h, w, t, c }, dtype, device);
        Compare("temporal residual x + y[b,h,w,t,c]",
            ("copy to frames, then add", () => x + temporalOut.permute(0, 3, 4, 1, 2).reshape(n, c, h, w)),
            ("add reading y strided", () => (x.view(rows, t, c, h, w) + temporalOut.permute(0, 3, 4, 1, 2)).view(n, c, h, w)));
        Compare("layout frames -> spatial tokens",
            ("permute(0,2,3,1) copy", () => x.permute(0, 2, 3, 1).reshape(n, h * w, c)));

        var tokens = randn(new[] { n * h * w, c }, dtype, device);
        // The UNet's own GEGLU layer; the alternative below computes the same from its weights.
        using var geglu = new Geglu(c, 4 * c, device, dtype);
        var gegluWeights = geglu.state_dict();
        Tensor projWeight = gegluWeights["proj.weight"], projBias = gegluWeights["proj.bias"];
        using var scriptedGeglu = new Geglu(c, 4 * c, device, dtype) { Scripted = true };
        scriptedGeglu.load_state_dict(gegluWeights);
        Prewarm(() => scriptedGeglu.forward(tokens));
        var outWeight = randn(new[] { c, 4 * c }, dtype, device) * 0.02;
        Report("linear c -> 8c (GEGLU proj)", 2.0 * n * h * w * c * 8 * c, () => F.linear(tokens, projWeight, projBias));
        Compare("GEGLU proj and gate",
            ("one product, chunk, gelu, mul", () =>
            {
                using var step = NewDisposeScope();
                var halves = F.linear(tokens, projWeight, projBias).chunk(2, -1);
                return (halves[0] * F.gelu(halves[1])).MoveToOuterDisposeScope();
            }),
            ("value and gate products, gelu, mul_", () => geglu.forward(tokens)),
            ("value and gate products, scripted gate", () => scriptedGeglu.forward(tokens)));
        var gated = randn(new[] { n * h * w, 4 * c }, dtype, device);
        Report("linear 4c -> c", 2.0 * n * h * w * 4 * c * c, () => F.linear(gated, outWeight));
        Report("layer_norm", 0, () => F.layer_norm(tokens, new[] { c }, gnWeight, gnBias, 1e-5));
        return 0;
    }

    /// <summary>softmax(q kᵀ / √d) v with batched matrix products: measured against the fused kernels for short sequences.</summary>
    static Tensor ExplicitAttention(Tensor q, Tensor k, Tensor v, long headDim)
    {
        using var scope = NewDisposeScope();
        var probabilities = q.matmul(k.transpose(-2, -1)).mul_(1.0 / Math.Sqrt(headDim)).softmax(-1, ScalarType.Float32).to(v.dtype);
        return probabilities.matmul(v).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The UNet's packed attention (<see cref="Attention.PackShortSequences"/>, a candidate off by default) over
    /// [N, L, heads, d] tokens, in the layout of sdpa's output [N, heads, L, d].
    /// </summary>
    static Tensor PackedAttention(Tensor tokens)
    {
        long n = tokens.shape[0], length = tokens.shape[1], heads = tokens.shape[2], d = tokens.shape[3];
        var flat = tokens.view(n, length, heads * d);
        return Attention.PackedAttention(flat, flat, flat, (int)heads, Attention.SequencesPerRow(n, length))
            .view(n, length, heads, d).transpose(1, 2);
    }

    /// <summary>
    /// A candidate for the temporal layers' entry: GroupNorm over each video (statistics across its frames) and proj_in
    /// in one batched product, straight from the per-frame layout [(b t), c, h, w] to per-frame tokens [b, t, h·w, c].
    /// The norm is per sample an affine map of each channel, so it folds into a per-sample proj_in weight and bias; this
    /// spares the norm's output pass and the transposing copy to per-pixel tokens. The per-video weight is repeated for
    /// every frame of the batched product (c·c per frame against the activations' h·w·c), so this can only pay at the
    /// first level, where h·w is 8x the channels.
    /// </summary>
    static Tensor FoldedTemporalEntry(Tensor x, long videos, long groups, Tensor normWeight, Tensor normBias, double eps, Tensor weight, Tensor bias)
    {
        using var scope = NewDisposeScope();
        long frames = x.shape[0] / videos, c = x.shape[1], hw = x.shape[2] * x.shape[3];
        var (variance, mean) = x.view(videos, frames, groups, c / groups * hw).var_mean(new long[] { 1, 3 }, false, false, null);
        var f32 = ScalarType.Float32;
        var scale = variance.to(f32).add_(eps).rsqrt_().repeat_interleave(c / groups, 1) * normWeight.to(f32);    // [b, c]
        var shift = normBias.to(f32) - mean.to(f32).repeat_interleave(c / groups, 1) * scale;                        // [b, c]
        var w32 = weight.to(f32);
        var perVideoWeight = (w32.unsqueeze(0) * scale.unsqueeze(1)).transpose(1, 2).to(x.dtype);                    // [b, c, out]
        var perVideoBias = (shift.matmul(w32.t()) + bias.to(f32)).to(x.dtype);                                       // [b, out]
        var tokens = x.view(videos, frames, c, hw).transpose(2, 3).matmul(perVideoWeight.unsqueeze(1));              // [b, t, hw, out]
        return tokens.add_(perVideoBias.view(videos, 1, 1, -1)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Runs <paramref name="op"/> with PyTorch's flash kernel disabled, so scaled_dot_product_attention takes the
    /// memory-efficient kernel on CUDA, whose smaller query tiles may suit 16-frame sequences better (no effect on the CPU).
    /// </summary>
    static Tensor WithoutFlashKernel(Func<Tensor> op)
    {
        bool enabled = backends.cuda.flash_sdp_enabled();
        backends.cuda.enable_flash_sdp(false);
        try
        {
            return op();
        }
        finally
        {
            backends.cuda.enable_flash_sdp(enabled);
        }
    }

    /// <summary>The same values with channels-last (NHWC) strides, which cuDNN's tensor-core convolutions prefer.</summary>
    static Tensor ChannelsLast(Tensor nchw) => nchw.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);

    void Compare(string what, params (string Name, Func<Tensor> Op)[] variants) =>
        Compare(what, variants.Select(v => (v.Name, v.Op, (Func<Tensor, Tensor>?)null)).ToArray());

    /// <param name="variants">Each with the map (untimed) that puts its result in the first variant's layout, or null.</param>
    void Compare(string what, params (string Name, Func<Tensor> Op, Func<Tensor, Tensor>? AsFirst)[] variants)
    {
        Tensor? first = null;
        foreach (var (name, op, asFirst) in variants)
        {
            double ms = TimeMs(op);
            using var raw = op();
            using var result = asFirst is null ? raw.alias() : asFirst(raw);
            string difference = "";
            if (first is null) first = result.to(ScalarType.Float32).DetachFromDisposeScope();
            else difference = string.Create(CultureInfo.InvariantCulture, $"  max |diff| vs first {(result.to(ScalarType.Float32) - first).abs().max().item<float>():G3}");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {what,-36} {name,-32} {ms,9:F2} ms{difference}"));
        }
        first?.Dispose();
    }

    void Report(string what, double flops, Func<Tensor> op)
    {
        double ms = TimeMs(op);
        string rate = flops > 0 ? string.Create(CultureInfo.InvariantCulture, $"  {flops / ms / 1e9:F0} TFLOP/s") : "";
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {what,-69} {ms,9:F2} ms{rate}"));
    }

    /// <summary>Runs a scripted op past the graph executor's profiling runs, so its timing sees the fused kernels.</summary>
    static void Prewarm(Func<Tensor> op)
    {
        for (int i = 0; i <= PointwiseScript.CallsBeforeFused; i++) op().Dispose();
    }

    double TimeMs(Func<Tensor> op) => DeviceSync.TimeMs(target.Device, op, warmup: 2, timed: 5);
}
