using System.Threading.Channels;
using FifoPipes.Abstractions;
using FifoPipes.Core;
using FifoPipes.Hosting.Models;
using FifoPipes.Hosting.Recipes;

namespace FifoPipes.Hosting.Engine;

/// <summary>
/// Runs model -> sampler -> decoder on a dedicated worker thread (TorchSharp dispose scopes are per
/// thread) and hands decoded frames to the consuming thread through a small bounded channel, so memory
/// stays constant and only the consumer (the PowerShell pipeline thread) writes output. Disposing the
/// enumeration cancels the worker, which stops within one sampler iteration, and waits for it.
/// </summary>
public sealed class VideoRun
{
    const int ChannelCapacity = 4;
    /// <summary>TorchSharp scalar faults in a row, on one piece of work, before the run gives up (docs/reliability.md).</summary>
    const int MaxFaultRepeats = 3;

    readonly Recipe recipe;
    readonly string workingDirectory;
    readonly LoadedModels? models;

    /// <param name="models">Where a command that runs several recipes keeps a model for the next run; null to load one for this run only.</param>
    public VideoRun(Recipe recipe, string? workingDirectory = null, LoadedModels? models = null)
    {
        this.recipe = recipe;
        this.workingDirectory = workingDirectory ?? recipe.BaseDirectory;
        this.models = models;
    }

    public Guid RunId { get; } = Guid.NewGuid();

    public IEnumerable<RunEvent> Events(CancellationToken cancellation = default)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        HeldFrames.Started(RunId);
        var channel = Channel.CreateBounded<RunEvent>(new BoundedChannelOptions(ChannelCapacity) { SingleReader = true });
        var worker = new Thread(() => Work(channel.Writer, stop.Token)) { IsBackground = true, Name = "FifoPipes worker" };
        worker.Start();
        try
        {
            var reader = channel.Reader;
            // A worker's failure completes the channel with it, and the wait rethrows it here; cancellation is no failure.
            while (reader.WaitToReadAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult())
                while (reader.TryRead(out var item))
                {
                    // The consumer is back for more, so every frame before this snapshot is handed to the sinks; it becomes
                    // the resume point once they hold them (an encoder's lookahead holds frames a crash would lose).
                    if (item is SnapshotSaved saved) HeldFrames.Staged(RunId, new(saved.Snapshot, saved.Frames));
                    var uncommitted = HeldFrames.CommitHeld(RunId);
                    yield return item;
                    foreach (var message in uncommitted) yield return message;
                }
        }
        finally
        {
            // The rest become the resume point as the sinks finish their files, if they hold their frames then.
            HeldFrames.Ended(RunId);
            stop.Cancel();
            // Drain so a worker blocked on a full channel can see the cancellation and leave.
            while (worker.IsAlive && !worker.Join(10)) DiscardNext(channel.Reader);
            while (DiscardNext(channel.Reader)) { }
        }
    }

    /// <summary>
    /// Makes the stage the resume point; a warning where it stays the previous one. A rename the file system refuses
    /// (on Windows, a scanner or indexer holding the old snapshot a moment) costs this resume point, not the run: the
    /// next snapshot tries again.
    /// </summary>
    internal static RunMessage? Commit(StagedSnapshot stage)
    {
        try
        {
            return stage.TryCommit() ? null : new(MessageLevel.Warning,
                $"The snapshot staged at '{stage.StagedPath}' was gone when the frames before it were written, so '{stage.Path}' stays the resume point it was. " +
                "Is another run using the same snapshot path? Give each run its own ({hash} in the path names one per run).");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return new(MessageLevel.Warning,
                $"The snapshot staged at '{stage.StagedPath}' could not replace '{stage.Path}' ({ex.Message.TrimEnd('.')}), so that stays the resume point it was; " +
                "the run goes on, and its next snapshot tries again.");
        }
    }

    /// <summary>Drops one unread event; a snapshot whose frames were never written must not become a resume point.</summary>
    static bool DiscardNext(ChannelReader<RunEvent> reader)
    {
        if (!reader.TryRead(out var item)) return false;
        if (item is SnapshotSaved unwritten) unwritten.Snapshot.Discard();
        return true;
    }

    void Work(ChannelWriter<RunEvent> output, CancellationToken cancellation)
    {
        Exception? failure = null;
        try
        {
            Produce(output, cancellation);
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested) { }
        catch (Exception ex) { failure = ex; }
        finally { output.TryComplete(failure); }
    }

    void Produce(ChannelWriter<RunEvent> output, CancellationToken cancellation)
    {
        // Model loads on this thread (the adapter's, a lazily loaded text encoder) stop between tensors when the run stops.
        using var loads = LoadCancellation.Use(cancellation);
        var log = new ChannelLog(output, cancellation);
        var snapshot = WritableSnapshots(log);
        if (EarlierSnapshot.InTheWay(recipe) is { } held) throw held;
        if (EarlierSnapshot.Replaced(recipe) is { } replaced) log.Verbose($"This run's first snapshot replaces the earlier one at '{replaced}' within {recipe.Snapshot!.EveryFrames} frames (overwrite is on).");
        var repeats = new FaultRepeats(MaxFaultRepeats, log);
        var context = new PluginContext(log, workingDirectory, cancellation);
        // Watched from before the model loads: a prompt written while a large model loads is a change, not the start.
        var livePrompts = recipe.LivePrompt is null ? null : new LivePromptFile(recipe.LivePrompt, log);
        // Before the model loads: options its sampler cannot take with this model would otherwise cost a whole load.
        var described = models?.KeptInfo(recipe.Model, workingDirectory) ?? SamplerFit.Describe(recipe, context);
        if (described is not null) SamplerFit.Check(recipe, described, context);
        IVideoModel Load(IProgressSink modelLog) => StoredPresetFiles.Explained(recipe.Model.Stored, () => PluginRefusal.By("model", () => PluginFailedException.Guard(
            $"Loading {PluginFailedException.Name(recipe.Model.Plugin)}",
            () => recipe.Model.Plugin.Create<IModelAdapter>().Load(recipe.Model.Options, new PluginContext(modelLog, workingDirectory, cancellation)))));
        using var lease = models is null ? ModelLease.ForOneRun(Load(log)) : models.Lease(recipe.Model, workingDirectory, Load, log);
        var model = lease.Model;
        if (described is null) SamplerFit.Check(recipe, model.Info, context);
        else SamplerFit.Confirm(recipe, described, model.Info);
        var created = PluginRefusal.By("sampler", () => PluginFailedException.Guard($"Creating {PluginFailedException.Name(recipe.Sampler.Plugin)}",
            () => recipe.Sampler.Plugin.Create<ISamplerFactory>().Create(recipe.Sampler.Options, context)));
        using var ownedSampler = created as IDisposable;
        var sampler = new RestartingSampler(created, MaxFaultRepeats);
        string modelName = PluginFailedException.Name(recipe.Model.Plugin);
        using var source = recipe.Source is null ? null
            : PluginFailedException.Guard($"Encoding the source video with {modelName}", () => SourceVideoLatents.Open(model, recipe.Source, log, cancellation));
        // A restyled video plays at its source's rate unless the recipe says otherwise: frame k stands for frame k.
        double fps = recipe.Fps ?? source?.Fps ?? model.Info.Defaults.Fps;
        Post(output, new RunStarted(model.Info, recipe.Frames, fps, RunId), cancellation);

        using var initLatents = recipe.InitImage is null ? null
            : PluginFailedException.Guard($"Encoding the start image with {modelName}", () => InitFrames.Encode(model, recipe.InitImage, recipe.Prompts[0].Prompt));
        using var decoder = PluginFailedException.Guard($"Creating the decoder of {modelName}", model.CreateDecoder);
        var position = DecoderPosition.Of(decoder);
        RefuseSnapshotsUnlessResumable(position, model.Info.Name);
        bool snapshots = snapshot is not null || recipe.ResumeFrom is not null;
        var job = new SamplingJob
        {
            Model = model,
            Prompts = recipe.Prompts,
            NegativePrompt = recipe.NegativePrompt,
            Seed = recipe.Seed,
            Noise = new KeyedNoise(recipe.Seed),
            InitLatents = initLatents,
            Source = source,
            SourceStrength = recipe.Source?.Strength ?? SamplingJob.DefaultSourceStrength,
            LivePrompts = livePrompts,
            Snapshots = snapshot,
            ResumeFrom = recipe.ResumeFrom,
            KeepLatents = snapshots ? position.MaxHeldLatents : 0,
            RunHash = recipe.RunHash,
            RunSettings = recipe.RunSettings,
            RunPlugins = recipe.RunPlugins,
            Log = log,
        };

        // Stages a killed process left behind; from here on every stage on disk belongs to this run.
        snapshot?.DeleteLeftoverStages();
        using var frames = new DecodedFrames(decoder, modelName, PluginFailedException.Name(recipe.Sampler.Plugin), position, resuming: recipe.ResumeFrom is not null, recipe.Prompts[0].Prompt,
            (rgb, index, prompt) => FrameConversion.ToFrame(rgb, index, prompt, fps, RunId, recipe.Provenance),
            item => Post(output, item, cancellation), repeats);
        var latents = new CheckedLatents($"{PluginFailedException.Name(recipe.Sampler.Plugin)} on {modelName}",
            model.Info, recipe.Frames, resuming: recipe.ResumeFrom is not null,
            (recipe.Sampler.Plugin.Source, "the sampler's"), (recipe.Model.Plugin.Source, "the model's"));
        foreach (var latent in latents.Of(PluginRefusal.By("sampler", sampler.Sample(job, cancellation)), cancellation)) frames.Take(latent);
        frames.Finish();
    }

    /// <summary>
    /// The snapshots this run takes, their place checked before the model loads (found unwritable at the first snapshot,
    /// it would cost the frames until then). Those a resume implies, to the file it resumed from, are dropped with a
    /// warning where that file cannot be replaced (a read-only copy): the resume itself only reads it.
    /// </summary>
    SnapshotPolicy? WritableSnapshots(IProgressSink log)
    {
        if (recipe.Snapshot is not { } snapshot) return null;
        try { snapshot.EnsureWritable(); }
        catch (FifoInputException unwritable) when (recipe.SnapshotFollowsResume && unwritable.ErrorId == SnapshotPolicy.NotWritableErrorId)
        {
            log.Warning($"This resumed run takes no snapshots, so another interruption resumes from '{snapshot.Path}' again: {unwritable.Message}");
            return null;
        }
        return snapshot;
    }

    /// <summary>
    /// A snapshot counts queue pops and a resume numbers frames from it. A decoder that holds latents back and turns
    /// them into several frames each (a causal VAE's chunks) must say where it stands (<see cref="IResumableFrameDecoder"/>),
    /// or a resume would skip the held-back frames and renumber, and so overwrite, the written ones.
    /// </summary>
    void RefuseSnapshotsUnlessResumable(DecoderPosition position, string modelName)
    {
        if (recipe.Snapshot is null && recipe.ResumeFrom is null) return;
        string asked = recipe.ResumeFrom is null ? "'snapshot' (-SnapshotPath)" : "'resume' (-Resume)";
        if (!position.CanResume)
            throw new FifoInputException("SnapshotUnsupported",
                $"Model '{modelName}' decodes latents in chunks and its decoder cannot say which it holds at a resume point, so a snapshot of " +
                $"its queue cannot resume without skipping or renumbering frames. Remove {asked} for this model, or have its decoder implement IResumableFrameDecoder.");
        var sampler = recipe.Sampler.Plugin;
        if (position.MaxHeldLatents > 0 && sampler.Contracts < KeepLatentsSince)
            throw new FifoInputException("SnapshotUnsupported",
                $"Sampler '{sampler.Name}' was built against FifoPipes.Abstractions {sampler.Contracts.ToString(2)}, before snapshots kept the latents a decoder holds back " +
                $"(SamplingJob.KeepLatents, contracts {KeepLatentsSince.ToString(2)}), and model '{modelName}' holds up to {position.MaxHeldLatents}: its snapshots would resume without them, " +
                $"skipping frames. Remove {asked} for this model, or rebuild the sampler against this FifoPipes' Abstractions ({typeof(SamplingJob).Assembly.GetName().Version!.ToString(2)}), " +
                "where it keeps them" + (sampler.Name == "fifo" ? "." : ", or use the fifo sampler."));
    }

    /// <summary>The contracts that asked samplers to keep held latents in their snapshots (<see cref="SamplingJob.KeepLatents"/>).</summary>
    static readonly Version KeepLatentsSince = new(1, 1);

    static void Post(ChannelWriter<RunEvent> output, RunEvent item, CancellationToken cancellation) =>
        output.WriteAsync(item, cancellation).AsTask().GetAwaiter().GetResult();

    /// <summary>Plugin messages travel to the consumer like frames do, in order with them; after a stop they are dropped.</summary>
    sealed class ChannelLog : IProgressSink
    {
        readonly ChannelWriter<RunEvent> output;
        readonly CancellationToken cancellation;
        public ChannelLog(ChannelWriter<RunEvent> output, CancellationToken cancellation) { this.output = output; this.cancellation = cancellation; }
        public void Verbose(string message) => Send(new RunMessage(MessageLevel.Verbose, message));
        public void Warning(string message) => Send(new RunMessage(MessageLevel.Warning, message));
        void Send(RunMessage m)
        {
            try { Post(output, m, cancellation); } catch (OperationCanceledException) { } catch (ChannelClosedException) { }
        }
    }
}
