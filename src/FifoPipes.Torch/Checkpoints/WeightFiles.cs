namespace FifoPipes.Torch.Checkpoints;

/// <summary>Weight files looked at as a check looks at them: their index read, none of their tensors.</summary>
public static class WeightFiles
{
    /// <summary>
    /// Reads the index of a weights file (a safetensors header; a torch zip's directory and pickle), which a load reads
    /// first, so a file that is damaged, truncated or of another kind fails here with the error its load would give
    /// (CheckpointCorrupt, naming the file and the fix). Reads kilobytes to megabytes of a file of gigabytes.
    /// </summary>
    public static void ReadIndex(string path)
    {
        if (path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase)) SafetensorsFile.ReadHeader(path);
        else using (TorchZipCheckpoint.Open(path)) { }
    }
}
