using FifoPipes.Abstractions;
using FifoPipes.Core;
using Xunit;

namespace FifoPipes.Tests.Sampling;

public sealed class PromptScheduleTests
{
    [Fact]
    public void Every_span_owns_exactly_its_frames()
    {
        var schedule = new PromptSchedule(new[] { new PromptSpan("a", 3), new PromptSpan("b", 1), new PromptSpan("c", 2) });
        Assert.Equal(6, schedule.TotalFrames);
        Assert.Equal(new[] { "a", "a", "a", "b", "c", "c" }, Enumerable.Range(0, 6).Select(j => schedule.SpanAt(j).Prompt));
        Assert.Equal("a", schedule.SpanAt(-5).Prompt);
        Assert.Equal("c", schedule.SpanAt(100).Prompt);
        Assert.Equal(3, schedule.StartOf(1));
    }

    [Fact]
    public void Empty_spans_are_refused()
    {
        var ex = Assert.Throws<FifoInputException>(() => new PromptSchedule(new[] { new PromptSpan("a", 2), new PromptSpan("b", 0) }));
        Assert.Equal("BadPromptSpan", ex.ErrorId);
        Assert.Contains("'b'", ex.Message);

        var blank = Assert.Throws<FifoInputException>(() => new PromptSchedule(new[] { new PromptSpan("a", 2), new PromptSpan("   ", 3) }));
        Assert.Equal("EmptyPrompt", blank.ErrorId);
        Assert.Contains("Prompt 2", blank.Message);
    }

    [Fact]
    public void A_schedule_keeps_its_spans_when_the_callers_list_changes_after()
    {
        var spans = new List<PromptSpan> { new("a", 2), new("b", 1) };
        var schedule = new PromptSchedule(spans);
        spans.Add(new PromptSpan("c", 5));
        spans[0] = new PromptSpan("z", 9);
        Assert.Equal(new[] { "a", "b" }, schedule.Spans.Select(s => s.Prompt));
        Assert.Equal(3, schedule.TotalFrames);
        Assert.Equal("b", schedule.SpanAt(2).Prompt);
    }
}
