using FifoPipes.Abstractions;

namespace FifoPipes.Core;

/// <summary>
/// Embeds each prompt of the schedule once, on first use, plus the "" prompt for guidance; every sampler shares it.
/// </summary>
public sealed class PromptEmbeddings : IDisposable
{
    readonly IVideoModel model;
    readonly Conditioning?[] spans;
    Conditioning? unconditional;

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

    public Conditioning Unconditional => unconditional ??= model.Encode("");

    public void Dispose()
    {
        foreach (var c in spans) c?.Dispose();
        unconditional?.Dispose();
    }
}
