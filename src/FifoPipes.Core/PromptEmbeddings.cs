using FifoPipes.Abstractions;

namespace FifoPipes.Core;

/// <summary>
/// Embeds each prompt of the schedule on first use (spans in use at once with the same text share one embedding), plus
/// the negative prompt ("" unless given) for guidance (one per prompt for models that pair it,
/// <see cref="IPairedUnconditional"/>); every sampler shares it. A sampler that moves forward through the video frees the spans behind it with
/// <see cref="ReleaseBefore"/>, so a schedule of thousands of prompts holds only the few in use.
/// </summary>
public sealed class PromptEmbeddings : IDisposable
{
    readonly IVideoModel model;
    readonly ILivePrompts? live;
    Conditioning?[] spans;
    Conditioning? unconditional;
    readonly Dictionary<Conditioning, Conditioning> paired = new(ReferenceEqualityComparer.Instance);

    /// <param name="negativePrompt">The unconditional branch's prompt; "" for the usual unconditional guidance.</param>
    public PromptEmbeddings(IVideoModel model, PromptSchedule schedule, string negativePrompt = "")
        : this(model, schedule, negativePrompt, live: null) { }

    /// <param name="negativePrompt">The unconditional branch's prompt; "" for the usual unconditional guidance.</param>
    /// <param name="live">Prompts given while the run goes; the changes already taken apply at once (a restarted run's schedule is the first one's).</param>
    public PromptEmbeddings(IVideoModel model, PromptSchedule schedule, string negativePrompt, ILivePrompts? live)
    {
        this.model = model;
        this.live = live;
        Schedule = schedule;
        NegativePrompt = negativePrompt;
        spans = new Conditioning?[schedule.Spans.Count];
        foreach (var change in live?.Taken ?? Array.Empty<PromptChange>()) TakeOver(change);
    }

    /// <summary>The schedule as it stands: the job's, with the live changes taken so far.</summary>
    public PromptSchedule Schedule { get; private set; }
    /// <summary>The unconditional branch's prompt as given; "" for plain unconditional guidance.</summary>
    public string NegativePrompt { get; }

    /// <summary>
    /// The conditioning for output frame <paramref name="outputFrame"/> (clamped into the schedule); a live prompt
    /// waiting takes over from this frame on. Frame 0 and the warm-up before it (negative frames) take none: a change
    /// there would replace the first span whole, and a restarted run's warm-up would then differ from the first one's.
    /// </summary>
    public Conditioning ForFrame(long outputFrame)
    {
        if (outputFrame >= 1 && live?.Take(outputFrame) is { } change) TakeOver(change);
        int span = Schedule.SpanIndexAt(outputFrame);
        return spans[span] ??= Held(Schedule.Spans[span].Prompt) ?? model.Encode(Schedule.Spans[span].Prompt);
    }

    /// <summary>Frees the embeddings of the spans that end before <paramref name="outputFrame"/>: none of their frames is asked for again.</summary>
    public void ReleaseBefore(long outputFrame)
    {
        // Called every iteration: it goes on from the first live span, not from span 0.
        for (; firstLive < spans.Length && Schedule.StartOf(firstLive) + Schedule.Spans[firstLive].Frames <= outputFrame; firstLive++)
        {
            var gone = spans[firstLive];
            spans[firstLive] = null;
            Free(gone);
        }
    }

    /// <summary>Disposes an embedding no span holds any more (a later span may share it), with its paired negative.</summary>
    void Free(Conditioning? gone)
    {
        if (gone is null || Live.Contains(gone, ReferenceEqualityComparer.Instance)) return;
        if (paired.Remove(gone, out var own)) own.Dispose();
        gone.Dispose();
    }

    int firstLive;

    /// <summary>
    /// Moves to the schedule <paramref name="change"/> makes: the embeddings of the spans it keeps stay where they were,
    /// those of the spans it gives up go (unless a kept span shares one). An <see cref="ILivePrompts"/> that offers
    /// frames in order gives up only spans never asked for; one that does not is still safe.
    /// </summary>
    void TakeOver(PromptChange change)
    {
        var next = Schedule.TakingOver(change, out int kept);
        if (ReferenceEquals(next, Schedule)) return;
        var givenUp = spans.Skip(kept).ToList();
        var moved = new Conditioning?[next.Spans.Count];
        Array.Copy(spans, moved, kept);
        spans = moved;
        Schedule = next;
        firstLive = Math.Min(firstLive, kept);
        foreach (var gone in givenUp.Distinct<Conditioning?>(ReferenceEqualityComparer.Instance)) Free(gone);
    }

    /// <summary>The spans not released yet; a new span may share an embedding only with one of these.</summary>
    IEnumerable<Conditioning?> Live => spans.Skip(firstLive);

    Conditioning? Held(string prompt) => Live.FirstOrDefault(c => c is not null && c.Prompt == prompt);

    /// <summary>The one "" conditioning, for samplers written before prompts were paired; a pairing model gets it unpaired.</summary>
    [Obsolete("Use UnconditionalFor(conditional): models that pair \"\" with each prompt (Open-Sora Plan) need to know the prompt.")]
    public Conditioning Unconditional => unconditional ??= Negative(model.Encode(NegativePrompt));

    /// <summary>The negative ("" unless given) conditioning to guide <paramref name="conditional"/> (one of this schedule's) with.</summary>
    public Conditioning UnconditionalFor(Conditioning conditional)
    {
        if (model is not IPairedUnconditional { PairsUnconditional: true } pairing) return unconditional ??= Negative(model.Encode(NegativePrompt));
        if (!paired.TryGetValue(conditional, out var own))
            paired[conditional] = own = Negative(NegativePrompt.Length == 0 ? pairing.UnconditionalFor(conditional) : Paired(pairing, conditional));
        return own;
    }

    static Conditioning Negative(Conditioning conditioning)
    {
        conditioning.IsNegative = true;
        return conditioning;
    }

    /// <summary>A pairing model's negative prompt is embedded once and paired with each prompt.</summary>
    Conditioning Paired(IPairedUnconditional pairing, Conditioning conditional)
    {
        unconditional ??= Negative(model.Encode(NegativePrompt));
        try { return pairing.Pair(unconditional, conditional); }
        catch (NotSupportedException e)
        {
            throw new FifoInputException("NegativePromptUnsupported",
                $"Model '{model.Info.Name}' cannot take a negative prompt ({e.Message}). Leave out negativePrompt (-NegativePrompt).", e);
        }
    }

    /// <summary>Disposes every embedding it made (the spans', the negative and its pairings); none it returned may be used after.</summary>
    public void Dispose()
    {
        foreach (var c in spans.OfType<Conditioning>().Distinct<Conditioning>(ReferenceEqualityComparer.Instance)) c.Dispose();
        unconditional?.Dispose();
        foreach (var c in paired.Values) c.Dispose();
    }
}
