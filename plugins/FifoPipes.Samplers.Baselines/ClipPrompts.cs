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
