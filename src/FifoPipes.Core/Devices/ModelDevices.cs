using FifoPipes.Abstractions;
using TorchSharp;
using static TorchSharp.torch;

namespace FifoPipes.Core.Devices;

/// <summary>Parses and checks the device and dtype options every model plugin takes.</summary>
public static class ModelDevices
{
    /// <summary>cpu, cuda or cuda:N; null for anything else.</summary>
    public static Device? ParseDevice(string? text)
    {
        var t = text?.Trim().ToLowerInvariant();
        if (t == "cpu") return CPU;
        if (t == "cuda") return new Device(DeviceType.CUDA, 0);
        if (t is not null && t.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(t[5..], out var n) && n >= 0)
            return new Device(DeviceType.CUDA, n);
        return null;
    }

    /// <summary>
    /// A comma-separated device list ("cuda:0,cuda:1"; one model replica per entry, the first is the primary);
    /// null when it is empty or any entry is not cpu, cuda or cuda:N.
    /// </summary>
    public static IReadOnlyList<Device>? ParseDevices(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        var devices = new List<Device>();
        foreach (var entry in text.Split(','))
        {
            if (ParseDevice(entry) is not { } device) return null;
            devices.Add(device);
        }
        return devices;
    }

    /// <summary>
    /// What is wrong with a model plugin's device (a comma-separated list) and dtype options, reported under the option
    /// names the plugin uses (<paramref name="dtypeOption"/>: "dtype" or "dType").
    /// </summary>
    public static IEnumerable<OptionProblem> Problems(string deviceText, string dtypeText, string dtypeOption)
    {
        var devices = ParseDevices(deviceText);
        if (devices is null)
            yield return new("device", $"device '{deviceText}' is not one of cpu, cuda, cuda:N, or a comma-separated list of them (cuda:0,cuda:1).");
        // Two replicas on one GPU double its memory and run no faster; the CPU may repeat, to try replication without GPUs.
        else if (devices.Where(d => d.type == DeviceType.CUDA).GroupBy(d => d.index).FirstOrDefault(g => g.Count() > 1) is { } twice)
            yield return new("device", $"device '{deviceText}' names cuda:{twice.Key} more than once (cuda is cuda:0); list each GPU once.");
        var dtype = ParseDType(dtypeText);
        if (dtype is null)
            yield return new(dtypeOption, $"{dtypeOption} '{dtypeText}' is not one of float32, bfloat16, float16.");
        else if (dtype == ScalarType.Float16 && devices is not null && devices.Any(d => d.type == DeviceType.CPU))
            yield return new(dtypeOption, "float16 is not supported on the CPU (too slow and numerically unsafe there); use bfloat16 or float32, or device cuda.");
    }

    /// <summary>
    /// Every device of a comma-separated list for a network, each checked as <see cref="Resolve(string, ScalarType, IProgressSink)"/>
    /// does (the CPU's kernels once, however often it is listed).
    /// </summary>
    public static IReadOnlyList<Device> ResolveAll(string text, ScalarType dtype, IProgressSink log)
    {
        if (ParseDevices(text) is null)
            throw new FifoInputException("DeviceInvalid", $"device '{text}' is not one of cpu, cuda, cuda:N, or a comma-separated list of them (cuda:0,cuda:1).");
        var devices = text.Split(',').Select(entry => Resolve(entry, dtype)).ToList();
        if (devices.Any(d => d.type == DeviceType.CPU)) CpuKernelCheck.EnsureCorrect(log);
        return devices;
    }

    /// <summary>As <see cref="ResolveAll(string, ScalarType, IProgressSink)"/>, with the CPU check's finding told to no one (plugins built before it).</summary>
    public static IReadOnlyList<Device> ResolveAll(string text, ScalarType dtype) => ResolveAll(text, dtype, NullProgressSink.Instance);

    /// <summary>float32/fp32, bfloat16/bf16 or float16/fp16 (any case, trimmed) as a ScalarType; null for anything else, null included.</summary>
    public static ScalarType? ParseDType(string? text) => text?.Trim().ToLowerInvariant() switch
    {
        "float32" or "fp32" => ScalarType.Float32,
        "bfloat16" or "bf16" => ScalarType.BFloat16,
        "float16" or "fp16" => ScalarType.Float16,
        _ => null,
    };

    /// <summary>
    /// The device for a network, after checking that this build and machine can use it; the CPU's kernels are checked
    /// first (<see cref="CpuKernelCheck"/>), with what that found told to <paramref name="log"/>.
    /// </summary>
    public static Device Resolve(string text, ScalarType dtype, IProgressSink log)
    {
        var device = Resolve(text, dtype);
        if (device.type == DeviceType.CPU) CpuKernelCheck.EnsureCorrect(log);
        return device;
    }

    /// <summary>
    /// The device, after checking that this build and machine can use it; no CPU kernel check, for models without
    /// convolutions (the analytic prior).
    /// </summary>
    public static Device Resolve(string text, ScalarType dtype)
    {
        var device = ParseDevice(text)
            ?? throw new FifoInputException("DeviceInvalid", $"device '{text}' is not one of cpu, cuda, cuda:N.");
        if (device.type == DeviceType.CUDA)
        {
            if (!cuda.is_available())
                throw new FifoInputException("DeviceUnavailable",
                    $"device '{text}' was asked for but CUDA is not available: either this machine has no usable NVIDIA GPU or FifoPipes was built " +
                    "with the CPU backend (rebuild with: dotnet build -p:TorchBackend=cuda). Use device: cpu (-Device cpu) to run on the CPU.");
            int count = cuda.device_count();
            if (device.index >= count)
                throw new FifoInputException("DeviceUnavailable", $"device '{text}' does not exist: this machine has {count} CUDA device(s) (cuda:0..cuda:{count - 1}).");
        }
        else if (dtype == ScalarType.Float16)
            throw new FifoInputException("DTypeInvalid", "dType float16 is not supported on the CPU (too slow and numerically unsafe there); use bfloat16 or float32, or device: cuda.");
        return device;
    }
}
