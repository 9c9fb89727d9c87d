using FifoPipes.Abstractions;
using static TorchSharp.torch;

namespace FifoPipes.Torch.Checkpoints;

/// <summary>What a conversion wrote.</summary>
public sealed record CheckpointConversion(string Source, string Destination, int Tensors, long Bytes, string? DType);

/// <summary>
/// Converts a checkpoint (torch zip pickle: Lightning model.ckpt, pytorch_model.bin, .pt/.pth; or a safetensors
/// file) to safetensors, optionally casting floating tensors, one tensor at a time so memory stays near the
/// largest tensor whatever the checkpoint's size. Keys are kept as they are (Lightning's are the ones under
/// "state_dict"), so a model that loads the checkpoint loads the converted file too; a safetensors source's metadata
/// is kept as well.
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
    /// <exception cref="FifoInputException">
    /// "InvalidDType"; "ConversionInPlace"; "InvalidParameter" (an empty destination); "ConversionOutputIsFolder",
    /// "ConversionOutputUnderFile", "ConversionOutputNotWritable" (checked before a tensor is read; the last also for a write
    /// that fails later); "ConversionUnsupported" (a tensor named __metadata__); the readers' "CheckpointNotFound",
    /// "CheckpointCorrupt", "CheckpointUnsafe" and "CheckpointUnreadable".
    /// </exception>
    public static CheckpointConversion ToSafetensors(string source, string destination, string? dtypeName = null, Action<int, int, string>? progress = null)
    {
        var dtype = ParseDType(dtypeName);
        var src = FullPath(source, "CheckpointNotFound", "checkpoint");
        var dst = FullPath(destination, "InvalidParameter", "destination");
        // As the file system compares names: a.safetensors and A.safetensors are one file on Windows and macOS.
        if (string.Equals(src, dst, OperatingSystem.IsLinux() ? StringComparison.Ordinal : StringComparison.OrdinalIgnoreCase))
            throw new FifoInputException("ConversionInPlace", $"The destination '{dst}' is the source itself; choose another file name.");
        CheckDestination(dst);
        var provenance = new Dictionary<string, string> { ["format"] = "pt", ["converted_from"] = Path.GetFileName(src) };
        return IsSafetensors(src)
            ? FromSafetensors(src, dst, dtype, provenance, progress)
            : FromTorchZip(src, dst, dtype, provenance, progress);
    }

    /// <summary>
    /// The source file's metadata (its license, training notes, the format its key names follow) with the converter's
    /// provenance added where the source has no such key: what the source says of itself stays true of the conversion,
    /// and one converted twice still names the first source.
    /// </summary>
    static Dictionary<string, string> WithSourceMetadata(IReadOnlyDictionary<string, string> source, IReadOnlyDictionary<string, string> provenance)
    {
        var merged = new Dictionary<string, string>(source, StringComparer.Ordinal);
        foreach (var (key, value) in provenance) merged.TryAdd(key, value);
        return merged;
    }

    static bool IsSafetensors(string path) =>
        path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase) || SafetensorsFile.Begins(path);

    static CheckpointConversion FromTorchZip(string src, string dst, ScalarType? dtype, Dictionary<string, string> metadata, Action<int, int, string>? progress)
    {
        using var checkpoint = TorchZipCheckpoint.Open(src);
        var refs = checkpoint.StateDict(NestedKeys);
        var layout = Layout(src, refs.Select(r => new SafetensorsSlot(r.Key, Target(r.Value.DType, dtype), r.Value.Shape)));
        using var writer = Writing(dst, () => SafetensorsWriter.Create(dst, layout, metadata));
        for (int i = 0; i < refs.Count; i++)
        {
            using var scope = NewDisposeScope();
            var tensor = checkpoint.Read(refs[i].Value, layout[i].DType);
            Writing(dst, () => writer.Write(refs[i].Key, tensor));
            progress?.Invoke(i + 1, refs.Count, refs[i].Key);
        }
        Writing(dst, writer.Commit);
        return new CheckpointConversion(src, dst, refs.Count, layout.Sum(s => s.ByteSize), dtype?.ToString());
    }

    static CheckpointConversion FromSafetensors(string src, string dst, ScalarType? dtype, Dictionary<string, string> provenance, Action<int, int, string>? progress)
    {
        var sourceMetadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var entries = SafetensorsFile.ReadHeader(src, sourceMetadata);
        var metadata = WithSourceMetadata(sourceMetadata, provenance);
        var layout = Layout(src, entries.Select(e => new SafetensorsSlot(e.Name, Target(SafetensorsFile.ScalarTypeOf(e.DType), dtype), e.Shape)));
        using var writer = Writing(dst, () => SafetensorsWriter.Create(dst, layout, metadata));
        int i = 0;
        foreach (var (name, tensor) in SafetensorsFile.Stream(src, dtype))
        {
            using (tensor) Writing(dst, () => writer.Write(name, tensor));
            progress?.Invoke(++i, entries.Count, name);
        }
        Writing(dst, writer.Commit);
        return new CheckpointConversion(src, dst, entries.Count, layout.Sum(s => s.ByteSize), dtype?.ToString());
    }

    /// <summary>The full path, refused as <paramref name="errorId"/> where there is none to make (empty, or a NUL in it).</summary>
    static string FullPath(string path, string errorId, string what)
    {
        if (string.IsNullOrEmpty(path))
            throw new FifoInputException(errorId, $"The {what} path is empty; give the path of the {what} file.");
        try { return Path.GetFullPath(path); }
        catch (ArgumentException ex) { throw new FifoInputException(errorId, $"The {what} path '{path}' is not a usable path ({ex.Message.TrimEnd('.')}).", ex); }
    }

    /// <summary>
    /// Refuses a destination the finished file could not be renamed to before a tensor is read: found by the rename,
    /// a folder in the way or one that takes no files would cost the whole conversion first.
    /// </summary>
    static void CheckDestination(string dst)
    {
        if (Directory.Exists(dst))
            throw new FifoInputException("ConversionOutputIsFolder",
                $"The destination '{Path.TrimEndingDirectorySeparator(dst)}' is a folder; give a file name in it, e.g. '{Path.Join(dst, "model.safetensors")}'.");
        // The writer makes missing folders, so the nearest one that exists is the one that must take files.
        var folder = Path.GetDirectoryName(dst);
        while (!string.IsNullOrEmpty(folder) && !Directory.Exists(folder))
        {
            if (File.Exists(folder))
                throw new FifoInputException("ConversionOutputUnderFile",
                    $"The destination '{dst}' cannot be written: '{folder}' is a file, not a folder. Choose another path.");
            folder = Path.GetDirectoryName(folder);
        }
        if (string.IsNullOrEmpty(folder)) return;
        var probe = Path.Combine(folder, $".fifopipes-probe-{Guid.NewGuid():N}");
        try { new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose).Dispose(); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The probe is ours, not a name the user gave: left out of the reason.
            var why = ex.Message.Replace($" : '{probe}'", "").Replace($" '{probe}'", "").TrimEnd('.');
            throw new FifoInputException("ConversionOutputNotWritable",
                $"The destination '{dst}' cannot be written: '{folder}' does not take new files ({why}). Choose a folder you can write, or fix its permissions.", ex);
        }
    }

    /// <summary>A write that failed later on (a full disk, a folder that changed under us), as a refusal naming the destination.</summary>
    static T Writing<T>(string dst, Func<T> write)
    {
        try { return write(); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new FifoInputException("ConversionOutputNotWritable",
                $"The destination '{dst}' could not be written ({ex.Message.TrimEnd('.')}). Choose a folder you can write, on a disk with room; nothing was left behind.", ex);
        }
    }

    static void Writing(string dst, Action write) => Writing(dst, () => { write(); return 0; });

    /// <summary>
    /// The file's layout, refused before anything is written where safetensors cannot hold it: a tensor named as its
    /// metadata, or sizes whose bytes overflow (a cast to a wider type can overflow where the source did not).
    /// </summary>
    static List<SafetensorsSlot> Layout(string src, IEnumerable<SafetensorsSlot> slots)
    {
        var layout = new List<SafetensorsSlot>();
        long bytes = 0;
        foreach (var slot in slots)
        {
            if (slot.Name == "__metadata__")
                throw new FifoInputException("ConversionUnsupported",
                    $"'{src}' cannot be converted to safetensors: it has a tensor named '__metadata__', the name safetensors keeps for the file's metadata. " +
                    "Rename that key in Python (state_dict['x'] = state_dict.pop('__metadata__')) and save the checkpoint again.");
            try { bytes = checked(bytes + slot.ByteSize); }
            catch (OverflowException ex)
            {
                throw new FifoInputException("CheckpointCorrupt",
                    $"'{src}' cannot be converted: tensor '{slot.Name}' [{string.Join(", ", slot.Shape)}] as {slot.DType} takes more bytes than a file can hold, so its shape is damaged. Download the checkpoint again.", ex);
            }
            layout.Add(slot);
        }
        return layout;
    }

    /// <summary>Only floating tensors are cast; integer buffers (step counters, indices) keep their type.</summary>
    static ScalarType Target(ScalarType stored, ScalarType? wanted) =>
        wanted is { } w && stored is ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Float32 or ScalarType.Float64 ? w : stored;
}
