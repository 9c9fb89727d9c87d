using System.Runtime.InteropServices;
using FifoPipes.Abstractions;
using TorchSharp;
using static TorchSharp.torch;

namespace FifoPipes.Core.Devices;

/// <summary>
/// Makes sure libtorch's CPU kernels compute what they should before a network runs on the CPU. oneDNN, which does
/// libtorch's CPU convolutions and bfloat16 matmuls, sizes its kernels by the caches the CPU reports; some virtual
/// machines report none (a firecracker VM on AMD Zen 5: lscpu lists no caches), and there oneDNN 3.7's 3x3
/// convolutions come out wrong where the input channels are not a multiple of 16 (off by 20% of the output's scale),
/// and NaN in bfloat16. A probe of those cases against float64, which oneDNN does not handle, decides once per process;
/// where it fails, oneDNN is turned off (libtorch's own kernels: right, convolutions about 3x slower), with a warning.
/// </summary>
public static class CpuKernelCheck
{
    static readonly object Gate = new();
    static bool probed;

    /// <summary>Whether the probe found oneDNN wrong on this machine and turned it off.</summary>
    public static bool OneDnnTurnedOff { get; private set; }

    /// <summary>What the probe found wrong, as the warning says it; null where every kernel is right (or before the probe).</summary>
    public static string? Finding { get; private set; }

    /// <summary>
    /// Probes the CPU kernels (once per process; a few milliseconds) and turns oneDNN off where they are wrong; the
    /// finding, if any, goes to <paramref name="log"/> as a warning every time, so each run that pays for it says why.
    /// </summary>
    public static void EnsureCorrect(IProgressSink? log)
    {
        lock (Gate)
        {
            if (!probed) Finding = Probe();
            probed = true;
        }
        if (Finding is not null) log?.Warning(Finding);
    }

    const string NotTrusted = "frames made on the CPU by convolutional models (VideoCrafter, zeroscope, Open-Sora Plan) are not to be trusted on " +
                              "this machine. Use device cuda, or another machine.";

    static string? Probe()
    {
        if (WrongKernel() is not { } wrong) return null;
        if (!SetOneDnn(false))
            return $"libtorch computes {wrong} wrongly on this CPU, and FifoPipes cannot turn oneDNN off here (libtorch_cpu.so's switch is not " +
                   $"reachable on this system): {NotTrusted}";
        if (WrongKernel() is null)
        {
            OneDnnTurnedOff = true;
            return $"oneDNN computes {wrong} wrongly on this CPU (it reports no cache sizes, as some virtual machines do), so FifoPipes turned oneDNN " +
                   "off for this process: results are right, but convolutions on the CPU run about 3x slower. A GPU (device cuda) is not affected.";
        }
        // Off did not help, and costs speed: oneDNN goes back on.
        SetOneDnn(true);
        return $"libtorch computes {wrong} wrongly on this CPU, with oneDNN or without: {NotTrusted}";
    }

    /// <summary>The first probed kernel whose result is off from float64, named for a message; null where all are right.</summary>
    static string? WrongKernel()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        // A generator of its own: the probe must not move the global random stream that callers seed.
        using var generator = new Generator(20261206);
        // 24 input channels: oneDNN pads them to 32 in its blocked layout, the case that goes wrong.
        var x = randn(new long[] { 2, 24, 6, 10 }, generator: generator);
        var weight = randn(new long[] { 24, 24, 3, 3 }, generator: generator) / 10;
        var rows = randn(new long[] { 64, 24 }, generator: generator);
        var matrix = randn(new long[] { 40, 24 }, generator: generator) / 5;
        var padding = new long[] { 1, 1 };
        if (Off(t => nn.functional.conv2d(t[0], t[1], padding: padding), 1e-4, x, weight)) return "float32 3x3 convolutions";
        if (Off(t => nn.functional.conv2d(t[0], t[1], padding: padding), 0.05, x.bfloat16(), weight.bfloat16())) return "bfloat16 3x3 convolutions";
        if (Off(t => nn.functional.linear(t[0], t[1]), 0.05, rows.bfloat16(), matrix.bfloat16())) return "bfloat16 matrix products";
        return null;
    }

    /// <summary>Whether <paramref name="kernel"/> on <paramref name="inputs"/> is off from the same in float64 by more than <paramref name="tolerance"/> of the result's scale.</summary>
    static bool Off(Func<Tensor[], Tensor> kernel, double tolerance, params Tensor[] inputs)
    {
        var exact = kernel(inputs.Select(t => t.to(ScalarType.Float64)).ToArray());
        var error = (kernel(inputs).to(ScalarType.Float64) - exact).abs().max().item<double>();
        // NaN compares false: it counts as off.
        return !(error <= tolerance * Math.Max(1, exact.abs().max().item<double>()));
    }

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    delegate IntPtr GlobalContext();

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    delegate void SetUserEnabled(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool enabled);

    /// <summary>
    /// torch.backends.mkldnn.enabled, which TorchSharp 0.107 does not expose, and NNPACK's with it where it can be
    /// reached: without oneDNN, libtorch tries NNPACK next, which on such a CPU fails to start and says so on stderr at
    /// every convolution. False where oneDNN's switch cannot be reached.
    /// </summary>
    static bool SetOneDnn(bool enabled)
    {
        if (!SetContextSwitch("_ZN2at7Context20setUserEnabledMkldnnEb", enabled)) return false;
        SetContextSwitch("_ZN2at7Context20setUserEnabledNNPACKEb", enabled);
        return true;
    }

    /// <summary>
    /// at::globalContext().<paramref name="setter"/>(enabled) in the libtorch_cpu the process has loaded (Itanium C++
    /// names, so Linux only); false where the library or the function is not there.
    /// </summary>
    static bool SetContextSwitch(string setter, bool enabled)
    {
        if (TorchContext.Value is not var (library, context) || !NativeLibrary.TryGetExport(library, setter, out var set)) return false;
        Marshal.GetDelegateForFunctionPointer<SetUserEnabled>(set)(context, enabled);
        return true;
    }

    /// <summary>The loaded libtorch_cpu and its at::globalContext(), found once; null where either is not there.</summary>
    static readonly Lazy<(IntPtr Library, IntPtr Context)?> TorchContext = new(() =>
        LoadedLibrary.Find(name => name == "libtorch_cpu.so") is { } path && NativeLibrary.TryLoad(path, out var library) &&
        NativeLibrary.TryGetExport(library, "_ZN2at13globalContextEv", out var globalContext)
            ? (library, Marshal.GetDelegateForFunctionPointer<GlobalContext>(globalContext)())
            : null);
}
