using FifoPipes.Abstractions;
using static TorchSharp.torch;

namespace FifoPipes.Torch.Checkpoints;

/// <summary>What a conversion wrote.</summary>
public sealed record CheckpointConversion(string Source, string Destination, int Tensors, long Bytes, string? DType);

/// <summary>
/// Converts a checkpoint (torch zip pickle: Lightning model.ckpt, pytorch_model.bin, .pt/.pth; or a safetensors
/// file) to safetensors, optionally casting floating tensors, one tensor at a time so memory stays near the
/// largest tensor whatever the checkpoint's size. Keys are kept as they are (Lightning's are the ones under
/// "state_dict"), so a model that loads the checkpoint loads the converted file too.
/// </summary>
public static class CheckpointConverter
{
    /// <summary>Nested state dicts, in the order the reference loaders try them.</summary>
    static readonly string[] NestedKeys = { "state_dict", "module" };

    /// <summary>float32/fp32/f32, bfloat16/bf16, float16/fp16/f16/half or float64/fp64 (any case) as a ScalarType; null or blank gives null, meaning keep each tensor's type.</summary>
    /// <exception cref="FifoInputException">"InvalidDType" for any other name.</exception>
    public static ScalarType? ParseDType(string? name) => name?.Trim().ToLowerInvariant() switch
    {
        null or "" => null,
        "float32" or "fp32" or "f32" => ScalarType.Float32,
        "bfloat16" or "bf16" => ScalarType.BFloat16,
        "float16" or "fp16" or "f16" or "half" => ScalarType.Float16,
        "float64" or "fp64" => ScalarType.Float64,
        _ => throw new FifoInputException("InvalidDType", $"dtype '{name}' is not one of float32, bfloat16, float16, float64."),
    };

    /// <param name="dtypeName">float32, bfloat16, float16 or float64 (<see cref="ParseDType"/>); null keeps each tensor's type. A name,
    /// not a <see cref="ScalarType"/>, so callers need no TorchSharp types: the module's cmdlets load without TorchSharp.</param>
    /// <param name="progress">Called after each tensor with (tensors done, tensor count, name).</param>
    public static CheckpointConversion ToSafetensors(string source, string destination, string? dtypeName = null, Action<int, int, string>? progress = null)
    {
        var dtype = ParseDType(dtypeName);
        var src = Path.GetFullPath(source);
        var dst = Path.GetFullPath(destination);
        // As the file system compares names: a.safetensors and A.safetensors are one file on Windows and macOS.
        if (string.Equals(src, dst, OperatingSystem.IsLinux() ? StringComparison.Ordinal : StringComparison.OrdinalIgnoreCase))
            throw new FifoInputException("ConversionInPlace", $"The destination '{dst}' is the source itself; choose another file name.");
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["converted_from"] = Path.GetFileName(src) };
        return IsSafetensors(src)
            ? FromSafetensors(src, dst, dtype, metadata, progress)
            : FromTorchZip(src, dst, dtype, metadata, progress);
    }

    static bool IsSafetensors(string path) =>
        path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase) || SafetensorsFile.Begins(path);

    static CheckpointConversion FromTorchZip(string src, string dst, ScalarType? dtype, Dictionary<string, string> metadata, Action<int, int, string>? progress)
    {
        using var checkpoint = TorchZipCheckpoint.Open(src);
        var refs = checkpoint.StateDict(NestedKeys);
        var layout = refs.Select(r => new SafetensorsSlot(r.Key, Target(r.Value.DType, dtype), r.Value.Shape)).ToList();
        using var writer = SafetensorsWriter.Create(dst, layout, metadata);
        for (int i = 0; i < refs.Count; i++)
        {
            using var scope = NewDisposeScope();
            var tensor = checkpoint.Read(refs[i].Value, layout[i].DType);
            writer.Write(refs[i].Key, tensor);
            progress?.Invoke(i + 1, refs.Count, refs[i].Key);
        }
        writer.Commit();
        return new CheckpointConversion(src, dst, refs.Count, layout.Sum(s => s.ByteSize), dtype?.ToString());
    }

    static CheckpointConversion FromSafetensors(string src, string dst, ScalarType? dtype, Dictionary<string, string> metadata, Action<int, int, string>? progress)
    {
        var entries = SafetensorsFile.ReadHeader(src);
        var layout = entries.Select(e => new SafetensorsSlot(e.Name, Target(SafetensorsFile.ScalarTypeOf(e.DType), dtype), e.Shape)).ToList();
        using var writer = SafetensorsWriter.Create(dst, layout, metadata);
        int i = 0;
        foreach (var (name, tensor) in SafetensorsFile.Stream(src, dtype))
        {
            using (tensor) writer.Write(name, tensor);
            progress?.Invoke(++i, entries.Count, name);
        }
        writer.Commit();
        return new CheckpointConversion(src, dst, entries.Count, layout.Sum(s => s.ByteSize), dtype?.ToString());
    }

    /// <summary>Only floating tensors are cast; integer buffers (step counters, indices) keep their type.</summary>
    static ScalarType Target(ScalarType stored, ScalarType? wanted) =>
        wanted is { } w && stored is ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Float32 or ScalarType.Float64 ? w : stored;
}
