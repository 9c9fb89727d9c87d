using System.Diagnostics;
using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace FifoPipes.Benchmarks.Speed;

/// <summary>
/// --ops: the UNet's heaviest operations at the preset's first-level size on the batched schedule's input
/// (--rows x window frames), each timed alone, with the alternatives that compute the same thing beside them
/// and their largest difference, to decide which formulation the UNet should use on this device.
/// </summary>
public static class OpVariants
{
    public static int Run(BenchOptions options)
    {
        if (options.TorchLib is { } lib) NativeTorch.Preload(lib);
        var preset = options.ResolvePreset();
        var device = options.Devices[0];
        var dtype = options.ScalarType;
        long rows = options.ProfileRows, t = preset.WindowFrames, n = rows * t, c = preset.UNet.ModelChannels;
        long h = preset.Height / preset.SpatialScale, w = preset.Width / preset.SpatialScale, heads = c / preset.UNet.NumHeadChannels, d = preset.UNet.NumHeadChannels;
        using var mode = inference_mode();
        using var scope = NewDisposeScope();
        Console.WriteLine($"ops: {n} frames x {c} channels x {h}x{w}, {heads} heads of {d}, {dtype} on {device}");

        var x = randn(new[] { n, c, h, w }, dtype, device);
        var gnWeight = randn(c, dtype: dtype, device: device);
        var gnBias = randn(c, dtype: dtype, device: device);
        Compare("group_norm 32 (frames)",
            ("float32 statistics by casting", () => F.group_norm(x.to(ScalarType.Float32), 32, gnWeight.to(ScalarType.Float32), gnBias.to(ScalarType.Float32), 1e-5).to(dtype)),
            ("native in the dtype", () => F.group_norm(x, 32, gnWeight, gnBias, 1e-5)));

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
        var qt = randn(new[] { rows * h * w, heads, t, d }, dtype, device);
        Report("sdpa temporal self-attention", 4.0 * rows * h * w * heads * t * t * d, () => F.scaled_dot_product_attention(qt, qt, qt));

        var tokens = randn(new[] { n * h * w, c }, dtype, device);
        var projWeight = randn(new[] { 8 * c, c }, dtype, device) * 0.02;
        var projBias = zeros(8 * c, dtype: dtype, device: device);
        var outWeight = randn(new[] { c, 4 * c }, dtype, device) * 0.02;
        Report("linear c -> 8c (GEGLU proj)", 2.0 * n * h * w * c * 8 * c, () => F.linear(tokens, projWeight, projBias));
        var projected = F.linear(tokens, projWeight, projBias);
        Report("GEGLU gate (chunk, gelu, mul)", 0, () => { var halves = projected.chunk(2, -1); return halves[0] * F.gelu(halves[1]); });
        var gated = projected.narrow(-1, 0, 4 * c).contiguous();
        Report("linear 4c -> c", 2.0 * n * h * w * 4 * c * c, () => F.linear(gated, outWeight));
        Report("layer_norm", 0, () => F.layer_norm(tokens, new[] { c }, gnWeight, gnBias, 1e-5));
        return 0;
    }

    /// <summary>The same values with channels-last (NHWC) strides, which cuDNN's tensor-core convolutions prefer.</summary>
    static Tensor ChannelsLast(Tensor nchw) => nchw.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);

    static void Compare(string what, params (string Name, Func<Tensor> Op)[] variants)
    {
        Tensor? first = null;
        foreach (var (name, op) in variants)
        {
            double ms = TimeMs(op);
            using var result = op();
            string difference = "";
            if (first is null) first = result.to(ScalarType.Float32).DetachFromDisposeScope();
            else difference = string.Create(CultureInfo.InvariantCulture, $"  max |diff| vs first {(result.to(ScalarType.Float32) - first).abs().max().item<float>():G3}");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {what,-36} {name,-32} {ms,9:F2} ms{difference}"));
        }
        first?.Dispose();
    }

    static void Report(string what, double flops, Func<Tensor> op)
    {
        double ms = TimeMs(op);
        string rate = flops > 0 ? string.Create(CultureInfo.InvariantCulture, $"  {flops / ms / 1e9:F0} TFLOP/s") : "";
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {what,-69} {ms,9:F2} ms{rate}"));
    }

    static double TimeMs(Func<Tensor> op, int warmup = 2, int timed = 5)
    {
        for (int i = 0; i < warmup; i++) op().Dispose();
        Sync();
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < timed; i++) op().Dispose();
        Sync();
        return clock.Elapsed.TotalMilliseconds / timed;
    }

    static void Sync()
    {
        if (cuda.is_available()) cuda.synchronize();
    }
}
