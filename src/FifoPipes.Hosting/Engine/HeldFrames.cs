using System.Collections.Concurrent;
using FifoPipes.Abstractions;

namespace FifoPipes.Hosting.Engine;

/// <summary>
/// How far each run's frames are safe in the sinks writing them, so a snapshot becomes the resume point only once every
/// sink holds the frames before it (<see cref="IFrameSink.FramesHeld"/>): an encoder's lookahead and a muxer's fragment
/// hold frames that a crash loses, though the sink took them long before. The sinks may be in other commands than the
/// run's (Export-FifoFrames down the pipeline, several with -PassThru), so runs are found by their id.
/// </summary>
/// <remarks>
/// The run (<see cref="VideoRun"/>) registers when it starts, stages each snapshot here once its consumer has had the
/// frames before it, and has the held ones committed each time the consumer comes back (their warnings are the run's to
/// report); the stages still waiting when its frames end are committed as the sinks finish their files
/// (<see cref="SinkSet.Complete"/>), which a sink that holds frames back does at its end. Runs end and sinks finish in
/// either order (a sink that fails finishes first, its error reaching the run after). A run no sink writes commits as
/// before, once its consumer is back. Stages are compared by the frames they cover, not the latents: a decoder may make
/// several frames of one latent (Open-Sora Plan's, four).
/// </remarks>
internal static class HeldFrames
{
    static readonly ConcurrentDictionary<Guid, Run> Runs = new();

    /// <summary>One sink's share of a run: from its first frame of the run, after the frames it was given before it (of an earlier run).</summary>
    sealed class Writer(IFrameSink sink, long first, long givenBefore)
    {
        IFrameSink? sink = sink;
        // What it held when it finished: all it ever will, read once so a finished sink is neither asked nor kept.
        long? final;
        public long Given;

        public bool Finished => final is not null;
        public bool Writes(IFrameSink other) => ReferenceEquals(sink, other);

        /// <summary>The frame before which the sink holds every frame of the run it was given.</summary>
        public long HeldBefore() => final ?? Read();

        public void Finish()
        {
            final = Read();
            sink = null;
        }

        long Read()
        {
            long held;
            try { held = sink!.FramesHeld is { } count ? count - givenBefore : Given; }
            // A sink's bug is not the run's failure: it only cannot say, so it holds nothing more than before.
            catch (Exception ex) when (ex is not OutOfMemoryException) { held = 0; }
            return first + Math.Clamp(held, 0, Given);
        }
    }

    sealed class Run(bool live)
    {
        public readonly List<Writer> Writers = new();
        public readonly Queue<WaitingStage> Waiting = new();
        /// <summary>Registered by its run, which will end it; false for frames exported after their run ended.</summary>
        public readonly bool Live = live;
        public bool Ended;
        /// <summary>Where a finished sink's command reports: commits after the run ended warn there.</summary>
        public IProgressSink? Log;
    }

    /// <summary>A run's stage, with the frames it covers (<see cref="SnapshotSaved.Frames"/>).</summary>
    public readonly record struct WaitingStage(StagedSnapshot Stage, long Frames);

    /// <summary>A run begins: its sinks' progress is kept until it ends, whichever of the two comes first.</summary>
    public static void Started(Guid run) => Runs.TryAdd(run, new Run(live: true));

    /// <summary>After <paramref name="sink"/> took frame <paramref name="index"/> of <paramref name="run"/>, having taken <paramref name="givenBefore"/> frames before it.</summary>
    public static void Wrote(Guid run, IFrameSink sink, long index, long givenBefore)
    {
        // Frames of no run (made elsewhere) have no snapshots waiting for them.
        if (run == Guid.Empty) return;
        var entry = Runs.GetOrAdd(run, _ => new Run(live: false));
        lock (entry)
        {
            var writer = entry.Writers.Find(w => w.Writes(sink));
            if (writer is null) entry.Writers.Add(writer = new Writer(sink, index, givenBefore));
            writer.Given++;
        }
    }

    /// <summary>The frame before which every sink writing <paramref name="run"/> holds its frames; null where no sink writes it (nothing to wait for).</summary>
    public static long? HeldBefore(Guid run)
    {
        if (!Runs.TryGetValue(run, out var entry)) return null;
        lock (entry) return HeldBefore(entry);
    }

    /// <summary>
    /// The consumer has had the frames <paramref name="stage"/> covers: it waits with the run's others, and becomes the
    /// resume point, in order, once every sink holds them.
    /// </summary>
    public static void Staged(Guid run, WaitingStage stage)
    {
        var entry = Runs.GetOrAdd(run, _ => new Run(live: true));
        lock (entry) entry.Waiting.Enqueue(stage);
    }

    /// <summary>Commits the run's waiting stages its sinks hold the frames of; a warning for each that could not be, for the run to report.</summary>
    public static List<RunMessage> CommitHeld(Guid run)
    {
        if (!Runs.TryGetValue(run, out var entry)) return new();
        lock (entry) return CommitHeld(run, entry);
    }

    static long? HeldBefore(Run entry) => entry.Writers.Count == 0 ? null : entry.Writers.Min(w => w.HeldBefore());

    /// <summary>
    /// The run's frames have ended, with stages not yet held. While a sink is still writing they wait for it to finish
    /// (its command then reports what a commit says); where all have, or none wrote, they are committed now as far as
    /// the sinks hold their frames, and the rest never become the resume point.
    /// </summary>
    public static void Ended(Guid run)
    {
        var entry = Runs.GetOrAdd(run, _ => new Run(live: true));
        lock (entry)
        {
            entry.Ended = true;
            if (entry.Writers.All(w => w.Finished)) Report(CommitHeld(run, entry), entry.Log);
        }
    }

    /// <summary>After <paramref name="sink"/> finished its files (or failed to): the stages its frames were keeping waiting are committed, warnings to <paramref name="log"/>.</summary>
    public static void Finished(IFrameSink sink, IProgressSink log)
    {
        foreach (var (run, entry) in Runs)
            lock (entry)
            {
                var writer = entry.Writers.Find(w => w.Writes(sink));
                if (writer is null) continue;
                writer.Finish();
                entry.Log ??= log;
                Report(CommitHeld(run, entry), log);
            }
    }

    /// <summary>
    /// Commits the waiting stages every sink holds the frames of; forgets a run whose sinks are all finished once it
    /// has ended, or, for frames exported after their run ended, once nothing waits (the entry would keep them for good).
    /// </summary>
    static List<RunMessage> CommitHeld(Guid run, Run entry)
    {
        var messages = new List<RunMessage>();
        long? held = HeldBefore(entry);
        while (entry.Waiting.TryPeek(out var stage) && (held is null || stage.Frames <= held))
            if (VideoRun.Commit(entry.Waiting.Dequeue().Stage) is { } message) messages.Add(message);
        if (entry.Writers.All(w => w.Finished) && (entry.Ended || (!entry.Live && entry.Waiting.Count == 0)))
        {
            // What no sink holds never becomes the resume point: the one before stays.
            while (entry.Waiting.TryDequeue(out var unheld)) unheld.Stage.Discard();
            Runs.TryRemove(run, out _);
        }
        return messages;
    }

    static void Report(List<RunMessage> messages, IProgressSink? log)
    {
        foreach (var message in messages) log?.Warning(message.Text);
    }
}
