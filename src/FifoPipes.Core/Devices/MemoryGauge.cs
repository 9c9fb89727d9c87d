using TorchSharp;
using static TorchSharp.torch;

namespace FifoPipes.Core.Devices;

/// <summary>What a piece of work cost in memory at its peak, and what the device had left when it began.</summary>
/// <param name="PeakBytes">How far above the state before the work its memory rose at the peak (0 when unseen).</param>
/// <param name="AvailableBeforeBytes">What the device could still give when the work began.</param>
public readonly record struct MemoryCost(long PeakBytes, long AvailableBeforeBytes);

/// <summary>
/// Reads how much memory a device can still give and how much a piece of work took at its peak, so batch sizes can be
/// chosen from free memory instead of found by running out of it. TorchSharp 0.107 exposes no allocator statistics,
/// so each device kind reads what the operating system or the CUDA runtime says.
/// </summary>
public abstract class MemoryGauge
{
    /// <summary>The gauge for <paramref name="device"/>, or null where none can be read (no CUDA runtime found, other device kinds).</summary>
    public static MemoryGauge? For(Device device) => device.type switch
    {
        DeviceType.CPU => HostMemoryGauge.TryCreate(),
        DeviceType.CUDA => CudaMemoryGauge.TryCreate(device),
        _ => null,
    };

    /// <summary>What the device names itself in messages ("cpu", "cuda:1").</summary>
    public abstract string DeviceName { get; }

    /// <summary>Bytes the device could still allocate now.</summary>
    public abstract long AvailableBytes();

    /// <summary>Runs <paramref name="work"/> and reports how far memory rose above the state before it.</summary>
    public abstract MemoryCost Measure(Action work);

    /// <summary>
    /// How many units of work (windows) fit at once, when one unit cost <paramref name="oneUnit"/>: as many as fit in
    /// <paramref name="headroom"/> of what was available, at least 1 and at most <paramref name="maxUnits"/>. A cost too small
    /// to tell (under 1 MiB: the work was served from memory already held) gives <paramref name="maxUnits"/>.
    /// </summary>
    public static int UnitsThatFit(MemoryCost oneUnit, int maxUnits, double headroom = 0.8)
    {
        if (maxUnits < 1) throw new ArgumentOutOfRangeException(nameof(maxUnits), maxUnits, "At least one unit is needed.");
        if (oneUnit.PeakBytes < 1L << 20) return maxUnits;
        double fit = Math.Floor(headroom * oneUnit.AvailableBeforeBytes / oneUnit.PeakBytes);
        return (int)Math.Clamp(fit, 1, maxUnits);
    }
}
