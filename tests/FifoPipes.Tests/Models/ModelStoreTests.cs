using FifoPipes.Abstractions;
using FifoPipes.Hosting.Models;
using FifoPipes.Hosting.Recipes;
using FifoPipes.Models.VideoCrafter;
using FifoPipes.Tests.Hosting;
using Xunit;

namespace FifoPipes.Tests.Models;

/// <summary>The catalog, the store's layout and manifests, and "model: &lt;preset&gt;" in recipes.</summary>
public sealed class ModelStoreTests : IDisposable
{
    readonly FakeHub hub = new();
    readonly string dir = Directory.CreateTempSubdirectory("fifo-store-").FullName;
    readonly byte[] checkpoint = FakeHub.RandomBytes(120_000, 11);

    /// <summary>A VideoCrafter-like preset: a checkpoint and a tokenizer from another repository.</summary>
    static readonly ModelPreset Tiny = new("fifotest-tiny", "videocrafter", "test model",
        new[]
        {
            new ModelPart("checkpoint", "fifotest/tiny-vc", "main", new[] { "model.ckpt" }),
            new ModelPart("tokenizer", "fifotest/tiny-clip", "v1", new[] { "vocab.json", "merges.txt" }),
        },
        new Dictionary<string, string> { ["preset"] = "videocrafter2", ["path"] = "{checkpoint}/model.ckpt", ["tokenizer"] = "{tokenizer}" });

    public ModelStoreTests()
    {
        hub.AddFile("fifotest/tiny-vc", "main", "model.ckpt", checkpoint);
        hub.AddFile("fifotest/tiny-vc", "main", "README.md", "not needed"u8.ToArray(), lfs: false);
        hub.AddFile("fifotest/tiny-clip", "v1", "vocab.json", "{}"u8.ToArray(), lfs: false);
        hub.AddFile("fifotest/tiny-clip", "v1", "merges.txt", "#version: 0.2\n"u8.ToArray(), lfs: false);
    }

    public void Dispose()
    {
        hub.Dispose();
        Directory.Delete(dir, recursive: true);
    }

    HubClient Client() => new(hub.Endpoint) { RetryDelay = TimeSpan.FromMilliseconds(20) };

    [Fact]
    public void The_catalog_names_every_preset_with_its_files_and_plugin()
    {
        var catalog = ModelCatalog.BuiltIn;
        Assert.Equal(new[] { "videocrafter2", "videocrafter1-512", "videocrafter1-1024", "zeroscope-576w", "zeroscope-xl", "opensora-v1.1-65", "opensora-v1.1-221" },
            catalog.Presets.Select(p => p.Name));
        var vc2 = catalog.Find("VideoCrafter2")!;
        Assert.Equal("videocrafter", vc2.Plugin);
        Assert.Equal(new[] { "model.ckpt" }, vc2.Part("checkpoint")!.Files);
        Assert.Equal("VideoCrafter/VideoCrafter2", vc2.Part("checkpoint")!.Repository);
        Assert.Equal(new[] { "vocab.json", "merges.txt" }, vc2.Part("tokenizer")!.Files);
        Assert.Contains("unet/diffusion_pytorch_model.bin", catalog.Find("zeroscope-xl")!.Part("model")!.Files);
        Assert.Contains("221x512x512/diffusion_pytorch_model.safetensors", catalog.Find("opensora-v1.1-221")!.Part("model")!.Files);
        Assert.Contains("spiece.model", catalog.Find("opensora-v1.1-65")!.Part("textEncoder")!.Files);
        // Every preset's option values are VideoCrafter/zeroscope option names the plugins know.
        Assert.All(catalog.Presets.Where(p => p.Plugin == "videocrafter"), p => Assert.NotNull(VideoCrafterPreset.Find(p.Options["preset"])));
    }

    [Fact]
    public void Every_preset_of_a_loaded_plugin_sets_only_options_that_plugin_has()
    {
        var checkedPlugins = 0;
        foreach (var preset in ModelCatalog.BuiltIn.Presets)
        {
            var plugin = TestPlugins.Host.Require(FifoPipes.Abstractions.PluginKind.Model, preset.Plugin);
            checkedPlugins++;
            var names = plugin.Options.Select(o => o.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);
            Assert.All(preset.Options.Keys, key => Assert.Contains(key, names));
            var choices = plugin.Options.First(o => string.Equals(o.Name, "preset", StringComparison.OrdinalIgnoreCase)).Choices;
            Assert.Contains(preset.Options["preset"], choices);
        }
        Assert.Equal(ModelCatalog.BuiltIn.Presets.Count, checkedPlugins);
    }

    [Fact]
    public void A_catalog_file_adds_presets_and_bad_ones_are_refused()
    {
        var file = Path.Combine(dir, "catalog.json");
        File.WriteAllText(file, ModelCatalog.ToJson(new[] { Tiny }));
        var read = Assert.Single(ModelCatalog.ReadFile(file));
        Assert.Equal(Tiny.Parts[1].Files, read.Parts[1].Files);
        Assert.Equal("{checkpoint}/model.ckpt", read.Options["path"]);

        File.WriteAllText(file, """{"presets": [{"name": "x", "plugin": "p", "parts": [{"role": "m", "repository": "a/b", "revision": "main", "files": ["../escape"]}]}]}""");
        Assert.Equal("InvalidModelFile", Assert.Throws<FifoInputException>(() => ModelCatalog.ReadFile(file)).ErrorId);
        File.WriteAllText(file, """{"presets": [{"name": "x", "plugin": "p", "parts": [{"role": "m", "repository": "a/b", "revision": "main", "files": ["f"]}], "options": {"path": "{other}"}}]}""");
        Assert.Contains("{other}", Assert.Throws<FifoInputException>(() => ModelCatalog.ReadFile(file)).Message);
    }

    [Fact]
    public async Task Saving_a_preset_stores_its_files_per_repository_and_revision_with_manifests()
    {
        var store = new ModelStore(Path.Combine(dir, "store"));
        using var client = Client();
        var reports = new List<ModelSaveProgress>();

        var saved = await store.SaveAsync(client, Tiny, new ActionProgress<ModelSaveProgress>(reports.Add));

        Assert.True(saved.Complete);
        Assert.Equal(checkpoint.Length + 2 + 14, saved.Size);
        Assert.Equal(checkpoint, File.ReadAllBytes(Path.Combine(store.Root, "fifotest", "tiny-vc", "main", "model.ckpt")));
        Assert.True(File.Exists(Path.Combine(store.Root, "fifotest", "tiny-clip", "v1", "merges.txt")));
        Assert.False(File.Exists(Path.Combine(store.Root, "fifotest", "tiny-vc", "main", "README.md")), "only the preset's files");
        var manifest = store.ReadManifest("fifotest/tiny-vc", "main")!;
        Assert.Equal(FakeHub.Sha256(checkpoint), Assert.Single(manifest.Files).Sha256);
        Assert.Equal(hub.Endpoint, manifest.Endpoint);
        Assert.Equal(saved.Size, reports[^1].AllDone);
        Assert.Equal(saved.Size, reports[^1].AllTotal);

        var options = store.ResolveOptions(Tiny);
        Assert.Equal(Path.Combine(store.Root, "fifotest", "tiny-vc", "main", "model.ckpt"), options["path"]);
        Assert.Equal(Path.Combine(store.Root, "fifotest", "tiny-clip", "v1"), options["tokenizer"]);
        Assert.Equal("videocrafter2", options["preset"]);
        Assert.Equal("fifotest-tiny", Assert.Single(store.List()).Name);

        // Files come from the commit the listing named, not from the branch, which may move mid-save.
        Assert.Equal(new[] { FakeHub.Commit("fifotest/tiny-vc", "main"), FakeHub.Commit("fifotest/tiny-clip", "v1") }, hub.DownloadRevisions.Distinct());
        // Saving again lists the repositories but downloads nothing.
        int downloads = hub.Downloads.Count;
        Assert.True((await store.SaveAsync(client, Tiny)).Complete);
        Assert.Equal(downloads, hub.Downloads.Count);

        // Offline, the stored model is given as it is, saying why it went unchecked; a save that verifies needs the hub.
        using var offline = new HubClient("http://127.0.0.1:9/") { RetryDelay = TimeSpan.Zero, MaxAttempts = 1 };
        var unchecked_ = await store.SaveAsync(offline, Tiny);
        Assert.True(unchecked_.Complete);
        Assert.StartsWith("Listing 'fifotest/tiny-vc' at 'main' failed", unchecked_.Unchecked);
        Assert.Equal("ModelDownloadFailed", (await Assert.ThrowsAsync<FifoInputException>(() => store.SaveAsync(offline, Tiny, verify: true))).ErrorId);
        File.Delete(Path.Combine(store.Root, "fifotest", "tiny-clip", "v1", "merges.txt"));
        Assert.Equal("ModelDownloadFailed", (await Assert.ThrowsAsync<FifoInputException>(() => store.SaveAsync(offline, Tiny))).ErrorId);
    }

    /// <summary>Retrained weights of the same size as the stored ones: only the hub's sha256 tells them apart.</summary>
    byte[] RetrainOnTheHub(int seed)
    {
        var retrained = FakeHub.RandomBytes(checkpoint.Length, seed);
        hub.AddFile("fifotest/tiny-vc", "main", "model.ckpt", retrained);
        return retrained;
    }

    static byte[] StoredCheckpoint(ModelStore store) => File.ReadAllBytes(Path.Combine(store.Root, "fifotest", "tiny-vc", "main", "model.ckpt"));

    [Fact]
    public async Task A_file_the_hub_changed_counts_as_missing_until_its_new_version_is_in()
    {
        var store = new ModelStore(Path.Combine(dir, "store"));
        using var client = Client();
        Assert.True((await store.SaveAsync(client, Tiny)).Complete);

        // The next save stops half-way.
        var retrained = RetrainOnTheHub(12);
        hub.ChunkDelay = TimeSpan.FromMilliseconds(20);
        using var stop = new CancellationTokenSource();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.SaveAsync(client, Tiny,
            new ActionProgress<ModelSaveProgress>(p => { if (p.File == "model.ckpt" && p.FileDone > 0) stop.Cancel(); }), stop.Token));

        var status = store.Status(Tiny);
        Assert.False(status.Complete, "the old bytes must not pass for the new version");
        Assert.Equal(new[] { "model.ckpt" }, status.Files.Where(f => !f.Present).Select(f => f.Path));
        hub.ChunkDelay = TimeSpan.Zero;
        Assert.True((await store.SaveAsync(client, Tiny)).Complete);
        Assert.Equal(retrained, StoredCheckpoint(store));
    }

    [Fact]
    public async Task A_manifest_from_before_verification_was_recorded_is_checked_against_the_files()
    {
        var store = new ModelStore(Path.Combine(dir, "store"));
        using var client = Client();
        await store.SaveAsync(client, Tiny);
        // What an older FifoPipes left after a save of retrained weights was cut short: the new listing, no "verified",
        // and the old bytes in place.
        var retrained = RetrainOnTheHub(13);
        var manifest = Directory.GetFiles(store.Root, "*.json", SearchOption.AllDirectories).Single(f => File.ReadAllText(f).Contains("model.ckpt") && !f.Contains("preset"));
        var legacy = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(manifest))!;
        foreach (var entry in legacy["files"]!.AsArray())
        {
            entry!.AsObject().Remove("verified");
            if ((string?)entry["path"] == "model.ckpt") entry["sha256"] = FakeHub.Sha256(retrained);
        }
        File.WriteAllText(manifest, legacy.ToJsonString());

        Assert.True((await store.SaveAsync(client, Tiny)).Complete);

        Assert.Equal(retrained, StoredCheckpoint(store));
    }

    [Fact]
    public async Task A_config_file_edited_to_the_same_length_is_downloaded_again()
    {
        var store = new ModelStore(Path.Combine(dir, "store"));
        using var client = Client();
        await store.SaveAsync(client, Tiny);
        // Kept in git, not LFS: no sha256, only the git blob id tells the two apart.
        hub.AddFile("fifotest/tiny-clip", "v1", "vocab.json", "[]"u8.ToArray(), lfs: false);

        Assert.True((await store.SaveAsync(client, Tiny)).Complete);

        Assert.Equal("[]", File.ReadAllText(Path.Combine(store.Root, "fifotest", "tiny-clip", "v1", "vocab.json")));
        Assert.Equal(FakeHub.GitBlob("[]"u8.ToArray()), store.ReadManifest("fifotest/tiny-clip", "v1")!.Files.Single(f => f.Path == "vocab.json").GitBlob);
    }

    [Fact]
    public async Task Files_saved_by_hand_are_listed_by_repository_and_a_missing_model_says_how_to_get_it()
    {
        var store = new ModelStore(Path.Combine(dir, "store"));
        using var client = Client();
        var notYet = Assert.Throws<FifoInputException>(() => store.ResolveOptions(Tiny));
        Assert.Equal("ModelNotDownloaded", notYet.ErrorId);
        Assert.Contains("Save-FifoModel -Name fifotest-tiny", notYet.Message);

        var byHand = await store.SaveFilesAsync(client, "fifotest/tiny-clip", "v1", new[] { "vocab.json" });
        Assert.Equal("fifotest/tiny-clip@v1", byHand.Name);
        Assert.True(byHand.Complete);
        var listed = store.List(ModelCatalog.BuiltIn);
        Assert.Contains(listed, m => m.Name == "fifotest/tiny-clip@v1" && m.Complete);
        Assert.Contains(listed, m => m.Name == "videocrafter2" && !m.Complete);
        Assert.Equal(new[] { "model.ckpt", "merges.txt" }, store.Status(Tiny).Files.Where(f => !f.Present).Select(f => f.Path));
        Assert.Contains("not completely downloaded", Assert.Throws<FifoInputException>(() => store.ResolveOptions(Tiny)).Message);
    }

    [Fact]
    public async Task A_save_waits_while_another_process_updates_the_manifest()
    {
        var store = new ModelStore(Path.Combine(dir, "store"));
        using var client = Client();
        var manifestLock = Path.Combine(store.Root, "fifotest", "tiny-clip", "v1.manifest.json.lock");
        Directory.CreateDirectory(Path.GetDirectoryName(manifestLock)!);

        Task<StoredModel> save;
        // Held as another process mid-update holds it: read, change, write back.
        using (new FileStream(manifestLock, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))
        {
            save = Task.Run(() => store.SaveFilesAsync(client, "fifotest/tiny-clip", "v1", new[] { "vocab.json" }));
            await Task.Delay(1_000);
            Assert.False(save.IsCompleted, "the save wrote the manifest while another holder had it locked");
            Assert.Null(store.ReadManifest("fifotest/tiny-clip", "v1"));
        }
        Assert.True((await save).Complete);
        Assert.True(File.Exists(manifestLock), "the lock file must stay, or a waiter and a newcomer could both hold a lock");
    }

    [Fact]
    public async Task A_lock_file_that_cannot_be_opened_fails_at_once_instead_of_waiting_for_a_holder()
    {
        var store = new ModelStore(Path.Combine(dir, "store"));
        using var client = Client();
        var manifestLock = Path.Combine(store.Root, "fifotest", "tiny-clip", "v1.manifest.json.lock");
        Directory.CreateDirectory(Path.GetDirectoryName(manifestLock)!);
        // Opening it fails with "not found", an I/O error no other holder causes (as a read-only or full disk would).
        File.CreateSymbolicLink(manifestLock, Path.Combine(dir, "no-such-folder", "lock"));

        // Before, it polled for the two minutes a held manifest gets, then blamed another save (ModelStoreLocked).
        var error = await Assert.ThrowsAsync<FifoInputException>(() => store.SaveFilesAsync(client, "fifotest/tiny-clip", "v1", new[] { "vocab.json" }));
        Assert.Equal("ModelStoreWriteFailed", error.ErrorId);
        Assert.Contains(manifestLock, error.Message);
        Assert.IsAssignableFrom<IOException>(error.InnerException);
    }

    /// <summary>Tiny and a preset that shares its tokenizer but has a checkpoint of its own, both saved.</summary>
    async Task<(ModelStore Store, ModelPreset Sibling)> SavedWithSibling()
    {
        var store = new ModelStore(Path.Combine(dir, "store"));
        using var client = Client();
        hub.AddFile("fifotest/tiny-vc2", "main", "model.ckpt", FakeHub.RandomBytes(5_000, 12));
        var sibling = Tiny with { Name = "fifotest-sibling", Parts = new[] { new ModelPart("checkpoint", "fifotest/tiny-vc2", "main", new[] { "model.ckpt" }), Tiny.Parts[1] } };
        await store.SaveAsync(client, Tiny);
        await store.SaveAsync(client, sibling);
        return (store, sibling);
    }

    [Fact]
    public async Task Removing_a_preset_deletes_its_files_and_records_but_keeps_what_another_preset_uses()
    {
        var (store, sibling) = await SavedWithSibling();
        var ownFolder = Path.Combine(store.Root, "fifotest", "tiny-vc");
        File.WriteAllText(Path.Combine(ownFolder, "main", "notes.bin.partial"), "left by a cut-short download of a file the manifest does not name");
        File.WriteAllText(Path.Combine(ownFolder, "main", "model.ckpt.partial"), "a newer version, cut short");

        var removal = await store.RemoveAsync("FIFOTEST-TINY");

        Assert.Equal("fifotest-tiny", removal.Name);
        Assert.Equal("model.ckpt", Assert.Single(removal.Deleted).Path);
        Assert.Equal(checkpoint.Length + "a newer version, cut short".Length, removal.FreedBytes);
        Assert.Equal(new[] { "fifotest-sibling", "fifotest-sibling" }, removal.Kept.Select(k => k.UsedBy));
        Assert.Equal(new[] { "merges.txt", "vocab.json" }, removal.Kept.Select(k => k.File.Path).Order());
        Assert.False(File.Exists(Path.Combine(ownFolder, "main", "model.ckpt")));
        Assert.False(File.Exists(Path.Combine(ownFolder, "main", "model.ckpt.partial")));
        Assert.Null(store.ReadManifest("fifotest/tiny-vc", "main"));
        // A file the store never recorded is not the removal's to delete, so its folder stays.
        Assert.Equal(new[] { "notes.bin.partial" }, Directory.GetFiles(ownFolder, "*", SearchOption.AllDirectories).Select(Path.GetFileName));
        Assert.Equal(new[] { "fifotest-sibling" }, store.List().Select(m => m.Name));
        Assert.True(store.Status(sibling).Complete, "the sibling keeps the shared tokenizer");

        await store.RemoveAsync("fifotest-sibling");
        Assert.Empty(store.List());
        Assert.Equal(new[] { "tiny-vc" }, Directory.GetDirectories(Path.Combine(store.Root, "fifotest")).Select(Path.GetFileName));
        Assert.Equal("ModelNotFound", (await Assert.ThrowsAsync<FifoInputException>(() => store.RemoveAsync("fifotest-sibling"))).ErrorId);
    }

    [Fact]
    public async Task A_removal_plan_counts_only_the_files_it_would_delete_and_touches_none()
    {
        var (store, sibling) = await SavedWithSibling();

        var plan = store.PlanRemoval("fifotest-tiny");

        Assert.Equal("model.ckpt", Assert.Single(plan.Deleting).Path);
        Assert.Equal(new[] { "merges.txt", "vocab.json" }, plan.Kept.Select(k => k.File.Path).Order());
        Assert.Equal(checkpoint.Length, plan.OnDiskBytes);
        Assert.True(store.Status(Tiny).Complete, "a plan deletes nothing");
        // Before, -WhatIf counted the shared tokenizer's 2 files as deleted too: "Delete its 3 files (... any another saved preset uses stay)".
        Assert.Equal($"Delete 1 file (117 KB on disk) from {store.Root}; keep 2 files that other saved presets use",
            FifoPipes.PowerShell.Commands.RemoveFifoModelCommand.WhatItDeletes(plan, store.Root));
    }

    [Fact]
    public async Task A_cut_short_download_is_removed_as_a_partial_download_and_its_size_in_a_unit_that_fits()
    {
        var store = new ModelStore(Path.Combine(dir, "store"));
        using var client = Client();
        using var stop = new CancellationTokenSource();
        // Stopped once bytes are in, before they are verified and take the file's name.
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.SaveFilesAsync(client, "fifotest/tiny-vc", "main", new[] { "model.ckpt" },
            new ActionProgress<ModelSaveProgress>(p => { if (p.FileDone > 0) stop.Cancel(); }), stop.Token));
        var partial = new FileInfo(Path.Combine(store.Root, "fifotest", "tiny-vc", "main", "model.ckpt.partial"));
        Assert.True(partial.Exists && !File.Exists(partial.FullName[..^".partial".Length]), "the test needs what a cut-short download leaves: a .partial alone");
        long left = partial.Length;

        var removal = await store.RemoveAsync("fifotest/tiny-vc@main");

        Assert.Equal("model.ckpt", Assert.Single(removal.PartialOnly).Path);
        Assert.Equal(left, removal.FreedBytes);
        // Before: "Removed fifotest/tiny-vc@main: 1 files, 0.00 GB freed."
        Assert.Equal("the partial download of 1 file", FifoPipes.PowerShell.Commands.RemoveFifoModelCommand.WhatWasDeleted(removal));
        Assert.Equal(left >= 1024 ? $"{left / 1024.0:F0} KB" : $"{left} B", StoreWords.Bytes(left));
    }

    [Theory]
    [InlineData(0, "0 B")]
    [InlineData(300, "300 B")]
    [InlineData(120_000, "117 KB")]
    [InlineData(5L << 20, "5.0 MB")]
    [InlineData(3L << 30, "3.00 GB")]
    public void Sizes_are_said_in_a_unit_that_fits(long bytes, string said) => Assert.Equal(said, StoreWords.Bytes(bytes));

    [Fact]
    public void Counts_of_one_are_singular() =>
        Assert.Equal(new[] { "0 files", "1 file", "2 files" }, new[] { 0, 1, 2 }.Select(n => StoreWords.Count(n, "file")));

    [Fact]
    public async Task Files_saved_by_hand_are_removed_by_repository_unless_a_download_holds_them()
    {
        var store = new ModelStore(Path.Combine(dir, "store"));
        using var client = Client();
        await store.SaveFilesAsync(client, "fifotest/tiny-clip", "v1", null);
        var vocab = Path.Combine(store.Root, "fifotest", "tiny-clip", "v1", "vocab.json");

        using (new FileStream(vocab + ".lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))
        {
            var busy = await Assert.ThrowsAsync<FifoInputException>(() => store.RemoveAsync("fifotest/tiny-clip@v1"));
            Assert.Equal("ModelFileLocked", busy.ErrorId);
            Assert.True(File.Exists(vocab));
        }
        // What went before the busy file is gone from the disk and from the manifest alike.
        Assert.Equal(new[] { "vocab.json" }, store.ReadManifest("fifotest/tiny-clip", "v1")!.Files.Select(f => f.Path));

        var removal = await store.RemoveAsync("fifotest/tiny-clip@v1");
        Assert.Equal(new[] { "vocab.json" }, removal.Deleted.Select(f => f.Path));
        Assert.Empty(store.List());
        Assert.False(Directory.Exists(Path.Combine(store.Root, "fifotest")), "the store's folders go with the last files");
    }

    string StoredPath(ModelStore store, string repository, string revision, string file) =>
        Path.Combine(store.Root, repository.Replace('/', Path.DirectorySeparatorChar), revision, file.Replace('/', Path.DirectorySeparatorChar));

    /// <summary>What a disk error or an edit does: the last bytes zeroed, the size unchanged.</summary>
    static void ZeroTail(string path, int bytes)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Write);
        file.Seek(-bytes, SeekOrigin.End);
        file.Write(new byte[bytes]);
    }

    [Fact]
    public async Task A_file_damaged_at_its_listed_size_is_downloaded_again_by_a_save_that_verifies_and_only_it()
    {
        var store = new ModelStore(Path.Combine(dir, "store"));
        using var client = Client();
        await store.SaveAsync(client, Tiny);
        var ckpt = StoredPath(store, "fifotest/tiny-vc", "main", "model.ckpt");
        ZeroTail(ckpt, 200);
        // Listing judges by size (hashing gigabytes on every Get-FifoModel is not affordable), and so does a plain save.
        Assert.True(store.Status(Tiny).Complete);
        int before = hub.Downloads.Count;
        Assert.Empty((await store.SaveAsync(client, Tiny)).Refetched);
        Assert.Equal(before, hub.Downloads.Count);
        Assert.NotEqual(checkpoint, StoredCheckpoint(store));

        var repaired = await store.SaveAsync(client, Tiny, verify: true);

        Assert.True(repaired.Complete);
        Assert.Equal(checkpoint, StoredCheckpoint(store));
        Assert.Equal(ckpt, Assert.Single(repaired.Refetched).LocalPath);
        // The intact tokenizer files were hashed in place, not fetched.
        Assert.Equal(new[] { "model.ckpt" }, hub.Downloads.Skip(before).Select(d => d.Path).Distinct());

        // A file deleted by hand is fetched again by a plain save, and is no damage to report.
        File.Delete(StoredPath(store, "fifotest/tiny-clip", "v1", "vocab.json"));
        var refilled = await store.SaveAsync(client, Tiny);
        Assert.True(refilled.Complete);
        Assert.Empty(refilled.Refetched);
        Assert.Equal("{}", File.ReadAllText(StoredPath(store, "fifotest/tiny-clip", "v1", "vocab.json")));
    }

    [Fact]
    public async Task A_preset_whose_manifest_is_damaged_is_listed_as_damaged_beside_the_rest_and_a_save_rebuilds_it_without_downloading()
    {
        var store = new ModelStore(Path.Combine(dir, "store"));
        using var client = Client();
        await store.SaveAsync(client, Tiny);
        hub.AddFile("someone/other", "main", "weights.bin", FakeHub.RandomBytes(3_000, 5));
        await store.SaveFilesAsync(client, "someone/other", "main", null);
        var manifest = Path.Combine(store.Root, "fifotest", "tiny-vc", "main.manifest.json");
        File.WriteAllText(manifest, """{"files": [""");
        // A file saved by hand beside the preset's, which the damaged manifest listed too.
        File.WriteAllText(StoredPath(store, "fifotest/tiny-vc", "main", "README.md"), "not needed");

        // Before, every listing failed: "The store manifest '...' is not valid (...); delete it and save the model again."
        var listed = store.List();

        Assert.Equal(new[] { "fifotest-tiny", "fifotest/tiny-vc@main", "someone/other@main" }, listed.Select(m => m.Name));
        var damaged = listed[0];
        Assert.False(damaged.Complete);
        var damage = Assert.Single(damaged.Damage);
        Assert.Equal(manifest, damage.Record);
        Assert.Contains("Save-FifoModel -Name fifotest-tiny", damage.Problem);
        Assert.Contains("Remove-FifoModel fifotest-tiny", damage.Problem);
        Assert.Equal("README.md", Assert.Single(listed[1].Files).Path);
        Assert.False(listed[1].Complete);
        Assert.True(listed[2].Complete);
        var refused = Assert.Throws<FifoInputException>(() => store.ResolveOptions(Tiny));
        Assert.Equal("ModelStoreCorrupt", refused.ErrorId);
        Assert.Contains(manifest, refused.Message);

        int before = hub.Downloads.Count;
        Assert.True((await store.SaveAsync(client, Tiny)).Complete);
        Assert.Equal(before, hub.Downloads.Count);
        Assert.Equal(FakeHub.Sha256(checkpoint), store.ReadManifest("fifotest/tiny-vc", "main")!.Files.Single(f => f.Path == "model.ckpt").Sha256);
        // The by-hand file is still listed, as not yet checked, rather than forgotten with the damaged manifest.
        var byHand = store.List().Single(m => m.Name == "fifotest/tiny-vc@main");
        Assert.Equal("README.md", Assert.Single(byHand.Files).Path);
        Assert.False(byHand.Complete);
        Assert.True((await store.SaveFilesAsync(client, "fifotest/tiny-vc", "main", new[] { "README.md" })).Complete);
    }

    [Fact]
    public async Task Files_saved_by_hand_under_a_damaged_manifest_are_listed_by_what_is_on_disk_and_can_be_removed()
    {
        var store = new ModelStore(Path.Combine(dir, "store"));
        using var client = Client();
        await store.SaveFilesAsync(client, "fifotest/tiny-clip", "v1", null);
        var manifest = Path.Combine(store.Root, "fifotest", "tiny-clip", "v1.manifest.json");
        File.WriteAllText(manifest, "{}");

        // Before, it vanished from the listing and Remove-FifoModel found no such model.
        var model = Assert.Single(store.List());

        Assert.Equal("fifotest/tiny-clip@v1", model.Name);
        Assert.False(model.Complete);
        Assert.Equal(new[] { "merges.txt", "vocab.json" }, model.Files.Select(f => f.Path));
        Assert.Contains("Save-FifoModel -Repository fifotest/tiny-clip -Revision v1 -File merges.txt, vocab.json", Assert.Single(model.Damage).Problem);

        var removal = await store.RemoveAsync("fifotest/tiny-clip@v1");

        Assert.Equal(2, removal.Deleted.Count);
        Assert.False(File.Exists(manifest));
        Assert.Empty(store.List());
        Assert.False(Directory.Exists(Path.Combine(store.Root, "fifotest")), "the store's folders go with the last files");
    }

    [Fact]
    public async Task A_damaged_preset_record_lists_the_preset_with_its_files_and_saving_or_removing_mends_it()
    {
        var store = new ModelStore(Path.Combine(dir, "store")) { Catalog = new ModelCatalog(new[] { Tiny }) };
        using var client = Client();
        await store.SaveAsync(client, Tiny);
        var record = Path.Combine(store.Root, ".presets", "fifotest-tiny.json");
        File.WriteAllText(record, """{"name": """);
        var stray = Path.Combine(store.Root, ".presets", "long-gone.json");
        File.WriteAllText(stray, "not json");

        // Before, the preset was not listed ("no stored model") while New-FifoVideo -Model loaded it from the catalog.
        var listed = store.List();

        Assert.Equal(new[] { "fifotest-tiny", "long-gone" }, listed.Select(m => m.Name));
        Assert.Equal(Tiny, listed[0].Preset);
        Assert.All(listed[0].Files, f => Assert.True(f.Present));
        Assert.False(listed[0].Complete);
        Assert.Equal(record, Assert.Single(listed[0].Damage).Record);
        Assert.Contains("Save-FifoModel -Name fifotest-tiny", listed[0].Damage[0].Problem);
        Assert.Contains("Remove-FifoModel long-gone", Assert.Single(listed[1].Damage).Problem);
        Assert.NotNull(store.ResolveOptions(Tiny));

        Assert.True((await store.SaveAsync(client, Tiny)).Complete);
        Assert.Equal("fifotest-tiny", Assert.Single(store.SavedPresets()).Name);
        await store.RemoveAsync("long-gone");
        Assert.False(File.Exists(stray));

        File.WriteAllText(record, "[]");
        var removal = await store.RemoveAsync("fifotest-tiny");
        Assert.Equal(3, removal.Deleted.Count);
        Assert.False(File.Exists(record));
        Assert.Empty(store.List());
    }

    [Fact]
    public async Task A_model_whose_manifest_is_gone_names_its_files_where_they_are_and_a_save_keeps_them()
    {
        var store = new ModelStore(Path.Combine(dir, "store"));
        using var client = Client();
        await store.SaveAsync(client, Tiny);
        var manifest = Path.Combine(store.Root, "fifotest", "tiny-vc", "main.manifest.json");
        File.Delete(manifest);

        var error = Assert.Throws<FifoInputException>(() => store.ResolveOptions(Tiny));

        // Before: "1 of 3 files are missing from the model store '...' (e.g. fifotest/tiny-vc/model.ckpt)", though it was there.
        Assert.Equal("ModelNotDownloaded", error.ErrorId);
        Assert.DoesNotContain("files are missing", error.Message);
        Assert.Contains($"1 of 3 files are on disk but not recorded as saved and checked in '{manifest}'", error.Message);
        Assert.Contains($"'{StoredPath(store, "fifotest/tiny-vc", "main", "model.ckpt")}'", error.Message);
        Assert.Contains("Run: Save-FifoModel -Name fifotest-tiny", error.Message);

        int before = hub.Downloads.Count;
        Assert.True((await store.SaveAsync(client, Tiny)).Complete);
        Assert.Equal(before, hub.Downloads.Count);
    }

    [Fact]
    public void A_load_that_finds_a_stored_file_damaged_says_how_to_fetch_it_again()
    {
        var stored = new StoredPresetFiles("zeroscope-576w", new[] { "/store/cerspense/zeroscope_v2_576w/main/unet/diffusion_pytorch_model.bin" });
        var corrupt = new FifoInputException("CheckpointCorrupt",
            "'/store/cerspense/zeroscope_v2_576w/main/unet/diffusion_pytorch_model.bin' cannot be loaded as a torch checkpoint: it is not a torch zip archive.")
            { Option = "path", Data = { ["reason"] = "not a zip" } };

        var explained = Assert.IsType<FifoInputException>(Record.Exception(() => StoredPresetFiles.Explained<int>(stored, () => throw corrupt)));

        Assert.Equal("CheckpointCorrupt", explained.ErrorId);
        Assert.StartsWith(corrupt.Message, explained.Message);
        Assert.Contains("Save-FifoModel -Name zeroscope-576w -Verify", explained.Message);
        Assert.Contains("delete '/store/cerspense/zeroscope_v2_576w/main/unet/diffusion_pytorch_model.bin'", explained.Message);
        Assert.Equal("path", explained.Option);
        Assert.Equal("not a zip", explained.Data["reason"]);
        Assert.Same(corrupt, explained.InnerException);
        // A read the disk failed (the file may be whole), or a file outside the store, is left as it was thrown.
        var unreadable = new FifoInputException("CheckpointUnreadable", "'/store/cerspense/zeroscope_v2_576w/main/unet/diffusion_pytorch_model.bin' could not be read.");
        Assert.Same(unreadable, Record.Exception(() => StoredPresetFiles.Explained<int>(stored, () => throw unreadable)));
        var elsewhere = new FifoInputException("CheckpointCorrupt", "'/home/me/model.bin' cannot be loaded as a torch checkpoint.");
        Assert.Same(elsewhere, Record.Exception(() => StoredPresetFiles.Explained<int>(stored, () => throw elsewhere)));
    }

    [Fact]
    public async Task A_recipe_naming_a_stored_preset_gets_its_plugin_and_stored_files()
    {
        var store = new ModelStore(Path.Combine(dir, "store"));
        var resolver = new StoredModelResolver(new ModelCatalog(ModelCatalog.BuiltInPresets.Append(Tiny)), store);
        const string Yaml = """
            apiVersion: fifopipes/v1
            model: { use: fifotest-tiny, with: { dType: bfloat16 } }
            prompt: a red panda
            frames: 4
            """;

        var before = new RecipeReader(TestPlugins.Host) { Models = resolver };
        Assert.Null(before.ReadText(Yaml, "/recipes/tiny.yaml"));
        var diagnostic = Assert.Single(before.Diagnostics);
        Assert.Equal("model.use", diagnostic.Path);
        Assert.Contains("Save-FifoModel -Name fifotest-tiny", diagnostic.Message);
        Assert.Equal(2, diagnostic.Line);
        // Given its own path (in any case, as every option name is), the preset needs no download.
        var ownPath = new RecipeReader(TestPlugins.Host) { Models = resolver }.ReadText(Yaml.Replace("dType: bfloat16", "Path: /models/mine.ckpt"), "/recipes/tiny.yaml");
        Assert.Equal("/models/mine.ckpt", Option(ownPath!.Model.Options!, "Path"));

        using (var client = Client()) await store.SaveAsync(client, Tiny);
        var reader = new RecipeReader(TestPlugins.Host) { Models = resolver };
        var recipe = reader.ReadText(Yaml, "/recipes/tiny.yaml");
        Assert.Empty(reader.Diagnostics);
        Assert.Equal("videocrafter", recipe!.Model.Plugin.Name);
        // The options object comes from the plugin's own load context: read it by name.
        var options = recipe.Model.Options!;
        Assert.Equal(nameof(VideoCrafterOptions), options.GetType().Name);
        Assert.Equal(Path.Combine(store.Root, "fifotest", "tiny-vc", "main", "model.ckpt"), Option(options, "Path"));
        Assert.Equal(Path.Combine(store.Root, "fifotest", "tiny-clip", "v1"), Option(options, "Tokenizer"));
        Assert.Equal("videocrafter2", Option(options, "Preset"));
        Assert.Equal("bfloat16", Option(options, "DType"));

        // A path given in the recipe wins over the store.
        var own = new RecipeReader(TestPlugins.Host) { Models = resolver }.ReadText(
            Yaml.Replace("dType: bfloat16", "path: /models/mine.ckpt"), "/recipes/tiny.yaml");
        Assert.Equal("/models/mine.ckpt", Option(own!.Model.Options!, "Path"));
    }

    static object? Option(object options, string name) => options.GetType().GetProperty(name)!.GetValue(options);
}
