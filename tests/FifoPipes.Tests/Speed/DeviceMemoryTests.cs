using System.Runtime.InteropServices;
using FifoPipes.Core.Devices;
using Xunit;

namespace FifoPipes.Tests.Speed;

/// <summary>An allocation failure, in any library's words, halves the window batch instead of ending the run.</summary>
public sealed class DeviceMemoryTests
{
    [Theory]
    [InlineData("CUDA out of memory. Tried to allocate 20.00 GiB (GPU 0; 79.11 GiB total capacity)")]
    [InlineData("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: not enough memory: you tried to allocate 4 bytes.")]
    [InlineData("CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`")]
    [InlineData("cuDNN error: CUDNN_STATUS_ALLOC_FAILED")]
    [InlineData("cuFFT error: CUFFT_ALLOC_FAILED")]
    public void Allocation_failures_are_recognised_inside_other_exceptions_too(string message)
    {
        Assert.True(DeviceMemory.IsOutOfMemory(new ExternalException(message)));
        Assert.True(DeviceMemory.IsOutOfMemory(new InvalidOperationException("the call failed", new ExternalException(message))));
    }

    [Theory]
    [InlineData("CUDA error: an illegal memory access was encountered")]
    [InlineData("CUBLAS_STATUS_EXECUTION_FAILED when calling cublasSgemm")]
    [InlineData("Expected all tensors to be on the same device")]
    public void Other_device_errors_are_not(string message) => Assert.False(DeviceMemory.IsOutOfMemory(new ExternalException(message)));
}
