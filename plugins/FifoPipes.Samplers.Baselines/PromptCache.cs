using FifoPipes.Abstractions;
using FifoPipes.Core;

namespace FifoPipes.Samplers.Baselines;

/// <summary>Embeds each prompt of the schedule once, on first use, plus the "" prompt for guidance.</summary>
public sealed class PromptCache : IDisposable
{
    readonly IVideoModel model;
    readonly Conditioning?[] spans;
    Conditioning? unconditional;

    public PromptCache(IVideoModel model, PromptSchedule schedule)
    {
        this.model = model;
        Schedule = schedule;
        spans = new Conditioning?[schedule.Spans.Count];
    }

    public PromptSchedule Schedule { get; }

    /// <summary>The conditioning of output frame <paramref name="frame"/> (frames past the end take the last prompt).</summary>
    public Conditioning ForFrame(long frame)
    {
        int span = Schedule.SpanIndexAt(frame);
        return spans[span] ??= model.Encode(Schedule.Spans[span].Prompt);
    }

    public Conditioning Unconditional => unconditional ??= model.Encode("");

    public void Dispose()
    {
        foreach (var c in spans) c?.Dispose();
        unconditional?.Dispose();
    }
}
