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

/// <summary>A record of the store (a manifest, a saved preset's record) that cannot be read, and what mends it.</summary>
/// <param name="Record">The damaged file: removing the model deletes it.</param>
/// <param name="Problem">What is wrong with it and the command that mends it, naming the model.</param>
public sealed record StoreDamage(string Record, string Problem);

/// <summary>A preset or a by-hand download as the store holds it.</summary>
public sealed record StoredModel(string Name, ModelPreset? Preset, IReadOnlyList<StoredFileStatus> Files)
{
    public long Size => Files.Where(f => f.Size > 0).Sum(f => f.Size);

    /// <summary>Its records the store cannot read: the files they list count as missing until a save writes them anew.</summary>
    public IReadOnlyList<StoreDamage> Damage { get; init; } = Array.Empty<StoreDamage>();

    /// <summary>Files a save that verified the stored ones found damaged (same size, other content) and downloaded again.</summary>
    public IReadOnlyList<StoredFileStatus> Refetched { get; init; } = Array.Empty<StoredFileStatus>();

    /// <summary>
    /// Why a save gave the model as stored without checking it against the hub (the hub could not be listed, and every
    /// file was there already); null where it checked.
    /// </summary>
    public string? Unchecked { get; init; }

    public bool Complete => Damage.Count == 0 && Files.Count > 0 && Files.All(f => f.Present);
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

    /// <summary>
    /// The presets a saved preset's record may stand for: when the record is damaged, the model is still listed, and
    /// removable, with that preset's files instead of vanishing while its files stay on disk.
    /// </summary>
    public ModelCatalog Catalog { get; init; } = ModelCatalog.BuiltIn;

    /// <summary>The store at <see cref="DefaultRoot"/>, with the catalog of FIFOPIPES_MODEL_CATALOG where it can be read.</summary>
    public static ModelStore FromEnvironment() => new(DefaultRoot()) { Catalog = CatalogOrBuiltIn() };

    // A bad catalog file is the error of the commands that use the catalog (Save-FifoModel, -ListAvailable): here it
    // only costs recognising a damaged record of one of its presets.
    static ModelCatalog CatalogOrBuiltIn()
    {
        try { return ModelCatalog.FromEnvironment(); }
        catch (FifoInputException) { return ModelCatalog.BuiltIn; }
    }

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

    /// <summary>The manifest of a repository at a revision; null when there is none. Throws "ModelStoreCorrupt" for one that cannot be read.</summary>
    public SnapshotManifest? ReadManifest(string repository, string revision)
    {
        var path = ManifestPath(repository, revision);
        var manifest = ReadManifestFile(path, out var problem);
        if (problem is not null)
            throw new FifoInputException("ModelStoreCorrupt",
                $"The store manifest '{path}' cannot be read ({problem}). Save-FifoModel writes it anew, keeping the files that match the hub; Remove-FifoModel deletes the model.");
        return manifest;
    }

    /// <summary>
    /// A manifest, or null: where there is none, and where it cannot be read, with why in <paramref name="problem"/>. A save
    /// writes a damaged one anew, as if there were none: every file is then checked against the hub before it counts.
    /// </summary>
    static SnapshotManifest? ReadManifestFile(string path, out string? problem)
    {
        problem = null;
        if (!File.Exists(path)) return null;
        try
        {
            var manifest = JsonSerializer.Deserialize<SnapshotManifest>(ReadSharingDelete(path), Json);
            // Valid JSON is not yet a manifest: "{}" or a list with a hole would fail later, far from the cause.
            if (manifest is { Repository: not null, Revision: not null, Files: not null } && manifest.Files.All(f => f?.Path is not null)) return manifest;
            problem = "it lacks the repository, the revision or the list of files";
        }
        catch (JsonException ex) { problem = ex.Message; }
        return null;
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
        if (change(ReadManifestFile(path, out _)) is { } manifest) WriteAtomically(path, JsonSerializer.Serialize(manifest, Json));
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
    /// <param name="verify">
    /// Also checks the files already stored against the hub's listing (sha256, or the git blob id) and downloads those that
    /// differ again (<see cref="StoredModel.Refetched"/>); without it they count as stored by their size, as listing does.
    /// </param>
    public async Task<StoredModel> SaveAsync(HubClient hub, ModelPreset preset, IProgress<ModelSaveProgress>? progress = null, CancellationToken cancel = default,
        bool verify = false)
    {
        // List everything first, so a wrong file name fails before gigabytes are fetched.
        var plan = new List<(HubListing Listing, IReadOnlyList<HubFile> Files)>();
        try
        {
            foreach (var part in preset.Parts)
            {
                var listing = await hub.ListAsync(part.Repository, part.Revision, cancel).ConfigureAwait(false);
                plan.Add((listing, part.Files.Select(listing.Require).ToList()));
            }
        }
        // Offline, a model whose files are all stored needs nothing from the hub: it is there, only unchecked for changes.
        catch (FifoInputException ex) when (!verify && Status(preset) is { Complete: true } stored)
        {
            return stored with { Unchecked = ex.Message };
        }
        WriteAtomically(PresetPath(preset.Name), ModelCatalog.PresetToJson(preset));
        var refetched = await DownloadAsync(hub, plan, verify, progress, cancel).ConfigureAwait(false);
        return WithRefetched(Status(preset), refetched);
    }

    /// <summary>Downloads files of one repository by hand (all of them when <paramref name="files"/> is empty).</summary>
    /// <param name="verify">As for <see cref="SaveAsync"/>: checks the files already stored and downloads the damaged ones again.</param>
    public async Task<StoredModel> SaveFilesAsync(HubClient hub, string repository, string revision, IReadOnlyList<string>? files,
        IProgress<ModelSaveProgress>? progress = null, CancellationToken cancel = default, bool verify = false)
    {
        foreach (var f in files ?? Array.Empty<string>()) HubNames.CheckFilePath(f);
        var listing = await hub.ListAsync(repository, revision, cancel).ConfigureAwait(false);
        var chosen = files is { Count: > 0 } ? files.Distinct(StringComparer.Ordinal).Select(listing.Require).ToList() : listing.Files.ToList();
        var refetched = await DownloadAsync(hub, new List<(HubListing, IReadOnlyList<HubFile>)> { (listing, chosen) }, verify, progress, cancel).ConfigureAwait(false);
        return WithRefetched(SnapshotStatus(repository, revision, chosen.Select(f => f.Path).ToList()), refetched);
    }

    static StoredModel WithRefetched(StoredModel model, IReadOnlySet<string> refetched) =>
        model with { Refetched = model.Files.Where(f => refetched.Contains(f.LocalPath)).ToList() };

    /// <summary>Downloads the planned files not stored already (with <paramref name="verify"/>, not stored intact); returns the local paths of stored files found damaged and fetched again.</summary>
    async Task<IReadOnlySet<string>> DownloadAsync(HubClient hub, List<(HubListing Listing, IReadOnlyList<HubFile> Files)> plan, bool verify,
        IProgress<ModelSaveProgress>? progress, CancellationToken cancel)
    {
        long allTotal = plan.Sum(p => p.Files.Sum(f => f.Size));
        long finished = 0;
        var refetched = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (listing, files) in plan)
        {
            // A damaged manifest is written anew: its files then go through the download, which keeps those that check out.
            var before = ReadManifestFile(ManifestPath(listing.Repository, listing.Revision), out var damaged);
            // What else it listed is unknown, but the files on disk that the hub lists are recorded unchecked, so that they
            // stay listed (incomplete) for a save to check or a removal to delete, instead of vanishing with the old record.
            var unverified = damaged is null ? Enumerable.Empty<HubFile>()
                : FilesOnDisk(listing.Repository, listing.Revision).Select(listing.Find).OfType<HubFile>().Where(f => !files.Any(p => p.Path == f.Path));
            // Record the files first: an interrupted save then shows as incomplete instead of vanishing.
            await MergeManifestAsync(listing, files.Concat(unverified).ToList(), cancel).ConfigureAwait(false);
            foreach (var file in files)
            {
                var local = LocalPath(listing.Repository, listing.Revision, file.Path);
                bool stored = IsVerifiedAlready(before, file, local);
                if (!stored || verify)
                {
                    long done = finished;
                    var perFile = progress is null ? null : new ActionProgress<DownloadProgress>(p => progress.Report(
                        new ModelSaveProgress(listing.Repository, p.Path, p.BytesDone, p.BytesTotal, done + p.BytesDone, allTotal, p.Waiting)));
                    // From the commit the listing was made at: a branch that moves mid-save cannot mix two versions.
                    // A file in place is hashed there and fetched only when its content is not what the hub lists.
                    var result = await hub.DownloadAsync(listing.Repository, listing.Commit ?? listing.Revision, file, local, perFile, cancel).ConfigureAwait(false);
                    if (stored && result.Downloaded) refetched.Add(local);
                }
                await MarkVerifiedAsync(listing, file, cancel).ConfigureAwait(false);
                finished += file.Size;
                progress?.Report(new ModelSaveProgress(listing.Repository, file.Path, file.Size, file.Size, finished, allTotal, false));
            }
        }
        return refetched;
    }

    /// <summary>
    /// Files appear under their real name only after verification, so one verified with the same size and sha256 as
    /// the hub lists now needs no second download (or re-hash) unless the disk changed it since: that takes a save that verifies.
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
        var damage = new List<StoreDamage>();
        foreach (var part in preset.Parts)
        {
            var manifest = ReadManifestFile(ManifestPath(part.Repository, part.Revision), out var problem);
            if (problem is not null) damage.Add(ManifestDamage(part.Repository, part.Revision, problem, SaveCommand(preset.Name), preset.Name));
            foreach (var path in part.Files) files.Add(FileStatus(part.Repository, part.Revision, path, manifest));
        }
        return new StoredModel(preset.Name, preset, files) { Damage = damage.DistinctBy(d => d.Record).ToList() };
    }

    StoredModel SnapshotStatus(string repository, string revision, IReadOnlyList<string>? only = null)
    {
        var name = $"{repository}@{revision}";
        var manifest = ReadManifestFile(ManifestPath(repository, revision), out var problem);
        var paths = only ?? manifest?.Files.Select(f => f.Path).ToList() ?? new List<string>();
        var damage = problem is null ? Array.Empty<StoreDamage>()
            : new[] { ManifestDamage(repository, revision, problem, SaveFilesCommand(repository, revision, paths), name) };
        return new StoredModel(name, null, paths.Select(p => FileStatus(repository, revision, p, manifest)).ToList()) { Damage = damage };
    }

    StoredFileStatus FileStatus(string repository, string revision, string path, SnapshotManifest? manifest)
    {
        var recorded = manifest?.Files.FirstOrDefault(f => f.Path == path);
        var local = LocalPath(repository, revision, path);
        var info = new FileInfo(local);
        bool present = recorded is { Verified: not false } && info.Exists && info.Length == recorded.Size;
        return new StoredFileStatus(repository, revision, path, local, recorded?.Size ?? -1, recorded?.Sha256, present);
    }

    StoreDamage ManifestDamage(string repository, string revision, string problem, string save, string model)
    {
        var path = ManifestPath(repository, revision);
        return new StoreDamage(path, $"The store manifest '{path}' cannot be read ({problem}), so the files it lists count as missing. " +
                                     $"Run: {save}   (it writes the manifest anew, keeping the files that match the hub), or: Remove-FifoModel {model}");
    }

    static string SaveCommand(string preset) => $"Save-FifoModel -Name {preset}";

    /// <summary>The command that saves these files by hand again; with none known, every file of the repository.</summary>
    static string SaveFilesCommand(string repository, string revision, IReadOnlyList<string> paths) =>
        $"Save-FifoModel -Repository {repository} -Revision {revision}" + (paths.Count == 0 ? "" : $" -File {string.Join(", ", paths)}");

    /// <summary>The presets saved in this store (as they were when saved); a damaged record is left out (<see cref="List"/> shows it).</summary>
    public IReadOnlyList<ModelPreset> SavedPresets() => PresetRecords().Where(r => r.Preset is not null).Select(r => r.Preset!).ToList();

    /// <summary>A saved preset's record: the preset, or why the record cannot be read.</summary>
    readonly record struct PresetRecord(string Path, ModelPreset? Preset, string? Problem);

    IReadOnlyList<PresetRecord> PresetRecords()
    {
        var folder = Path.Combine(Root, PresetFolder);
        if (!Directory.Exists(folder)) return Array.Empty<PresetRecord>();
        var records = new List<PresetRecord>();
        foreach (var file in Directory.EnumerateFiles(folder, "*.json").OrderBy(f => f, StringComparer.Ordinal))
        {
            try
            {
                records.Add(ModelCatalog.PresetFromJson(File.ReadAllText(file)) is { Name: not null, Parts: not null } p
                    ? new PresetRecord(file, p, null)
                    : new PresetRecord(file, null, "it holds no preset"));
            }
            catch (Exception ex) when (ex is JsonException or FifoInputException) { records.Add(new PresetRecord(file, null, ex.Message)); }
        }
        return records;
    }

    /// <summary>
    /// The model a damaged preset record stands for: the catalog's preset of that name with its files (which the record
    /// is not needed to load), else the record alone, so that Remove-FifoModel can delete it.
    /// </summary>
    StoredModel DamagedPreset(PresetRecord record, ModelCatalog? catalog)
    {
        var name = Path.GetFileNameWithoutExtension(record.Path);
        var preset = new[] { catalog, Catalog }.Select(c => c?.Presets.FirstOrDefault(p => string.Equals(SafeFileName(p.Name), name, StringComparison.OrdinalIgnoreCase)))
            .FirstOrDefault(p => p is not null);
        if (preset is null)
            return new StoredModel(name, null, Array.Empty<StoredFileStatus>())
            {
                Damage = new[] { new StoreDamage(record.Path, $"The saved preset record '{record.Path}' cannot be read ({record.Problem}), and no catalog preset is named '{name}'. " +
                                                              $"Run: Remove-FifoModel {name}   (it deletes the record; files of its repositories are listed by repository)") },
            };
        var status = Status(preset);
        var damage = new StoreDamage(record.Path, $"The record of the saved preset '{preset.Name}' ('{record.Path}') cannot be read ({record.Problem}). " +
                                                  $"Run: {SaveCommand(preset.Name)}   (it writes the record anew and keeps the files that are stored), or: Remove-FifoModel {preset.Name}");
        return status with { Damage = status.Damage.Prepend(damage).ToList() };
    }

    /// <summary>
    /// Everything in the store: saved presets, then by-hand downloads that belong to no saved preset; with
    /// <paramref name="catalog"/>, also the catalog's presets that are not (fully) saved. A model whose records are
    /// damaged is listed with them (<see cref="StoredModel.Damage"/>) rather than failing the list or vanishing from it.
    /// </summary>
    public IReadOnlyList<StoredModel> List(ModelCatalog? catalog = null)
    {
        var result = new List<StoredModel>();
        foreach (var record in PresetRecords()) result.Add(record.Preset is { } preset ? Status(preset) : DamagedPreset(record, catalog));
        if (catalog is not null)
            foreach (var preset in catalog.Presets.Where(p => !result.Any(s => string.Equals(s.Name, p.Name, StringComparison.OrdinalIgnoreCase))))
                result.Add(Status(preset));
        var claimed = new HashSet<(string, string, string)>(result.SelectMany(m => m.Files.Select(f => (f.Repository, HubNames.RevisionFolder(f.Revision), f.Path))));
        bool Claimed(string repository, string revision, string path) => claimed.Contains((repository, HubNames.RevisionFolder(revision), path));
        foreach (var snapshot in Snapshots())
        {
            if (snapshot.Manifest is { } manifest)
            {
                var loose = manifest.Files.Where(f => !Claimed(manifest.Repository, manifest.Revision, f.Path)).Select(f => f.Path).ToList();
                if (loose.Count > 0) result.Add(SnapshotStatus(manifest.Repository, manifest.Revision, loose));
                continue;
            }
            // Damaged: what it listed is unknown, so the files on disk that no preset claims stand for it. With none, it is
            // still listed where no preset's listing names it already, so that its record can be removed.
            var onDisk = FilesOnDisk(snapshot.Repository, snapshot.Revision);
            var unclaimed = onDisk.Where(p => !Claimed(snapshot.Repository, snapshot.Revision, p)).ToList();
            bool shownByPreset = result.Any(m => m.Damage.Any(d => d.Record == snapshot.Path));
            if (unclaimed.Count > 0 || !shownByPreset) result.Add(SnapshotStatus(snapshot.Repository, snapshot.Revision, unclaimed));
        }
        return result;
    }

    /// <summary>A manifest file of the store, read or damaged (null), with the repository and revision its place names.</summary>
    readonly record struct SnapshotRecord(string Path, string Repository, string Revision, SnapshotManifest? Manifest);

    IEnumerable<SnapshotRecord> Snapshots()
    {
        if (!Directory.Exists(Root)) yield break;
        foreach (var owner in Directory.EnumerateDirectories(Root).OrderBy(d => d, StringComparer.Ordinal))
        {
            if (Path.GetFileName(owner).StartsWith('.')) continue;
            foreach (var repo in Directory.EnumerateDirectories(owner).OrderBy(d => d, StringComparer.Ordinal))
            foreach (var file in Directory.EnumerateFiles(repo, "*" + ManifestSuffix).OrderBy(f => f, StringComparer.Ordinal))
            {
                var manifest = ReadManifestFile(file, out _);
                if (manifest is not null) yield return new SnapshotRecord(file, manifest.Repository, manifest.Revision, manifest);
                else if (PlaceOf(repo, file) is { } place) yield return new SnapshotRecord(file, place.Repository, place.Revision, null);
            }
        }
    }

    /// <summary>The repository and revision a manifest's place in the store names ("refs--pr--1" for refs/pr/1); null for a place no save makes.</summary>
    static (string Repository, string Revision)? PlaceOf(string repositoryFolder, string manifest)
    {
        var repository = $"{Path.GetFileName(Path.GetDirectoryName(repositoryFolder))}/{Path.GetFileName(repositoryFolder)}";
        var revision = Path.GetFileName(manifest)[..^ManifestSuffix.Length].Replace("--", "/", StringComparison.Ordinal);
        try { return (HubNames.CheckRepository(repository), HubNames.CheckRevision(revision)); }
        catch (FifoInputException) { return null; }
    }

    /// <summary>The repository paths of the files in a snapshot's folder, counting a cut-short download (.partial) as its file.</summary>
    IReadOnlyList<string> FilesOnDisk(string repository, string revision)
    {
        var folder = SnapshotFolder(repository, revision);
        if (!Directory.Exists(folder)) return Array.Empty<string>();
        return Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .Where(f => !f.EndsWith(".lock", StringComparison.Ordinal))
            .Select(f => Path.GetRelativePath(folder, f).Replace(Path.DirectorySeparatorChar, '/'))
            .Select(p => p.EndsWith(FileDownload.PartialSuffix, StringComparison.Ordinal) ? p[..^FileDownload.PartialSuffix.Length] : p)
            .Where(IsFilePath).Distinct(StringComparer.Ordinal).OrderBy(p => p, StringComparer.Ordinal).ToList();
    }

    static bool IsFilePath(string path)
    {
        try { HubNames.CheckFilePath(path); return true; }
        catch (FifoInputException) { return false; }
    }

    /// <summary>
    /// The preset's plugin options with "{role}" replaced by the stored folders. Throws "ModelStoreCorrupt" when a record
    /// of it cannot be read, and "ModelNotDownloaded", naming the files and the Save-FifoModel command that fetches or
    /// checks them, when anything is missing.
    /// </summary>
    public IReadOnlyDictionary<string, string> ResolveOptions(ModelPreset preset) => ResolveOptions(preset, Status(preset));

    /// <summary><see cref="ResolveOptions(ModelPreset)"/> with the preset's <paramref name="status"/> read already: one pass over its manifests and files.</summary>
    internal IReadOnlyDictionary<string, string> ResolveOptions(ModelPreset preset, StoredModel status)
    {
        if (status.Damage.Count > 0) throw new FifoInputException("ModelStoreCorrupt", status.Damage[0].Problem);
        var missing = status.Files.Where(f => !f.Present).ToList();
        if (missing.Count > 0) throw NotDownloaded(preset, status, missing);
        return preset.Options.ToDictionary(o => o.Key, o => Expand(o.Value, preset), StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>
    /// Says which files are absent and which are on disk without the record a save leaves (a deleted manifest, a save
    /// cut short): a save checks the latter against the hub instead of downloading them.
    /// </summary>
    FifoInputException NotDownloaded(ModelPreset preset, StoredModel status, IReadOnlyList<StoredFileStatus> missing)
    {
        var absent = missing.Where(f => !File.Exists(f.LocalPath)).ToList();
        var unrecorded = missing.Where(f => File.Exists(f.LocalPath)).ToList();
        var parts = new List<string>();
        if (absent.Count > 0) parts.Add($"{absent.Count} of {status.Files.Count} files are missing from the model store '{Root}' (e.g. '{absent[0].LocalPath}')");
        if (unrecorded.Count > 0)
            parts.Add($"{unrecorded.Count} of {status.Files.Count} files are on disk but not recorded as saved and checked in '{ManifestPath(unrecorded[0].Repository, unrecorded[0].Revision)}' " +
                      $"(e.g. '{unrecorded[0].LocalPath}')");
        return new FifoInputException("ModelNotDownloaded",
            $"The model '{preset.Name}' is not {(absent.Count == status.Files.Count ? "downloaded" : "completely downloaded")}: {string.Join("; ", parts)}. " +
            $"Run: {SaveCommand(preset.Name)}   (it checks the files already there against the hub and downloads only what is missing or differs), " +
            "or give the model's files with its path option.");
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
