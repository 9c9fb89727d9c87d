using FifoPipes.Abstractions;

namespace FifoPipes.Hosting.Models;

/// <summary>One file of a hub repository: its size, and its sha256 when it is stored with Git LFS.</summary>
/// <param name="Sha256">An LFS file's content hash.</param>
/// <param name="GitBlob">A file kept in git itself (configs, tokenizers): its git blob id, sha1 of "blob &lt;size&gt;\0" and the content.</param>
public sealed record HubFile(string Path, long Size, string? Sha256, string? GitBlob = null);

/// <summary>The files of a repository at one revision, as the hub's API lists them.</summary>
public sealed record HubListing(string Endpoint, string Repository, string Revision, string? Commit, IReadOnlyList<HubFile> Files)
{
    public HubFile? Find(string path) => Files.FirstOrDefault(f => string.Equals(f.Path, path, StringComparison.Ordinal));

    /// <summary>The file, or an error naming repository, revision and file, with the nearest names the repository does have.</summary>
    public HubFile Require(string path)
    {
        if (Find(path) is { } file) return file;
        var folder = path.Contains('/') ? path[..(path.LastIndexOf('/') + 1)] : "";
        var nearby = Files.Where(f => f.Path.StartsWith(folder, StringComparison.Ordinal)).Select(f => f.Path).Take(12).ToList();
        throw new FifoInputException("ModelFileNotFound",
            $"The repository '{Repository}' at revision '{Revision}' on {Endpoint} has no file '{path}'." +
            (nearby.Count > 0 ? $" Files there include: {string.Join(", ", nearby)}." : "") +
            " Check the file name and the revision (-Revision).");
    }
}

/// <summary>How far one file's download has come; <see cref="Waiting"/> while another download of the same file holds it.</summary>
public readonly record struct DownloadProgress(string Path, long BytesDone, long BytesTotal, bool Waiting = false);

/// <summary>What a download did: fetched bytes, or found the verified file already in place.</summary>
public sealed record DownloadResult(string LocalPath, HubFile File, bool Downloaded, long BytesTransferred);
