using FifoPipes.Abstractions;
using FifoPipes.Core;
using FifoPipes.Hosting.Engine;
using FifoPipes.Samplers.Fifo;
using FifoPipes.Tests.Parity;
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
        var changed = schedule.TakingOver(new PromptChange(5, "live"), out int kept);
        Assert.Equal(new[] { new PromptSpan("a", 3), new PromptSpan("b", 2), new PromptSpan("live", 7) }, changed.Spans);
        Assert.Equal(2, kept);
        Assert.Equal(new[] { new PromptSpan("a", 3), new PromptSpan("live", 9) }, schedule.TakingOver(new PromptChange(3, "live"), out kept).Spans);
        Assert.Equal(1, kept);
        Assert.Equal(new[] { new PromptSpan("live", 12) }, schedule.TakingOver(new PromptChange(-4, "live"), out kept).Spans);
        Assert.Equal(0, kept);
        Assert.Same(schedule, schedule.TakingOver(new PromptChange(12, "live"), out _));

        // An endless run's rest does not fit one span's count.
        var endless = new PromptSchedule(new[] { new PromptSpan("a", int.MaxValue), new PromptSpan("b", int.MaxValue) });
        var rest = endless.TakingOver(new PromptChange(10, "live"), out _);
        Assert.Equal(endless.TotalFrames, rest.TotalFrames);
        Assert.Equal(new[] { 10L, 2L * int.MaxValue - 10 }, new[] { rest.Spans[0].Frames, rest.Spans.Skip(1).Sum(s => (long)s.Frames) });
        Assert.All(rest.Spans.Skip(1), s => Assert.Equal("live", s.Prompt));
    }

    [Fact]
    public void A_change_keeps_the_embeddings_of_the_spans_before_it_and_a_restart_sees_the_same_schedule()
    {
        var model = new PromptEmbeddingsTests.CountingModel();
        var schedule = new PromptSchedule(new[] { new PromptSpan("a", 2), new PromptSpan("b", 2), new PromptSpan("c", 20) });
        var live = new Scripted(new PromptChange(3, "live"));
        using (var prompts = new PromptEmbeddings(model, schedule, "", live))
        {
            var b = prompts.ForFrame(2);
            Assert.Same(b, prompts.ForFrame(2));
            var changed = prompts.ForFrame(3);
            Assert.Equal("live", changed.Prompt);
            Assert.Equal(new[] { new PromptSpan("a", 2), new PromptSpan("b", 1), new PromptSpan("live", 21) }, prompts.Schedule.Spans);
            Assert.Same(b, prompts.ForFrame(2));          // the cut span keeps its embedding
            Assert.False(((PromptEmbeddingsTests.Tracked)b).Disposed);
            Assert.Equal("live", prompts.Schedule.SpanAt(23).Prompt);
            Assert.Equal(new[] { "b", "live" }, model.Encoded.Select(e => e.Prompt));
        }

        // A restarted sampler's embeddings start from the changes taken; the frames it offers again take none.
        using var restarted = new PromptEmbeddings(model, schedule, "", live);
        Assert.Equal(new[] { new PromptSpan("a", 2), new PromptSpan("b", 1), new PromptSpan("live", 21) }, restarted.Schedule.Spans);
        Assert.Equal("b", restarted.ForFrame(2).Prompt);
        Assert.Single(live.Taken);
    }

    [Fact]
    public void Frame_0_and_the_warm_up_before_it_take_no_change_so_the_first_span_keeps_its_start()
    {
        var model = new PromptEmbeddingsTests.CountingModel();
        var live = new Scripted(new PromptChange(0, "early"), new PromptChange(-3, "earlier"));
        using var prompts = new PromptEmbeddings(model, new PromptSchedule(new[] { new PromptSpan("a", 10) }), "", live);
        Assert.Equal("a", prompts.ForFrame(-3).Prompt);
        Assert.Equal("a", prompts.ForFrame(0).Prompt);
        Assert.Empty(live.Offers);
        prompts.ForFrame(1);
        Assert.Equal(new[] { 1L }, live.Offers);
    }

    [Fact]
    public void Embeddings_a_change_gives_up_are_freed_even_when_frames_come_out_of_order()
    {
        // An ILivePrompts that takes a change at a frame below one already asked for (it breaks the contract): the span
        // asked for ahead is given up, and its embedding freed unless a kept span shares it.
        var model = new PromptEmbeddingsTests.CountingModel();
        var schedule = new PromptSchedule(new[] { new PromptSpan("a", 2), new PromptSpan("b", 2), new PromptSpan("a", 20) });
        var unordered = new Unordered(new PromptChange(3, "live"));
        using var prompts = new PromptEmbeddings(model, schedule, "", unordered);
        var a = prompts.ForFrame(1);
        var b = prompts.ForFrame(2);
        Assert.Same(a, prompts.ForFrame(10));             // span 3 shares span 1's embedding
        var aheadOnly = new PromptSchedule(new[] { new PromptSpan("x", 4), new PromptSpan("y", 20) });
        var y = new PromptEmbeddings(model, aheadOnly, "", new Unordered(new PromptChange(3, "live")));
        var given = y.ForFrame(10);
        y.ForFrame(3);
        Assert.True(((PromptEmbeddingsTests.Tracked)given).Disposed, "the given-up span's embedding is freed");
        y.Dispose();

        Assert.Equal("live", prompts.ForFrame(3).Prompt);
        Assert.False(((PromptEmbeddingsTests.Tracked)a).Disposed, "span 1 still holds the embedding span 3 shared");
        Assert.False(((PromptEmbeddingsTests.Tracked)b).Disposed);
    }

    /// <summary>Takes its change whenever its frame is offered, whatever came before.</summary>
    sealed class Unordered(PromptChange change) : ILivePrompts
    {
        readonly List<PromptChange> taken = new();
        public IReadOnlyList<PromptChange> Taken => taken;
        public PromptChange? Take(long frame)
        {
            if (frame != change.Frame || taken.Count > 0) return null;
            taken.Add(change);
            return change;
        }
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
    public void A_run_steered_live_restarts_after_a_fault_into_the_very_frames_it_would_have_made()
    {
        static SamplingJob Job(IVideoModel model, ILivePrompts live, SnapshotPolicy? snapshots = null) => new()
        {
            Model = model, Prompts = new[] { new PromptSpan("red fire", 12) }, Noise = new KeyedNoise(5), Seed = 5, LivePrompts = live,
            Snapshots = snapshots, RunHash = "live-restart",
        };
        static ISampler Fifo() => new FifoSamplerFactory().Create(new FifoOptions(), new PluginContext());
        static List<LatentFrame> Take(ISampler sampler, SamplingJob job) =>
            sampler.Sample(job, CancellationToken.None).Select(f => { f.Snapshot?.Commit(); return f; }).ToList();

        var cleanModel = DelegateVideoModel.Linear();
        var clean = Take(Fifo(), Job(cleanModel, new Scripted(new PromptChange(4, "blue ocean"))));
        int calls = cleanModel.Calls.Count;
        // Faults after the change was taken: the restarts (from the start, then from a snapshot) replay it.
        foreach (var snapshots in new[] { null, new SnapshotPolicy(Path.Combine(folder, "live.snapshot"), 2) })
        {
            var model = DelegateVideoModel.Linear();
            int attempts = 0;
            model.BeforeCall = _ => { if (attempts++ == calls - 5) throw FifoPipes.Tests.Reliability.RestartingSamplerTests.ScalarFault(); };
            var restarting = new RestartingSampler(Fifo(), maxStalls: 3);
            var script = new Scripted(new PromptChange(4, "blue ocean"));
            var frames = Take(restarting, Job(model, script, snapshots));
            Assert.Equal(1, restarting.Restarts);
            // The fault came after the change: the restart offered frames past it again, which took nothing.
            Assert.True(script.Offers.Count(f => f >= 4) > script.Offers.Where(f => f >= 4).Distinct().Count(), "no frame after the change was offered again");
            Assert.Single(script.Taken);
            Assert.Equal(clean.Select(f => f.Prompt), frames.Select(f => f.Prompt));
            TensorAssert.Identical(clean.Select(f => f.Latent).ToList(), frames.Select(f => f.Latent).ToList(), "after a restart");
        }
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
    }

    [Fact]
    public void The_file_gives_a_new_text_once_it_has_read_the_same_for_a_moment_and_never_one_caught_half_written()
    {
        var path = Path.Combine(folder, "prompt.txt");
        File.WriteAllText(path, "what the file held before the run");
        var log = new RecordingSink();
        long now = 0;
        var file = new LivePromptFile(path, log, () => now);
        PromptChange? At(double seconds, long frame)
        {
            now = (long)(seconds * System.Diagnostics.Stopwatch.Frequency);
            return file.Take(frame);
        }
        Assert.Null(At(0.0, 1));                             // what it held at the start is no change
        File.WriteAllText(path, "what the file held before the run\n");
        Assert.Null(At(0.1, 2));                             // nor is the same text saved again

        File.WriteAllText(path, "# steer the stream here\r\n  red fire\r\n rising   up \n");
        Assert.Null(At(0.2, 3));                             // new: it must read the same for 0.2 s
        Assert.Null(At(0.3, 4));
        Assert.Null(At(0.45, 0));                            // frame 0 (and the warm-up) takes no change, settled or not
        Assert.Equal(new PromptChange(5, "red fire rising up"), At(0.45, 5));

        File.WriteAllText(path, "green au");                 // caught half-written...
        Assert.Null(At(0.5, 6));
        File.WriteAllText(path, "green aurora");             // ...and finished before it settled
        Assert.Null(At(0.6, 7));
        Assert.Null(At(0.9, 7));                             // a frame offered before takes nothing (a restarted sampler)
        Assert.Equal(new PromptChange(8, "green aurora"), At(0.9, 8));

        File.WriteAllText(path, "   \n# only a comment\n");  // nothing to say: no change
        Assert.Null(At(1.0, 9));
        Assert.Null(At(1.5, 10));
        File.Delete(path);                                   // gone (an editor saving by rename): no change, no warning
        Assert.Null(At(1.6, 11));
        Assert.Null(At(2.0, 12));
        Assert.Empty(log.Warnings);

        // A runaway file is read no further than a prompt could be, and cut short it is not the prompt written: no change, said once.
        File.WriteAllText(path, "calm sea" + new string(' ', 2 * LivePromptFile.MaxBytes) + "never read");
        Assert.Null(At(2.1, 13));
        Assert.Empty(log.Warnings);
        Assert.Null(At(2.4, 14));
        Assert.Null(At(2.5, 15));
        Assert.Contains($"The live prompt file '{path}' holds more than 64 KiB, which is no prompt", Assert.Single(log.Warnings));
        // A character caught half-written is not yet a reason to warn...
        File.WriteAllBytes(path, "caf\u00e9"u8.ToArray()[..4]);
        Assert.Null(At(2.6, 16));
        // ...but text in another encoding (Latin-1 'café crème') is: it would reach the prompt garbled.
        File.WriteAllBytes(path, System.Text.Encoding.Latin1.GetBytes("café crème"));
        Assert.Null(At(2.65, 17));
        Assert.Null(At(2.9, 18));
        Assert.Equal(2, log.Warnings.Count);
        Assert.Contains("is not UTF-8 text; save it as UTF-8; the prompt stays as it is until it changes", log.Warnings[1]);
        File.WriteAllText(path, "calm sea");
        Assert.Null(At(3.0, 19));
        Assert.Equal(new PromptChange(20, "calm sea"), At(3.3, 20));

        Assert.Equal(new[] { 5L, 8, 20 }, file.Taken.Select(c => c.Frame));
        Assert.Equal(3, log.Messages.Count(m => m.StartsWith("live prompt from frame", StringComparison.Ordinal)));
        Assert.Equal(2, log.Warnings.Count);
    }

    [Fact]
    public void A_folder_where_the_live_prompt_file_should_be_is_named_as_one()
    {
        var path = Directory.CreateDirectory(Path.Combine(folder, "steer.txt")).FullName;
        var log = new RecordingSink();
        var file = new LivePromptFile(path, log, () => 0);
        Assert.Null(file.Take(1));
        Assert.Contains($"The live prompt file '{path}' cannot be read (it is a folder; write the prompt into a file of that name)", Assert.Single(log.Warnings));
    }

    [Fact]
    public void A_long_live_prompt_is_cut_in_the_log_line_but_taken_whole()
    {
        var path = Path.Combine(folder, "long.txt");
        File.WriteAllText(path, "");
        var log = new RecordingSink();
        long now = 0;
        var file = new LivePromptFile(path, log, () => now);
        var words = string.Join(' ', Enumerable.Repeat("purple", 400));
        File.WriteAllText(path, words);
        Assert.Null(file.Take(1));
        now = System.Diagnostics.Stopwatch.Frequency;
        Assert.Equal(words, file.Take(2)!.Prompt);
        var line = Assert.Single(log.Messages, m => m.StartsWith("live prompt from frame 2", StringComparison.Ordinal));
        Assert.Contains($"… ({words.Length} characters)", line);
        Assert.True(line.Length < 400, line);
    }
}
