using FifoPipes.Abstractions;

namespace FifoPipes.Hosting.Models;

/// <summary>A stored file kept by a removal because another saved preset uses it.</summary>
public sealed record KeptFile(StoredFileStatus File, string UsedBy);

/// <summary>What removing a stored model did: the files deleted, and those kept for other saved presets.</summary>
public sealed record StoreRemoval(string Name, IReadOnlyList<StoredFileStatus> Deleted, IReadOnlyList<KeptFile> Kept)
{
    /// <summary>Bytes freed: the sizes of the deleted files that were on disk.</summary>
    public long FreedBytes { get; init; }

    /// <summary>The deleted files of which only what a cut-short download left (a .partial) was on disk.</summary>
    public IReadOnlyList<StoredFileStatus> PartialOnly { get; init; } = Array.Empty<StoredFileStatus>();
}

/// <summary>What removing a stored model would do, read without changing the disk (for -WhatIf and -Confirm).</summary>
/// <param name="Deleting">The model's files that would go: those no other saved preset uses.</param>
/// <param name="Kept">The model's files that would stay, as another saved preset uses them.</param>
/// <param name="OnDiskBytes">What deleting them would free now: the files and their download leftovers as they are on disk.</param>
public sealed record StoreRemovalPlan(StoredModel Model, IReadOnlyList<StoredFileStatus> Deleting, IReadOnlyList<KeptFile> Kept, long OnDiskBytes);

public sealed partial class ModelStore
{
    static readonly TimeSpan DownloadLockWait = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Deletes a stored model as <see cref="List"/> names it (a saved preset, or "owner/name@revision" for files saved
    /// by hand): its files, their download leftovers, their manifest entries, the preset's record and its records that
    /// cannot be read (<see cref="StoredModel.Damage"/>). Files another saved
    /// preset uses stay (a tokenizer shared by two presets). Throws "ModelNotFound" for a name the store does not hold,
    /// "ModelFileLocked" for a file being downloaded now.
    /// </summary>
    public async Task<StoreRemoval> RemoveAsync(string name, CancellationToken cancel = default)
    {
        var plan = PlanRemoval(name);
        var model = plan.Model;
        var deleted = new List<StoredFileStatus>();
        var partialOnly = new List<StoredFileStatus>();
        long freed = 0;
        try
        {
            foreach (var file in plan.Deleting)
            {
                var bytes = await DeleteStoredFileAsync(file.LocalPath, cancel).ConfigureAwait(false);
                freed += bytes.Freed;
                deleted.Add(file);
                if (bytes is { Whole: null, Partial: not null }) partialOnly.Add(file);
            }
            // Records that cannot be read go with the model: no command could use or mend them after it is gone.
            foreach (var damaged in model.Damage) DeleteOrFail(damaged.Record);
            if (model.Preset is { } preset) DeleteOrFail(PresetPath(preset.Name));
        }
        finally
        {
            // Also after a failure partway (a file being downloaded): the manifests forget what is gone from the disk.
            foreach (var repository in deleted.GroupBy(f => (f.Repository, f.Revision)))
            {
                await ForgetAsync(repository.Key.Repository, repository.Key.Revision, repository.Select(f => f.Path).ToHashSet(StringComparer.Ordinal), CancellationToken.None).ConfigureAwait(false);
                DeleteOrphanManifestLocks(RepositoryFolder(repository.Key.Repository));
            }
            foreach (var file in deleted) RemoveEmptyFolders(file);
        }
        return new StoreRemoval(model.Name, deleted, plan.Kept) { FreedBytes = freed, PartialOnly = partialOnly };
    }

    /// <summary>
    /// What <see cref="RemoveAsync"/> would delete and keep for a stored model as <see cref="List"/> names it, read from
    /// the disk as it is now. Throws "ModelNotFound" for a name the store does not hold.
    /// </summary>
    public StoreRemovalPlan PlanRemoval(string name)
    {
        // One reading of the store: its saved presets are the listed models that have one.
        var stored = List();
        var model = stored.FirstOrDefault(m => string.Equals(m.Name, name, StringComparison.OrdinalIgnoreCase))
                    ?? throw new FifoInputException("ModelNotFound",
                        $"The model store '{Root}' holds no model '{name}'. Get-FifoModel lists what it holds (saved presets, and files saved by hand as owner/name@revision).");
        var others = stored.Where(m => m != model && m.Preset is not null).Select(m => m.Preset!).ToList();
        var deleting = new List<StoredFileStatus>();
        var kept = new List<KeptFile>();
        foreach (var file in model.Files)
        {
            if (others.FirstOrDefault(p => Uses(p, file)) is { } user) kept.Add(new KeptFile(file, user.Name));
            else deleting.Add(file);
        }
        long onDisk = deleting.Sum(f => LengthOrZero(f.LocalPath) + LengthOrZero(f.LocalPath + FileDownload.PartialSuffix));
        return new StoreRemovalPlan(model, deleting, kept, onDisk);
    }

    static long LengthOrZero(string path)
    {
        var info = new FileInfo(path);
        return info.Exists ? info.Length : 0;
    }

    static bool Uses(ModelPreset preset, StoredFileStatus file) => preset.Parts.Any(part =>
        part.Repository == file.Repository && HubNames.RevisionFolder(part.Revision) == HubNames.RevisionFolder(file.Revision) && part.Files.Contains(file.Path));

    /// <summary>
    /// Deletes a file and what a cut-short download left of it, holding its download lock so that no save is writing it
    /// meanwhile; returns the bytes freed. The lock file goes too, as after a finished download: a save that waited for
    /// it at this very moment is racing the removal of the same file, and verification still guards what it stores.
    /// </summary>
    async Task<DeletedBytes> DeleteStoredFileAsync(string local, CancellationToken cancel)
    {
        var lockPath = local + ".lock";
        if (!Directory.Exists(Path.GetDirectoryName(local))) return default;
        var freed = default(DeletedBytes);
        using (await ExclusiveFile.AcquireAsync(lockPath, DownloadLockWait, waiting: null,
                   ex => new FifoInputException("ModelFileLocked",
                       $"'{local}' is being downloaded by another Save-FifoModel. Remove the model once that save ends, or stop it first.", ex),
                   cancel).ConfigureAwait(false))
        {
            freed = new DeletedBytes(DeleteCounting(local), DeleteCounting(local + FileDownload.PartialSuffix));
            TryDelete(lockPath);
        }
        // Windows refuses to delete a file its holder has open; by now it is closed.
        TryDelete(lockPath);
        return freed;
    }

    /// <summary>Bytes a deleted file and its download leftover held; null for one that was not there.</summary>
    readonly record struct DeletedBytes(long? Whole, long? Partial)
    {
        public long Freed => (Whole ?? 0) + (Partial ?? 0);
    }

    /// <summary>Deletes <paramref name="path"/> and returns the bytes it held; null where there was no such file.</summary>
    static long? DeleteCounting(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) return null;
        long length = info.Length;
        DeleteOrFail(path);
        return length;
    }

    static void DeleteOrFail(string path)
    {
        try { File.Delete(path); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new FifoInputException("ModelStoreWriteFailed", $"Cannot delete '{path}' ({ex.Message}). Close what uses it (a running video on Windows) and try again.", ex);
        }
    }

    /// <summary>
    /// Drops <paramref name="paths"/> from the manifest; a manifest left with no file goes.
    /// </summary>
    Task ForgetAsync(string repository, string revision, IReadOnlySet<string> paths, CancellationToken cancel) =>
        UpdateManifestAsync(repository, revision, old =>
        {
            var left = (old?.Files ?? Array.Empty<StoredFile>()).Where(f => !paths.Contains(f.Path)).ToList();
            return old is null || left.Count == 0 ? null : old with { Files = left, Updated = DateTimeOffset.UtcNow };
        }, cancel);

    /// <summary>Removes the folders a deleted file leaves empty, up to its repository's folder.</summary>
    void RemoveEmptyFolders(StoredFileStatus file)
    {
        var owner = Path.GetDirectoryName(RepositoryFolder(file.Repository))!;
        for (var folder = Path.GetDirectoryName(file.LocalPath); folder is not null && folder.Length > Root.Length; folder = Path.GetDirectoryName(folder))
        {
            if (!Directory.Exists(folder)) continue;
            if (Directory.EnumerateFileSystemEntries(folder).Any()) return;
            // A save writing into it meanwhile, or no permission: the folder stays, as a non-empty one does.
            try { Directory.Delete(folder); }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { return; }
            if (folder == owner) return;
        }
    }

    string RepositoryFolder(string repository) => Path.GetFullPath(Path.Combine(Root, repository.Replace('/', Path.DirectorySeparatorChar)));

    /// <summary>
    /// The lock files of manifests that are gone. A save waiting on one at this moment is racing the removal of the same
    /// repository; the worst it can do is write a manifest another save then also writes.
    /// </summary>
    static void DeleteOrphanManifestLocks(string repositoryFolder)
    {
        if (!Directory.Exists(repositoryFolder)) return;
        foreach (var lockFile in Directory.EnumerateFiles(repositoryFolder, "*" + ManifestSuffix + ".lock"))
            if (!File.Exists(lockFile[..^".lock".Length])) TryDelete(lockFile);
    }

    static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
