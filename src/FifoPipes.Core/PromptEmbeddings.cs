using FifoPipes.Abstractions;

namespace FifoPipes.Core;

/// <summary>
/// Embeds each prompt of the schedule once, on first use, plus the "" prompt for guidance (one per prompt for models
/// that pair it, <see cref="IPairedUnconditional"/>); every sampler shares it.
/// </summary>
public sealed class PromptEmbeddings : IDisposable
{
    readonly IVideoModel model;
    readonly Conditioning?[] spans;
    Conditioning? unconditional;
    readonly Dictionary<Conditioning, Conditioning> paired = new(ReferenceEqualityComparer.Instance);

    public PromptEmbeddings(IVideoModel model, PromptSchedule schedule)
    {
        this.model = model;
        Schedule = schedule;
        spans = new Conditioning?[schedule.Spans.Count];
    }

    public PromptSchedule Schedule { get; }

    /// <summary>The conditioning for output frame <paramref name="outputFrame"/> (clamped into the schedule).</summary>
    public Conditioning ForFrame(long outputFrame)
    {
        int span = Schedule.SpanIndexAt(outputFrame);
        return spans[span] ??= model.Encode(Schedule.Spans[span].Prompt);
    }

    /// <summary>The one "" conditioning, for samplers written before prompts were paired; a pairing model gets it unpaired.</summary>
    [Obsolete("Use UnconditionalFor(conditional): models that pair \"\" with each prompt (Open-Sora Plan) need to know the prompt.")]
    public Conditioning Unconditional => unconditional ??= model.Encode("");

    /// <summary>The "" conditioning to guide <paramref name="conditional"/> (one of this schedule's) with.</summary>
    public Conditioning UnconditionalFor(Conditioning conditional)
    {
        if (model is not IPairedUnconditional { PairsUnconditional: true } pairing) return unconditional ??= model.Encode("");
        if (!paired.TryGetValue(conditional, out var own)) paired[conditional] = own = pairing.UnconditionalFor(conditional);
        return own;
    }

    public void Dispose()
    {
        foreach (var c in spans) c?.Dispose();
        unconditional?.Dispose();
        foreach (var c in paired.Values) c.Dispose();
    }
}
