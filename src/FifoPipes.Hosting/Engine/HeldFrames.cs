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
/// The run (<see cref="VideoRun"/>) asks each time its consumer comes back; the stages still waiting when its frames end
/// are handed over, and committed as the sinks finish their files (<see cref="SinkSet.Complete"/>), which a sink that
/// holds frames back does at its end. A run no sink writes commits as before, once its consumer is back.
/// </remarks>
internal static class HeldFrames
{
    static readonly ConcurrentDictionary<Guid, Run> Runs = new();

    /// <summary>One sink's share of a run: from its first frame of the run, after the frames it was given before it (of an earlier run).</summary>
    sealed class Writer(IFrameSink sink, long first, long givenBefore)
    {
        public IFrameSink Sink { get; } = sink;
        public long Given;
        public bool Finished;

        /// <summary>The frame before which the sink holds every frame of the run it was given.</summary>
        public long HeldBefore()
        {
            long held;
            try { held = Sink.FramesHeld is { } count ? count - givenBefore : Given; }
            // A sink's bug is not the run's failure: it only cannot say, so it holds nothing more than before.
            catch (Exception ex) when (ex is not OutOfMemoryException) { held = 0; }
            return first + Math.Clamp(held, 0, Given);
        }
    }

    sealed class Run
    {
        public readonly List<Writer> Writers = new();
        public readonly Queue<StagedSnapshot> Waiting = new();
        public bool Ended;
    }

    /// <summary>After <paramref name="sink"/> took frame <paramref name="index"/> of <paramref name="run"/>, having taken <paramref name="givenBefore"/> frames before it.</summary>
    public static void Wrote(Guid run, IFrameSink sink, long index, long givenBefore)
    {
        // Frames of no run (made elsewhere) have no snapshots waiting for them.
        if (run == Guid.Empty) return;
        var entry = Runs.GetOrAdd(run, _ => new Run());
        lock (entry)
        {
            var writer = entry.Writers.Find(w => ReferenceEquals(w.Sink, sink));
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

    static long? HeldBefore(Run entry) => entry.Writers.Count == 0 ? null : entry.Writers.Min(w => w.HeldBefore());

    /// <summary>
    /// The run's frames have ended with <paramref name="waiting"/> stages not yet held: they are committed as the sinks
    /// finish, or now where they already have. The entry goes once nothing is left to wait for.
    /// </summary>
    public static void Ended(Guid run, IEnumerable<StagedSnapshot> waiting)
    {
        if (!Runs.TryGetValue(run, out var entry))
        {
            // No sink wrote its frames: the consumer has had them all.
            foreach (var stage in waiting) Commit(stage, null);
            return;
        }
        lock (entry)
        {
            foreach (var stage in waiting) entry.Waiting.Enqueue(stage);
            entry.Ended = true;
            CommitHeld(run, entry, null);
        }
    }

    /// <summary>After <paramref name="sink"/> finished its files (or failed to): the stages its frames were keeping waiting are committed, warnings to <paramref name="log"/>.</summary>
    public static void Finished(IFrameSink sink, IProgressSink log)
    {
        foreach (var (run, entry) in Runs)
            lock (entry)
            {
                var writer = entry.Writers.Find(w => ReferenceEquals(w.Sink, sink));
                if (writer is null) continue;
                writer.Finished = true;
                CommitHeld(run, entry, log);
            }
    }

    /// <summary>
    /// Commits the waiting stages every sink holds the frames before; forgets a run whose sinks are all finished once it
    /// has ended, or has nothing waiting (frames exported after their run ended: kept, the entry would hold the sinks for good).
    /// </summary>
    static void CommitHeld(Guid run, Run entry, IProgressSink? log)
    {
        long? held = HeldBefore(entry);
        while (entry.Waiting.TryPeek(out var stage) && (held is null || stage.FramesBefore <= held))
            Commit(entry.Waiting.Dequeue(), log);
        if (entry.Writers.All(w => w.Finished) && (entry.Ended || entry.Waiting.Count == 0))
        {
            // What no sink holds never becomes the resume point: the one before stays.
            while (entry.Waiting.TryDequeue(out var unheld)) unheld.Discard();
            Runs.TryRemove(run, out _);
        }
    }

    static void Commit(StagedSnapshot stage, IProgressSink? log)
    {
        if (VideoRun.Commit(stage) is { } warning) log?.Warning(warning.Text);
    }
}
