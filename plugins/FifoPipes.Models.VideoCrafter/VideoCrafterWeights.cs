using FifoPipes.Abstractions;
using FifoPipes.Torch.Checkpoints;
using static TorchSharp.torch;

namespace FifoPipes.Models.VideoCrafter;

/// <summary>
/// The weights file of a VideoCrafter model: a Lightning model.ckpt (torch zip) or a safetensors file
/// with the same keys. Reads the key list and shapes without touching tensor data, and streams the
/// tensors under one prefix, cast as they are read.
/// </summary>
public sealed class VideoCrafterWeights : IDisposable
{
    public const string DownloadHelp =
        "Download model.ckpt from Hugging Face (VideoCrafter/VideoCrafter2 for videocrafter2, VideoCrafter/Text2Video-512 or " +
        "VideoCrafter/Text2Video-1024 for VideoCrafter1) and give its path as the model's path option (a recipe's model.with.path, New-FifoVideo -ModelPath).";

    /// <summary>
    /// What to do when no checkpoint is named: give the file, or let the store find it. Said at the path option, which the
    /// host names in its user's words (model.with.path, -ModelPath); the preset is named in both.
    /// </summary>
    internal const string PathHelp =
        "give the model.ckpt file or its folder, or let the store find it: Save-FifoModel videocrafter2, then use the model videocrafter2 (a recipe's model: videocrafter2, New-FifoVideo -Model videocrafter2).";

    readonly TorchZipCheckpoint? zip;

    VideoCrafterWeights(string path, TorchZipCheckpoint? zip, IReadOnlyDictionary<string, (long[] Shape, ScalarType DType)> stored)
    {
        Path = path;
        this.zip = zip;
        Shapes = stored.ToDictionary(kv => kv.Key, kv => kv.Value.Shape, StringComparer.Ordinal);
        StoredTypes = stored.ToDictionary(kv => kv.Key, kv => kv.Value.DType, StringComparer.Ordinal);
    }

    public string Path { get; }
    /// <summary>Every tensor's name and shape, as stored.</summary>
    public IReadOnlyDictionary<string, long[]> Shapes { get; }
    /// <summary>Every tensor's name and the type it is stored in (a converted bfloat16 file holds its schedule buffers in bfloat16 too).</summary>
    public IReadOnlyDictionary<string, ScalarType> StoredTypes { get; }
    public bool IsSafetensors => zip is null;

    /// <summary>
    /// The weights file for a path option: the file itself, or model.ckpt / model.safetensors inside a folder.
    /// Throws <see cref="FifoInputException"/> "CheckpointNotFound" naming what was looked for.
    /// </summary>
    public static string ResolvePath(string? path)
    {
        if (string.IsNullOrWhiteSpace(path))
            throw new FifoInputException("CheckpointNotFound", "The videocrafter model needs its checkpoint as its path option: " + PathHelp + " " + DownloadHelp);
        if (Directory.Exists(path))
        {
            foreach (var name in new[] { "model.ckpt", "model.safetensors" })
            {
                var candidate = System.IO.Path.Combine(path, name);
                if (File.Exists(candidate)) return candidate;
            }
            // A diffusers pipeline folder is another model's layout (zeroscope's): saying so helps more than the download.
            if (File.Exists(System.IO.Path.Combine(path, "model_index.json")))
                throw new FifoInputException("CheckpointNotFound",
                    $"The folder '{path}' is a diffusers pipeline (it has model_index.json), not a VideoCrafter checkpoint: a zeroscope folder is the zeroscope model's (-Model zeroscope). " + DownloadHelp);
            throw new FifoInputException("CheckpointNotFound", $"The folder '{path}' holds neither model.ckpt nor model.safetensors. " + DownloadHelp);
        }
        if (!File.Exists(path))
            throw new FifoInputException("CheckpointNotFound", $"The checkpoint '{path}' does not exist. " + DownloadHelp);
        return path;
    }

    public static VideoCrafterWeights Open(string path)
    {
        // By its first bytes too: a safetensors file named model.ckpt is read as what it is, not refused as a damaged zip.
        if (path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase) || SafetensorsFile.Begins(path))
        {
            var header = SafetensorsFile.ReadHeader(path);
            // A converted DeepSpeed save keeps its stored names, so they are made canonical here as for the .ckpt.
            return new VideoCrafterWeights(path, null, header.ToDictionary(e => VideoCrafterCheckpoint.CanonicalName(e.Name),
                e => (e.Shape, e.ScalarType), StringComparer.Ordinal));
        }
        var zip = TorchZipCheckpoint.Open(path);
        try
        {
            var stored = zip.StateDict(VideoCrafterCheckpoint.StateDictKeys)
                .ToDictionary(kv => VideoCrafterCheckpoint.CanonicalName(kv.Key), kv => (kv.Value.Shape, kv.Value.DType), StringComparer.Ordinal);
            return new VideoCrafterWeights(path, zip, stored);
        }
        catch
        {
            zip.Dispose();
            throw;
        }
    }

    /// <summary>The tensors whose names start with <paramref name="prefix"/> (and pass <paramref name="select"/>), one at a time, cast to <paramref name="dtype"/>.</summary>
    public IEnumerable<(string Name, Tensor Tensor)> Stream(string prefix, ScalarType dtype, Func<string, bool>? select = null)
    {
        bool Selected(string name) => name.StartsWith(prefix, StringComparison.Ordinal) && (select is null || select(name));
        return VideoCrafterCheckpoint.Canonical(zip is not null
            ? stored => zip.Stream(dtype, stored, VideoCrafterCheckpoint.StateDictKeys)
            : stored => SafetensorsFile.Stream(Path, dtype, stored), Selected);
    }

    /// <summary>Streams the tensors under <paramref name="mapping"/>'s prefix into <paramref name="module"/> (strict) and puts it in eval mode.</summary>
    public void Load(TorchSharp.torch.nn.Module module, StateDictMapping mapping, ScalarType dtype)
    {
        StateDictLoader.Load(module, Stream(mapping.Prefix, dtype), mapping, Path);
        module.eval();
    }

    public void Dispose() => zip?.Dispose();
}
