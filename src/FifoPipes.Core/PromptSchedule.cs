using FifoPipes.Abstractions;

namespace FifoPipes.Core;

/// <summary>
/// A multi-prompt schedule: consecutive spans of output frames, each under one prompt. Every span covers at least
/// one frame and owns exactly its frames, so no prompt is ever skipped however short its span.
/// </summary>
public sealed class PromptSchedule
{
    readonly long[] starts;

    /// <summary>The spans in order, the first from output frame 0; copied, so a caller's later change to its list leaves the schedule as it was.</summary>
    /// <exception cref="FifoInputException">"NoPrompts" for no spans, "EmptyPrompt" for a blank prompt, "BadPromptSpan" for a span of under 1 frame.</exception>
    public PromptSchedule(IReadOnlyList<PromptSpan> spans)
    {
        if (spans.Count == 0) throw new FifoInputException("NoPrompts", "The prompt schedule is empty; give at least one prompt with a frame count.");
        starts = new long[spans.Count];
        long total = 0;
        for (int i = 0; i < spans.Count; i++)
        {
            // "" is the unconditional embedding guidance subtracts; as a prompt it would only undo guidance.
            if (string.IsNullOrWhiteSpace(spans[i].Prompt))
                throw new FifoInputException("EmptyPrompt", $"Prompt {i + 1} is empty; write what that part of the video should show.");
            if (spans[i].Frames < 1)
                throw new FifoInputException("BadPromptSpan",
                    $"Prompt {i + 1} ('{spans[i].Prompt}') covers {spans[i].Frames} frames; every prompt must cover at least 1 frame.");
            starts[i] = total;
            total += spans[i].Frames;
        }
        // The starts and total are computed once; a list the caller changed after would no longer match them.
        Spans = spans.ToArray();
        TotalFrames = total;
    }

    /// <summary>The spans in order, each of at least one frame.</summary>
    public IReadOnlyList<PromptSpan> Spans { get; }
    /// <summary>The frames of all spans together.</summary>
    public long TotalFrames { get; }

    /// <summary>The first output frame of span <paramref name="span"/>.</summary>
    public long StartOf(int span) => starts[span];

    /// <summary>The span covering output frame <paramref name="frame"/>; frames before 0 belong to the first span, frames past the end to the last.</summary>
    public int SpanIndexAt(long frame)
    {
        if (frame <= 0) return 0;
        int i = Array.BinarySearch(starts, frame);
        return i >= 0 ? i : ~i - 1;
    }

    /// <summary>The span covering <paramref name="frame"/>, clamped as <see cref="SpanIndexAt"/> clamps it.</summary>
    public PromptSpan SpanAt(long frame) => Spans[SpanIndexAt(frame)];

    /// <summary>
    /// This schedule with <paramref name="change"/>'s prompt from its frame to the end, as many frames as before: the
    /// spans before that frame kept, the one it falls in cut there, later ones given up to the change.
    /// <paramref name="kept"/> is how many of this schedule's spans begin the new one, the same (the cut one included).
    /// </summary>
    public PromptSchedule TakingOver(PromptChange change, out int kept)
    {
        long at = Math.Max(0, change.Frame);
        kept = Spans.Count;
        if (at >= TotalFrames) return this;
        int span = SpanIndexAt(at);
        var spans = Spans.Take(span).ToList();
        if (at > starts[span]) spans.Add(Spans[span] with { Frames = (int)(at - starts[span]) });
        kept = spans.Count;
        // An endless run's rest is more frames than one span counts.
        for (long left = TotalFrames - at; left > 0; left -= int.MaxValue)
            spans.Add(new PromptSpan(change.Prompt, (int)Math.Min(left, int.MaxValue)));
        return new PromptSchedule(spans);
    }
}
