using System.Reflection;
using FifoPipes.Abstractions;
using FifoPipes.Core;
using FifoPipes.Models.Analytic;
using FifoPipes.Samplers.Baselines;
using FifoPipes.Samplers.Fifo;
using FifoPipes.Tests.Parity;
using FifoPipes.Tests.Sampling;
using Xunit;
using static TorchSharp.torch;

namespace FifoPipes.Tests.Baselines;

/// <summary>The baseline samplers end to end on a tiny analytic model (4 x 4 latents, f = 4, S = 8).</summary>
public sealed class BaselineSamplerTests
{
    static AnalyticModel Model(double guidance = 1.5) =>
        new(new AnalyticOptions { Channels = 2, Height = 4, Width = 4, Frames = 4, Partitions = 2, Guidance = guidance });

    static SamplingJob Job(IVideoModel model, int frames, long seed = 7, IReadOnlyList<PromptSpan>? prompts = null) => new()
    {
        Model = model,
        Prompts = prompts ?? new[] { new PromptSpan("slow clouds", frames) },
        Noise = new KeyedNoise(seed),
        Seed = seed,
    };

    static List<LatentFrame> Frames(ISampler sampler, SamplingJob job) => sampler.Sample(job, CancellationToken.None).ToList();

    static List<Tensor> Latents(ISampler sampler, SamplingJob job) => Frames(sampler, job).Select(f => f.Latent).ToList();

    static ISampler Create(ISamplerFactory factory, object? options) => factory.Create(options, new PluginContext());

    public static IEnumerable<object[]> Samplers() => new[]
    {
        new object[] { "chunked", new ChunkedOptions() },
        new object[] { "gen-l-video", new GenLVideoOptions() },
        new object[] { "freenoise", new FreeNoiseOptions() },
        new object[] { "gen-l-video triangle stride 1", new GenLVideoOptions { Stride = 1, Weighting = "triangle" } },
    };

    static ISamplerFactory FactoryFor(object options) => options switch
    {
        ChunkedOptions => new ChunkedSamplerFactory(),
        GenLVideoOptions => new GenLVideoSamplerFactory(),
        FreeNoiseOptions => new FreeNoiseSamplerFactory(),
        _ => throw new ArgumentException(options.GetType().Name),
    };

    [Theory]
    [MemberData(nameof(Samplers))]
    public void Yields_every_frame_in_order_with_its_prompt(string name, object options)
    {
        using var model = Model();
        var prompts = new[] { new PromptSpan("slow clouds", 6), new PromptSpan("red fire", 5) };
        var frames = Frames(Create(FactoryFor(options), options), Job(model, 11, prompts: prompts));
        Assert.Equal(Enumerable.Range(0, 11).Select(i => (long)i), frames.Select(f => f.Index));
        Assert.All(frames, f => Assert.Equal(new long[] { 2, 4, 4 }, f.Latent.shape));
        Assert.All(frames, f => Assert.True(f.Latent.isfinite().all().item<bool>(), $"{name}: frame {f.Index} is not finite"));
        // Each frame carries the prompt it was made under: a chunked clip takes the prompt covering most of it (frames
        // 4-7 split 2:2, the earlier wins), a window its middle frame's, and a frame that of the window centred nearest.
        var expected = name == "chunked" ? (Clouds: 8, Fire: 3) : (Clouds: 6, Fire: 5);
        Assert.Equal(Enumerable.Repeat("slow clouds", expected.Clouds).Concat(Enumerable.Repeat("red fire", expected.Fire)), frames.Select(f => f.Prompt));
    }

    [Fact]
    public void A_chunked_clip_takes_the_prompt_covering_most_of_it_and_prompts_that_moved_or_went_unused_are_named()
    {
        var model = DelegateVideoModel.Linear(frames: 4);
        var log = new RecordingSink();
        var spans = new[] { new PromptSpan("slow clouds", 5), new PromptSpan("red fire", 2), new PromptSpan("ocean", 5) };
        var frames = Frames(Create(new ChunkedSamplerFactory(), null), Job(model, 12, prompts: spans) with { Log = log });
        Assert.Contains(model.Calls, c => c.Prompts.Contains("red fire"));
        Assert.Equal(new[] { "slow clouds", "red fire", "ocean" }, frames.Chunk(4).Select(clip => Assert.Single(clip.Select(f => f.Prompt).Distinct())));
        // Every prompt takes a clip, but not its own frames: the switches moved to clip boundaries, and the user hears where.
        Assert.Contains("prompts switch at clip boundaries: 'slow clouds' conditions frames 0-3, not 0-4; 'red fire' conditions frames 4-7, not 5-6; " +
                        "'ocean' conditions frames 8-11, not 7-11.", Assert.Single(log.Warnings));
        log.Warnings.Clear();
        Frames(Create(new ChunkedSamplerFactory(), null), Job(DelegateVideoModel.Linear(frames: 4), 12,
            prompts: new[] { new PromptSpan("slow clouds", 8), new PromptSpan("red fire", 4) }) with { Log = log });
        Assert.Empty(log.Warnings);

        // One frame of fire among four: no clip is mostly fire, and the warning says so by name.
        var shortSpan = new[] { new PromptSpan("slow clouds", 5), new PromptSpan("red fire", 1), new PromptSpan("ocean", 6) };
        Frames(Create(new ChunkedSamplerFactory(), null), Job(DelegateVideoModel.Linear(frames: 4), 12, prompts: shortSpan) with { Log = log });
        Assert.Contains(log.Warnings, w => w.Contains("'red fire' (frames 5-5) conditions nothing"));
    }

    [Fact]
    public void Window_batching_bounds_the_tensors_alive_within_a_step()
    {
        var model = DelegateVideoModel.Linear(frames: 4);
        var live = new List<long>();
        model.BeforeCall = _ => live.Add(TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        var options = new GenLVideoOptions { Stride = 1, WindowBatch = 1, Steps = 2 };
        Frames(Create(new GenLVideoSamplerFactory(), options), Job(model, 64));
        // 61 windows a step, one per call: what a call leaves behind must go before the next, not pile up until the step ends.
        Assert.True(live[60] - live[0] < 20, $"live tensors grew from {live[0]} to {live[60]} within one step");
    }

    [Theory]
    [MemberData(nameof(Samplers))]
    public void Same_seed_same_video_other_seed_other_video(string name, object options)
    {
        using var model = Model();
        var sampler = Create(FactoryFor(options), options);
        var first = Latents(sampler, Job(model, 9));
        TensorAssert.Identical(first, Latents(sampler, Job(model, 9)), name + " rerun");
        var other = Latents(sampler, Job(model, 9, seed: 8));
        Assert.False(first[0].eq(other[0]).all().item<bool>(), $"{name}: another seed gave the same first frame");
    }

    [Fact]
    public void A_video_shorter_than_one_window_is_cut_from_one_window()
    {
        using var model = Model();
        Assert.Equal(3, Frames(Create(new GenLVideoSamplerFactory(), null), Job(model, 3)).Count);
        Assert.Equal(3, Frames(Create(new ChunkedSamplerFactory(), null), Job(model, 3)).Count);
    }

    [Fact]
    public void Chunked_clip_batching_does_not_change_a_single_value()
    {
        using var model = Model();
        List<Tensor> Run(int batch) => Latents(Create(new ChunkedSamplerFactory(), new ChunkedOptions { ClipBatch = batch }), Job(model, 11));
        var one = Run(1);
        TensorAssert.Identical(one, Run(2), "clipBatch 2");
        TensorAssert.Identical(one, Run(5), "clipBatch 5");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Window_batching_does_not_change_a_single_value(bool freeNoise)
    {
        using var model = Model();
        List<Tensor> Run(int batch) => freeNoise
            ? Latents(Create(new FreeNoiseSamplerFactory(), new FreeNoiseOptions { WindowBatch = batch }), Job(model, 11))
            : Latents(Create(new GenLVideoSamplerFactory(), new GenLVideoOptions { WindowBatch = batch }), Job(model, 11));
        var all = Run(0);
        TensorAssert.Identical(all, Run(1), "windowBatch 1");
        TensorAssert.Identical(all, Run(3), "windowBatch 3");
    }

    [Fact]
    public void The_first_chunk_is_the_fifo_base_clip()
    {
        // Same table, same keyed noise (frame m, BaseStart / BaseStep), same x0 scale: chunked's first clip and FIFO's base clip agree.
        using var model = Model();
        var job = Job(model, 4);
        var chunk = Latents(Create(new ChunkedSamplerFactory(), null), job);
        var plan = FifoPlan.Resolve(new FifoOptions(), model.Info, job);
        using var cond = model.Encode("slow clouds");
        using var uncond = model.Encode("");
        using var clip = BaseClipSampler.Sample(plan, new GuidedDenoiser(model, plan.Guidance), cond, uncond, job.Noise, CPU, CancellationToken.None);
        for (int m = 0; m < 4; m++)
            Assert.True(clip[.., m].allclose(chunk[m], rtol: 1e-5, atol: 1e-6), $"frame {m} differs from the base clip");
    }

    [Fact]
    public void Co_denoising_with_disjoint_windows_is_chunked_sampling()
    {
        // Stride f: windows do not overlap, each frame has one prediction, and the noise keys are the chunked ones.
        using var model = Model();
        var chunked = Latents(Create(new ChunkedSamplerFactory(), null), Job(model, 12));
        var windows = Latents(Create(new GenLVideoSamplerFactory(), new GenLVideoOptions { Stride = 4 }), Job(model, 12));
        for (int t = 0; t < 12; t++)
            Assert.True(chunked[t].allclose(windows[t], rtol: 1e-5, atol: 1e-6), $"frame {t} differs");
    }

    [Fact]
    public void Overlapping_windows_tie_neighbouring_chunks_together()
    {
        using var model = Model();
        var chunked = Latents(Create(new ChunkedSamplerFactory(), null), Job(model, 12));
        var overlapped = Latents(Create(new GenLVideoSamplerFactory(), new GenLVideoOptions { Stride = 2 }), Job(model, 12));
        Assert.False(chunked[5].allclose(overlapped[5], rtol: 1e-3, atol: 1e-4), "overlapping windows changed nothing");
    }

    [Fact]
    public void Window_starts_cover_the_video_with_the_last_window_flush()
    {
        Assert.Equal(new[] { 0, 2, 4, 6 }, WindowCoDenoiser.WindowStarts(10, 4, 2));
        Assert.Equal(new[] { 0, 2, 4, 6, 7 }, WindowCoDenoiser.WindowStarts(11, 4, 2));
        Assert.Equal(new[] { 0, 4, 8, 9 }, WindowCoDenoiser.WindowStarts(13, 4, 4));
        Assert.Equal(new[] { 0 }, WindowCoDenoiser.WindowStarts(4, 4, 3));
        Assert.Equal(new float[] { 1, 2, 2, 1 }, WindowCoDenoiser.PositionWeights(4, WindowWeighting.Triangle));
    }

    [Theory]
    [InlineData(8, 2)]
    [InlineData(8, 8)]
    [InlineData(16, 4)]
    [InlineData(6, 4)]
    public void Rescheduled_noise_repeats_the_first_window_locally_shuffled(int window, int stride)
    {
        var memo = new Dictionary<int, long>();
        var sources = Enumerable.Range(0, 10 * window).Select(t => NoiseRescheduling.Source(t, window, stride, 11, memo)).ToArray();
        Assert.Equal(Enumerable.Range(0, window).Select(i => (long)i), sources.Take(window));
        Assert.All(sources, s => Assert.InRange(s, 0, window - 1));
        for (int chunk = window; chunk < sources.Length; chunk += stride)
        {
            int length = Math.Min(stride, sources.Length - chunk);
            var here = sources.Skip(chunk).Take(length).OrderBy(s => s);
            var before = sources.Skip(chunk - window).Take(stride).OrderBy(s => s).Take(length);
            if (length == stride) Assert.Equal(before, here);
        }
        // Asked in another order, without a memo, the answer is the same.
        for (int t = sources.Length - 1; t >= 0; t -= 3) Assert.Equal(sources[t], NoiseRescheduling.Source(t, window, stride, 11));
        if (stride > 1) Assert.NotEqual(sources.Skip(window).Take(window * 4), Enumerable.Range(0, 4).SelectMany(_ => Enumerable.Range(0, window)).Select(i => (long)i));
    }

    [Fact]
    public void Freenoise_starts_every_window_from_the_first_windows_noise()
    {
        // Frame t of the start noise is exactly the keyed noise of its rescheduled source frame.
        using var model = Model();
        var options = new FreeNoiseOptions { Stride = 2 };
        var plan = ClipPlan.Resolve(options, model.Info, "freenoise");
        var noise = new KeyedNoise(7);
        var memo = new Dictionary<int, long>();
        using var start = WindowCoDenoiser.FrameNoise(plan, noise, 12, NoisePurpose.BaseStart, 0, t => NoiseRescheduling.Source(t, 4, 2, 7, memo), CPU);
        for (int t = 4; t < 12; t++)
        {
            long source = NoiseRescheduling.Source(t, 4, 2, 7);
            using var expected = noise.Normal(plan.LatentShape, source, NoisePurpose.BaseStart, 0);
            Assert.True(start[0, .., t].eq(expected).all().item<bool>(), $"frame {t} does not start from frame {source}'s noise");
        }
    }

    [Fact]
    public void A_freenoise_run_gives_every_window_the_rescheduled_noise_of_its_frames()
    {
        // The sampler itself, not the helpers it uses: the model sees, at the first step, each frame's start noise.
        const int Frames = 12;
        // Each row of the first step's calls (one window), frame by frame, as plain numbers: the sampler disposes its tensors.
        var windows = new List<float[][]>();
        long? startLevel = null;
        var linear = DelegateVideoModel.Linear(frames: 4, partitions: 2);
        using var model = new DelegateVideoModel(linear.Info, (x, t, _) =>
        {
            startLevel ??= t.max().item<long>();
            if (t.min().item<long>() == startLevel)
                for (int row = 0; row < x.shape[0]; row++)
                    windows.Add(Enumerable.Range(0, (int)x.shape[2]).Select(m =>
                    {
                        using var slice = x[row, .., m].contiguous();
                        return slice.data<float>().ToArray();
                    }).ToArray());
            return zeros_like(x);
        });
        var job = Job(model, Frames);
        foreach (var frame in Create(new FreeNoiseSamplerFactory(), new FreeNoiseOptions { Stride = 2, Fusion = "predictions" }).Sample(job, CancellationToken.None))
            frame.Latent.Dispose();

        var shape = new long[] { model.Info.LatentChannels, model.Info.LatentHeight, model.Info.LatentWidth };
        float[] StartNoise(int t)
        {
            using var noise = job.Noise.Normal(shape, NoiseRescheduling.Source(t, 4, 2, job.Seed), NoisePurpose.BaseStart, 0);
            return noise.data<float>().ToArray();
        }
        var expected = Enumerable.Range(0, Frames).Select(StartNoise).ToArray();
        static bool Same(float[] a, float[] b) => a.Zip(b).All(p => Math.Abs(p.First - p.Second) <= 1e-6);
        // Every window start (stride 2) has a window holding the rescheduled noise of its own frames, in order, and no
        // window holds anything else.
        bool Holds(float[][] window, int start) => window.Select((f, m) => Same(f, expected[start + m])).All(ok => ok);
        Assert.All(new[] { 0, 2, 4, 6, 8 }, start => Assert.Contains(windows, w => Holds(w, start)));
        Assert.All(windows, w => Assert.Contains(Enumerable.Range(0, Frames - 3), start => Holds(w, start)));
        // Past the first window every frame borrows another's noise: a sampler drawing its own would fail above.
        Assert.All(Enumerable.Range(4, Frames - 4), t => Assert.InRange(NoiseRescheduling.Source(t, 4, 2, job.Seed), 0, 3));
    }

    [Theory]
    [InlineData("stride", 5)]
    [InlineData("weighting", 0)]
    [InlineData("steps", 0)]
    public void Bad_options_are_refused_with_the_option_named(string option, int value)
    {
        using var model = Model();
        var options = new GenLVideoOptions();
        switch (option)
        {
            case "stride": options.Stride = value; break;
            case "weighting": options.Weighting = "gaussian"; break;
            case "steps": options.Steps = value; break;
        }
        var e = Assert.Throws<FifoInputException>(() => Create(new GenLVideoSamplerFactory(), options).Sample(Job(model, 8), CancellationToken.None));
        Assert.Contains($"'{option}'", e.Message);
    }

    [Fact]
    public void Start_frames_are_refused()
    {
        using var model = Model();
        var job = new SamplingJob { Model = model, Prompts = new[] { new PromptSpan("clouds", 8) }, Noise = new KeyedNoise(1), InitLatents = zeros(2, 1, 4, 4) };
        Assert.Throws<FifoInputException>(() => Create(new ChunkedSamplerFactory(), null).Sample(job, CancellationToken.None));
        Assert.Throws<FifoInputException>(() => Create(new FreeNoiseSamplerFactory(), null).Sample(job, CancellationToken.None));
    }

    static JobInputs Inputs(params PromptSpan[] prompts) => new() { Prompts = prompts };

    [Theory]
    [InlineData("gen-l-video")]
    [InlineData("freenoise")]
    public void A_video_the_whole_video_samplers_cannot_hold_is_refused_by_their_check_before_the_load(string name)
    {
        ISamplerFactory factory = name == "freenoise" ? new FreeNoiseSamplerFactory() : new GenLVideoSamplerFactory();
        var info = Model().Info;
        // More frames than an int counts: the run used to overflow after the model had loaded.
        var endless = Assert.Throws<FifoInputException>(() => factory.Check(null, info, Inputs(new PromptSpan("a", 2_000_000_000), new PromptSpan("b", 2_000_000_000)), new PluginContext()));
        Assert.Equal("VideoTooLong", endless.ErrorId);
        Assert.Equal($"The {name} sampler denoises the whole video at once and takes at most 2,147,483,647 frames; the prompts ask for 4,000,000,000: " +
                     "ask for fewer frames, or use the fifo sampler, which streams a video of any length in constant memory.", endless.Message);
        // Countable, but 10^9 frames of 2 x 64 x 64 latents held five times over are 152 TiB, more than any machine has.
        var large = info with { LatentHeight = 64, LatentWidth = 64 };
        var unholdable = Assert.Throws<FifoInputException>(() => factory.Check(null, large, Inputs(new PromptSpan("a", 1_000_000_000)), new PluginContext()));
        Assert.Equal("VideoTooLong", unholdable.ErrorId);
        Assert.StartsWith($"The {name} sampler denoises the whole video at once, holding its latents 5 times over: 1,000,000,000 frames of [2, 64, 64] latents need about 152,587.9 GiB, " +
                          "more than this machine's ", unholdable.Message);
        Assert.EndsWith("use the fifo sampler, which streams a video of any length in constant memory.", unholdable.Message);
        // The run refuses it too, before a model call, in the same words.
        using var model = Model();
        var atRun = Assert.Throws<FifoInputException>(() => Create(factory, null).Sample(Job(model, 0, prompts: new PromptSpan[] { new("a", 2_000_000_000), new PromptSpan("b", 2_000_000_000) }), CancellationToken.None));
        Assert.Equal(endless.Message, atRun.Message);
        factory.Check(null, info, Inputs(new PromptSpan("a", 100_000)), new PluginContext());
    }

    [Fact]
    public void Freenoise_refuses_attention_fusion_a_described_model_lacks_or_a_prompt_schedule_before_the_load()
    {
        var options = new FreeNoiseOptions { Fusion = "attention" };
        var info = Model().Info;
        Assert.False(info.FusesTemporalAttention);
        var plain = Assert.Throws<FifoInputException>(() => new FreeNoiseSamplerFactory().Check(options, info, Inputs(new PromptSpan("a", 8)), new PluginContext()));
        Assert.Equal(("BadSamplerOption", "fusion"), (plain.ErrorId, plain.Option));
        Assert.Equal("freenoise sampler option 'fusion': 'attention' needs a model with window-fused temporal attention (videocrafter, zeroscope); 'analytic' has none. Use fusion: predictions.", plain.Message);
        var fusing = info with { FusesTemporalAttention = true };
        new FreeNoiseSamplerFactory().Check(options, fusing, Inputs(new PromptSpan("a", 8)), new PluginContext());
        var schedule = Assert.Throws<FifoInputException>(() => new FreeNoiseSamplerFactory().Check(options, fusing, Inputs(new PromptSpan("a", 4), new PromptSpan("b", 4)), new PluginContext()));
        Assert.Contains("this video has a prompt schedule", schedule.Message);
        // A model that does not say is left to the loaded model's own answer.
        new FreeNoiseSamplerFactory().Check(options, info with { FusesTemporalAttention = null }, Inputs(new PromptSpan("a", 8)), new PluginContext());
        new FreeNoiseSamplerFactory().Check(new FreeNoiseOptions(), info, Inputs(new PromptSpan("a", 4), new PromptSpan("b", 4)), new PluginContext());
    }

    [Theory]
    [InlineData("chunked")]
    [InlineData("gen-l-video")]
    [InlineData("freenoise")]
    public void A_negative_prompt_guidance_never_runs_is_warned_of_once_by_the_check_before_the_load(string name)
    {
        ISamplerFactory factory = name switch { "chunked" => new ChunkedSamplerFactory(), "freenoise" => new FreeNoiseSamplerFactory(), _ => new GenLVideoSamplerFactory() };
        using var model = Model(guidance: 1);
        var log = new RecordingSink();
        factory.Check(null, model.Info, Inputs(new PromptSpan("clouds", 4)) with { NegativePrompt = "rain" }, new PluginContext(log));
        Assert.Equal("The negative prompt 'rain' has no effect at guidance 1, where only the conditional branch runs; raise guidance to use it.", Assert.Single(log.Warnings));
        var sampled = new RecordingSink();
        Create(factory, null).Sample(Job(model, 4) with { NegativePrompt = "rain", Log = sampled }, CancellationToken.None).ToList();
        Assert.DoesNotContain(sampled.Warnings, w => w.Contains("negative prompt"));
    }

    [Theory]
    [InlineData(typeof(ChunkedSamplerFactory), "chunked", typeof(ChunkedOptions))]
    [InlineData(typeof(GenLVideoSamplerFactory), "gen-l-video", typeof(GenLVideoOptions))]
    [InlineData(typeof(FreeNoiseSamplerFactory), "freenoise", typeof(FreeNoiseOptions))]
    public void Factories_are_exported_as_sampler_plugins(Type factory, string name, Type optionsType)
    {
        var attribute = factory.GetCustomAttribute<FifoPluginAttribute>()!;
        Assert.Equal(PluginKind.Sampler, attribute.Kind);
        Assert.Equal(name, attribute.Name);
        Assert.Equal(optionsType, attribute.OptionsType);
        Assert.False(string.IsNullOrWhiteSpace(attribute.Description));
        Assert.True(typeof(ISamplerFactory).IsAssignableFrom(factory));
    }

    [Fact]
    public void Freenoise_names_where_it_fuses_attention_and_where_it_reschedules_alone()
    {
        var attribute = typeof(FreeNoiseSamplerFactory).GetCustomAttribute<FifoPluginAttribute>()!;
        Assert.Contains("window-fused temporal attention", attribute.Description);
        Assert.Contains("rescheduling alone", attribute.Description);
    }

    [Fact]
    public void Freenoise_samples_ddim_with_eta_0_by_default_and_ddpm_where_asked_or_where_the_model_does()
    {
        using var model = Model();
        var stochastic = model.Info with { Defaults = model.Info.Defaults with { Step = StepKind.Ddim, Eta = 1.0 } };
        Assert.Equal(0.0, ClipPlan.Resolve(new FreeNoiseOptions(), stochastic, "freenoise").Eta);
        Assert.Equal(0.5, ClipPlan.Resolve(new FreeNoiseOptions { Eta = 0.5 }, stochastic, "freenoise").Eta);
        Assert.Equal(1.0, ClipPlan.Resolve(new GenLVideoOptions(), stochastic, "gen-l-video").Eta);
        // Its eta 0 is a default, not a setting: under DDPM (asked for, or the model's own, as Open-Sora Plan's) it is no refusal.
        var asked = new FreeNoiseOptions { Step = "ddpm" };
        Assert.Empty(asked.Validate());
        Assert.Equal(StepKind.Ddpm, ClipPlan.Resolve(asked, stochastic, "freenoise").Table.Kind);
        var ddpmModel = model.Info with { Defaults = model.Info.Defaults with { Step = StepKind.Ddpm } };
        Assert.Equal(StepKind.Ddpm, ClipPlan.Resolve(new FreeNoiseOptions(), ddpmModel, "freenoise").Table.Kind);
        // A user's eta under DDPM is still named as having no effect.
        Assert.Contains(new FreeNoiseOptions { Step = "ddpm", Eta = 0.0 }.Validate(), p => p.Option == "eta");
    }
}

/// <summary>The baselines as the host sees them: loaded from the plugins folder through MEF.</summary>
public sealed class BaselinePluginHostTests
{
    [Theory]
    [InlineData("chunked", "clipBatch")]
    [InlineData("gen-l-video", "stride")]
    [InlineData("freenoise", "weighting")]
    public void Host_finds_the_sampler_with_its_options(string name, string option)
    {
        var host = FifoPipes.Tests.Hosting.TestPlugins.Host;
        var plugin = host.Require(PluginKind.Sampler, name);
        Assert.Contains(plugin.Options, o => o.Name == option);
        Assert.Contains(plugin.Options, o => o.Name == "steps");
        Assert.IsAssignableFrom<ISamplerFactory>(plugin.Create<ISamplerFactory>());
    }
}
