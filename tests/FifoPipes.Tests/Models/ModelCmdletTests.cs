using System.Management.Automation;
using FifoPipes.Hosting.Models;
using FifoPipes.PowerShell;
using FifoPipes.Torch.Checkpoints;
using FifoPipes.Tests.VideoCrafter;
using FifoPipes.Tests.PowerShell;
using Xunit;
using static TorchSharp.torch;

namespace FifoPipes.Tests.Models;

/// <summary>Save-FifoModel, Get-FifoModel and ConvertTo-FifoCheckpoint in an in-process runspace.</summary>
[Collection("PowerShell")]
public sealed class ModelCmdletTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("fifo-models-ps-").FullName;
    public void Dispose() => Directory.Delete(dir, recursive: true);


    (List<object> Output, List<ErrorRecord> Errors) Run(string script)
    {
        using var shell = InProcessShell.New(dir);
        shell.AddScript(script);
        var errors = new List<ErrorRecord>();
        List<object> output = new();
        try { output = shell.Invoke().Select(o => o.BaseObject).ToList(); }
        catch (RuntimeException ex) { errors.Add(ex.ErrorRecord); }
        errors.AddRange(shell.Streams.Error);
        return (output, errors);
    }

    /// <summary>
    /// <paramref name="body"/> run against the fake hub, a store and a catalog. The variables are process-wide: they are
    /// set for the script only and restored in the same invocation.
    /// </summary>
    static string ScopedTo(FakeHub hub, string store, string catalog, string body) => $$"""
        $saved = $env:HF_ENDPOINT, $env:FIFOPIPES_MODEL_STORE, $env:FIFOPIPES_MODEL_CATALOG
        $env:HF_ENDPOINT = '{{hub.Endpoint}}'; $env:FIFOPIPES_MODEL_STORE = '{{store}}'; $env:FIFOPIPES_MODEL_CATALOG = '{{catalog}}'
        try { {{body}} } finally { $env:HF_ENDPOINT, $env:FIFOPIPES_MODEL_STORE, $env:FIFOPIPES_MODEL_CATALOG = $saved }
        """;

    [Fact]
    public void A_saved_preset_with_its_tokenizer_from_another_repository_makes_frames_by_name()
    {
        using var tiny = new FifoPipes.Tests.VideoCrafter.TinyVideoCrafterCheckpoint();
        using var hub = new FakeHub();
        hub.AddFile("fifotest/tiny-videocrafter", "main", "model.ckpt", File.ReadAllBytes(tiny.Checkpoint));
        hub.AddFile("fifotest/clip-tokenizer", "main", "bpe_simple_vocab_16e6.txt.gz", File.ReadAllBytes(FifoPipes.Tests.VideoCrafter.TinyVideoCrafterCheckpoint.Vocab));
        var preset = new ModelPreset("fifotest-tiny", "videocrafter", "the tiny VideoCrafter2-shaped test model",
            new[]
            {
                new ModelPart("checkpoint", "fifotest/tiny-videocrafter", "main", new[] { "model.ckpt" }),
                new ModelPart("tokenizer", "fifotest/clip-tokenizer", "main", new[] { "bpe_simple_vocab_16e6.txt.gz" }),
            },
            new Dictionary<string, string> { ["path"] = "{checkpoint}/model.ckpt", ["tokenizer"] = "{tokenizer}/bpe_simple_vocab_16e6.txt.gz" });
        var catalog = Path.Combine(dir, "catalog.json");
        File.WriteAllText(catalog, ModelCatalog.ToJson(new[] { preset }));
        var store = Path.Combine(dir, "store");
        var overrides = string.Join(", ", FifoPipes.Tests.VideoCrafter.TinyVideoCrafterCheckpoint.Overrides.Select(o => $"'{o}'"));
        string Scoped(string body) => ScopedTo(hub, store, catalog, body);

        var (_, notYet) = Run(Scoped("New-FifoVideo 'a fox' -Frames 1 -Model fifotest-tiny"));
        Assert.Contains("Save-FifoModel -Name fifotest-tiny", Assert.Single(notYet).Exception.Message);

        var (saved, saveErrors) = Run(Scoped("Save-FifoModel -Name fifotest-tiny"));
        Assert.Empty(saveErrors);
        Assert.True(Assert.IsType<FifoModelInfo>(Assert.Single(saved)).Complete);

        // The preset supplies both stored files; the tiny networks' shape comes in as ordinary model options.
        var (written, errors) = Run(Scoped($"New-FifoVideo 'a red panda in the snow' -Frames 3 -Partitions 2 -Model fifotest-tiny " +
            $"-ModelOption @{{ configOverrides = @({overrides}); height = 16; width = 24; windowFrames = 4 }} | Export-FifoFrames panda.gif"));
        Assert.Empty(errors);
        Assert.Equal("panda.gif", Assert.IsType<FileInfo>(Assert.Single(written)).Name);
        Assert.Equal(3, FifoPipes.Tests.Sinks.Ffprobe.Probe(Path.Combine(dir, "panda.gif")).Frames);

        // Damaged on disk since, at its size: the store still counts it, and the reader's error says how to fetch it again.
        var stored = Path.Combine(store, "fifotest", "tiny-videocrafter", "main", "model.ckpt");
        using (var file = new FileStream(stored, FileMode.Open, FileAccess.Write)) { file.Seek(-200, SeekOrigin.End); file.Write(new byte[200]); }
        var (_, damaged) = Run(Scoped($"New-FifoVideo 'a fox' -Frames 1 -Model fifotest-tiny -ModelOption @{{ configOverrides = @({overrides}); height = 16; width = 24; windowFrames = 4 }}"));
        var loadError = Assert.Single(damaged).Exception.Message;
        Assert.Contains(stored, loadError);
        Assert.Contains("Save-FifoModel -Name fifotest-tiny -Verify", loadError);
    }

    [Fact]
    public void Save_FifoModel_downloads_a_preset_and_files_by_hand_from_HF_ENDPOINT()
    {
        using var hub = new FakeHub();
        var weights = FakeHub.RandomBytes(200_000, 21);
        hub.AddFile("fifotest/tiny-vc", "main", "model.ckpt", weights);
        hub.AddFile("fifotest/tiny-vc", "main", "extra/notes.txt", "hello"u8.ToArray(), lfs: false);
        var preset = new ModelPreset("fifotest-cmdlet", "videocrafter", "test", new[] { new ModelPart("checkpoint", "fifotest/tiny-vc", "main", new[] { "model.ckpt" }) },
            new Dictionary<string, string> { ["path"] = "{checkpoint}/model.ckpt" });
        var catalog = Path.Combine(dir, "catalog.json");
        File.WriteAllText(catalog, ModelCatalog.ToJson(new[] { preset }));
        var store = Path.Combine(dir, "store");
        string Scoped(string body) => ScopedTo(hub, store, catalog, body);

        var (saved, errors) = Run(Scoped("Save-FifoModel -Name fifotest-cmdlet"));
        Assert.Empty(errors);
        var model = Assert.IsType<FifoModelInfo>(Assert.Single(saved));
        Assert.True(model.Complete);
        Assert.Equal("fifotest-cmdlet", model.Preset);
        Assert.Equal(weights.Length, model.Size);
        Assert.Equal(weights, File.ReadAllBytes(Assert.Single(model.Files).LocalPath));
        Assert.StartsWith(store, model.Files[0].LocalPath);

        var (byHand, handErrors) = Run(Scoped("Save-FifoModel -Repository fifotest/tiny-vc -Revision main -File extra/notes.txt"));
        Assert.Empty(handErrors);
        Assert.Equal("fifotest/tiny-vc@main", Assert.IsType<FifoModelInfo>(Assert.Single(byHand)).Name);
        Assert.Equal("hello", File.ReadAllText(Path.Combine(store, "fifotest", "tiny-vc", "main", "extra", "notes.txt")));

        var (listed, _) = Run(Scoped("Get-FifoModel"));
        Assert.Equal(new[] { "fifotest-cmdlet", "fifotest/tiny-vc@main" }, listed.Cast<FifoModelInfo>().Select(m => m.Name));
        Assert.All(listed.Cast<FifoModelInfo>(), m => Assert.True(m.Complete));
        var (_, notStored) = Run(Scoped("Get-FifoModel nonesuch"));
        Assert.Equal("ModelNotFound", Assert.Single(notStored).FullyQualifiedErrorId.Split(',')[0]);
        var (available, _) = Run(Scoped("Get-FifoModel -ListAvailable -Name videocrafter*"));
        Assert.Equal(3, available.Count);
        Assert.All(available.Cast<FifoModelInfo>(), m => Assert.False(m.Complete));
        // Presets never saved here were never listed by the hub: no size yet (null, shown as '?'), not a -1 to compute with.
        Assert.All(available.Cast<FifoModelInfo>(), m => Assert.Null(m.Size));
        Assert.All(available.Cast<FifoModelInfo>().SelectMany(m => m.Files), f => Assert.Null(f.Size));
        Assert.All(listed.Cast<FifoModelInfo>(), m => Assert.True(m.Size > 0));

        var (_, missing) = Run(Scoped("Save-FifoModel -Repository fifotest/tiny-vc -File nope.bin"));
        Assert.Equal("ModelFileNotFound", Assert.Single(missing).FullyQualifiedErrorId.Split(',')[0]);
        Assert.Contains("nope.bin", missing[0].Exception.Message);
        var (_, unknown) = Run(Scoped("Save-FifoModel -Name videocraftr2"));
        Assert.Contains("videocrafter2", Assert.Single(unknown).Exception.Message);
        // A bad name in a list is that name's error; the names after it are still saved.
        var (listSaved, listErrors) = Run(Scoped("Save-FifoModel -Name videocraftr2, fifotest-cmdlet"));
        Assert.Equal("UnknownModelPreset", Assert.Single(listErrors).FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal("fifotest-cmdlet", Assert.IsType<FifoModelInfo>(Assert.Single(listSaved)).Preset);

        // The preset name works as -Model: New-FifoVideo binds it to the stored checkpoint (then fails loading the fake bytes).
        var (_, loadErrors) = Run(Scoped("New-FifoVideo 'x' -Frames 1 -Model fifotest-cmdlet"));
        var loadError = Assert.Single(loadErrors);
        Assert.DoesNotContain("unknown model plugin", loadError.Exception.Message);
        Assert.Contains(Path.Combine(store, "fifotest", "tiny-vc", "main"), loadError.Exception.Message);

        // Remove-FifoModel completes only what the store holds, not the catalog's other presets.
        var (completions, _) = Run(Scoped("(TabExpansion2 -inputScript 'Remove-FifoModel ' -cursorColumn 17).CompletionMatches.CompletionText"));
        Assert.Contains("fifotest-cmdlet", completions.Cast<string>());
        Assert.DoesNotContain("videocrafter2", completions.Cast<string>());
        Assert.Equal(2, completions.Count);
        // Get-FifoModel completes the catalog's other presets only with -ListAvailable, which lists them.
        var (stored, _) = Run(Scoped("(TabExpansion2 -inputScript 'Get-FifoModel ' -cursorColumn 14).CompletionMatches.CompletionText"));
        Assert.Equal(completions.Cast<string>(), stored.Cast<string>());
        var (presets, _) = Run(Scoped("(TabExpansion2 -inputScript 'Get-FifoModel -ListAvailable ' -cursorColumn 29).CompletionMatches.CompletionText"));
        Assert.Contains("videocrafter2", presets.Cast<string>());

        // Remove-FifoModel: -WhatIf deletes nothing, a plain name the store lacks is an error, a pattern may match nothing.
        var (_, whatIfErrors) = Run(Scoped("Remove-FifoModel fifotest-cmdlet -WhatIf"));
        Assert.Empty(whatIfErrors);
        Assert.True(File.Exists(model.Files[0].LocalPath));
        var (_, removeErrors) = Run(Scoped("Remove-FifoModel nonesuch, nomatch*"));
        Assert.Equal("ModelNotFound", Assert.Single(removeErrors).FullyQualifiedErrorId.Split(',')[0]);
        var (removed, pipedErrors) = Run(Scoped("Get-FifoModel | Remove-FifoModel; Get-FifoModel"));
        Assert.Empty(pipedErrors);
        Assert.Empty(removed);
        Assert.False(File.Exists(model.Files[0].LocalPath));
        Assert.False(Directory.Exists(Path.Combine(store, "fifotest")));
    }

    [Fact]
    public void A_repository_named_without_a_revision_means_the_revisions_the_store_holds()
    {
        using var hub = new FakeHub();
        hub.AddFile("me/tiny", "main", "notes.txt", "on main"u8.ToArray(), lfs: false);
        hub.AddFile("me/tiny", "v1", "notes.txt", "on v1"u8.ToArray(), lfs: false);
        var store = Path.Combine(dir, "store");
        string Scoped(string body) => $$"""
            $saved = $env:HF_ENDPOINT, $env:FIFOPIPES_MODEL_STORE
            $env:HF_ENDPOINT = '{{hub.Endpoint}}'; $env:FIFOPIPES_MODEL_STORE = '{{store}}'
            try { {{body}} } finally { $env:HF_ENDPOINT, $env:FIFOPIPES_MODEL_STORE = $saved }
            """;
        IEnumerable<string> Names(List<object> output) => output.Cast<FifoModelInfo>().Select(m => m.Name);
        Assert.Empty(Run(Scoped("Save-FifoModel -Repository me/tiny -File notes.txt")).Errors);

        // Before, only me/tiny@main was found: "There is no stored model 'me/tiny'".
        var (one, oneErrors) = Run(Scoped("Get-FifoModel me/tiny"));
        Assert.Empty(oneErrors);
        Assert.Equal(new[] { "me/tiny@main" }, Names(one));

        Assert.Empty(Run(Scoped("Save-FifoModel -Repository me/tiny -Revision v1 -File notes.txt")).Errors);
        var (both, _) = Run(Scoped("Get-FifoModel me/tiny"));
        Assert.Equal(new[] { "me/tiny@main", "me/tiny@v1" }, Names(both));

        // Deleting is not guessed: with two revisions stored, the name alone is refused and names them.
        var (_, ambiguous) = Run(Scoped("Remove-FifoModel me/tiny"));
        var refusal = Assert.Single(ambiguous);
        Assert.Equal("AmbiguousModelName", refusal.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Contains("me/tiny@main, me/tiny@v1", refusal.Exception.Message);
        Assert.Equal(2, Run(Scoped("Get-FifoModel me/tiny")).Output.Count);

        var (_, removeErrors) = Run(Scoped("Remove-FifoModel me/tiny@v1; Remove-FifoModel me/tiny"));
        Assert.Empty(removeErrors);
        Assert.Empty(Run(Scoped("Get-FifoModel")).Output);
        Assert.Equal("ModelNotFound", Assert.Single(Run(Scoped("Get-FifoModel me/tiny")).Errors).FullyQualifiedErrorId.Split(',')[0]);
    }

    [Fact]
    public void Damaged_files_are_repaired_with_Verify_and_damaged_records_are_listed_with_their_fix_and_removable()
    {
        using var hub = new FakeHub();
        var weights = FakeHub.RandomBytes(100_000, 31);
        hub.AddFile("fifotest/tiny-vc", "main", "model.ckpt", weights);
        hub.AddFile("someone/other", "main", "notes.txt", "by hand"u8.ToArray(), lfs: false);
        var preset = new ModelPreset("fifotest-damaged", "videocrafter", "test", new[] { new ModelPart("checkpoint", "fifotest/tiny-vc", "main", new[] { "model.ckpt" }) },
            new Dictionary<string, string> { ["path"] = "{checkpoint}/model.ckpt" });
        var catalog = Path.Combine(dir, "catalog.json");
        File.WriteAllText(catalog, ModelCatalog.ToJson(new[] { preset }));
        var store = Path.Combine(dir, "store");
        string Scoped(string body) => ScopedTo(hub, store, catalog, body);
        Assert.Empty(Run(Scoped("Save-FifoModel -Name fifotest-damaged; Save-FifoModel -Repository someone/other -File notes.txt")).Errors);
        var ckpt = Path.Combine(store, "fifotest", "tiny-vc", "main", "model.ckpt");
        using (var file = new FileStream(ckpt, FileMode.Open, FileAccess.Write)) { file.Seek(-200, SeekOrigin.End); file.Write(new byte[200]); }

        var (verified, verifyErrors) = Run(Scoped("Save-FifoModel -Name fifotest-damaged -Verify 3>&1"));

        Assert.Empty(verifyErrors);
        Assert.Contains(ckpt, Assert.Single(verified.OfType<WarningRecord>()).Message);
        Assert.True(Assert.Single(verified.OfType<FifoModelInfo>()).Complete);
        Assert.Equal(weights, File.ReadAllBytes(ckpt));

        var presetManifest = Path.Combine(store, "fifotest", "tiny-vc", "main.manifest.json");
        var handManifest = Path.Combine(store, "someone", "other", "main.manifest.json");
        File.WriteAllText(presetManifest, """{"files": [""");
        File.WriteAllText(handManifest, """{"files": [""");

        // Before, the first damaged manifest ended the listing, and the by-hand one hid its model.
        var (listed, listErrors) = Run(Scoped("Get-FifoModel"));

        var models = listed.Cast<FifoModelInfo>().ToList();
        Assert.Equal(new[] { "fifotest-damaged", "someone/other@main" }, models.Select(m => m.Name));
        Assert.All(models, m => Assert.False(m.Complete));
        Assert.All(models, m => Assert.NotNull(m.Problem));
        Assert.Equal(new[] { "ModelStoreCorrupt", "ModelStoreCorrupt" }, listErrors.Select(e => e.FullyQualifiedErrorId.Split(',')[0]));
        Assert.Contains(presetManifest, listErrors[0].Exception.Message);
        Assert.Contains("Save-FifoModel -Name fifotest-damaged", listErrors[0].Exception.Message);
        Assert.Contains(handManifest, listErrors[1].Exception.Message);

        var (_, removeErrors) = Run(Scoped("Remove-FifoModel someone/other@main"));
        Assert.Empty(removeErrors);
        Assert.False(Directory.Exists(Path.Combine(store, "someone")));
        var (_, saveErrors) = Run(Scoped("Save-FifoModel -Name fifotest-damaged"));
        Assert.Empty(saveErrors);
        var (mended, mendedErrors) = Run(Scoped("Get-FifoModel"));
        Assert.Empty(mendedErrors);
        Assert.True(Assert.IsType<FifoModelInfo>(Assert.Single(mended)).Complete);
    }

    [SkippableFact]
    public void ConvertTo_FifoCheckpoint_writes_the_same_tensors_as_safetensors_and_casts_to_bfloat16()
    {
        Skip.IfNot(File.Exists(LightningCheckpointWriter.TinyCheckpoint), $"no parity data at {LightningCheckpointWriter.TinyCheckpoint}");
        var (output, errors) = Run($"ConvertTo-FifoCheckpoint -Path '{LightningCheckpointWriter.TinyCheckpoint}' -Destination model.safetensors; " +
                                   $"ConvertTo-FifoCheckpoint '{LightningCheckpointWriter.TinyCheckpoint}' model-bf16.safetensors -DType bfloat16");
        Assert.Empty(errors);
        Assert.Equal(new[] { "model.safetensors", "model-bf16.safetensors" }, output.Cast<FileInfo>().Select(f => f.Name));

        using var source = TorchZipCheckpoint.Open(LightningCheckpointWriter.TinyCheckpoint);
        var refs = source.StateDict("state_dict");
        var converted = SafetensorsFile.Load(Path.Combine(dir, "model.safetensors"));
        var bf16 = SafetensorsFile.Load(Path.Combine(dir, "model-bf16.safetensors"));
        try
        {
            Assert.Equal(refs.Select(r => r.Key), SafetensorsFile.ReadHeader(Path.Combine(dir, "model.safetensors")).Select(e => e.Name));
            foreach (var (name, r) in refs)
            {
                using var expected = source.Read(r);
                Assert.Equal(expected.dtype, converted[name].dtype);
                Assert.Equal(expected.shape, converted[name].shape);
                Assert.True(expected.eq(converted[name]).all().item<bool>(), $"{name} differs");
                if (expected.is_floating_point())
                {
                    Assert.Equal(ScalarType.BFloat16, bf16[name].dtype);
                    using var cast = expected.to(ScalarType.BFloat16);
                    Assert.True(cast.eq(bf16[name]).all().item<bool>(), $"{name} bf16 differs");
                }
                else Assert.Equal(expected.dtype, bf16[name].dtype);
            }
        }
        finally
        {
            foreach (var t in converted.Values.Concat(bf16.Values)) t.Dispose();
        }
        Assert.Empty(Directory.GetFiles(dir, "*.partial"));

        var (_, exists) = Run($"ConvertTo-FifoCheckpoint '{LightningCheckpointWriter.TinyCheckpoint}' model.safetensors");
        Assert.Equal("OutputExists", Assert.Single(exists).FullyQualifiedErrorId.Split(',')[0]);
        // Safetensors under another name would be read as what the name says by a loader, and called damaged.
        foreach (var misnamed in new[] { "out.ckpt", "out.safetensor" })
        {
            var (_, refused) = Run($"ConvertTo-FifoCheckpoint '{LightningCheckpointWriter.TinyCheckpoint}' {misnamed}");
            var error = Assert.Single(refused);
            Assert.Equal("DestinationNotSafetensors", error.FullyQualifiedErrorId.Split(',')[0]);
            Assert.Contains($"name it '{Path.Combine(dir, Path.GetFileNameWithoutExtension(misnamed))}.safetensors'", error.Exception.Message);
            Assert.False(File.Exists(Path.Combine(dir, misnamed)));
        }

        // Piped checkpoints are converted one by one; one in the way is reported and the next still converted.
        File.Copy(LightningCheckpointWriter.TinyCheckpoint, Path.Combine(dir, "a.ckpt"));
        File.Copy(LightningCheckpointWriter.TinyCheckpoint, Path.Combine(dir, "b.ckpt"));
        File.WriteAllText(Path.Combine(dir, "a.safetensors"), "in the way");
        var (piped, pipedErrors) = Run($"[IO.FileInfo]'{Path.Combine(dir, "a.ckpt")}', [IO.FileInfo]'{Path.Combine(dir, "b.ckpt")}' | ConvertTo-FifoCheckpoint");
        Assert.Equal("OutputExists", Assert.Single(pipedErrors).FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal("b.safetensors", Assert.IsType<FileInfo>(Assert.Single(piped)).Name);
        Assert.Equal("in the way", File.ReadAllText(Path.Combine(dir, "a.safetensors")));
    }

    [Fact]
    public void The_streaming_writer_checks_the_layout_and_leaves_nothing_when_not_committed()
    {
        var path = Path.Combine(dir, "w.safetensors");
        var layout = new[] { new SafetensorsSlot("a", ScalarType.Float32, new long[] { 2, 3 }), new SafetensorsSlot("b", ScalarType.Int64, new long[] { 4 }) };
        using (var writer = SafetensorsWriter.Create(path, layout))
        {
            using var wrong = zeros(3, 2);
            Assert.Throws<InvalidOperationException>(() => writer.Write("a", wrong));
            using var a = arange(6, dtype: ScalarType.Float32).reshape(2, 3);
            writer.Write("a", a);
            Assert.Throws<InvalidOperationException>(() => writer.Commit());
        }
        Assert.Empty(Directory.GetFiles(dir));

        using (var writer = SafetensorsWriter.Create(path, layout, new Dictionary<string, string> { ["format"] = "pt" }))
        {
            using var a = arange(6, dtype: ScalarType.Float32).reshape(2, 3);
            using var b = arange(4, dtype: ScalarType.Int64);
            writer.Write("a", a);
            writer.Write("b", b);
            writer.Commit();
        }
        var loaded = SafetensorsFile.Load(path);
        Assert.Equal(new float[] { 0, 1, 2, 3, 4, 5 }, loaded["a"].data<float>().ToArray());
        Assert.Equal(new long[] { 0, 1, 2, 3 }, loaded["b"].data<long>().ToArray());
        foreach (var t in loaded.Values) t.Dispose();
    }
}
