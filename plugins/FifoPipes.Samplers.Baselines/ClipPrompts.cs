using FifoPipes.Abstractions;
using FifoPipes.Core;

namespace FifoPipes.Samplers.Baselines;

/// <summary>
/// Which prompt conditions each clip or window of a baseline, and which prompt its frames are labelled with (the label
/// picks the decoder's look, so it must be the prompt a frame was really made under). A clip or window takes one
/// prompt, so a span shorter than one can go unused: that is said in a warning, naming the span, never left silent.
/// </summary>
public static class ClipPrompts
{
    /// <summary>The span covering most frames of [start, start + length) (clipped to the video); the earliest on a tie.</summary>
    public static int MostOf(PromptSchedule schedule, long start, int length)
    {
        long end = Math.Min(start + length, schedule.TotalFrames);
        int best = schedule.SpanIndexAt(start);
        long bestFrames = 0;
        for (int span = best; span < schedule.Spans.Count && schedule.StartOf(span) < end; span++)
        {
            long from = Math.Max(start, schedule.StartOf(span)), to = Math.Min(end, schedule.StartOf(span) + schedule.Spans[span].Frames);
            if (to - from > bestFrames) (best, bestFrames) = (span, to - from);
        }
        return best;
    }

    /// <summary>
    /// Warns, once, of the spans whose frames moved to clip boundaries: clip c (frames c·f .. c·f + f - 1) is made under
    /// <paramref name="clipSpans"/>[c], so a span takes whole clips, not the frames the schedule gave it. Spans that
    /// take no clip are <see cref="WarnUnused"/>'s.
    /// </summary>
    public static void WarnMoved(IProgressSink log, PromptSchedule schedule, IReadOnlyList<int> clipSpans, int clipFrames, string sampler)
    {
        // Each span's first and last clip, in one pass over the clips (an endless run has many).
        var clips = new Dictionary<int, (int First, int Last)>();
        for (int c = 0; c < clipSpans.Count; c++)
            clips[clipSpans[c]] = clips.TryGetValue(clipSpans[c], out var seen) ? (seen.First, c) : (c, c);
        var moved = new List<string>();
        foreach (var (span, (firstClip, lastClip)) in clips.OrderBy(c => c.Value.First))
        {
            long first = firstClip * (long)clipFrames, last = Math.Min((lastClip + 1) * (long)clipFrames, schedule.TotalFrames) - 1;
            long plannedFirst = schedule.StartOf(span), plannedLast = plannedFirst + schedule.Spans[span].Frames - 1;
            if (first != plannedFirst || last != plannedLast)
                moved.Add($"'{schedule.Spans[span].Prompt}' conditions frames {first}-{last}, not {plannedFirst}-{plannedLast}");
        }
        if (moved.Count > 0)
            log.Warning($"{sampler}: each {clipFrames}-frame clip takes the prompt covering most of it, so prompts switch at clip boundaries: " +
                        string.Join("; ", moved.Take(4)) + (moved.Count > 4 ? $"; and {moved.Count - 4} more" : "") +
                        ". Give spans multiples of the clip length, or use the fifo sampler, which switches prompts at exact frames.");
    }

    /// <summary>Warns about every span of the schedule that <paramref name="used"/> leaves out, and why.</summary>
    public static void WarnUnused(IProgressSink log, PromptSchedule schedule, IEnumerable<int> used, string sampler, string why)
    {
        var usedSpans = used.ToHashSet();
        for (int span = 0; span < schedule.Spans.Count; span++)
        {
            if (usedSpans.Contains(span)) continue;
            long first = schedule.StartOf(span), last = first + schedule.Spans[span].Frames - 1;
            log.Warning($"{sampler}: the prompt '{schedule.Spans[span].Prompt}' (frames {first}-{last}) conditions nothing: {why}. " +
                        "Give it more frames, or use the fifo sampler, which switches prompts at exact frames.");
        }
    }
}
