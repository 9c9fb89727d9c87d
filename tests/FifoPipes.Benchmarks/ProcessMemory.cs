using System.Diagnostics;

namespace FifoPipes.Benchmarks;

/// <summary>Resident and peak resident memory of this process, and the live managed heap (after a full collection), at one moment.</summary>
public sealed record ProcessMemory(long Frame, long Resident, long PeakResident, long ManagedHeap)
{
    /// <param name="collect">
    /// Run a full collection first for the live heap. Only where no other thread is inside libtorch: a collection forced
    /// then can finalize a TorchSharp Scalar still in use (docs/reliability.md).
    /// </param>
    public static ProcessMemory Now(long frame, bool collect = true)
    {
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        return new ProcessMemory(frame, process.WorkingSet64, process.PeakWorkingSet64, GC.GetTotalMemory(forceFullCollection: collect));
    }

    public static string MiB(long bytes) => $"{bytes / (1024.0 * 1024.0),8:F1} MiB";

    public override string ToString() => $"after {Frame,5} frames: resident {MiB(Resident)}, peak resident {MiB(PeakResident)}, managed heap {MiB(ManagedHeap)}";
}
