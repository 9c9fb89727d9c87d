using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using FifoPipes.Abstractions;

namespace FifoPipes.Hosting.Models;

/// <summary>A file recorded in a snapshot manifest: what the hub listed when it was saved.</summary>
/// <param name="Verified">
/// Whether the file on disk was verified against this entry's size and sha256: false from when the hub lists a new
/// version until that one is downloaded, so a save cut short never passes the old bytes off as the new ones; null in
/// manifests written before it was recorded (judged by size, as then).
/// </param>
public sealed record StoredFile(string Path, long Size, string? Sha256, bool? Verified = null, string? GitBlob = null)
{
    /// <summary>Whether the hub lists the very content this entry was recorded for.</summary>
    public bool Describes(HubFile file) => Size == file.Size && Sha256 == file.Sha256 && GitBlob == file.GitBlob;
}

/// <summary>What the store holds of one repository at one revision.</summary>
public sealed record SnapshotManifest(string Endpoint, string Repository, string Revision, string? Commit, DateTimeOffset Updated, IReadOnlyList<StoredFile> Files);

/// <summary>One file of a stored model, as it is on disk now.</summary>
public sealed record StoredFileStatus(string Repository, string Revision, string Path, string LocalPath, long Size, string? Sha256, bool Present);

/// <summary>A preset or a by-hand download as the store holds it.</summary>
public sealed record StoredModel(string Name, ModelPreset? Preset, IReadOnlyList<StoredFileStatus> Files)
{
    public long Size => Files.Where(f => f.Size > 0).Sum(f => f.Size);
    public bool Complete => Files.Count > 0 && Files.All(f => f.Present);
}

/// <summary>Overall progress of saving a model: the current file, and all files together.</summary>
public readonly record struct ModelSaveProgress(string Repository, string File, long FileDone, long FileTotal, long AllDone, long AllTotal, bool Waiting);

/// <summary>
/// The local model store: <c>&lt;root&gt;/&lt;owner&gt;/&lt;name&gt;/&lt;revision&gt;/&lt;path&gt;</c> per repository and revision,
/// <c>&lt;revision&gt;.manifest.json</c> beside each (files, sizes, sha256, commit), and <c>.presets/&lt;name&gt;.json</c> per saved
/// preset. The root is FIFOPIPES_MODEL_STORE, else $XDG_CACHE_HOME/fifopipes/models, else ~/.cache/fifopipes/models.
/// </summary>
public sealed partial class ModelStore
{
    public const string StoreVariable = "FIFOPIPES_MODEL_STORE";
    const string PresetFolder = ".presets";
    const string ManifestSuffix = ".manifest.json";
    static readonly TimeSpan ManifestLockTimeout = TimeSpan.FromMinutes(2);

    static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        PropertyNameCaseInsensitive = true,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public ModelStore(string root) => Root = Path.GetFullPath(root);

    public string Root { get; }

    public static ModelStore FromEnvironment() => new(DefaultRoot());

    public static string DefaultRoot()
    {
        if (Environment.GetEnvironmentVariable(StoreVariable) is { Length: > 0 } store) return store;
        var cache = Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg && Path.IsPathRooted(xdg)
            ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(cache, "fifopipes", "models");
    }

    public string SnapshotFolder(string repository, string revision) =>
        Path.Combine(Root, HubNames.CheckRepository(repository).Replace('/', Path.DirectorySeparatorChar), HubNames.RevisionFolder(revision));

    public string LocalPath(string repository, string revision, string file)
    {
        var folder = Path.GetFullPath(SnapshotFolder(repository, revision));
        var local = Path.GetFullPath(Path.Combine(folder, HubNames.CheckFilePath(file).Replace('/', Path.DirectorySeparatorChar)));
        // The names are checked already; this holds whatever a platform makes of a name the checks did not foresee.
        if (!local.StartsWith(folder + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw new FifoInputException("InvalidModelFile", $"'{file}' would be stored outside '{folder}'; it is not a file path inside the repository.");
        return local;
    }

    string ManifestPath(string repository, string revision) => SnapshotFolder(repository, revision) + ManifestSuffix;
    string PresetPath(string name) => Path.Combine(Root, PresetFolder, SafeFileName(name) + ".json");

    static string SafeFileName(string name) =>
        new string(name.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_').ToArray()).TrimStart('.');

    public SnapshotManifest? ReadManifest(string repository, string revision)
    {
        var path = ManifestPath(repository, revision);
        if (!File.Exists(path)) return null;
        try { return JsonSerializer.Deserialize<SnapshotManifest>(ReadSharingDelete(path), Json); }
        catch (JsonException ex)
        {
            throw new FifoInputException("ModelStoreCorrupt", $"The store manifest '{path}' is not valid ({ex.Message}); delete it and save the model again.");
        }
    }

    /// <summary>
    /// Adds or replaces <paramref name="files"/> in the manifest as the hub lists them now, each unverified unless the
    /// hub still lists what was verified before; files listed before and not named now are kept.
    /// </summary>
    Task MergeManifestAsync(HubListing listing, IEnumerable<HubFile> files, CancellationToken cancel) =>
        UpdateManifestAsync(listing.Repository, listing.Revision, old =>
        {
            var merged = (old?.Files ?? Array.Empty<StoredFile>()).ToDictionary(f => f.Path, StringComparer.Ordinal);
            foreach (var f in files)
            {
                var previous = merged.GetValueOrDefault(f.Path);
                bool? verified = previous is not null && previous.Describes(f) ? previous.Verified : false;
                merged[f.Path] = new StoredFile(f.Path, f.Size, f.Sha256, verified, f.GitBlob);
            }
            return Listed(listing, old, merged.Values);
        }, cancel);

    /// <summary>Records that <paramref name="file"/> is on disk as the hub listed it (downloaded and checked).</summary>
    Task MarkVerifiedAsync(HubListing listing, HubFile file, CancellationToken cancel) =>
        UpdateManifestAsync(listing.Repository, listing.Revision, old => Listed(listing, old,
            (old?.Files ?? Array.Empty<StoredFile>()).Where(f => f.Path != file.Path)
            .Append(new StoredFile(file.Path, file.Size, file.Sha256, Verified: true, file.GitBlob))), cancel);

    static SnapshotManifest Listed(HubListing listing, SnapshotManifest? old, IEnumerable<StoredFile> files) =>
        new(listing.Endpoint, listing.Repository, listing.Revision, listing.Commit ?? old?.Commit, DateTimeOffset.UtcNow,
            files.OrderBy(f => f.Path, StringComparer.Ordinal).ToList());

    /// <summary>
    /// Reads, changes and rewrites the manifest under its lock (a change to null deletes it): two saves of one
    /// repository (other threads or other processes, each downloading its own files) would otherwise each write back
    /// what it read, dropping the other's entries. The lock file stays: deleting it could let a waiter lock the deleted
    /// file while a newcomer locks a new one.
    /// </summary>
    async Task UpdateManifestAsync(string repository, string revision, Func<SnapshotManifest?, SnapshotManifest?> change, CancellationToken cancel)
    {
        var path = ManifestPath(repository, revision);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var lockPath = path + ".lock";
        using var held = await ExclusiveFile.AcquireAsync(lockPath, ManifestLockTimeout, waiting: null,
            ex => new FifoInputException("ModelStoreLocked",
                $"The manifest '{path}' has been locked by another save for more than {ManifestLockTimeout.TotalSeconds:0} s, though an update takes " +
                $"milliseconds. If no other Save-FifoModel is running, delete '{lockPath}' and try again.", ex),
            cancel).ConfigureAwait(false);
        if (change(ReadManifest(repository, revision)) is { } manifest) WriteAtomically(path, JsonSerializer.Serialize(manifest, Json));
        else File.Delete(path);
    }

    /// <summary>
    /// Reads a file another save may replace meanwhile: on Windows a rename over a file fails while a reader has it
    /// open without delete sharing (elsewhere this changes nothing).
    /// </summary>
    static string ReadSharingDelete(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    static void WriteAtomically(string path, string text)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var tmp = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        File.WriteAllText(tmp, text);
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>Downloads every file of <paramref name="preset"/> that is not already stored, and records the preset.</summary>
    public async Task<StoredModel> SaveAsync(HubClient hub, ModelPreset preset, IProgress<ModelSaveProgress>? progress = null, CancellationToken cancel = default)
    {
        // List everything first, so a wrong file name fails before gigabytes are fetched.
        var plan = new List<(HubListing Listing, IReadOnlyList<HubFile> Files)>();
        foreach (var part in preset.Parts)
        {
            var listing = await hub.ListAsync(part.Repository, part.Revision, cancel).ConfigureAwait(false);
            plan.Add((listing, part.Files.Select(listing.Require).ToList()));
        }
        WriteAtomically(PresetPath(preset.Name), ModelCatalog.PresetToJson(preset));
        await DownloadAsync(hub, plan, progress, cancel).ConfigureAwait(false);
        return Status(preset);
    }

    /// <summary>Downloads files of one repository by hand (all of them when <paramref name="files"/> is empty).</summary>
    public async Task<StoredModel> SaveFilesAsync(HubClient hub, string repository, string revision, IReadOnlyList<string>? files,
        IProgress<ModelSaveProgress>? progress = null, CancellationToken cancel = default)
    {
        foreach (var f in files ?? Array.Empty<string>()) HubNames.CheckFilePath(f);
        var listing = await hub.ListAsync(repository, revision, cancel).ConfigureAwait(false);
        var chosen = files is { Count: > 0 } ? files.Distinct(StringComparer.Ordinal).Select(listing.Require).ToList() : listing.Files.ToList();
        await DownloadAsync(hub, new List<(HubListing, IReadOnlyList<HubFile>)> { (listing, chosen) }, progress, cancel).ConfigureAwait(false);
        return SnapshotStatus(repository, revision, chosen.Select(f => f.Path).ToList());
    }

    async Task DownloadAsync(HubClient hub, List<(HubListing Listing, IReadOnlyList<HubFile> Files)> plan, IProgress<ModelSaveProgress>? progress, CancellationToken cancel)
    {
        long allTotal = plan.Sum(p => p.Files.Sum(f => f.Size));
        long finished = 0;
        foreach (var (listing, files) in plan)
        {
            var before = ReadManifest(listing.Repository, listing.Revision);
            // Record the files first: an interrupted save then shows as incomplete instead of vanishing.
            await MergeManifestAsync(listing, files, cancel).ConfigureAwait(false);
            foreach (var file in files)
            {
                var local = LocalPath(listing.Repository, listing.Revision, file.Path);
                if (!IsVerifiedAlready(before, file, local))
                {
                    long done = finished;
                    var perFile = progress is null ? null : new ActionProgress<DownloadProgress>(p => progress.Report(
                        new ModelSaveProgress(listing.Repository, p.Path, p.BytesDone, p.BytesTotal, done + p.BytesDone, allTotal, p.Waiting)));
                    // From the commit the listing was made at: a branch that moves mid-save cannot mix two versions.
                    await hub.DownloadAsync(listing.Repository, listing.Commit ?? listing.Revision, file, local, perFile, cancel).ConfigureAwait(false);
                }
                await MarkVerifiedAsync(listing, file, cancel).ConfigureAwait(false);
                finished += file.Size;
                progress?.Report(new ModelSaveProgress(listing.Repository, file.Path, file.Size, file.Size, finished, allTotal, false));
            }
        }
    }

    /// <summary>
    /// Files appear under their real name only after verification, so one verified with the same size and sha256 as
    /// the hub lists now needs no second download (or re-hash).
    /// </summary>
    static bool IsVerifiedAlready(SnapshotManifest? before, HubFile file, string local)
    {
        var recorded = before?.Files.FirstOrDefault(f => f.Path == file.Path);
        var info = new FileInfo(local);
        // A manifest from before verification was recorded (null) may hold the listing of a save that was cut short:
        // such a file goes through the download, which re-hashes what is in place instead of fetching it again.
        return recorded is { Verified: true } && info.Exists && info.Length == file.Size && recorded.Describes(file);
    }

    /// <summary>How much of <paramref name="preset"/> the store holds.</summary>
    public StoredModel Status(ModelPreset preset)
    {
        var files = new List<StoredFileStatus>();
        foreach (var part in preset.Parts)
        {
            var manifest = ReadManifest(part.Repository, part.Revision);
            foreach (var path in part.Files) files.Add(FileStatus(part.Repository, part.Revision, path, manifest));
        }
        return new StoredModel(preset.Name, preset, files);
    }

    StoredModel SnapshotStatus(string repository, string revision, IReadOnlyList<string>? only = null)
    {
        var manifest = ReadManifest(repository, revision);
        var paths = only ?? manifest?.Files.Select(f => f.Path).ToList() ?? new List<string>();
        return new StoredModel($"{repository}@{revision}", null, paths.Select(p => FileStatus(repository, revision, p, manifest)).ToList());
    }

    StoredFileStatus FileStatus(string repository, string revision, string path, SnapshotManifest? manifest)
    {
        var recorded = manifest?.Files.FirstOrDefault(f => f.Path == path);
        var local = LocalPath(repository, revision, path);
        var info = new FileInfo(local);
        bool present = recorded is { Verified: not false } && info.Exists && info.Length == recorded.Size;
        return new StoredFileStatus(repository, revision, path, local, recorded?.Size ?? -1, recorded?.Sha256, present);
    }

    /// <summary>The presets saved in this store (as they were when saved).</summary>
    public IReadOnlyList<ModelPreset> SavedPresets()
    {
        var folder = Path.Combine(Root, PresetFolder);
        if (!Directory.Exists(folder)) return Array.Empty<ModelPreset>();
        var presets = new List<ModelPreset>();
        foreach (var file in Directory.EnumerateFiles(folder, "*.json").OrderBy(f => f, StringComparer.Ordinal))
        {
            try { if (ModelCatalog.PresetFromJson(File.ReadAllText(file)) is { } p) presets.Add(p); }
            catch (JsonException) { /* a damaged record only hides that preset from the listing; the files stay */ }
        }
        return presets;
    }

    /// <summary>
    /// Everything in the store: saved presets, then by-hand downloads that belong to no saved preset; with
    /// <paramref name="catalog"/>, also the catalog's presets that are not (fully) saved.
    /// </summary>
    public IReadOnlyList<StoredModel> List(ModelCatalog? catalog = null)
    {
        var result = new List<StoredModel>();
        var saved = SavedPresets();
        foreach (var preset in saved) result.Add(Status(preset));
        if (catalog is not null)
            foreach (var preset in catalog.Presets.Where(p => !saved.Any(s => string.Equals(s.Name, p.Name, StringComparison.OrdinalIgnoreCase))))
                result.Add(Status(preset));
        var claimed = new HashSet<(string, string, string)>(result.SelectMany(m => m.Files.Select(f => (f.Repository, HubNames.RevisionFolder(f.Revision), f.Path))));
        foreach (var manifest in Manifests())
        {
            var loose = manifest.Files.Where(f => !claimed.Contains((manifest.Repository, HubNames.RevisionFolder(manifest.Revision), f.Path))).Select(f => f.Path).ToList();
            if (loose.Count > 0) result.Add(SnapshotStatus(manifest.Repository, manifest.Revision, loose));
        }
        return result;
    }

    IEnumerable<SnapshotManifest> Manifests()
    {
        if (!Directory.Exists(Root)) yield break;
        foreach (var owner in Directory.EnumerateDirectories(Root).OrderBy(d => d, StringComparer.Ordinal))
        {
            if (Path.GetFileName(owner).StartsWith('.')) continue;
            foreach (var repo in Directory.EnumerateDirectories(owner).OrderBy(d => d, StringComparer.Ordinal))
            foreach (var file in Directory.EnumerateFiles(repo, "*" + ManifestSuffix).OrderBy(f => f, StringComparer.Ordinal))
            {
                SnapshotManifest? m = null;
                try { m = JsonSerializer.Deserialize<SnapshotManifest>(ReadSharingDelete(file), Json); }
                catch (JsonException) { }
                if (m is not null) yield return m;
            }
        }
    }

    /// <summary>
    /// The preset's plugin options with "{role}" replaced by the stored folders. Throws "ModelNotDownloaded",
    /// naming the missing files and the Save-FifoModel command that fetches them, when anything is missing.
    /// </summary>
    public IReadOnlyDictionary<string, string> ResolveOptions(ModelPreset preset)
    {
        var status = Status(preset);
        var missing = status.Files.Where(f => !f.Present).ToList();
        if (missing.Count > 0)
            throw new FifoInputException("ModelNotDownloaded",
                $"The model '{preset.Name}' is not {(missing.Count == status.Files.Count ? "downloaded" : "completely downloaded")}: " +
                $"{missing.Count} of {status.Files.Count} files are missing from the model store '{Root}' (e.g. {missing[0].Repository}/{missing[0].Path}). " +
                $"Run: Save-FifoModel -Name {preset.Name}   (or give the model's files with its path option).");
        return preset.Options.ToDictionary(o => o.Key, o => Expand(o.Value, preset), StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>The options that name no stored folder (e.g. preset), for when the user gives the files' paths.</summary>
    public static IReadOnlyDictionary<string, string> LiteralOptions(ModelPreset preset) =>
        preset.Options.Where(o => !TemplateRoles(o.Value).Any()).ToDictionary(o => o.Key, o => o.Value, StringComparer.OrdinalIgnoreCase);

    string Expand(string template, ModelPreset preset) => RoleReference().Replace(template, m =>
    {
        var part = preset.Part(m.Groups[1].Value)!;
        return SnapshotFolder(part.Repository, part.Revision).Replace(Path.DirectorySeparatorChar, '/');
    });

    public static IEnumerable<string> TemplateRoles(string template) => RoleReference().Matches(template ?? "").Select(m => m.Groups[1].Value);

    [GeneratedRegex(@"\{([A-Za-z][A-Za-z0-9_-]*)\}")]
    private static partial Regex RoleReference();
}

/// <summary>
/// Reports on the caller's thread: <see cref="Progress{T}"/> posts to the thread pool, which would let
/// reports arrive out of order.
/// </summary>
public sealed class ActionProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
