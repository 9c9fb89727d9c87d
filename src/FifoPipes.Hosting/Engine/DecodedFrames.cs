using System.Diagnostics;
using FifoPipes.Abstractions;
using FifoPipes.Core;
using static TorchSharp.torch;

namespace FifoPipes.Hosting.Engine;

/// <summary>
/// The second half of a run's worker: takes the sampler's latents in order, decodes them, numbers the frames and gives
/// each the prompt of the latent it came from (a chunked decoder returns frames of earlier latents), posts them, and
/// posts each staged snapshot once every frame it covers is out. A resumed run's replayed latents (held by the
/// decoder at the resume point) go to the fresh decoder first.
/// </summary>
sealed class DecodedFrames : IDisposable
{
    readonly IFrameDecoder decoder;
    readonly string model;
    readonly string sampler;
    readonly DecoderPosition position;
    readonly bool resuming;
    readonly Func<Tensor, long, string, VideoFrame> toFrame;
    readonly Action<RunEvent> post;
    readonly FaultRepeats repeats;

    readonly Queue<StagedSnapshot> staged = new();
    // The prompts of latents whose frames are not all out yet: a chunked decoder emits them later, several per latent.
    readonly Queue<(long Index, string Prompt)> latentPrompts = new();
    // A resumed run's latents from before the resume point, which a decoder that held them takes up again.
    readonly List<LatentFrame> replayed = new();
    readonly Stopwatch total = Stopwatch.StartNew();
    readonly Stopwatch decoding = new();
    long nextIndex = -1;
    string prompt;

    /// <param name="resuming">Whether the run continues from a snapshot (the decoder is then told where it stands).</param>
    /// <param name="toFrame">Makes the output frame of decoded RGB, its index and prompt.</param>
    /// <param name="model">The model plugin as messages name it: a decoder's failure is its.</param>
    /// <param name="sampler">The sampler plugin as messages name it: a replay out of order is its.</param>
    public DecodedFrames(IFrameDecoder decoder, string model, string sampler, DecoderPosition position, bool resuming, string firstPrompt,
        Func<Tensor, long, string, VideoFrame> toFrame, Action<RunEvent> post, FaultRepeats repeats)
    {
        this.decoder = decoder;
        this.model = model;
        this.sampler = sampler;
        this.position = position;
        this.resuming = resuming;
        prompt = firstPrompt;
        this.toFrame = toFrame;
        this.post = post;
        this.repeats = repeats;
    }

    /// <summary>Takes the sampler's next latent (owning it from here on).</summary>
    public void Take(LatentFrame latent)
    {
        if (latent.Replayed)
        {
            replayed.Add(latent);
            if (nextIndex >= 0)
                throw new PluginFailedException($"{PluginFailedException.Capital(sampler)} replayed latent {latent.Index} after new ones: a resumed sampler yields the latents it replays first");
            return;
        }
        if (latent.Snapshot is { } snapshot) staged.Enqueue(snapshot);
        IReadOnlyList<Tensor> rgbFrames;
        using (latent.Latent)
        {
            // Decoders that hold frames back (causal VAEs) emit them later, with the index they belong to.
            if (nextIndex < 0) Begin(latent.Index);
            latentPrompts.Enqueue((latent.Index, latent.Prompt));
            decoding.Start();
            rgbFrames = Decoding(() => repeats.Run(() => decoder.Push(latent.Latent, latent.Prompt), "decoding", decoder.Stateless), $"Decoding latent {latent.Index}");
            decoding.Stop();
        }
        Emit(rgbFrames);
    }

    /// <summary>After the sampler's last latent: the frames the decoder still holds.</summary>
    public void Finish()
    {
        // Resumed at the very end, with nothing new to sample: the held latents still have frames to flush.
        if (nextIndex < 0) Begin(replayed.Count > 0 ? replayed[^1].Index + 1 : 0);
        Emit(Decoding(decoder.Flush, "Decoding the latents held at the end"));
    }

    /// <summary>Runs the model's decoder code, naming the model and <paramref name="what"/> in what it throws.</summary>
    T Decoding<T>(Func<T> work, string what)
    {
        try { return work(); }
        catch (Exception error) when (PluginFailedException.Names(error))
        {
            throw new PluginFailedException($"{what} with {model} failed", error);
        }
    }

    void Emit(IReadOnlyList<Tensor> rgbFrames)
    {
        int next = 0;
        try
        {
            for (; next < rgbFrames.Count; next++)
            {
                var rgb = rgbFrames[next];
                long latent = Decoding(() => decoder.LatentOf(nextIndex), $"Finding the latent of frame {nextIndex}");
                while (latentPrompts.Count > 1 && latentPrompts.Peek().Index < latent) latentPrompts.Dequeue();
                prompt = latentPrompts.Count > 0 ? latentPrompts.Peek().Prompt : prompt;
                VideoFrame frame;
                using (rgb) frame = repeats.Run(() => toFrame(rgb, nextIndex, prompt), "frame conversion", pure: true);
                nextIndex++;
                var timings = new RunTimings(total.Elapsed.TotalSeconds - decoding.Elapsed.TotalSeconds, decoding.Elapsed.TotalSeconds, total.Elapsed.TotalSeconds);
                post(new FrameProduced(frame, timings));
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
            post(new SnapshotSaved(staged.Peek(), covered));
            staged.Dequeue();
        }
    }

    // The stream starts, or goes on at output latent `resumed`: a fresh decoder takes the latents it held there again.
    void Begin(long resumed)
    {
        long heldFrom = position.HeldFrom(resumed);
        if (resuming && resumed > 0) position.ResumeAt(heldFrom);
        long due = heldFrom;
        foreach (var old in replayed.Where(r => r.Index >= heldFrom))
        {
            if (old.Index != due)
                throw new PluginFailedException($"{PluginFailedException.Capital(sampler)} replayed latent {old.Index} where {due} was due: a resumed sampler replays the latest latents, in order");
            latentPrompts.Enqueue((old.Index, old.Prompt));
            var early = Decoding(() => decoder.Push(old.Latent, old.Prompt), $"Decoding held latent {old.Index} again");
            foreach (var frame in early) frame.Dispose();
            if (early.Count > 0)
                throw new PluginFailedException($"The decoder {decoder.GetType().Name} of {model} returned frames for latent {old.Index}, which it held at the resume point: " +
                                                "a latent the decoder holds returns none when it is taken up again");
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

    /// <summary>Snapshots never posted (the run stopped before their frames) are discarded; replayed latents freed.</summary>
    public void Dispose()
    {
        foreach (var unposted in staged) unposted.Discard();
        staged.Clear();
        foreach (var old in replayed) old.Latent.Dispose();
        replayed.Clear();
    }
}

/// <summary>
/// Repeats work that a TorchSharp scalar fault interrupted, where repeating cannot change the result (docs/reliability.md):
/// the fault says nothing about the work itself.
/// </summary>
sealed class FaultRepeats(int most, IProgressSink log)
{
    public T Run<T>(Func<T> work, string what, bool pure)
    {
        for (int attempt = 1; ; attempt++)
        {
            try { return work(); }
            catch (Exception error) when (pure && TorchSharpFaults.IsScalarFinalizerRace(error) && attempt < most)
            {
                log.Warning($"Repeating {what} after a TorchSharp scalar fault (attempt {attempt + 1} of at most {most}). {ExceptionChain.FirstLine(error)}");
            }
        }
    }
}
