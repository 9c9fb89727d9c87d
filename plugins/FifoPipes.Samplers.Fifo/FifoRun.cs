using FifoPipes.Abstractions;
using FifoPipes.Core;
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
    readonly PromptConditioning prompts;
    readonly Device device;
    SlotQueue queue = new(Array.Empty<Tensor>());

    FifoRun(SamplingJob job, FifoPlan plan)
    {
        this.job = job;
        Plan = plan;
        device = job.Model.Info.Device;
        denoiser = new GuidedDenoiser(job.Model, plan.Guidance);
        prompts = new PromptConditioning(job.Model, new PromptSchedule(job.Prompts));
    }

    public FifoPlan Plan { get; }
    /// <summary>The next iteration to run; the frame it pops has id <see cref="Iteration"/>.</summary>
    public long Iteration { get; private set; }
    /// <summary>Output frames produced so far (warm-up pops excluded).</summary>
    public long Emitted => Math.Max(0, Iteration - Plan.Discarded);
    public long OutputFrames => prompts.Schedule.TotalFrames;
    public bool Finished => Emitted >= OutputFrames;

    /// <summary>Starts a run: resumes from job.ResumeFrom, or fills the queue as the plan says.</summary>
    public static FifoRun Create(SamplingJob job, FifoPlan plan, CancellationToken cancellation, BaseClipCache? baseClipCache = null)
    {
        var run = new FifoRun(job, plan);
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
        return new LatentFrame(output, popped, prompts.Schedule.SpanAt(output).Prompt);
    }

    /// <summary>
    /// Denoises every window of the current iteration, WindowBatch windows per model call. All windows read the queue
    /// as it was when the iteration began; the results are written back together at the end.
    /// </summary>
    public void DenoiseWindows(CancellationToken cancellation)
    {
        var cond = prompts.ForFrame(Iteration - Plan.Discarded);
        var uncond = denoiser.UsesUnconditional ? prompts.Unconditional : null;
        var windows = Plan.Windows;
        int batchSize = Plan.WindowBatch == 0 ? windows.Count : Plan.WindowBatch;
        var updates = new List<(int Slot, Tensor Latent)>();
        try
        {
            foreach (var batch in windows.Chunk(batchSize))
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

    List<(int Slot, Tensor Latent)> DenoiseBatch(FifoWindow[] batch, Conditioning cond, Conditioning? uncond)
    {
        using var scope = NewDisposeScope();
        int f = Plan.WindowFrames;
        var x = stack(batch.Select(w => queue.Window(w.Start, w.End)).ToList(), 0);
        var timesteps = batch.SelectMany(w => Enumerable.Range(w.Start, f).Select(Plan.SlotTimestep)).ToArray();
        var t = tensor(timesteps, new long[] { batch.Length, f }).to(device);
        var eps = denoiser.PredictNoise(x, t, cond, uncond);

        // Only the written part of each window is stepped; the lookahead context half is thrown away anyway.
        var written = batch.SelectMany((w, b) => Enumerable.Range(w.WriteOffset, f - w.WriteOffset).Select(m => (Row: b, Frame: m, Slot: w.Start + m))).ToList();
        var xs = stack(written.Select(p => x[p.Row, .., p.Frame]).ToList(), 1).unsqueeze(0);
        var es = stack(written.Select(p => eps[p.Row, .., p.Frame]).ToList(), 1).unsqueeze(0);
        var k = written.Select(p => Plan.SlotK(p.Slot)).ToArray();
        var next = Plan.Table.Step(xs, es, k, StepNoise(written.Select(p => p.Slot).ToList()));

        var result = new List<(int, Tensor)>(written.Count);
        for (int i = 0; i < written.Count; i++) result.Add((written[i].Slot, next[0, .., i].clone().MoveToOuterDisposeScope()));
        return result;
    }

    /// <summary>[1, C, M, h, w] step noise for the given slots keyed by (frame id, Step, k), or null when no step uses noise.</summary>
    Tensor? StepNoise(IReadOnlyList<int> slots)
    {
        if (!slots.Any(s => Plan.Table.UsesNoise(Plan.SlotK(s)))) return null;
        var frames = slots.Select(s =>
        {
            int k = Plan.SlotK(s);
            return Plan.Table.UsesNoise(k)
                ? job.Noise.Normal(Plan.LatentShape, Plan.FrameId(Iteration, s), NoisePurpose.Step, k, device)
                : zeros(Plan.LatentShape, ScalarType.Float32, device);
        }).ToList();
        return stack(frames, 1).unsqueeze(0);
    }

    /// <summary>Pops the head frame (a copy), shifts the queue and pushes the new tail (keyed noise, or see <see cref="TailInit"/>); advances the iteration.</summary>
    public Tensor PopShiftPush()
    {
        var popped = queue.Copy(Plan.PopSlot).DetachFromDisposeScope();
        long tailFrame = Plan.FrameId(Iteration + 1, Plan.QueueLength - 1);
        var tail = job.Noise.Normal(Plan.LatentShape, tailFrame, NoisePurpose.QueueTail, 0, device);
        if (Plan.Tail == TailInit.LowFrequency)
        {
            using var fresh = tail;
            tail = TailInitialiser.LowFrequency(queue[Plan.QueueLength - 1], fresh, Plan.TailCutoff).DetachFromDisposeScope();
        }
        queue.ShiftAndPush(tail);
        Iteration++;
        return popped;
    }

    /// <summary>The queue as [C, L, h, w] (a new tensor).</summary>
    public Tensor QueueTensor() => queue.ToTensor();

    public FifoSnapshot Snapshot() => new(QueueTensor().cpu(), Iteration, Emitted, job.Noise.Seed, job.RunHash);

    SlotQueue FillQueue(BaseClipCache? cache, CancellationToken cancellation)
    {
        switch (Plan.Start)
        {
            case QueueStart.Noise:
                return InitialQueue.FromNoise(Plan, job.Noise, device);
            case QueueStart.Latents:
                return InitialQueue.FromClip(Plan, job.InitLatents!, job.Noise, device);
            default:
                using (var clip = BaseClip(cache, cancellation))
                    return InitialQueue.FromClip(Plan, clip, job.Noise, device);
        }
    }

    Tensor BaseClip(BaseClipCache? cache, CancellationToken cancellation)
    {
        string prompt = prompts.Schedule.Spans[0].Prompt;
        string? key = cache is null ? null : BaseClipCache.Key(job.Model.Info.Name, prompt, job.Noise.Seed, Plan);
        var shape = new long[] { Plan.Channels, Plan.WindowFrames, Plan.Height, Plan.Width };
        if (cache is not null && cache.TryLoad(key!, shape) is { } cached)
        {
            job.Log.Verbose($"fifo: base clip from cache {cache.PathFor(key!)}");
            return cached;
        }
        job.Log.Verbose($"fifo: sampling the {Plan.WindowFrames}-frame base clip in {Plan.Steps} steps");
        var clip = BaseClipSampler.Sample(Plan, denoiser, prompts.ForFrame(0), denoiser.UsesUnconditional ? prompts.Unconditional : null,
            job.Noise, device, cancellation);
        cache?.Save(key!, clip);
        return clip;
    }

    void Restore(string path)
    {
        using var snapshot = FifoSnapshot.Load(path, job, Plan);
        queue = new SlotQueue(snapshot.Queue.to(device).unbind(1).Select(t => t.clone()));
        Iteration = snapshot.Iteration;
        job.Log.Verbose($"fifo: resumed from {path} at iteration {Iteration} ({Emitted} frames already output)");
    }

    public void Dispose()
    {
        queue.Dispose();
        prompts.Dispose();
    }
}
