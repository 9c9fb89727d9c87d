using System.Diagnostics;
using System.Globalization;
using FifoPipes.Torch.Nn;
using FifoPipes.Torch.UNets;
using TorchSharp;
using static TorchSharp.torch;

namespace FifoPipes.Benchmarks.Speed;

/// <summary>
/// --profile: where one batched UNet call spends its time. Runs the preset's UNet on the batched schedule's input
/// (--rows rows of one window each), times whole calls, then one call with the device synchronised around every
/// layer (<see cref="LayerTiming"/>), and prints the exclusive time per layer kind and size, largest first.
/// The synchronisation adds a little per layer; the sum is printed beside the plain call time.
/// </summary>
public static class LayerProfile
{
    public static int Run(BenchOptions options)
    {
        var target = BatchedCall.From(options);
        var (preset, device, dtype, rows, frames, h, w) = target;
        using var model = new RandomUNetModel(preset, device, dtype);
        var unet = model.UNet;
        options.ApplyCandidates(unet);
        using var scope = NewDisposeScope();
        var x = randn(new[] { rows, preset.UNet.InChannels, frames, h, w }, dtype, device);
        var timesteps = randint(0, 1000, new[] { rows, frames }, ScalarType.Int64, device);
        var context = randn(new[] { rows, (long)RandomUNetModel.ContextLength, preset.UNet.ContextDim }, dtype, device);
        var fps = full(new[] { rows }, 8L, ScalarType.Int64, device);
        double Call()
        {
            target.Sync();
            var clock = Stopwatch.StartNew();
            using (inference_mode()) unet.forward(x, timesteps, context, fps).Dispose();
            target.Sync();
            return clock.Elapsed.TotalSeconds;
        }

        // Untimed calls: a scripted candidate's graph executor profiles its first calls and compiles fused kernels after them.
        for (int i = 0; i <= PointwiseScript.CallsBeforeFused; i++) Call();
        // Five calls, all printed: a candidate counts only if it moves the median beyond this spread (docs/gpu.md).
        var plain = Enumerable.Range(0, 5).Select(_ => Call()).Order().ToList();
        double flops = UNet3DFlops.Count(preset.UNet, (int)rows, (int)frames, (int)h, (int)w, RandomUNetModel.ContextLength).Total;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"profile: {preset.Name} UNet, {rows} rows x {frames} frames x {h}x{w} latents, {dtype} on {device}{options.Candidates}: {plain[2] * 1e3:F1} ms per call (median of 5; {plain[0] * 1e3:F1}..{plain[^1] * 1e3:F1}), {flops / plain[2] / 1e12:F1} TFLOP/s"));

        var exclusive = new Dictionary<string, (int Calls, double Seconds)>();
        var childSeconds = new Stack<double>();
        LayerTiming.Observer = (layer, input, call) =>
        {
            target.Sync();
            childSeconds.Push(0);
            var clock = Stopwatch.StartNew();
            var output = call();
            target.Sync();
            double elapsed = clock.Elapsed.TotalSeconds, own = elapsed - childSeconds.Pop();
            if (childSeconds.Count > 0) childSeconds.Push(childSeconds.Pop() + elapsed);
            string key = $"{layer.GetType().Name} c{input.shape[1]} {input.shape[^2]}x{input.shape[^1]}";
            var (calls, seconds) = exclusive.GetValueOrDefault(key);
            exclusive[key] = (calls + 1, seconds + own);
            return output;
        };
        double observed;
        try { observed = Call(); }
        finally { LayerTiming.Observer = null; }

        double layers = exclusive.Values.Sum(v => v.Seconds);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"synchronised call {observed * 1e3:F1} ms; layers {layers * 1e3:F1} ms; outside layers (embeddings, skip concatenation, out) {(observed - layers) * 1e3:F1} ms"));
        Console.WriteLine($"{"layer",-40} {"calls",5} {"ms",9} {"share",6}");
        foreach (var (key, (calls, seconds)) in exclusive.OrderByDescending(e => e.Value.Seconds))
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{key,-40} {calls,5} {seconds * 1e3,9:F1} {100 * seconds / observed,5:F1}%"));
        Console.WriteLine(string.Join(Environment.NewLine, ByKind(exclusive, observed)));
        return 0;
    }

    static IEnumerable<string> ByKind(Dictionary<string, (int Calls, double Seconds)> exclusive, double total) =>
        exclusive.GroupBy(e => e.Key.Split(' ')[0])
            .Select(g => (Kind: g.Key, Seconds: g.Sum(e => e.Value.Seconds)))
            .OrderByDescending(g => g.Seconds)
            .Select(g => string.Create(CultureInfo.InvariantCulture, $"kind {g.Kind,-24} {g.Seconds * 1e3,9:F1} ms {100 * g.Seconds / total,5:F1}%"));
}
