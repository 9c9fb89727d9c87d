using FifoPipes.Hosting.Models;

namespace FifoPipes.PowerShell;

/// <summary>A model in the local store (a preset, or files saved by hand from one repository).</summary>
public sealed class FifoModelInfo
{
    internal FifoModelInfo(StoredModel model)
    {
        Name = model.Name;
        Preset = model.Preset?.Name;
        Plugin = model.Preset?.Plugin;
        Description = model.Preset?.Description;
        Files = model.Files.Select(f => new FifoModelFile(f)).ToArray();
        Repositories = model.Files.Select(f => $"{f.Repository}@{f.Revision}").Distinct().ToArray();
        Size = model.Files.Any(f => f.Size < 0) ? null : model.Size;
        Complete = model.Complete;
        Problem = model.Damage.Count == 0 ? null : string.Join(" ", model.Damage.Select(d => d.Problem));
        Path = model.Files.Count == 0 ? null : System.IO.Path.GetDirectoryName(model.Files[0].LocalPath);
    }

    public string Name { get; }
    /// <summary>The catalog preset, usable as New-FifoVideo -Model; null for files saved by hand.</summary>
    public string? Preset { get; }
    /// <summary>The model plugin that loads it.</summary>
    public string? Plugin { get; }
    public string? Description { get; }
    /// <summary>owner/name@revision of each repository the files come from.</summary>
    public string[] Repositories { get; }
    public FifoModelFile[] Files { get; }
    /// <summary>Bytes of all files (as listed by the hub when saved); null while a file was never listed (a preset not saved yet).</summary>
    public long? Size { get; }
    /// <summary>Every file is in the store, whole and verified, and the store's records of it can be read.</summary>
    public bool Complete { get; }
    /// <summary>Why the store's records of it cannot be read, and the command that mends them; null when they can.</summary>
    public string? Problem { get; }
    /// <summary>The folder of the first file.</summary>
    public string? Path { get; }
    public override string ToString() => $"{Name} ({(Problem is not null ? "damaged" : Complete ? "complete" : "incomplete")}, {(Size is { } bytes ? $"{bytes / 1e9:F2} GB" : "size unknown")})";
}

/// <summary>One file of a stored model.</summary>
public sealed class FifoModelFile
{
    internal FifoModelFile(StoredFileStatus f)
    {
        Repository = f.Repository;
        Revision = f.Revision;
        Name = f.Path;
        LocalPath = f.LocalPath;
        Size = f.Size < 0 ? null : f.Size;
        Sha256 = f.Sha256;
        Present = f.Present;
    }

    public string Repository { get; }
    public string Revision { get; }
    /// <summary>The path inside the repository, e.g. unet/config.json.</summary>
    public string Name { get; }
    public string LocalPath { get; }
    /// <summary>Bytes; null while it was never listed.</summary>
    public long? Size { get; }
    /// <summary>The hub's sha256 (Git LFS files), which the download was checked against.</summary>
    public string? Sha256 { get; }
    public bool Present { get; }
    public override string ToString() => $"{Repository}/{Name}";
}
