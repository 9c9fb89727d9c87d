using System.Diagnostics;
using System.Management.Automation;
using FifoPipes.Abstractions;
using FifoPipes.Hosting.Models;
using FifoPipes.PowerShell.Engine;

namespace FifoPipes.PowerShell.Commands;

/// <summary>
/// <para type="synopsis">Downloads a model from a Hugging Face compatible hub into the local model store.</para>
/// <para type="description">-Name takes a preset (videocrafter2, videocrafter1-512, videocrafter1-1024, zeroscope-576w, zeroscope-xl, opensora-v1.1-65, opensora-v1.1-221) and fetches exactly the files it needs, tokenizers from other repositories included; New-FifoVideo -Model then finds them. -Repository/-Revision/-File fetch files by hand. Downloads resume after interruption, are verified (sha256 for LFS files, the git blob id for the others) and appear under their names only when complete. Offline (the hub cannot be listed), a preset whose files are all stored is given as it is, with a warning that it went unchecked. A file deleted from the store is downloaded again; -Verify also finds stored files damaged since and downloads those again. A store record that cannot be read (a manifest, a saved preset's record) is written anew, keeping the files that match the hub. The hub is HF_ENDPOINT (default https://huggingface.co), the token HF_TOKEN, the store FIFOPIPES_MODEL_STORE (default ~/.cache/fifopipes/models).</para>
/// <example><code>Save-FifoModel -Name videocrafter2</code></example>
/// <example><code>Save-FifoModel -Repository cerspense/zeroscope_v2_576w -Revision main -File model_index.json, unet/config.json</code></example>
/// <example><code>Save-FifoModel -Name zeroscope-576w -Verify</code></example>
/// </summary>
[Cmdlet(VerbsData.Save, "FifoModel", DefaultParameterSetName = "Name", SupportsShouldProcess = true)]
[OutputType(typeof(FifoModelInfo))]
public sealed class SaveFifoModelCommand : PSCmdlet
{
    BackgroundWork? work;

    /// <summary><para type="description">Preset names (Get-FifoModel -ListAvailable lists them).</para></summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = "Name", ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(PresetNameCompleter))]
    public string[] Name { get; set; } = Array.Empty<string>();

    /// <summary><para type="description">A repository id, owner/name.</para></summary>
    [Parameter(Mandatory = true, ParameterSetName = "Repository")]
    [ValidateNotNullOrEmpty]
    public string Repository { get; set; } = "";

    /// <summary><para type="description">Branch, tag or commit (default main).</para></summary>
    [Parameter(ParameterSetName = "Repository")]
    [ValidateNotNullOrEmpty]
    public string Revision { get; set; } = "main";

    /// <summary><para type="description">Paths inside the repository; all files when left out.</para></summary>
    [Parameter(ParameterSetName = "Repository")]
    public string[]? File { get; set; }

    /// <summary><para type="description">Also checks the files already in the store against the hub's listing (sha256 for LFS files, the git blob id for the others) and downloads again only those that differ, with a warning naming each. Without it a stored file counts by its size, so a file damaged on disk since (a model that fails to load with "cannot be loaded", "corrupt") stays until -Verify or until it is deleted. Reads every stored file once: minutes for a large model.</para></summary>
    [Parameter] public SwitchParameter Verify { get; set; }

    protected override void ProcessRecord()
    {
        try
        {
            if (ParameterSetName == "Repository")
            {
                if (!ShouldProcess($"{Repository}@{Revision}", File is { Length: > 0 } ? $"Download {string.Join(", ", File)}" : "Download every file")) return;
                Save($"{Repository}@{Revision}", (store, hub, progress, cancel) => store.SaveFilesAsync(hub, Repository, Revision, File, progress, cancel, Verify), terminating: true);
                return;
            }
            var catalog = ModelCatalog.FromEnvironment();
            // One name's problem is that name's error; the other names are still saved.
            foreach (var name in Name)
            {
                if (catalog.Find(name) is not { } preset)
                {
                    WriteError(Errors.From(new FifoInputException("UnknownModelPreset",
                        $"There is no model preset '{name}'. Presets: {string.Join(", ", catalog.Presets.Select(p => p.Name))}. " +
                        "To download other files, use -Repository owner/name -File path1, path2."), name));
                    continue;
                }
                if (!ShouldProcess(preset.Name, $"Download {preset.Parts.Sum(p => p.Files.Count)} files from {string.Join(", ", preset.Parts.Select(p => p.Repository).Distinct())}")) continue;
                Save(preset.Name, (store, hub, progress, cancel) => store.SaveAsync(hub, preset, progress, cancel, Verify), terminating: false);
            }
        }
        catch (FifoInputException ex)
        {
            ThrowTerminatingError(Errors.From(ex));
        }
    }

    /// <param name="terminating">Whether a failed download ends the command; with a list of presets it is that preset's error only.</param>
    void Save(string what, Func<ModelStore, HubClient, IProgress<ModelSaveProgress>, CancellationToken, Task<StoredModel>> save, bool terminating)
    {
        var store = ModelStore.FromEnvironment();
        using var hub = HubClient.FromEnvironment();
        WriteVerbose($"Saving {what} from {hub.Endpoint} ({(hub.HasToken ? "with" : "without")} a token) into {store.Root}.");
        var meter = new TransferMeter($"Save-FifoModel {what}");
        work = new BackgroundWork();
        StoredModel model;
        try
        {
            model = work.Run(this, cancel => save(store, hub, new ActionProgress<ModelSaveProgress>(meter.Update), cancel), meter.Record);
        }
        catch (Exception ex) when (!Errors.IsPipelineFlow(ex))
        {
            if (terminating) ThrowTerminatingError(Errors.From(ex, what));
            else WriteError(Errors.From(ex, what));
            return;
        }
        if (model.Unchecked is { } why)
            WriteWarning($"{why}. Every file of {what} is in the store already, so it is given as stored, unchecked for changes on the hub.");
        foreach (var file in model.Refetched)
            WriteWarning($"'{file.LocalPath}' was damaged (its content was not what the hub lists) and has been downloaded again.");
        WriteObject(new FifoModelInfo(model));
    }

    protected override void StopProcessing() => work?.Stop();

    /// <summary>Turns byte counts from the download thread into a progress record with the rate and time left.</summary>
    sealed class TransferMeter(string activity)
    {
        readonly object gate = new();
        readonly Stopwatch clock = Stopwatch.StartNew();
        ModelSaveProgress? latest;
        long? startBytes;

        public void Update(ModelSaveProgress p)
        {
            lock (gate)
            {
                latest = p;
                startBytes ??= p.AllDone - p.FileDone;
            }
        }

        public ProgressRecord? Record()
        {
            ModelSaveProgress p;
            long start;
            lock (gate)
            {
                if (latest is null) return null;
                p = latest.Value;
                start = startBytes ?? 0;
            }
            double rate = Math.Max(0, p.AllDone - start) / Math.Max(clock.Elapsed.TotalSeconds, 1e-3);
            var status = p.Waiting
                ? $"{p.File}: waiting for another download of the same file"
                : $"{p.File}: {Bytes(p.FileDone)} of {Bytes(p.FileTotal)}; all files {Bytes(p.AllDone)} of {Bytes(p.AllTotal)} at {Bytes((long)rate)}/s";
            var record = new ProgressRecord(2, activity, status)
            {
                PercentComplete = p.AllTotal > 0 ? (int)Math.Clamp(100 * p.AllDone / p.AllTotal, 0, 100) : 0,
                SecondsRemaining = rate > 0 ? (int)Math.Clamp((p.AllTotal - p.AllDone) / rate, 0, 360_000) : -1,
                CurrentOperation = p.Repository,
            };
            return record;
        }

        static string Bytes(long n) => StoreWords.Bytes(n);
    }
}
