using System.Diagnostics;
using System.Threading.Channels;
using FifoPipes.Abstractions;
using FifoPipes.Core;
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
        var channel = Channel.CreateBounded<RunEvent>(new BoundedChannelOptions(ChannelCapacity) { SingleReader = true, SingleWriter = true });
        var worker = new Thread(() => Work(channel.Writer, stop.Token)) { IsBackground = true, Name = "FifoPipes worker" };
        worker.Start();
        try
        {
            var reader = channel.Reader;
            while (reader.WaitToReadAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult())
                while (reader.TryRead(out var item))
                {
                    // The consumer is back for more, so every frame before this snapshot is written.
                    if (item is SnapshotSaved saved) saved.Snapshot.Commit();
                    yield return item;
                }
        }
        finally
        {
            stop.Cancel();
            // Drain so a worker blocked on a full channel can see the cancellation and leave.
            while (worker.IsAlive && !worker.Join(10)) DiscardNext(channel.Reader);
            while (DiscardNext(channel.Reader)) { }
        }
        // Surfaces the worker's failure (the channel completes with it); cancellation is not a failure.
        channel.Reader.Completion.GetAwaiter().GetResult();
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
        var context = new PluginContext(log, workingDirectory);
        IVideoModel Load(IProgressSink modelLog) => recipe.Model.Plugin.Create<IModelAdapter>().Load(recipe.Model.Options, new PluginContext(modelLog, workingDirectory));
        using var lease = models is null ? ModelLease.ForOneRun(Load(log)) : models.Lease(recipe.Model, workingDirectory, Load, log);
        var model = lease.Model;
        var sampler = new RestartingSampler(recipe.Sampler.Plugin.Create<ISamplerFactory>().Create(recipe.Sampler.Options, context), MaxFaultRepeats);
        using var source = recipe.Source is null ? null : SourceVideoLatents.Open(model, recipe.Source, log);
        // A restyled video plays at its source's rate unless the recipe says otherwise: frame k stands for frame k.
        double fps = recipe.Fps ?? source?.Fps ?? model.Info.Defaults.Fps;
        Post(output, new RunStarted(model.Info, recipe.Frames, fps, RunId), cancellation);

        using var initLatents = recipe.InitImage is null ? null : InitFrames.Encode(model, recipe.InitImage, recipe.Prompts[0].Prompt);
        using var decoder = model.CreateDecoder();
        var position = DecoderPosition.Of(decoder);
        RefuseSnapshotsUnlessResumable(position, model.Info.Name);
        bool snapshots = recipe.Snapshot is not null || recipe.ResumeFrom is not null;
        var job = new SamplingJob
        {
            Model = model,
            Prompts = recipe.Prompts,
            NegativePrompt = recipe.NegativePrompt,
            Seed = recipe.Seed,
            Noise = new KeyedNoise(recipe.Seed),
            InitLatents = initLatents,
            Source = source,
            SourceStrength = recipe.Source?.Strength ?? SourceVideo.DefaultStrength,
            Snapshots = recipe.Snapshot,
            ResumeFrom = recipe.ResumeFrom,
            KeepLatents = snapshots ? position.MaxHeldLatents : 0,
            RunHash = recipe.RunHash,
            RunSettings = recipe.RunSettings,
            Log = log,
        };

        // Stages a killed process left behind; from here on every stage on disk belongs to this run.
        recipe.Snapshot?.DeleteLeftoverStages();
        var staged = new Queue<StagedSnapshot>();
        // The prompts of latents whose frames are not all out yet: a chunked decoder emits them later, several per latent.
        var latentPrompts = new Queue<(long Index, string Prompt)>();
        // A resumed run's latents from before the resume point, which a decoder that held them takes up again.
        var replayed = new List<LatentFrame>();
        var total = Stopwatch.StartNew();
        var decoding = new Stopwatch();
        long nextIndex = -1;
        string prompt = recipe.Prompts[0].Prompt;

        void Emit(IReadOnlyList<TorchSharp.torch.Tensor> rgbFrames)
        {
            int next = 0;
            try
            {
                for (; next < rgbFrames.Count; next++)
                {
                    var rgb = rgbFrames[next];
                    long latent = decoder.LatentOf(nextIndex);
                    while (latentPrompts.Count > 1 && latentPrompts.Peek().Index < latent) latentPrompts.Dequeue();
                    prompt = latentPrompts.Count > 0 ? latentPrompts.Peek().Prompt : prompt;
                    VideoFrame frame;
                    using (rgb) frame = Repeating(() => FrameConversion.ToFrame(rgb, nextIndex, prompt, fps, RunId, recipe.Provenance), "frame conversion", pure: true);
                    nextIndex++;
                    var timings = new RunTimings(total.Elapsed.TotalSeconds - decoding.Elapsed.TotalSeconds, decoding.Elapsed.TotalSeconds, total.Elapsed.TotalSeconds);
                    Post(output, new FrameProduced(frame, timings), cancellation);
                }
            }
            finally
            {
                // Stopped partway (Ctrl+C while posting): a chunked decoder's remaining frames still hold device memory.
                for (int i = next + 1; i < rgbFrames.Count; i++) rgbFrames[i].Dispose();
            }
            // A snapshot follows the frames it covers: for a decoder that holds latents back, those of the chunks before it.
            while (staged.Count > 0 && position.FramesBefore(staged.Peek().FramesBefore) is var covered && covered <= nextIndex)
            {
                Post(output, new SnapshotSaved(staged.Peek(), covered), cancellation);
                staged.Dequeue();
            }
        }

        // The stream starts, or goes on at output latent `resumed`: a fresh decoder takes the latents it held there again.
        void Begin(long resumed)
        {
            long heldFrom = position.HeldFrom(resumed);
            if (recipe.ResumeFrom is not null && resumed > 0) position.ResumeAt(heldFrom);
            long due = heldFrom;
            foreach (var old in replayed.Where(r => r.Index >= heldFrom))
            {
                if (old.Index != due)
                    throw new InvalidOperationException($"The sampler replayed latent {old.Index} where {due} was due; it must replay the latest latents in order.");
                latentPrompts.Enqueue((old.Index, old.Prompt));
                var early = decoder.Push(old.Latent, old.Prompt);
                foreach (var frame in early) frame.Dispose();
                if (early.Count > 0)
                    throw new InvalidOperationException($"{decoder.GetType().Name} returned frames for latent {old.Index}, which it held at the resume point; held latents must return none.");
                due++;
            }
            if (due < resumed)
                throw new FifoInputException("SnapshotMismatch",
                    $"At the resume point the decoder held latents {heldFrom} to {resumed - 1}, but the snapshot kept none from {due} on. " +
                    "Resume with the model and snapshot settings that wrote it, or start fresh.");
            nextIndex = position.FramesBefore(resumed);
            foreach (var old in replayed) old.Latent.Dispose();
            replayed.Clear();
        }

        // A TorchSharp scalar fault says nothing about the work: repeat it where repeating cannot change the result.
        T Repeating<T>(Func<T> work, string what, bool pure)
        {
            for (int attempt = 1; ; attempt++)
            {
                try { return work(); }
                catch (Exception error) when (pure && TorchSharpFaults.IsScalarFinalizerRace(error) && attempt < MaxFaultRepeats)
                {
                    log.Warning($"Repeating {what} after a TorchSharp scalar fault (attempt {attempt + 1} of at most {MaxFaultRepeats}). {ExceptionChain.FirstLine(error)}");
                }
            }
        }

        try
        {
            foreach (var latent in sampler.Sample(job, cancellation))
            {
                if (latent.Replayed)
                {
                    replayed.Add(latent);
                    if (nextIndex >= 0) throw new InvalidOperationException($"The sampler replayed latent {latent.Index} after new ones; replayed latents come first.");
                    continue;
                }
                if (latent.Snapshot is { } snapshot) staged.Enqueue(snapshot);
                IReadOnlyList<TorchSharp.torch.Tensor> rgbFrames;
                using (latent.Latent)
                {
                    // Decoders that hold frames back (causal VAEs) emit them later, with the index they belong to.
                    if (nextIndex < 0) Begin(latent.Index);
                    latentPrompts.Enqueue((latent.Index, latent.Prompt));
                    decoding.Start();
                    rgbFrames = Repeating(() => decoder.Push(latent.Latent, latent.Prompt), "decoding", decoder.Stateless);
                    decoding.Stop();
                }
                Emit(rgbFrames);
            }
            // Resumed at the very end, with nothing new to sample: the held latents still have frames to flush.
            if (nextIndex < 0) Begin(replayed.Count > 0 ? replayed[^1].Index + 1 : 0);
            Emit(decoder.Flush());
        }
        finally
        {
            foreach (var unposted in staged) unposted.Discard();
            foreach (var old in replayed) old.Latent.Dispose();
        }
    }

    /// <summary>
    /// A snapshot counts queue pops and a resume numbers frames from it. A decoder that holds latents back and turns
    /// them into several frames each (a causal VAE's chunks) must say where it stands (<see cref="IResumableFrameDecoder"/>),
    /// or a resume would skip the held-back frames and renumber, and so overwrite, the written ones.
    /// </summary>
    void RefuseSnapshotsUnlessResumable(DecoderPosition position, string modelName)
    {
        if (position.CanResume || (recipe.Snapshot is null && recipe.ResumeFrom is null)) return;
        string asked = recipe.ResumeFrom is null ? "'snapshot' (-SnapshotPath)" : "'resume' (-Resume)";
        throw new FifoInputException("SnapshotUnsupported",
            $"Model '{modelName}' decodes latents in chunks and its decoder cannot say which it holds at a resume point, so a snapshot of " +
            $"its queue cannot resume without skipping or renumbering frames. Remove {asked} for this model, or have its decoder implement IResumableFrameDecoder.");
    }

    static void Post(ChannelWriter<RunEvent> output, RunEvent item, CancellationToken cancellation) =>
        output.WriteAsync(item, cancellation).AsTask().GetAwaiter().GetResult();

    /// <summary>Plugin messages travel to the consumer like frames do; a full channel never blocks a log call.</summary>
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
