using System.Globalization;
using FifoPipes.Abstractions;
using FifoPipes.Core;
using FifoPipes.Core.Devices;
using FifoPipes.Samplers.Fifo;
using FifoPipes.Tests.Parity;
using FifoPipes.Torch.Checkpoints;
using FifoPipes.Torch.Nn;
using FifoPipes.Torch.UNets;
using FifoPipes.Torch.Vae;
using TorchSharp;
using static TorchSharp.torch;

namespace FifoPipes.Benchmarks.Speed;

/// <summary>
/// The numerical check before any timing is trusted on a new box (--smoke DIR): every "vc.unet" parity case under DIR
/// (golden outputs of the reference PyTorch code, ../shared/parity/videocrafter) runs on the device in float32 against
/// its own tolerance, and again in the benchmark's dtype against a loose relative bound, since bf16 keeps 8 bits of
/// mantissa. A random VAE decode on the device is compared with the same weights on the CPU, and a short FIFO run of
/// the tiny preset on two replicas of the device (the several-GPU path: replica threads, rows gathered on the primary)
/// with the same run on one. Exit code 1 on a failure.
/// </summary>
public static class DeviceSmoke
{
    /// <summary>Largest |error| / max |golden| accepted in a half-precision dtype.</summary>
    const double HalfPrecisionBound = 0.05;

    public static int Run(BenchOptions options, string folder)
    {
        var device = options.Devices[0];
        var cases = ParityCase.Discover(folder).Where(c => c.Component == "vc.unet").ToList();
        if (cases.Count == 0)
        {
            Console.Error.WriteLine($"No vc.unet parity case under '{folder}'. Copy ../shared/parity/videocrafter/vc*_unet_tiny there.");
            return 2;
        }
        // The goldens' tolerances are float32's; cuDNN's default TF32 convolutions round to 10 bits.
        bool tf32 = backends.cudnn.allow_tf32;
        backends.cudnn.allow_tf32 = false;
        // Both files are read once per case, outside CheckUNet's dispose scope, and serve every dtype and both passes.
        var loaded = cases.Select(c => (Case: c, Weights: SafetensorsFile.Load(c.WeightsPath), Io: c.Io)).ToList();
        var dtypes = new[] { ScalarType.Float32, options.ScalarType }.Distinct().ToList();
        bool ok = true;
        // Eager first, the scripted pointwise ops (TorchScript's fuser, compiled on the device at its first use) last:
        // a failure there must not cost the verdict of the checks the figures rest on.
        foreach (var (parityCase, weights, _) in loaded)
            foreach (var dtype in dtypes)
                ok &= Checked($"smoke {Path.GetFileName(parityCase.Folder)} in {dtype}", () => CheckUNet(parityCase, weights, device, dtype, scripted: false));
        ok &= Checked($"smoke vae decode on {device}", () => CheckVaeAgainstCpu(device, options.ScalarType));
        ok &= Checked($"smoke fifo on {device},{device}", () => CheckReplicas(device));
        foreach (var (parityCase, weights, _) in loaded)
            foreach (var dtype in dtypes)
                ok &= Checked($"smoke {Path.GetFileName(parityCase.Folder)} in {dtype}, scripted pointwise", () => CheckUNet(parityCase, weights, device, dtype, scripted: true));
        backends.cudnn.allow_tf32 = tf32;
        Console.WriteLine(ok ? "smoke: PASS" : "smoke: FAIL");
        return ok ? 0 : 1;
    }

    /// <summary>One check; one that throws (a kernel the device lacks, a fuser error) is a failed check, and the rest still run.</summary>
    static bool Checked(string what, Func<bool> check)
    {
        try { return check(); }
        catch (Exception e)
        {
            Console.WriteLine($"{what}: FAIL ({e.GetType().Name}: {e.Message.Split('\n')[0].Trim()})");
            return false;
        }
    }

    /// <summary>The golden calls on one loaded UNet, eager or with its pointwise chains scripted.</summary>
    static bool CheckUNet(ParityCase parityCase, IReadOnlyDictionary<string, Tensor> weights, Device device, ScalarType dtype, bool scripted)
    {
        using var scope = NewDisposeScope();
        using var unet = new UNet3D(UNet3DConfig.FromReferenceArguments(parityCase.Config), device, dtype);
        unet.LoadStrict(weights, parityCase.WeightsPath);
        unet.eval();
        unet.ScriptPointwise(scripted);
        return CheckCalls(unet, parityCase, device, dtype, scripted);
    }

    /// <param name="scripted">
    /// With the pointwise chains as TorchScript (<see cref="UNet3D.ScriptPointwise"/>), each call repeated until the graph
    /// executor has profiled and fused, and the fused call checked; float32 then against a relative bound,
    /// as the statistics come from sums rather than group_norm's own reduction.
    /// </param>
    static bool CheckCalls(UNet3D unet, ParityCase parityCase, Device device, ScalarType dtype, bool scripted)
    {
        using var scope = NewDisposeScope();
        var io = parityCase.Io;
        using var mode = inference_mode();
        bool ok = true;
        foreach (var call in parityCase.Json.GetProperty("calls").EnumerateArray())
        {
            string name = call.GetProperty("name").GetString()!;
            var x = io[$"{name}.x"];
            var timesteps = io[$"{name}.timesteps"];
            if (call.GetProperty("timestep_mode").GetString() == "per_frame") timesteps = timesteps.reshape(x.shape[0], x.shape[2]);
            var fps = io.TryGetValue($"{name}.fps", out var f) ? f.to(device) : null;
            Tensor Call() => unet.forward(x.to(dtype, device), timesteps.to(device), io[$"{name}.context"].to(dtype, device), fps);
            for (int i = 0; scripted && i < PointwiseScript.CallsBeforeFused; i++) Call();
            var eps = Call().to(ScalarType.Float32).cpu();
            var golden = io[$"{name}.out"];
            double maxError = (eps - golden).abs().max().item<float>();
            double scale = golden.abs().max().item<float>();
            bool finite = eps.isfinite().all().item<bool>();
            bool pass;
            string bound;
            if (dtype == ScalarType.Float32 && !scripted)
            {
                double atol = call.GetProperty("atol").GetDouble(), rtol = call.GetProperty("rtol").GetDouble();
                pass = finite && eps.allclose(golden, rtol, atol);
                bound = $"atol {atol:G3} + rtol {rtol:G3}";
            }
            else
            {
                double relative = dtype == ScalarType.Float32 ? 1e-3 : HalfPrecisionBound;
                pass = finite && maxError / scale <= relative;
                bound = $"relative {relative:G3}";
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"smoke {Path.GetFileName(parityCase.Folder)}/{name} on {device} in {dtype}{(scripted ? ", scripted pointwise" : "")}: max |error| {maxError:G3} (max |golden| {scale:G3}, {bound}) {(pass ? "ok" : "FAIL")}"));
            ok &= pass;
        }
        return ok;
    }

    /// <summary>
    /// FIFO frames of the tiny preset (float32, random weights) on two replicas of <paramref name="device"/> against one:
    /// each replica gets half of every call's rows on its own thread. Kernels may pick other algorithms at the smaller
    /// batch, so the bound is relative, not bit for bit (on the CPU the frames are identical).
    /// </summary>
    static bool CheckReplicas(Device device)
    {
        const double bound = 1e-3;
        var preset = new BenchOptions { Preset = "tiny" }.ResolvePreset();
        List<Tensor> Frames(IVideoModel model) =>
            new FifoSamplerFactory().Create(new FifoOptions { Start = "noise", WarmupIterations = 1 }, new PluginContext())
                .Sample(new SamplingJob { Model = model, Prompts = new[] { new PromptSpan("smoke", 2) }, Noise = new KeyedNoise(3), Seed = 3 }, CancellationToken.None)
                .Select(frame => frame.Latent.cpu()).ToList();
        using var single = new RandomUNetModel(preset, device, ScalarType.Float32);
        var expected = Frames(single);
        using var replicated = new ReplicatedModel(new IVideoModel[] { new RandomUNetModel(preset, device, ScalarType.Float32, single), new RandomUNetModel(preset, device, ScalarType.Float32, single) });
        var actual = Frames(replicated);
        double maxError = expected.Zip(actual, (e, a) => (e - a).abs().max().item<float>()).Max();
        double scale = expected.Max(e => e.abs().max().item<float>());
        bool pass = actual.All(a => a.isfinite().all().item<bool>()) && maxError / scale <= bound;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"smoke fifo on {device},{device} (rows {string.Join("+", replicated.LastSplit)}) vs {device}: max |error| {maxError:G3} (max |frame| {scale:G3}, relative {bound:G3}) {(pass ? "ok" : "FAIL")}"));
        return pass;
    }

    /// <summary>Same random weights and latent through the VAE decoder on the CPU (float32) and on the device.</summary>
    static bool CheckVaeAgainstCpu(Device device, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        var config = AutoencoderKLConfig.StableDiffusion with { Ch = 32, ChMult = new[] { 1, 2 }, NumResBlocks = 1 };
        manual_seed(7);
        using var cpuVae = new AutoencoderKL(config);
        using var deviceVae = new AutoencoderKL(config, device, dtype);
        StrictStateDict.Load(deviceVae, cpuVae.state_dict(), "the CPU VAE");
        var z = randn(2, 4, 16, 24);
        var expected = cpuVae.Decode(z);
        var actual = deviceVae.Decode(z.to(dtype, device)).to(ScalarType.Float32).cpu();
        double maxError = (actual - expected).abs().max().item<float>(), scale = expected.abs().max().item<float>();
        double bound = dtype == ScalarType.Float32 ? 1e-3 : HalfPrecisionBound;
        bool pass = actual.isfinite().all().item<bool>() && maxError / scale <= bound;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"smoke vae decode on {device} in {dtype} vs cpu float32: max |error| {maxError:G3} (max |cpu| {scale:G3}, relative {bound:G3}) {(pass ? "ok" : "FAIL")}"));
        return pass;
    }
}
