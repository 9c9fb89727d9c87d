using FifoPipes.Abstractions;
using FifoPipes.Core;
using FifoPipes.Hosting.Engine;
using FifoPipes.Samplers.Fifo;
using Xunit;
using static TorchSharp.torch;

namespace FifoPipes.Tests.Sampling;

/// <summary>Prompts given while a run goes: the schedule they make, what they keep embedded, and the file that gives them.</summary>
public sealed class LivePromptTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("fifo-live-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    /// <summary>Gives each change when its frame is offered, as if written to the file just then.</summary>
    sealed class Scripted(params PromptChange[] script) : ILivePrompts
    {
        readonly List<PromptChange> taken = new();
        long offered = long.MinValue;
        public List<long> Offers { get; } = new();
        public IReadOnlyList<PromptChange> Taken => taken;

        public PromptChange? Take(long frame)
        {
            Offers.Add(frame);
            if (frame <= offered) return null;
            offered = frame;
            var change = script.FirstOrDefault(c => c.Frame == frame);
            if (change is not null) taken.Add(change);
            return change;
        }
    }

    [Fact]
    public void A_change_cuts_the_span_it_falls_in_and_gives_the_rest_of_the_schedule_to_its_prompt()
    {
        var schedule = new PromptSchedule(new[] { new PromptSpan("a", 3), new PromptSpan("b", 4), new PromptSpan("c", 5) });
        var changed = schedule.TakingOver(new PromptChange(5, "live"));
        Assert.Equal(new[] { new PromptSpan("a", 3), new PromptSpan("b", 2), new PromptSpan("live", 7) }, changed.Spans);
        Assert.Equal(new[] { new PromptSpan("a", 3), new PromptSpan("live", 9) }, schedule.TakingOver(new PromptChange(3, "live")).Spans);
        Assert.Equal(new[] { new PromptSpan("live", 12) }, schedule.TakingOver(new PromptChange(-4, "live")).Spans);
        Assert.Same(schedule, schedule.TakingOver(new PromptChange(12, "live")));

        // An endless run's rest does not fit one span's count.
        var endless = new PromptSchedule(new[] { new PromptSpan("a", int.MaxValue), new PromptSpan("b", int.MaxValue) });
        var rest = endless.TakingOver(new PromptChange(10, "live"));
        Assert.Equal(endless.TotalFrames, rest.TotalFrames);
        Assert.Equal(new[] { 10L, 2L * int.MaxValue - 10 }, new[] { rest.Spans[0].Frames, rest.Spans.Skip(1).Sum(s => (long)s.Frames) });
        Assert.All(rest.Spans.Skip(1), s => Assert.Equal("live", s.Prompt));
    }

    [Fact]
    public void The_embeddings_of_the_spans_a_change_gives_up_are_freed_and_a_restart_sees_the_same_schedule()
    {
        var model = new PromptEmbeddingsTests.CountingModel();
        var schedule = new PromptSchedule(new[] { new PromptSpan("a", 2), new PromptSpan("b", 2), new PromptSpan("c", 20) });
        var live = new Scripted(new PromptChange(3, "live"));
        using (var prompts = new PromptEmbeddings(model, schedule, live: live))
        {
            var a = prompts.ForFrame(0);
            var c = prompts.ForFrame(10);       // asked ahead, as a baseline would; frame 3 now counts as offered already
            Assert.Empty(live.Taken);
            Assert.Equal("c", c.Prompt);
            Assert.Equal(new[] { "a", "c" }, model.Encoded.Select(e => e.Prompt));
            Assert.Same(a, prompts.ForFrame(1));
        }

        model.Encoded.Clear();
        live = new Scripted(new PromptChange(3, "live"));
        using (var prompts = new PromptEmbeddings(model, schedule, live: live))
        {
            var b = prompts.ForFrame(2);
            var c = prompts.ForFrame(2);
            Assert.Same(b, c);
            var changed = prompts.ForFrame(3);
            Assert.Equal("live", changed.Prompt);
            Assert.Equal(new[] { new PromptSpan("a", 2), new PromptSpan("b", 1), new PromptSpan("live", 21) }, prompts.Schedule.Spans);
            Assert.Same(b, prompts.ForFrame(2));          // the cut span keeps its embedding
            Assert.Equal("live", prompts.Schedule.SpanAt(23).Prompt);
        }

        // A restarted sampler's embeddings start from the changes taken; the frames it offers again take none.
        using var restarted = new PromptEmbeddings(model, schedule, live: live);
        Assert.Equal(new[] { new PromptSpan("a", 2), new PromptSpan("b", 1), new PromptSpan("live", 21) }, restarted.Schedule.Spans);
        Assert.Equal("b", restarted.ForFrame(2).Prompt);
        Assert.Single(live.Taken);
    }

    [Fact]
    public void A_prompt_given_live_makes_the_very_frames_of_a_schedule_that_switched_there()
    {
        static SamplingJob Job(IVideoModel model, IReadOnlyList<PromptSpan> prompts, ILivePrompts? live = null) => new()
        {
            Model = model, Prompts = prompts, Noise = new KeyedNoise(3), Seed = 3, LivePrompts = live,
        };
        var options = new FifoOptions { Start = "noise", WarmupIterations = 2, WindowBatch = "2" };
        var scheduledModel = DelegateVideoModel.Linear();
        var scheduled = new FifoSamplerFactory().Create(options, new PluginContext())
            .Sample(Job(scheduledModel, new[] { new PromptSpan("red fire", 6), new PromptSpan("blue ocean", 8) }), CancellationToken.None).ToList();
        var liveModel = DelegateVideoModel.Linear();
        var script = new Scripted(new PromptChange(6, "blue ocean"));
        var live = new FifoSamplerFactory().Create(options, new PluginContext())
            .Sample(Job(liveModel, new[] { new PromptSpan("red fire", 14) }, script), CancellationToken.None).ToList();

        Assert.Equal(scheduled.Select(f => f.Prompt), live.Select(f => f.Prompt));
        Assert.Equal(scheduledModel.Calls.Select(c => c.Prompts[0]), liveModel.Calls.Select(c => c.Prompts[0]));
        for (int i = 0; i < scheduled.Count; i++)
            Assert.True(scheduled[i].Latent.equal(live[i].Latent).all().item<bool>(), $"frame {i} differs");
        Assert.Equal(script.Offers.Distinct().Count(), script.Offers.Count); // each iteration offers its head frame once
        foreach (var f in scheduled.Concat(live)) f.Latent.Dispose();
    }

    [Fact]
    public void The_baselines_refuse_prompts_given_live()
    {
        var job = new SamplingJob
        {
            Model = DelegateVideoModel.Linear(), Prompts = new[] { new PromptSpan("a", 32) }, Noise = new KeyedNoise(1),
            LivePrompts = new Scripted(),
        };
        var ex = Assert.Throws<FifoInputException>(() => new FifoPipes.Samplers.Baselines.ChunkedSamplerFactory()
            .Create(null, new PluginContext()).Sample(job, CancellationToken.None).GetEnumerator().MoveNext());
        Assert.Contains("drop 'livePrompt' (-LivePrompt) or use the fifo sampler", ex.Message);
        var fifo = Assert.Throws<FifoInputException>(() => new FifoSamplerFactory().Create(null, new PluginContext())
            .Sample(job with { ResumeFrom = "x.snapshot" }, CancellationToken.None));
        Assert.Equal("LivePromptsUnresumable", fifo.ErrorId);
    }

    [Fact]
    public void The_file_gives_its_text_when_it_changes_from_the_next_frame_offered()
    {
        var path = Path.Combine(folder, "prompt.txt");
        File.WriteAllText(path, "what the file held before the run");
        var log = new RecordingSink();
        var file = new LivePromptFile(path, log);
        Assert.Null(file.Take(0));                           // what it held at the start is no change

        Write(path, "# steer the stream here\n  red fire\n rising   up \n");
        Assert.Equal(new PromptChange(1, "red fire rising up"), file.Take(1));
        Assert.Null(file.Take(2));

        Write(path, "red fire rising up\n");                 // the same text again changes nothing
        Assert.Null(file.Take(3));
        Write(path, "green aurora");
        Assert.Null(file.Take(3));                           // a frame offered before takes nothing (a restarted sampler)
        Assert.Equal(new PromptChange(4, "green aurora"), file.Take(4));

        Write(path, "   \n# only a comment\n");               // nothing to say: no change
        Assert.Null(file.Take(5));
        File.Delete(path);
        Assert.Null(file.Take(6));
        Write(path, "calm sea");
        Assert.Equal(new PromptChange(7, "calm sea"), file.Take(7));

        Assert.Equal(new[] { 1L, 4, 7 }, file.Taken.Select(c => c.Frame));
        Assert.Equal(3, log.Messages.Count(m => m.StartsWith("live prompt from frame", StringComparison.Ordinal)));
    }

    /// <summary>A write the watcher can tell from the last one even where the clock's grain is coarse: the time moves on too.</summary>
    static void Write(string path, string text)
    {
        var before = File.Exists(path) ? File.GetLastWriteTimeUtc(path) : DateTime.MinValue;
        File.WriteAllText(path, text);
        if (File.GetLastWriteTimeUtc(path) <= before) File.SetLastWriteTimeUtc(path, before.AddSeconds(1));
    }
}
