using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using FifoPipes.Benchmarks.Speed;

// Each measured case runs in a child process of its own, so its peak memory (process RSS, or GPU memory including
// the caching allocator's reserve, which TorchSharp cannot release) is its own; the parent prints them side by side.
if (args.Contains("--help") || args.Contains("-h"))
{
    Console.WriteLine(BenchOptions.Usage);
    return 0;
}
BenchOptions options;
try
{
    options = BenchOptions.Parse(args);
}
catch (ArgumentException e)
{
    // Only the command line's mistakes: a run's own ArgumentException (a broken call) is a failure, not a usage error.
    Console.Error.WriteLine(e.Message);
    Console.Error.WriteLine(BenchOptions.Usage);
    return 2;
}
{
    // The box's own libtorch must be loaded before TorchSharp's first use, in the parent and in every case process.
    if (options.TorchLib is { } torchLib) NativeTorch.Preload(torchLib);
    if (!options.FlashAttention) TorchSharp.torch.backends.cuda.enable_flash_sdp(false);
    // Random weights give no sign of a wrong kernel: the figures would be timed on garbage (see CpuKernelCheck). The
    // smoke's VAE check takes the CPU's decode as its reference, whatever device it checks.
    if (options.Devices.Any(d => d.type == TorchSharp.DeviceType.CPU) || options.Smoke is not null)
        FifoPipes.Core.Devices.CpuKernelCheck.EnsureCorrect(new ConsoleLog());
    if (options.Smoke is { } smokeFolder) return DeviceSmoke.Run(options, smokeFolder);
    if (options.Profile) return LayerProfile.Run(options);
    if (options.Ops) return OpVariants.Run(options);
    if (options.Case is { } oneCase)
    {
        var result = CaseRunner.Run(options, oneCase);
        Console.WriteLine("RESULT " + JsonSerializer.Serialize(result));
        return 0;
    }
    return Parent.Run(options, args);
}

static class Parent
{
    public static int Run(BenchOptions options, string[] args)
    {
        var preset = options.ResolvePreset();
        var cases = (from lookahead in options.Lookahead
                     from guidance in options.Guidance
                     from schedule in options.Reference ? new[] { "batched", "reference" } : new[] { "batched" }
                     select $"{schedule}/{(lookahead ? "on" : "off")}/{(guidance ? "on" : "off")}").ToList();
        Console.WriteLine($"FIFO speed: preset {preset.Name} ({preset.Width}x{preset.Height}, {preset.WindowFrames}-frame windows), device {options.Device}, " +
                          $"dtype {options.DType}, partitions {options.Partitions ?? preset.Defaults.Partitions}, {options.Frames} frames x {options.Repeats} repeats after {options.Warmup} warm-up{options.Candidates}");
        Console.WriteLine("batched = all windows and both guidance branches in as few calls as possible (--window-batch), in --dtype, on every --device;");
        Console.WriteLine("reference = one window and one guidance branch per call, float32, first device (the reference implementation's pattern).");
        // A case that fails does not cost the others, and each row is printed as its case ends: a session cut short by its
        // time limit keeps the rows it finished.
        var results = new List<CaseResult>();
        var failed = new List<string>();
        foreach (var c in cases)
        {
            var result = RunChild(args, c);
            if (result is null) { failed.Add(c); Console.WriteLine($"case {c}: FAILED (its output is above)"); continue; }
            results.Add(result);
            Console.WriteLine($"case {c} done:{Environment.NewLine}{Header}{Environment.NewLine}{Row(result)}");
        }

        Console.WriteLine();
        Console.WriteLine(Header);
        foreach (var r in results) Console.WriteLine(Row(r));
        Console.WriteLine("s/frame: denoiser loop (sampler + UNet, emitted latent copied to the host); +decode: each frame also VAE-decoded and copied to the host as 8-bit RGB, as the engine does.");
        Console.WriteLine("%peak: of the datasheet dense peak (--peak-tflops); mm TF/s, %mm: an 8192^3 matrix product in the same dtype and process, and the share of it.");
        Console.WriteLine("A float32 row's %peak is against the FP32 (non-tensor-core) peak, while cuDNN runs its convolutions in TF32: it mixes the two and can pass 100%.");
        foreach (var group in results.GroupBy(r => (r.Lookahead, r.Guidance)))
        {
            var batched = group.FirstOrDefault(r => r.Schedule == "batched");
            var reference = group.FirstOrDefault(r => r.Schedule == "reference");
            if (batched is not null && reference is not null)
                Console.WriteLine($"speed-up lookahead {group.Key.Lookahead}, guidance {group.Key.Guidance}: reference / batched = {reference.SecondsPerFrame / batched.SecondsPerFrame:F2}x" +
                                  (reference.EndToEndSecondsPerFrame / batched.EndToEndSecondsPerFrame is { } e2e ? $" (with decoding {e2e:F2}x)" : ""));
        }
        Console.WriteLine("peak MiB (after all repeats; '1st rep' after the first; '+decode' after the decoding block): " + (results.Any(r => r.PeakIsGpu) ? "GPU memory.used from nvidia-smi (summed over the devices)" : "process peak RSS (VmHWM) of the case's own process"));
        if (failed.Count == 0) return 0;
        Console.WriteLine($"FAILED cases: {string.Join(", ", failed)}");
        return 1;
    }

    static string Header =>
        $"{"schedule",-10} {"look",-4} {"cfg",-4} {"dtype",-9} {"win/call",8} {"calls/fr",8} {"s/frame",9} {"(min..max)",-19} {"+decode",8} " +
        $"{"TFLOP/fr",9} {"TFLOP/s",8} {"%peak",6} {"mm TF/s",8} {"%mm",5} {"peak MiB",9} {"1st rep",8} {"+decode",8}";

    static string Row(CaseResult r) =>
        $"{r.Schedule,-10} {r.Lookahead,-4} {r.Guidance,-4} {r.DType,-9} {r.WindowsPerCall,8} {r.CallsPerFrame,8} {r.SecondsPerFrame,9:G4} " +
        $"{$"({r.MinSeconds:G4}..{r.MaxSeconds:G4})",-19} {Optional(r.EndToEndSecondsPerFrame, "G4"),8} {r.FlopsPerFrame / 1e12,9:G4} {r.AchievedTflops,8:G4} " +
        $"{Percent(r.AchievedTflops, r.PeakTflops),6} {Optional(r.MatmulTflops, "F0"),8} {Percent(r.AchievedTflops, r.MatmulTflops),5} " +
        $"{r.PeakMemoryMiB,9} {r.PeakMemoryFirstRepeatMiB,8} {Optional(r.PeakEndToEndMiB, "D"),8}";

    static string Optional<T>(T? value, string format) where T : struct, IFormattable =>
        value is { } v ? v.ToString(format, CultureInfo.InvariantCulture) : "-";

    static string Percent(double achieved, double? peak) =>
        peak is { } p ? (100 * achieved / p).ToString("F1", CultureInfo.InvariantCulture) : "-";

    static CaseResult? RunChild(string[] args, string oneCase)
    {
        var self = Environment.ProcessPath!;
        var start = new ProcessStartInfo(self) { RedirectStandardOutput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") start.ArgumentList.Add(Environment.GetCommandLineArgs()[0]);
        foreach (var a in args) start.ArgumentList.Add(a);
        start.ArgumentList.Add("--case");
        start.ArgumentList.Add(oneCase);
        Console.Error.WriteLine($"running {oneCase} ...");
        using var child = Process.Start(start)!;
        CaseResult? result = null;
        string? line;
        while ((line = child.StandardOutput.ReadLine()) is not null)
        {
            if (line.StartsWith("RESULT ", StringComparison.Ordinal)) result = JsonSerializer.Deserialize<CaseResult>(line[7..]);
            else Console.Error.WriteLine("  " + line);
        }
        child.WaitForExit();
        if (child.ExitCode != 0 || result is null)
        {
            Console.Error.WriteLine($"case {oneCase} failed (exit code {child.ExitCode}).");
            return null;
        }
        return result;
    }
}
