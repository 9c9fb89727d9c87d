using FifoPipes.Abstractions;
using FifoPipes.Core.Diffusion;
using FifoPipes.Samplers.Fifo;
using FifoPipes.Tests.Parity;
using Xunit;
using static TorchSharp.torch;

namespace FifoPipes.Tests.Sampling;

/// <summary>The sampler alone against the recorded fifo cases (iteration 0 with the recorded UNet outputs), and the step table and windows.</summary>
public sealed class FifoScheduleTests
{
    public static TheoryData<string> FifoCases()
    {
        var data = new TheoryData<string>();
        foreach (var c in ParityCase.Discover().Where(c => c.Component == "fifo.trajectory")) data.Add(c.Name);
        return data;
    }

    [Theory]
    [MemberData(nameof(FifoCases))]
    public void Iteration_zero_replays_the_reference(string name)
    {
        var replay = new FifoTrajectoryReplay(ParityCase.Load(name));
        replay.Replay(replay.Iteration0Lookup(), iterations: 1, denoiserReplaysTheRecording: true);
    }

    [Theory]
    [InlineData(4, 2, true)]
    [InlineData(4, 3, false)]
    [InlineData(16, 4, true)]
    [InlineData(17, 8, true)]
    [InlineData(17, 2, false)]
    [InlineData(5, 3, true)]
    public void Every_slot_past_the_padding_is_written_exactly_once(int f, int n, bool lookahead)
    {
        var windows = WindowPlan.Create(f, n, lookahead);
        int padding = WindowPlan.Padding(f, lookahead), length = n * f + padding;
        var writes = new int[length];
        foreach (var w in windows)
        {
            Assert.Equal(f, w.Frames);
            Assert.InRange(w.Start, 0, length - f);
            for (int s = w.WriteFrom; s < w.End; s++) writes[s]++;
        }
        Assert.All(writes.Take(padding), count => Assert.Equal(0, count));
        Assert.All(writes.Skip(padding), count => Assert.Equal(1, count));
        Assert.Equal(lookahead ? 2 * n : n, windows.Count);
    }

    [Fact]
    public void A_step_or_schedule_newer_than_the_sampler_is_an_input_error_naming_it()
    {
        var schedule = new NoiseSchedule(BetaSchedule.ScaledLinear, 0.00085, 0.012);
        var step = Assert.Throws<FifoInputException>(() => FrameStepTable.ForModel(schedule, (StepKind)7, 8, 0, false));
        Assert.Equal("StepUnsupported", step.ErrorId);
        Assert.Contains("The step '7' is newer than this sampler", step.Message);
        var betas = Assert.Throws<FifoInputException>(() => FrameStepTable.ForModel(schedule with { Betas = (BetaSchedule)9 }, StepKind.Ddim, 8, 0, false));
        Assert.Equal("ScheduleUnsupported", betas.ErrorId);
    }

    [Fact]
    public void Odd_windows_follow_open_sora_plan()
    {
        var windows = WindowPlan.Create(17, 2, lookahead: true);
        Assert.Equal(new[] { (0, 8), (8, 17), (17, 25), (25, 34) }, windows.Select(w => (w.Start, w.WriteFrom)));
    }

    [Fact]
    public void Fifo_grid_rounds_half_to_even_without_offset()
    {
        Assert.Equal(new long[] { 0, 143, 285, 428, 571, 714, 856, 999 }, TimestepGrids.FifoUniform(8, 1000));
        var grid = TimestepGrids.FifoUniform(64, 1000);
        Assert.Equal(0, grid[0]);
        Assert.Equal(999, grid[^1]);
    }

    [Fact]
    public void Ddim_index_zero_is_an_identity_step()
    {
        var table = FrameStepTable.ForModel(new NoiseSchedule(BetaSchedule.ScaledLinear, 0.00085, 0.012), StepKind.Ddim, 8, 1.0, false);
        Assert.Equal(0f, table.Sigma(0));
        Assert.False(table.UsesNoise(0));
        Assert.True(table.UsesNoise(1));
        using var x = randn(new long[] { 1, 2, 1, 3, 3 });
        using var eps = randn(new long[] { 1, 2, 1, 3, 3 });
        using var next = table.Step(x, eps, new[] { 0 }, null);
        TensorAssert.Close(x, next, 1e-6, 1e-6, "k = 0 step");
    }

    [Fact]
    public void Ddpm_per_frame_step_equals_the_diffusers_scheduler()
    {
        var schedule = new NoiseSchedule(BetaSchedule.Linear, 1e-4, 0.02);
        var table = FrameStepTable.ForModel(schedule, StepKind.Ddpm, 16, 0, clipSample: true);
        var scheduler = new DiffusersDdpmScheduler(new DiffusersSchedulerConfig());
        scheduler.SetTimesteps(16);
        Assert.Equal(scheduler.Timesteps.Reverse(), table.Timesteps);
        using var x = randn(new long[] { 1, 2, 3, 4, 4 });
        using var eps = randn(new long[] { 1, 2, 3, 4, 4 });
        using var noise = randn(new long[] { 1, 2, 3, 4, 4 });
        int[] k = { 0, 7, 15 };
        using var perFrame = table.Step(x, eps, k, noise);
        for (int i = 0; i < k.Length; i++)
        {
            long t = table.Timesteps[k[i]];
            using var one = scheduler.Step(eps[.., .., i..(i + 1)], t, x[.., .., i..(i + 1)], noise[.., .., i..(i + 1)]);
            Assert.True(one.PrevSample.eq(perFrame[.., .., i..(i + 1)]).all().item<bool>(), $"frame {i} (t = {t})");
        }
    }

    [Fact]
    public void A_ddpm_scheduler_without_its_timesteps_says_so_instead_of_dividing_by_zero()
    {
        var scheduler = new DiffusersDdpmScheduler(new DiffusersSchedulerConfig());
        Assert.Equal("Call SetTimesteps before PreviousTimestep.", Assert.Throws<InvalidOperationException>(() => scheduler.PreviousTimestep(999)).Message);
        scheduler.SetTimesteps(10);
        Assert.Equal(899, scheduler.PreviousTimestep(999));
    }

    [Fact]
    public void Lockstep_sampling_equals_the_diffusers_scheduler_loop()
    {
        var schedule = new NoiseSchedule(BetaSchedule.Linear, 1e-4, 0.02);
        var table = FrameStepTable.ForModel(schedule, StepKind.Ddpm, 6, 0, clipSample: true);
        var scheduler = new DiffusersDdpmScheduler(new DiffusersSchedulerConfig());
        scheduler.SetTimesteps(6);
        using var start = randn(new long[] { 2, 2, 3, 4, 4 });
        Tensor Eps(Tensor x, long t) => x.mul(0.3).add(t / 1000.0);
        Tensor StepNoise(int k) { using var g = new Generator((ulong)(100 + k)); return randn(new long[] { 2, 2, 3, 4, 4 }, generator: g); }
        var asked = new List<int>();

        using var sampled = table.SampleInLockstep(start, (x, k) => Eps(x, table.Timesteps[k]),
            k => { asked.Add(k); return StepNoise(k); }, CancellationToken.None);

        var expected = start.clone();
        for (int k = table.Steps - 1; k >= 0; k--)
        {
            long t = table.Timesteps[k];
            using var eps = Eps(expected, t);
            using var noise = StepNoise(k);
            var next = scheduler.Step(eps, t, expected, noise).PrevSample;
            expected.Dispose();
            expected = next;
        }
        using (expected) TensorAssert.Close(expected, sampled, 1e-6, 1e-5, "lockstep DDPM");
        Assert.Equal(Enumerable.Range(1, table.Steps - 1).Reverse(), asked);
        Assert.Equal(new long[] { 2, 2, 3, 4, 4 }, start.shape);
    }

    [Fact]
    public void Lockstep_sampling_stops_between_steps_and_leaves_its_start()
    {
        var table = FrameStepTable.ForModel(new NoiseSchedule(BetaSchedule.ScaledLinear, 0.00085, 0.012), StepKind.Ddim, 5, 0, false);
        using var start = randn(new long[] { 1, 2, 3, 2, 2 });
        using var before = start.clone();
        using var stop = new CancellationTokenSource();
        int calls = 0;
        Assert.Throws<OperationCanceledException>(() => table.SampleInLockstep(start,
            (x, k) => { if (++calls == 2) stop.Cancel(); return zeros_like(x); }, _ => throw new InvalidOperationException("eta 0 adds no noise"), stop.Token));
        Assert.Equal(2, calls);
        Assert.True(start.eq(before).all().item<bool>(), "the start latents are the caller's and stay as they were");
    }
}

public sealed class RunExtensionTests
{
    const string Others = "model.use=analytic\nsampler.use=fifo\nseed=3\n";

    [Fact]
    public void A_longer_last_span_and_spans_after_it_extend_a_run_and_nothing_else_does()
    {
        string Run(params (string Prompt, int Frames)[] spans) =>
            "model.use=analytic\nsampler.use=fifo\n" + string.Concat(spans.Select((s, i) => $"prompts[{i}]={s.Prompt}|{s.Frames}\n")) + "seed=3\n";
        var then = Run(("rain | snow", 20), ("fog", 40));
        Assert.Equal(new RunExtension(60, 76), RunExtension.Of(then, Run(("rain | snow", 20), ("fog", 56))));
        Assert.Equal(new RunExtension(60, 68), RunExtension.Of(then, Run(("rain | snow", 20), ("fog", 40), ("sun", 8))));
        Assert.Null(RunExtension.Of(then, then));
        Assert.Null(RunExtension.Of(then, Run(("rain | snow", 21), ("fog", 40))));
        Assert.Null(RunExtension.Of(then, Run(("rain | snow", 20), ("fog", 30), ("sun", 30))));
        Assert.Null(RunExtension.Of(then, Run(("rain | snow", 20), ("mist", 56))));
        Assert.Null(RunExtension.Of(then, Run(("rain | snow", 20), ("fog", 56)).Replace("seed=3", "seed=4")));
        Assert.Null(RunExtension.Of(Others, Others + "prompts[0]=fog|4\n"));
        // A prompt written over two lines is one span, as the settings record it.
        var twoLines = Run(("rain\nsnow", 20));
        Assert.Equal(new RunExtension(20, 30), RunExtension.Of(twoLines, Run(("rain\nsnow", 30))));
        Assert.Null(RunExtension.Of(twoLines, Run(("rain\nsleet", 30))));
    }

    [Fact]
    public void A_prompt_span_setting_reads_back_as_written_and_its_last_bar_divides()
    {
        var (key, value) = Assert.Single(SnapshotMetadata.Settings(SnapshotMetadata.PromptSpanSetting(2, "rain | snow", 7)));
        Assert.True(SnapshotMetadata.IsPromptSpan(key));
        Assert.Equal(("rain | snow", 7L), SnapshotMetadata.PromptSpanValue(value));
        Assert.False(SnapshotMetadata.IsPromptSpan("negativePrompt"));
        Assert.Null(SnapshotMetadata.PromptSpanValue("fog"));
        Assert.Null(SnapshotMetadata.PromptSpanValue("fog|seven"));
        Assert.Null(SnapshotMetadata.PromptSpanValue("fog|-7"));
    }
}
