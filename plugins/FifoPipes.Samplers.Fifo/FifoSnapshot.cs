using System.Globalization;
using FifoPipes.Abstractions;
using FifoPipes.Core;
using FifoPipes.Torch.Checkpoints;
using static TorchSharp.torch;

namespace FifoPipes.Samplers.Fifo;

/// <summary>
/// The whole sampler state between two iterations: the queue, the next iteration, how many frames were output, the
/// seed and the run hash. The rest (noise, prompts, windows) is a function of these, so a resumed run continues bit
/// for bit. <see cref="Recent"/> adds the latest output latents when the decoder holds some back.
/// </summary>
public sealed record FifoSnapshot(Tensor Queue, long Iteration, long Emitted, long Seed, string RunHash, string RunSettings = "") : IDisposable
{
    const string Format = "fifopipes-fifo-snapshot/1";

    /// <summary>The last n output latents [C, n, h, w] (<see cref="SamplingJob.KeepLatents"/>), or null when none is kept.</summary>
    public Tensor? Recent { get; init; }

    /// <summary>What drew the run's noise (<see cref="KeyedNoise.NameOf"/>), recorded when it is saved; a resume compares its own with it.</summary>
    public string? Noise { get; init; }

    const string NoiseKey = "noise";

    /// <summary>
    /// The windows per model call when it was taken. A GPU's kernels round by batch shape, so a resume that takes the
    /// same count (windowBatch: auto does, where the device holds that many) computes its frames as the run that wrote it would have.
    /// </summary>
    public int? WindowBatch { get; init; }

    const string WindowBatchKey = "windowBatch";

    /// <summary>
    /// The plugins that made it and their versions (<see cref="SamplingJob.RunPlugins"/>), out of the run hash: a resume
    /// with other versions goes on, and says that its frames may not be those the older versions would have made.
    /// </summary>
    public string Plugins { get; init; } = "";

    public void Save(string path)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(folder)) Directory.CreateDirectory(folder);
        var tensors = new List<KeyValuePair<string, Tensor>> { KeyValuePair.Create("queue", Queue) };
        if (Recent is not null) tensors.Add(KeyValuePair.Create("recent", Recent));
        var metadata = new Dictionary<string, string>
        {
            ["format"] = Format,
            ["iteration"] = Iteration.ToString(CultureInfo.InvariantCulture),
            ["emitted"] = Emitted.ToString(CultureInfo.InvariantCulture),
            ["seed"] = Seed.ToString(CultureInfo.InvariantCulture),
            [SnapshotMetadata.RunHash] = RunHash,
            [SnapshotMetadata.RunSettings] = RunSettings,
        };
        if (Noise is not null) metadata[NoiseKey] = Noise;
        if (WindowBatch is { } batch) metadata[WindowBatchKey] = batch.ToString(CultureInfo.InvariantCulture);
        if (Plugins.Length > 0) metadata[SnapshotMetadata.Plugins] = Plugins;
        SafetensorsFile.Save(path, tensors, metadata);
    }

    /// <summary>
    /// Loads a snapshot and checks it belongs to this run: same run hash, seed and queue shape. The file is read through
    /// one open handle, so a newer snapshot committed over it meanwhile cannot mix into it, and its metadata is checked
    /// before any tensor is read, so a wrong file (a model's safetensors, another run's snapshot) is refused cheaply.
    /// </summary>
    public static FifoSnapshot Load(string path, SamplingJob job, FifoPlan plan)
    {
        if (!File.Exists(path))
            throw new FifoInputException("SnapshotNotFound", $"Snapshot '{path}' does not exist. Check the path, or start fresh without resuming.");
        Dictionary<string, Tensor> tensors;
        IReadOnlyDictionary<string, string> metadata;
        try { (tensors, metadata) = SafetensorsFile.LoadWithMetadata(path, found => CheckMetadata(path, job, found)); }
        catch (FifoInputException ex) when (ex.ErrorId == "CheckpointCorrupt")
        {
            // The reader's reason without its advice, which is for model checkpoints.
            throw new FifoInputException("SnapshotInvalid",
                $"'{path}' is not a snapshot a run wrote ({ex.Data[SafetensorsFile.ReasonKey] ?? "not a safetensors file"}). Give -Resume (resume:) the file a run " +
                "wrote with -SnapshotPath (snapshot:); if it is one, it is damaged: start fresh.", ex);
        }
        foreach (var other in tensors.Where(kv => kv.Key is not ("queue" or "recent"))) other.Value.Dispose();
        var queue = tensors.GetValueOrDefault("queue");
        var recent = tensors.GetValueOrDefault("recent");
        try
        {
            if (queue is null)
                throw new FifoInputException("SnapshotInvalid", $"Snapshot '{path}' has no 'queue' tensor. The file is damaged; start fresh.");
            var expected = new long[] { plan.Channels, plan.QueueLength, plan.Height, plan.Width };
            if (!queue.shape.SequenceEqual(expected))
                throw new FifoInputException("SnapshotMismatch",
                    $"Snapshot '{path}' holds a queue of shape [{string.Join(", ", queue.shape)}], but this run needs [{string.Join(", ", expected)}] " +
                    "(channels, queue length, height, width). Resume with the same model, size, partitions and lookahead.");
            long emitted = Long(metadata, "emitted", path);
            CheckRecent(path, recent, emitted, Math.Min(job.KeepLatents, emitted), plan);
            return new FifoSnapshot(queue, Long(metadata, "iteration", path), emitted, Long(metadata, "seed", path, negativeAllowed: true),
                metadata.GetValueOrDefault(SnapshotMetadata.RunHash, ""), metadata.GetValueOrDefault(SnapshotMetadata.RunSettings, ""))
            {
                Recent = recent,
                WindowBatch = int.TryParse(metadata.GetValueOrDefault(WindowBatchKey), NumberStyles.None, CultureInfo.InvariantCulture, out var batch) && batch > 0 ? batch : null,
            };
        }
        catch
        {
            queue?.Dispose();
            recent?.Dispose();
            throw;
        }
    }

    /// <summary>A decoder that holds latents back needs the last <paramref name="needed"/> output latents, and they must fit the model.</summary>
    static void CheckRecent(string path, Tensor? recent, long emitted, long needed, FifoPlan plan)
    {
        if (recent is not null && (recent.dim() != 4 || recent.shape[0] != plan.Channels || recent.shape[2] != plan.Height || recent.shape[3] != plan.Width))
            throw new FifoInputException("SnapshotInvalid",
                $"Snapshot '{path}' keeps latents of shape [{string.Join(", ", recent.shape)}], not [{plan.Channels}, n, {plan.Height}, {plan.Width}]. The file is damaged; start fresh.");
        long kept = recent?.shape[1] ?? 0;
        if (kept > emitted)
            throw new FifoInputException("SnapshotInvalid", $"Snapshot '{path}' keeps {kept} latents of only {emitted} output. The file is damaged; start fresh.");
        if (kept < needed)
            throw new FifoInputException("SnapshotMismatch",
                $"Snapshot '{path}' keeps {kept} of the last output latents, but this model's decoder holds up to {needed} back and needs them to " +
                "continue. Resume with the model (and snapshot settings) that wrote it, or start fresh.");
    }

    /// <summary>The snapshot's format, run hash and seed against this run's.</summary>
    static void CheckMetadata(string path, SamplingJob job, IReadOnlyDictionary<string, string> metadata)
    {
        if (!metadata.TryGetValue("format", out var format) || format != Format)
            throw new FifoInputException("SnapshotInvalid", $"'{path}' is not a FIFO sampler snapshot (format '{format ?? "none"}'). Give a file written by this sampler's snapshots.");
        string hash = metadata.GetValueOrDefault(SnapshotMetadata.RunHash, "");
        string settings = metadata.GetValueOrDefault(SnapshotMetadata.RunSettings, "");
        if (SnapshotMetadata.Settings(settings).FirstOrDefault(s => s.Key == "livePrompt") is { Value: { } steeredBy })
            throw new FifoInputException("SnapshotMismatch",
                $"Snapshot '{path}' was written by a run steered with the live prompt file '{steeredBy}'. The prompts given while it went " +
                "are not in the snapshot, so no run can resume it to the frames that run would have made; start a new run (a prompt schedule can take those prompts).");
        if (hash != job.RunHash && RunExtension.Of(settings, job.RunSettings) is { } longer)
            job.Log.Verbose($"fifo: this run goes on past the end of the snapshot's run '{hash}': {longer.FramesBefore} frames then, {longer.FramesNow} now.");
        else if (hash != job.RunHash)
            throw new FifoInputException("SnapshotMismatch",
                $"Snapshot '{path}' was written by run '{hash}', but this run is '{job.RunHash}'{Differences(settings, job.RunSettings, job.Model.Info)}. " +
                "Resume with the recipe and seed that wrote it (its last prompt may cover more frames, and prompts may follow it), or start fresh.");
        long seed = Long(metadata, "seed", path, negativeAllowed: true);
        if (seed != job.Noise.Seed)
            throw new FifoInputException("SnapshotMismatch", $"Snapshot '{path}' has seed {seed}, but this run has seed {job.Noise.Seed}. Resume with the same seed.");
        // Not refused: the queue goes on all the same, only its new noise is not the one the older version would have drawn.
        if (KeyedNoise.NameOf(job.Noise) is var noise && metadata.GetValueOrDefault(NoiseKey) is var then && then != noise)
            job.Log.Warning($"fifo: snapshot '{path}' was made with {then ?? "libtorch's generator (FifoPipes before 2026-12-06)"}, and this run draws its noise " +
                            $"with {noise}: the frames from here on continue the video, but are not those the run that wrote it would have gone on to make.");
        // Older snapshots, and hosts that do not say, record no versions: nothing to compare.
        if (metadata.GetValueOrDefault(SnapshotMetadata.Plugins) is { Length: > 0 } madeWith && job.RunPlugins.Length > 0 && madeWith != job.RunPlugins)
            job.Log.Warning($"fifo: snapshot '{path}' was made with {madeWith}, and this run has {job.RunPlugins}: the frames from here on continue the video, " +
                            "but other versions of these plugins may not make those the run that wrote it would have gone on to make.");
    }

    /// <summary>": model.height is 40 in the snapshot and 32 now", for the settings both sides recorded.</summary>
    static string Differences(string snapshotSettings, string runSettings, ModelInfo model)
    {
        static Dictionary<string, string> Parse(string settings) =>
            SnapshotMetadata.Settings(settings).GroupBy(s => s.Key).ToDictionary(g => g.Key, g => g.Last().Value, StringComparer.Ordinal);
        if (snapshotSettings.Length == 0 || runSettings.Length == 0) return "";
        var (then, now) = (Parse(snapshotSettings), Parse(runSettings));
        // A schedule that goes on from the snapshot's is allowed: it is not why the snapshot is refused.
        bool promptsGoOn = RunExtension.PromptsGoOn(snapshotSettings, runSettings);
        var differences = then.Keys.Union(now.Keys)
            .Where(key => then.GetValueOrDefault(key) != now.GetValueOrDefault(key) && !(promptsGoOn && SnapshotMetadata.IsPromptSpan(key)))
            .Select(key => $"{key} is {then.GetValueOrDefault(key) ?? "unset"} in the snapshot and {now.GetValueOrDefault(key) ?? "unset"} now")
            .ToList();
        return differences.Count == 0 ? "" : ": " + string.Join("; ", differences.Take(4)) + (differences.Count > 4 ? $"; and {differences.Count - 4} more" : "")
            + InPixels(then, now, model);
    }

    /// <summary>
    /// " (the snapshot's frames are 64x64 pixels, -Width 64 -Height 64; this run's 512x320)" where the model's size options
    /// count latent cells, as the analytic model's do: the user gave pixels (-Width, -Height) and should read them back.
    /// </summary>
    static string InPixels(Dictionary<string, string> then, Dictionary<string, string> now, ModelInfo model)
    {
        static int? Cells(Dictionary<string, string> settings, string key) =>
            settings.TryGetValue(key, out var value) && int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var cells) ? cells : null;
        if (Cells(now, "model.height") != model.LatentHeight || Cells(now, "model.width") != model.LatentWidth
            || Cells(then, "model.height") is not { } height || Cells(then, "model.width") is not { } width
            || (height == model.LatentHeight && width == model.LatentWidth)) return "";
        int scale = model.SpatialScale;
        return $" (the snapshot's frames are {width * scale}x{height * scale} pixels, -Width {width * scale} -Height {height * scale}; this run's {model.PixelWidth}x{model.PixelHeight})";
    }

    static long Long(IReadOnlyDictionary<string, string> metadata, string key, string path, bool negativeAllowed = false) =>
        metadata.TryGetValue(key, out var s) && long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && (v >= 0 || negativeAllowed) ? v
            : throw new FifoInputException("SnapshotInvalid", $"Snapshot '{path}' has no valid '{key}' entry. The file is damaged; start fresh.");

    public void Dispose()
    {
        Queue.Dispose();
        Recent?.Dispose();
    }
}
