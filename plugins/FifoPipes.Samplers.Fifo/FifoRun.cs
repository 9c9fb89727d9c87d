using FifoPipes.Abstractions;
using FifoPipes.Core;
using FifoPipes.Core.Devices;
using static TorchSharp.torch;

namespace FifoPipes.Samplers.Fifo;

/// <summary>
/// One FIFO-Diffusion run as a plain loop of small steps: denoise every window of the queue, pop the head frame,
/// shift and push fresh tail noise. <see cref="FifoSampler"/> drives it; tests and parity replays drive the steps
/// directly to look at the queue in between.
/// </summary>
public sealed class FifoRun : IDisposable
{
    readonly SamplingJob job;
    readonly GuidedDenoiser denoiser;
    readonly PromptEmbeddings prompts;
    readonly Device device;
    readonly bool stepsUseNoise;
    readonly Dictionary<int, PreparedWindowBatch[]> preparedBatches = new();
    readonly int measuredWindows;
    SlotQueue queue = new(Array.Empty<Tensor>());
    int windowBatch;
    /// <summary>Set until windowBatch: auto has been sized from free memory (<see cref="SizeBatchFromMemory"/>), then null.</summary>
    MemoryGauge? pendingGauge;
    bool warnedAboutMemory;
    Tensor? stepNoise;
    Tensor? prefetchedTail;
    long prefetchedFor = -1;
    /// <summary>The lowfreq tail's filter, on the device once per run instead of built on the host every iteration.</summary>
    readonly TailInitialiser? lowFrequencyTail;
    /// <summary>The latest output latents a snapshot keeps for the decoder (<see cref="SamplingJob.KeepLatents"/>); null when none.</summary>
    readonly RecentLatents? recent;

    FifoRun(SamplingJob job, FifoPlan plan, MemoryGauge? memoryGauge)
    {
        this.job = job;
        Plan = plan;
        device = job.Model.Info.Device;
        denoiser = new GuidedDenoiser(job.Model, plan.Guidance);
        prompts = new PromptEmbeddings(job.Model, new PromptSchedule(job.Prompts), job.NegativePrompt, job.LivePrompts);
        windowBatch = plan.WindowBatch == 0 ? plan.Windows.Count : Math.Min(plan.WindowBatch, plan.Windows.Count);
        // One window per device, so each replica gets a window's rows and the cost read is each device's per window.
        measuredWindows = job.Model is ReplicatedModel replicated ? replicated.Replicas.Count : 1;
        if (plan.ShrinkBatchOnOutOfMemory && windowBatch > measuredWindows) pendingGauge = memoryGauge ?? MemoryGauge.For(device);
        stepsUseNoise = Enumerable.Range(0, plan.Steps).Any(plan.Table.UsesNoise);
        if (plan.Tail == TailInit.LowFrequency) lowFrequencyTail = new TailInitialiser(plan.Height, plan.Width, plan.TailCutoff, device);
        if (job.KeepLatents > 0) recent = new RecentLatents(job.KeepLatents);
    }

    public FifoPlan Plan { get; }
    /// <summary>The next iteration to run; the frame it pops has id <see cref="Iteration"/>.</summary>
    public long Iteration { get; private set; }
    /// <summary>Output frames produced so far (warm-up pops excluded).</summary>
    public long Emitted => Math.Max(0, Iteration - Plan.Discarded);
    public long OutputFrames => prompts.Schedule.TotalFrames;
    public bool Finished => Emitted >= OutputFrames;

    /// <summary>Starts a run: resumes from job.ResumeFrom, or fills the queue as the plan says.</summary>
    /// <param name="memoryGauge">What sizes windowBatch: auto; null for the model device's own (<see cref="MemoryGauge.For"/>).</param>
    public static FifoRun Create(SamplingJob job, FifoPlan plan, CancellationToken cancellation, BaseClipCache? baseClipCache = null,
        MemoryGauge? memoryGauge = null)
    {
        var run = new FifoRun(job, plan, memoryGauge);
        try
        {
            if (job.ResumeFrom is { } path) run.Restore(path);
            else run.queue = run.FillQueue(baseClipCache, cancellation);
            return run;
        }
        catch
        {
            run.Dispose();
            throw;
        }
    }

    /// <summary>One iteration: windows, pop, shift, push. Returns the popped frame, or null for a discarded warm-up pop.</summary>
    public LatentFrame? Advance(CancellationToken cancellation)
    {
        cancellation.ThrowIfCancellationRequested();
        long output = Iteration - Plan.Discarded;
        DenoiseWindows(cancellation);
        var popped = PopShiftPush();
        if (output < 0)
        {
            popped.Dispose();
            return null;
        }
        recent?.Add(output, popped);
        return new LatentFrame(output, popped, prompts.Schedule.SpanAt(output).Prompt);
    }

    /// <summary>
    /// Before the first <see cref="Advance"/> of a resumed run, the latents the snapshot kept (the last
    /// <see cref="SamplingJob.KeepLatents"/> before it), marked <see cref="LatentFrame.Replayed"/>; none for a fresh
    /// start. The caller owns the tensors.
    /// </summary>
    public IEnumerable<LatentFrame> ReplayedLatents() =>
        (recent?.Copies() ?? Enumerable.Empty<(long, Tensor)>())
        .Select(kept => new LatentFrame(kept.Index, kept.Latent, prompts.Schedule.SpanAt(kept.Index).Prompt) { Replayed = true });

    /// <summary>
    /// Denoises every window of the current iteration, WindowBatch windows per model call. All windows read the queue
    /// as it was when the iteration began; the results are written back together at the end. With windowBatch: auto
    /// the first iteration sizes the batch from free memory (<see cref="SizeBatchFromMemory"/>), and a call that
    /// still runs out of device memory halves the windows per call and the iteration is redone from the start
    /// (windows are independent and noise is keyed, so the result is the same, up to the rounding a GPU's kernels do
    /// differently for another batch shape); the smaller size is kept, and a resume takes it where it fits.
    /// </summary>
    public void DenoiseWindows(CancellationToken cancellation)
    {
        // Every window of an iteration takes the head frame's prompt, and the head only moves on.
        var cond = prompts.ForFrame(Iteration - Plan.Discarded);
        prompts.ReleaseBefore(Iteration - Plan.Discarded);
        var uncond = denoiser.UsesUnconditional ? prompts.UnconditionalFor(cond) : null;
        PrefetchNoise();
        while (true)
        {
            try
            {
                if (pendingGauge is { } gauge) SizeBatchFromMemory(gauge, cond, uncond);
                DenoiseBatches(Batches(windowBatch), cond, uncond, cancellation);
                return;
            }
            catch (Exception e) when (Plan.ShrinkBatchOnOutOfMemory && windowBatch > 1 && DeviceMemory.IsOutOfMemory(e))
            {
                int smaller = windowBatch / 2;
                string message = $"fifo: the device ran out of memory with {windowBatch} windows per model call; retrying iteration {Iteration} with {smaller} " +
                                 $"(windowBatch: auto; set windowBatch: {smaller} to start there). {ExceptionChain.FirstLine(e)}";
                if (warnedAboutMemory) job.Log.Verbose(message);
                else job.Log.Warning(message);
                warnedAboutMemory = true;
                windowBatch = smaller;
            }
        }
    }

    /// <summary>Windows per model call now (auto sizes it from free memory and lowers it after an out-of-memory error).</summary>
    public int WindowBatch => windowBatch;

    // The windows per call of the run that wrote the snapshot this one resumed from (windowBatch: auto only).
    int? snapshotWindowBatch;

    /// <summary>
    /// Runs the first window (one per device) under the memory gauge and keeps windowBatch at as many windows as fit in
    /// 80% of what the device had available (at most all of them). The measured call's result is thrown away, so every
    /// frame still comes from calls of the chosen size, as with that size set by hand. Once per run: every iteration
    /// has the same windows and shapes.
    /// </summary>
    void SizeBatchFromMemory(MemoryGauge gauge, Conditioning cond, Conditioning? uncond)
    {
        pendingGauge = null;
        MemoryCost cost;
        using (var measured = PreparedWindowBatch.Create(Plan, Plan.Windows.Take(measuredWindows).ToArray(), device))
            cost = gauge.Measure(() =>
            {
                foreach (var (_, latent) in DenoiseBatch(measured, cond, uncond)) latent.Dispose();
            });
        int all = windowBatch;
        windowBatch = Math.Min(all, measuredWindows * MemoryGauge.UnitsThatFit(cost, (all + measuredWindows - 1) / measuredWindows));
        // A resume computes as the run that wrote its snapshot did where the device holds that many (a GPU rounds by batch shape).
        if (snapshotWindowBatch is { } resumed && resumed < windowBatch)
        {
            job.Log.Verbose($"fifo: {resumed} windows per model call, as the run that wrote the snapshot had");
            windowBatch = resumed;
        }
        job.Log.Verbose($"fifo: a call of {measuredWindows} window{(measuredWindows > 1 ? "s" : "")} took {Mib(cost.PeakBytes)} MiB at its peak " +
                        $"with {Mib(cost.AvailableBeforeBytes)} MiB available on {gauge.DeviceName}: {windowBatch} of {all} windows per model call " +
                        "(windowBatch: auto)");
    }

    static long Mib(long bytes) => bytes >> 20;

    void DenoiseBatches(IReadOnlyList<PreparedWindowBatch> batches, Conditioning cond, Conditioning? uncond, CancellationToken cancellation)
    {
        var updates = new List<(int Slot, Tensor Latent)>();
        try
        {
            foreach (var batch in batches)
            {
                cancellation.ThrowIfCancellationRequested();
                updates.AddRange(DenoiseBatch(batch, cond, uncond));
            }
        }
        catch
        {
            foreach (var (_, latent) in updates) latent.Dispose();
            throw;
        }
        foreach (var (slot, latent) in updates) queue.Replace(slot, latent);
    }

    IReadOnlyList<PreparedWindowBatch> Batches(int size)
    {
        if (!preparedBatches.TryGetValue(size, out var batches))
            preparedBatches[size] = batches = Plan.Windows.Chunk(size).Select(w => PreparedWindowBatch.Create(Plan, w, device)).ToArray();
        return batches;
    }

    List<(int Slot, Tensor Latent)> DenoiseBatch(PreparedWindowBatch batch, Conditioning cond, Conditioning? uncond)
    {
        using var scope = NewDisposeScope();
        var x = stack(batch.Windows.Select(w => queue.Window(w.Start, w.End)).ToList(), 0);
        var eps = denoiser.PredictNoise(x, batch.Timesteps, cond, uncond);
        var noise = batch.Coefficients.UsesNoise ? batch.WrittenNoise(stepNoise!) : null;
        var next = Plan.Table.Step(batch.Written(x), batch.Written(eps), batch.Coefficients, noise);

        var slots = batch.WrittenSlots;
        var result = new List<(int, Tensor)>(slots.Count);
        for (int i = 0; i < slots.Count; i++) result.Add((slots[i], next[0, .., i].clone().MoveToOuterDisposeScope()));
        return result;
    }

    /// <summary>
    /// Draws this iteration's keyed noise on the host — the step noise of every slot (zeros where the step adds none)
    /// and the next tail frame — and moves it to the device in one copy, before any model call is queued: a
    /// host-to-device copy waits for the device, and here it has nothing to wait for.
    /// </summary>
    void PrefetchNoise()
    {
        stepNoise?.Dispose();
        stepNoise = null;
        prefetchedTail?.Dispose();
        prefetchedTail = null;
        using var scope = NewDisposeScope();
        var keys = new List<(long Frame, NoisePurpose Purpose, int Step)?>();
        if (stepsUseNoise)
            for (int slot = 0; slot < Plan.QueueLength; slot++)
            {
                int k = Plan.SlotK(slot);
                keys.Add(slot >= Plan.Padding && Plan.Table.UsesNoise(k) ? (Plan.FrameId(Iteration, slot), NoisePurpose.Step, k) : null);
            }
        keys.Add((NextTailId, NoisePurpose.QueueTail, 0));
        var all = job.Noise.StackedFrames(Plan.LatentShape, keys, device);
        if (stepsUseNoise) stepNoise = all.narrow(1, 0, Plan.QueueLength).DetachFromDisposeScope();
        // A source frame is read and encoded here too, so its upload to the device does not wait for this iteration's calls.
        // A source frame takes the noise in (no copy needed); plain noise is copied out of the stacked block.
        var tailNoise = all.select(1, keys.Count - 1);
        prefetchedTail = (job.Source is null ? tailNoise.clone() : FromSource(tailNoise)).DetachFromDisposeScope();
        prefetchedFor = Iteration;
    }

    /// <summary>The frame id the next pushed tail frame holds.</summary>
    long NextTailId => Plan.FrameId(Iteration + 1, Plan.QueueLength - 1);

    Tensor TailNoise(Device? on) => job.Noise.Normal(Plan.LatentShape, NextTailId, NoisePurpose.QueueTail, 0, on);

    /// <summary>Video-to-video: the next tail frame is its source frame noised with <paramref name="noise"/> (taken over); otherwise the noise itself.</summary>
    Tensor FromSource(Tensor noise)
    {
        if (job.Source is not { } source) return noise;
        using var scope = NewDisposeScope();
        using var fresh = noise;
        return InitialQueue.FromSourceFrame(Plan, source.Latent(Plan.ClipIndex(NextTailId, source.Count)), fresh, Plan.Steps - 1).MoveToOuterDisposeScope();
    }


    /// <summary>
    /// Pops the head frame (a copy), shifts the queue and pushes the new tail (keyed noise, see <see cref="TailInit"/>,
    /// or its source frame noised with it); advances the iteration.
    /// </summary>
    public Tensor PopShiftPush()
    {
        var popped = queue.Copy(Plan.PopSlot).DetachFromDisposeScope();
        Tensor tail;
        if (prefetchedTail is not null && prefetchedFor == Iteration)
        {
            tail = prefetchedTail;
            prefetchedTail = null;
        }
        else tail = FromSource(TailNoise(device)).DetachFromDisposeScope();
        if (lowFrequencyTail is not null)
        {
            using var fresh = tail;
            tail = lowFrequencyTail.Mix(queue[Plan.QueueLength - 1], fresh).DetachFromDisposeScope();
        }
        queue.ShiftAndPush(tail);
        Iteration++;
        return popped;
    }

    /// <summary>The queue as [C, L, h, w] (a new tensor).</summary>
    public Tensor QueueTensor() => queue.ToTensor();

    /// <summary>
    /// The run's state on the host. The stacked queue is already a new tensor: on the CPU it is the snapshot's; on a GPU
    /// its device copy is freed at once, not left to the finalizer.
    /// </summary>
    public FifoSnapshot Snapshot()
    {
        var kept = recent?.ToHost();
        var queueNow = QueueTensor();
        if (queueNow.device.type != TorchSharp.DeviceType.CPU)
            using (var onDevice = queueNow) queueNow = onDevice.cpu();
        return new(queueNow, Iteration, Emitted, job.Noise.Seed, job.RunHash, job.RunSettings) { Recent = kept, Noise = KeyedNoise.NameOf(job.Noise), WindowBatch = windowBatch, Plugins = job.RunPlugins };
    }

    SlotQueue FillQueue(BaseClipCache? cache, CancellationToken cancellation)
    {
        switch (Plan.Start)
        {
            case QueueStart.Noise:
                return InitialQueue.FromNoise(Plan, job.Noise, device);
            case QueueStart.Latents:
                return InitialQueue.FromClip(Plan, job.InitLatents!, job.Noise, device);
            case QueueStart.Source:
                return InitialQueue.FromSource(Plan, job.Source!, job.Noise, device);
            default:
                using (var clip = BaseClip(cache, cancellation))
                    return InitialQueue.FromClip(Plan, clip, job.Noise, device);
        }
    }

    Tensor BaseClip(BaseClipCache? cache, CancellationToken cancellation)
    {
        string prompt = prompts.Schedule.Spans[0].Prompt;
        string? key = cache is null ? null : BaseClipCache.Key(job.Model.Info, prompt, job.Noise.Seed, Plan, job.NegativePrompt, KeyedNoise.NameOf(job.Noise));
        var shape = new long[] { Plan.Channels, Plan.WindowFrames, Plan.Height, Plan.Width };
        if (cache is not null && cache.TryLoad(key!, shape) is { } cached)
        {
            job.Log.Verbose($"fifo: base clip from cache {cache.PathFor(key!)}");
            return cached;
        }
        job.Log.Verbose($"fifo: sampling the {Plan.WindowFrames}-frame base clip in {Plan.Steps} steps");
        var first = prompts.ForFrame(0);
        var clip = BaseClipSampler.Sample(Plan, denoiser, first, denoiser.UsesUnconditional ? prompts.UnconditionalFor(first) : null,
            job.Noise, device, cancellation);
        cache?.Save(key!, clip, job.Log);
        return clip;
    }

    void Restore(string path)
    {
        using var snapshot = FifoSnapshot.Load(path, job, Plan);
        using var scope = NewDisposeScope();
        var frames = snapshot.Queue.to(device).unbind(1).Select(t => t.clone().DetachFromDisposeScope()).ToList();
        queue.Dispose();
        queue = new SlotQueue(frames);
        Iteration = snapshot.Iteration;
        if (recent is not null && snapshot.Recent is { } kept) recent.Restore(kept, Emitted, device);
        if (Plan.ShrinkBatchOnOutOfMemory) snapshotWindowBatch = snapshot.WindowBatch;
        job.Log.Verbose($"fifo: resumed from {path} at iteration {Iteration} ({Emitted} frames already output)");
        if (Finished)
            job.Log.Warning($"fifo: the snapshot '{path}' is at the run's end: all {OutputFrames} frames were output before it, so this run makes none. " +
                            "To go on, give its last prompt more frames (its 'frames' in the recipe, or New-FifoVideo -Frames), or add prompts after it.");
    }

    public void Dispose()
    {
        foreach (var batch in preparedBatches.Values.SelectMany(b => b)) batch.Dispose();
        preparedBatches.Clear();
        stepNoise?.Dispose();
        prefetchedTail?.Dispose();
        lowFrequencyTail?.Dispose();
        recent?.Dispose();
        queue.Dispose();
        prompts.Dispose();
    }
}
