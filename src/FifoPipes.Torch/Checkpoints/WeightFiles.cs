using FifoPipes.Abstractions;

namespace FifoPipes.Torch.Checkpoints;

/// <summary>Weight files looked at before their tensors are: there, a file, and their index readable.</summary>
public static class WeightFiles
{
    /// <summary>Refuses a checkpoint path that is not a file, saying so where it is a folder.</summary>
    public static void RequireFile(string path)
    {
        if (File.Exists(path)) return;
        throw new FifoInputException("CheckpointNotFound", Directory.Exists(path)
            ? $"'{path}' is a folder, not a checkpoint file; give the path of the checkpoint in it (model.ckpt, *.safetensors, ...)."
            : $"Checkpoint file '{path}' does not exist. Check the path, or download the model first.");
    }

    /// <summary>
    /// Reads the index of a weights file (a safetensors header; a torch zip's directory and pickle), which a load reads
    /// first, so a file that is damaged, truncated or of another kind fails here with the error its load would give
    /// (CheckpointCorrupt, naming the file and the fix). Reads kilobytes to megabytes of a file of gigabytes.
    /// </summary>
    public static void ReadIndex(string path)
    {
        if (IsSafetensors(path)) SafetensorsFile.ReadHeader(path);
        else using (TorchZipCheckpoint.Open(path)) { }
    }

    /// <summary>The values (elements) of every tensor a flat state-dict file holds, from the index <see cref="ReadIndex"/> reads.</summary>
    internal static long Values(string path)
    {
        if (IsSafetensors(path))
            return SafetensorsFile.ReadHeader(path).Sum(e => e.Shape.Aggregate(1L, (a, b) => a * b));
        using var checkpoint = TorchZipCheckpoint.Open(path);
        return checkpoint.StateDict().Sum(kv => kv.Value.Numel);
    }

    static bool IsSafetensors(string path) => path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase);
}
