using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace FifoPipes.Core.Devices;

/// <summary>
/// GPU memory through the CUDA runtime that libtorch already loaded (found in /proc/self/maps, so no second copy and
/// no guessing at its versioned name): cudaMemGetInfo's free bytes, read with the device synchronised before and after
/// the work. The peak is how far free memory fell, which is the growth of libtorch's caching allocator; the cache is
/// emptied first (<see cref="ReleaseCachedBlocks"/>), or a call of the same shape run before (FIFO's base clip) would
/// have left blocks the work reuses and the growth would read as nothing. Callers keep a fallback for running out anyway.
/// </summary>
public sealed class CudaMemoryGauge : MemoryGauge
{
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    delegate int MemGetInfo(out nuint free, out nuint total);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    delegate int GetDevice(out int device);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    delegate int SetDevice(int device);

    readonly Device device;
    readonly MemGetInfo memGetInfo;
    readonly GetDevice getDevice;
    readonly SetDevice setDevice;

    CudaMemoryGauge(Device device, IntPtr runtime)
    {
        this.device = device;
        memGetInfo = Export<MemGetInfo>(runtime, "cudaMemGetInfo");
        getDevice = Export<GetDevice>(runtime, "cudaGetDevice");
        setDevice = Export<SetDevice>(runtime, "cudaSetDevice");
    }

    /// <summary>The gauge for a CUDA device, or null when no CUDA runtime is loaded in this process (a CPU-only build or machine).</summary>
    public static CudaMemoryGauge? TryCreate(Device device)
    {
        if (device.type != DeviceType.CUDA || LoadedLibrary.Find(IsRuntime) is not { } path ||
            !NativeLibrary.TryLoad(path, out var runtime))
            return null;
        try
        {
            var gauge = new CudaMemoryGauge(device, runtime);
            gauge.AvailableBytes();
            return gauge;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <inheritdoc/>
    public override string DeviceName => $"cuda:{Index}";

    int Index => device.index < 0 ? 0 : (int)device.index;

    /// <summary>
    /// cudaMemGetInfo's free bytes on this device. Blocks libtorch keeps cached count as used here, though torch could reuse
    /// them; <see cref="Measure"/> empties the cache first for that reason.
    /// </summary>
    /// <exception cref="InvalidOperationException">A CUDA runtime call returned an error.</exception>
    public override long AvailableBytes() => Read().Free;

    /// <summary>cudaMemGetInfo for this gauge's device (it answers for the calling thread's current device, which is put back for libtorch).</summary>
    (long Free, long Total) Read()
    {
        Check(getDevice(out int previous), "cudaGetDevice");
        try
        {
            Check(setDevice(Index), "cudaSetDevice");
            Check(memGetInfo(out var free, out var total), "cudaMemGetInfo");
            return ((long)free, (long)total);
        }
        finally
        {
            setDevice(previous);
        }
    }

    /// <summary>
    /// Empties libtorch's cache of unused blocks on the device. TorchSharp 0.107 has no torch.cuda.empty_cache, but the
    /// caching allocator releases every unused cached block before it gives up on an allocation, so asking for more
    /// than the whole device does the same. The refusal is expected and dropped, whatever its wording: at worst the
    /// cache stays and the measured cost reads low, which the caller's out-of-memory fallback covers.
    /// </summary>
    void ReleaseCachedBlocks()
    {
        try
        {
            empty(Read().Total + 1, ScalarType.Byte, device).Dispose();
        }
        catch (ExternalException)
        {
        }
    }

    /// <summary>
    /// Synchronises the device, empties libtorch's cache, runs <paramref name="work"/> and synchronises again: the peak is how far
    /// free memory fell, which still counts what the work freed back into the cache.
    /// </summary>
    public override MemoryCost Measure(Action work)
    {
        cuda.synchronize(device);
        ReleaseCachedBlocks();
        long before = AvailableBytes();
        work();
        cuda.synchronize(device);
        return new MemoryCost(Math.Max(0, before - AvailableBytes()), before);
    }

    static void Check(int status, string call)
    {
        if (status != 0) throw new InvalidOperationException($"{call} returned CUDA error {status}.");
    }

    static T Export<T>(IntPtr library, string name) where T : Delegate =>
        Marshal.GetDelegateForFunctionPointer<T>(NativeLibrary.GetExport(library, name));

    /// <summary>
    /// The CUDA runtime library among a process's mappings (lines of /proc/PID/maps): libcudart.so.12, or a wheel's
    /// hashed libcudart-1a2b3c4d.so.12; null when none is mapped.
    /// </summary>
    public static string? RuntimeIn(IEnumerable<string> mapsLines) => LoadedLibrary.PathIn(mapsLines, IsRuntime);

    static bool IsRuntime(string fileName) => fileName.StartsWith("libcudart", StringComparison.Ordinal);
}
