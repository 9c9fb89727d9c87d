using System.Diagnostics;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace FifoPipes.Benchmarks.Speed;

/// <summary>libtorch from a PyTorch install (the GPU box's venv), loaded before TorchSharp first needs it.</summary>
public static class NativeTorch
{
    static readonly string[] Order = { "libc10.so", "libc10_cuda.so", "libtorch_cpu.so", "libtorch_cuda.so", "libtorch.so" };

    public static void Preload(string folder)
    {
        foreach (var name in Order)
        {
            var path = Path.Combine(folder, name);
            if (File.Exists(path)) NativeLibrary.Load(path);
            else Console.Error.WriteLine($"note: {path} not found; relying on the loader path for it.");
        }
    }
}

/// <summary>Device synchronisation around timed regions.</summary>
public static class DeviceSync
{
    public static void All(IEnumerable<Device> devices)
    {
        foreach (var device in devices.Where(d => d.type == DeviceType.CUDA).DistinctBy(d => d.index))
            cuda.synchronize(device);
    }

    /// <summary>Mean milliseconds of <paramref name="op"/> after <paramref name="warmup"/> untimed runs, the device synchronised around the timed ones.</summary>
    public static double TimeMs(Device device, Func<Tensor> op, int warmup, int timed)
    {
        var devices = new[] { device };
        for (int i = 0; i < warmup; i++) op().Dispose();
        All(devices);
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < timed; i++) op().Dispose();
        All(devices);
        return clock.Elapsed.TotalMilliseconds / timed;
    }
}

/// <summary>
/// Peak memory of this process's work. CPU: peak resident set (VmHWM). CUDA: TorchSharp 0.107 exposes no allocator
/// statistics, so nvidia-smi is polled every 50 ms in the background and the largest memory.used of the benchmark's
/// GPUs (summed) is kept; that includes the caching allocator's reserve, which is what the device must hold.
/// </summary>
public sealed class MemoryProbe : IDisposable
{
    readonly Process? smi;
    readonly int[] gpus;
    readonly Dictionary<int, long> latest = new();
    long peakGpuMiB;

    public MemoryProbe(IReadOnlyList<Device> devices)
    {
        gpus = devices.Where(d => d.type == DeviceType.CUDA).Select(d => (int)d.index).Distinct().ToArray();
        if (gpus.Length == 0) return;
        try
        {
            smi = Process.Start(new ProcessStartInfo("nvidia-smi", "--query-gpu=index,memory.used --format=csv,noheader,nounits -lms 50")
            {
                RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            });
            if (smi is null) return;
            smi.OutputDataReceived += (_, e) => Record(e.Data);
            smi.BeginOutputReadLine();
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"note: nvidia-smi is not usable ({e.Message}); no GPU memory figures.");
            smi = null;
        }
    }

    void Record(string? line)
    {
        if (line is null) return;
        var parts = line.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length != 2 || !int.TryParse(parts[0], out var index) || !long.TryParse(parts[1], out var mib) || !gpus.Contains(index)) return;
        lock (latest)
        {
            latest[index] = mib;
            peakGpuMiB = Math.Max(peakGpuMiB, latest.Values.Sum());
        }
    }

    /// <summary>Peak GPU memory in MiB (null without CUDA devices, nvidia-smi, or a sample it could give: "[N/A]").</summary>
    public long? PeakGpuMiB
    {
        get
        {
            if (smi is null) return null;
            Thread.Sleep(150); // one more sample after the last synchronised step
            lock (latest) return latest.Count > 0 ? peakGpuMiB : null;
        }
    }

    /// <summary>Whether <see cref="PeakMiB"/> reports GPU memory (nvidia-smi gave samples) rather than the process's resident set.</summary>
    public bool IsGpu => PeakGpuMiB is not null;

    /// <summary>The peak so far in MiB: GPU memory when <see cref="IsGpu"/>, else the process's peak resident set.</summary>
    public long PeakMiB() => PeakGpuMiB ?? PeakRssMiB();

    /// <summary>The process's peak resident set (VmHWM on Linux) in MiB.</summary>
    public static long PeakRssMiB()
    {
        using var self = Process.GetCurrentProcess();
        return self.PeakWorkingSet64 >> 20;
    }

    public void Dispose()
    {
        if (smi is null) return;
        try { if (!smi.HasExited) smi.Kill(); } catch (InvalidOperationException) { }
        smi.Dispose();
    }
}

/// <summary>Dense peak TFLOP/s of known GPUs by dtype (vendor datasheets), for the "% of peak" column.</summary>
public static class PeakTable
{
    public static string? GpuName(int index)
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo("nvidia-smi", $"--query-gpu=name --format=csv,noheader -i {index}") { RedirectStandardOutput = true, UseShellExecute = false });
            // Bounded: asked after a case's figures are measured, a hung nvidia-smi must not cost the row.
            var read = p!.StandardOutput.ReadToEndAsync();
            if (!p.WaitForExit(5000) || !read.Wait(1000))
            {
                try { p.Kill(); } catch (InvalidOperationException) { }
                return null;
            }
            var name = read.Result.Trim();
            return name.Length > 0 ? name : null;
        }
        catch (Exception) { return null; }
    }

    public static double? Lookup(string? gpuName, ScalarType dtype)
    {
        if (gpuName is null) return null;
        bool tensorCores = dtype is ScalarType.BFloat16 or ScalarType.Float16;
        string n = gpuName.ToUpperInvariant();
        // NVL parts first: "H200 NVL" and "H100 NVL" are the lower-power cards.
        if ((n.Contains("H200") || n.Contains("H100")) && n.Contains("NVL")) return tensorCores ? 835 : 60;
        if (n.Contains("H200") || (n.Contains("H100") && (n.Contains("SXM") || n.Contains("HBM3")))) return tensorCores ? 989 : 67;
        if (n.Contains("H100")) return tensorCores ? 756 : 51; // PCIe
        if (n.Contains("A100")) return tensorCores ? 312 : 19.5;
        return null;
    }
}

/// <summary>
/// What a large dense matrix product reaches on this device in this dtype: the practical ceiling beside the datasheet
/// peak (an H100 SXM's 8192³ bf16 product measured about 800 of its datasheet 989 TFLOP/s here).
/// </summary>
public static class MatmulProbe
{
    public static double? MeasureTflops(Device device, ScalarType dtype, int size = 8192, int warmup = 3, int timed = 10)
    {
        if (device.type != DeviceType.CUDA) return null;
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        var a = randn(new long[] { size, size }, dtype, device);
        var b = randn(new long[] { size, size }, dtype, device);
        double ms = DeviceSync.TimeMs(device, () => a.mm(b), warmup, timed);
        return 2.0 * size * size * (double)size / ms / 1e9;
    }
}
