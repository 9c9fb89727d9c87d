namespace FifoPipes.Core.Devices;

/// <summary>Recognises allocation failures of libtorch, which TorchSharp surfaces as plain exceptions carrying libtorch's message.</summary>
public static class DeviceMemory
{
    static readonly string[] Markers =
    {
        "out of memory",                       // "CUDA out of memory. Tried to allocate ..." (and HIP / MPS wording)
        "DefaultCPUAllocator: can't allocate", // CPU allocation failures
        "DefaultCPUAllocator: not enough memory",
    };

    /// <summary>Whether <paramref name="error"/> (or an exception inside it) is a device or host allocation failure.</summary>
    public static bool IsOutOfMemory(Exception? error) =>
        ExceptionChain.Any(error, e => Markers.Any(m => e.Message.Contains(m, StringComparison.OrdinalIgnoreCase)));
}
