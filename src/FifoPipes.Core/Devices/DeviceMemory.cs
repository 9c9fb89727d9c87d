namespace FifoPipes.Core.Devices;

/// <summary>Recognises allocation failures of libtorch, which TorchSharp surfaces as plain exceptions carrying libtorch's message.</summary>
public static class DeviceMemory
{
    static readonly string[] Markers =
    {
        "out of memory",                       // "CUDA out of memory. Tried to allocate ..." (and HIP / MPS wording)
        "DefaultCPUAllocator: can't allocate", // CPU allocation failures
        "DefaultCPUAllocator: not enough memory",
        // cuBLAS, cuDNN and cuFFT allocate workspaces of their own and report running out in their own words.
        "CUBLAS_STATUS_ALLOC_FAILED",
        "CUDNN_STATUS_ALLOC_FAILED",
        "CUFFT_ALLOC_FAILED",
    };

    /// <summary>Whether <paramref name="error"/> (or an exception inside it) is a device or host allocation failure.</summary>
    public static bool IsOutOfMemory(Exception? error) =>
        ExceptionChain.Any(error, e => Markers.Any(m => e.Message.Contains(m, StringComparison.OrdinalIgnoreCase)));
}
