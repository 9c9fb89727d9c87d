using System.Composition;
using FifoPipes.Abstractions;
using FifoPipes.Core;
using FifoPipes.Samplers.Fifo;
using FifoPipes.Tests.Parity;
using Xunit;
using static TorchSharp.torch;

namespace FifoPipes.Tests.Sampling;

/// <summary>The sampler end to end on a deterministic linear test model.</summary>
public sealed class FifoSamplerTests : IDisposable
{
    readonly string folder = Path.Combine(Path.GetTempPath(), "fifo-sampler-tests-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
    }

    static SamplingJob Job(IVideoModel model, int frames = 10, SnapshotPolicy? snapshots = null, string? resumeFrom = null,
        IReadOnlyList<PromptSpan>? prompts = null, string runHash = "run-a") => new()
    {
        Model = model,
        Prompts = prompts ?? new[] { new PromptSpan("slow clouds", frames) },
        Noise = new KeyedNoise(42),
        Seed = 42,
        Snapshots = snapshots,
        ResumeFrom = resumeFrom,
        RunHash = runHash,
    };

    /// <summary>Stands in for the engine: each staged snapshot is committed as soon as its frame is taken.</summary>
    static List<Tensor> Latents(ISampler sampler, SamplingJob job, int? take = null)
    {
        var frames = sampler.Sample(job, CancellationToken.None);
        return (take is { } n ? frames.Take(n) : frames).Select(f => { f.Snapshot?.Commit(); return f.Latent; }).ToList();
    }

    static ISampler Sampler(FifoOptions options) => new FifoSamplerFactory().Create(options, new PluginContext());

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Window_batching_does_not_change_a_single_value(bool lookahead)
    {
        var model = DelegateVideoModel.Linear();
        List<Tensor> Run(int batch) => Latents(Sampler(new FifoOptions { Lookahead = lookahead, WindowBatch = batch.ToString() }), Job(model));
        var all = Run(0);
        Assert.Equal(10, all.Count);
        Assert.All(all, t => Assert.True(t.isfinite().all().item<bool>()));
        TensorAssert.Identical(all, Run(1), "windowBatch 1");
        TensorAssert.Identical(all, Run(2), "windowBatch 2");
    }

    [Fact]
    public void Window_batch_sets_the_model_batch_with_cond_and_uncond_together()
    {
        var model = DelegateVideoModel.Linear();
        _ = Latents(Sampler(new FifoOptions { WindowBatch = "3", Start = "noise", WarmupIterations = 0 }), Job(model, frames: 1));
        // 2n = 4 windows per iteration in batches of 3 and 1, each doubled for guidance.
        Assert.Equal(new[] { 6, 2 }, model.Calls.Select(c => c.Batch));
        Assert.Equal(new[] { "slow clouds", "slow clouds", "slow clouds", "", "", "" }, model.Calls[0].Prompts);

        var negative = DelegateVideoModel.Linear();
        _ = Latents(Sampler(new FifoOptions { WindowBatch = "3", Start = "noise", WarmupIterations = 0 }), Job(negative, frames: 1) with { NegativePrompt = "blurry" });
        Assert.Equal(new[] { "slow clouds", "slow clouds", "slow clouds", "blurry", "blurry", "blurry" }, negative.Calls[0].Prompts);
    }

    [Fact]
    public void A_resumed_run_equals_the_uninterrupted_run()
    {
        var model = DelegateVideoModel.Linear();
        var options = new FifoOptions { WindowBatch = "2" };
        var uninterrupted = Latents(Sampler(options), Job(model));

        var snapshot = Path.Combine(folder, "run.safetensors");
        var firstPart = Latents(Sampler(options), Job(model, snapshots: new SnapshotPolicy(snapshot, 3)), take: 4);
        Assert.True(File.Exists(snapshot));
        TensorAssert.Identical(uninterrupted.Take(4).ToList(), firstPart, "before the interruption");

        var log = new RecordingSink();
        var resumed = Sampler(options).Sample(Job(model, resumeFrom: snapshot) with { Log = log }, CancellationToken.None).ToList();
        Assert.Equal(Enumerable.Range(3, 7).Select(i => (long)i), resumed.Select(f => f.Index));
        TensorAssert.Identical(uninterrupted.Skip(3).ToList(), resumed.Select(f => f.Latent).ToList(), "after resuming");
        Assert.Empty(log.Warnings);

        // A snapshot from before the noise was FifoPipes' own still resumes, saying its new frames are not the old version's.
        var (tensors, metadata) = FifoPipes.Torch.Checkpoints.SafetensorsFile.LoadWithMetadata(snapshot);
        var older = Path.Combine(folder, "older.safetensors");
        FifoPipes.Torch.Checkpoints.SafetensorsFile.Save(older, tensors, metadata.Where(kv => kv.Key != "noise").ToDictionary(kv => kv.Key, kv => kv.Value));
        foreach (var t in tensors.Values) t.Dispose();
        var olderLog = new RecordingSink();
        Assert.Equal(7, Sampler(options).Sample(Job(model, resumeFrom: older) with { Log = olderLog }, CancellationToken.None).Count());
        Assert.Contains(olderLog.Warnings, w => w.Contains("was made with libtorch's generator") && w.Contains(KeyedNoise.Generator));
    }

    [Fact]
    public void A_snapshot_records_its_plugins_versions_and_a_resume_with_others_goes_on_saying_so()
    {
        var model = DelegateVideoModel.Linear();
        const string madeWith = "model linear 1.0.0; sampler fifo 1.2.0";
        var snapshot = Path.Combine(folder, "versions.safetensors");
        _ = Latents(Sampler(new FifoOptions()), Job(model, snapshots: new SnapshotPolicy(snapshot, 3)) with { RunPlugins = madeWith }, take: 4);
        Assert.Equal(madeWith, FifoPipes.Torch.Checkpoints.SafetensorsFile.ReadMetadata(snapshot)[SnapshotMetadata.Plugins]);

        List<string> WarningsResumingWith(string runPlugins)
        {
            var log = new RecordingSink();
            Assert.Equal(7, Sampler(new FifoOptions()).Sample(Job(model, resumeFrom: snapshot) with { RunPlugins = runPlugins, Log = log }, CancellationToken.None).Count());
            return log.Warnings.ToList();
        }
        Assert.Empty(WarningsResumingWith(madeWith));
        // A host that does not say which plugins run has nothing to compare.
        Assert.Empty(WarningsResumingWith(""));
        Assert.Equal($"fifo: snapshot '{snapshot}' was made with {madeWith}, and this run has model linear 1.0.0; sampler fifo 1.3.0: the frames from here on " +
                     "continue the video, but other versions of these plugins may not make those the run that wrote it would have gone on to make.",
            Assert.Single(WarningsResumingWith("model linear 1.0.0; sampler fifo 1.3.0")));
    }

    [Fact]
    public void A_resumed_run_first_replays_the_latents_its_snapshot_kept_for_the_decoder()
    {
        var model = DelegateVideoModel.Linear();
        var uninterrupted = Latents(Sampler(new FifoOptions()), Job(model));
        var snapshot = Path.Combine(folder, "kept.safetensors");
        _ = Latents(Sampler(new FifoOptions()), Job(model, snapshots: new SnapshotPolicy(snapshot, 5)) with { KeepLatents = 3 }, take: 5);

        var resumed = Sampler(new FifoOptions()).Sample(Job(model, resumeFrom: snapshot) with { KeepLatents = 3 }, CancellationToken.None).ToList();
        Assert.Equal(new long[] { 2, 3, 4, 5, 6, 7, 8, 9 }, resumed.Select(f => f.Index));
        Assert.Equal(new[] { true, true, true, false, false, false, false, false }, resumed.Select(f => f.Replayed));
        TensorAssert.Identical(uninterrupted.Skip(2).ToList(), resumed.Select(f => f.Latent).ToList(), "replayed, then new");

        // A decoder that holds more back than the snapshot kept cannot continue from it.
        var short_ = Assert.Throws<FifoInputException>(() =>
            Sampler(new FifoOptions()).Sample(Job(model, resumeFrom: snapshot) with { KeepLatents = 4 }, CancellationToken.None).First());
        Assert.Equal("SnapshotMismatch", short_.ErrorId);
        Assert.Contains("keeps 3 of the last output latents", short_.Message);
    }

    [Fact]
    public void Snapshots_are_staged_with_the_frame_they_follow_under_names_of_their_own()
    {
        var model = DelegateVideoModel.Linear();
        var snapshot = Path.Combine(folder, "staged.safetensors");
        var policy = new SnapshotPolicy(snapshot, 2);

        var frames = Sampler(new FifoOptions()).Sample(Job(model, frames: 6, snapshots: policy), CancellationToken.None).ToList();

        Assert.Equal(new long?[] { null, 2, null, 4, null, 6 }, frames.Select(f => f.Snapshot?.FramesBefore));
        Assert.False(File.Exists(snapshot), "the sampler never commits a snapshot itself; the engine does once the frames are written");
        Assert.All(frames.Where(f => f.Snapshot is not null), f => Assert.True(File.Exists(f.Snapshot!.StagedPath)));
        Assert.NotEqual(policy.Stage(2).StagedPath, policy.Stage(2).StagedPath);
    }

    [Fact]
    public void A_snapshot_that_cannot_be_written_costs_its_resume_point_not_the_run()
    {
        var model = DelegateVideoModel.Linear();
        Directory.CreateDirectory(folder);
        // The snapshots' folder turns into a file after the first one (a share lost, say): no permission needed, so root sees it too.
        var policy = new SnapshotPolicy(Path.Combine(folder, "sub", "run.snapshot"), 2);
        var log = new RecordingSink();
        var frames = new List<LatentFrame>();
        foreach (var frame in Sampler(new FifoOptions()).Sample(Job(model, frames: 6, snapshots: policy) with { Log = log }, CancellationToken.None))
        {
            frames.Add(frame);
            if (frame.Index == 2)
            {
                Directory.Delete(Path.Combine(folder, "sub"), recursive: true);
                File.WriteAllText(Path.Combine(folder, "sub"), "in the way");
            }
        }
        var plain = Latents(Sampler(new FifoOptions()), Job(model, frames: 6));
        Assert.Equal(plain.Select(Values), frames.Select(f => Values(f.Latent)));
        Assert.Equal(new long?[] { null, 2, null, null, null, null }, frames.Select(f => f.Snapshot?.FramesBefore));
        Assert.Equal(2, log.Warnings.Count);
        Assert.Contains("the snapshot after 4 frames could not be written to", log.Warnings[0]);
        Assert.Contains("the run goes on, and the last snapshot written stays its resume point", log.Warnings[0]);
    }

    static float[] Values(Tensor t) => t.data<float>().ToArray();

    [Fact]
    public void A_snapshot_of_another_run_is_refused_naming_both()
    {
        var model = DelegateVideoModel.Linear();
        var snapshot = Path.Combine(folder, "other.safetensors");
        _ = Latents(Sampler(new FifoOptions()), Job(model, snapshots: new SnapshotPolicy(snapshot, 2)), take: 3);

        var ex = Assert.Throws<FifoInputException>(() => Sampler(new FifoOptions()).Sample(Job(model, resumeFrom: snapshot, runHash: "run-b"), CancellationToken.None).First());
        Assert.Equal("SnapshotMismatch", ex.ErrorId);
        Assert.Contains("run-a", ex.Message);
        Assert.Contains("run-b", ex.Message);

        var shape = Assert.Throws<FifoInputException>(() => Sampler(new FifoOptions { Partitions = 3 }).Sample(Job(model, resumeFrom: snapshot), CancellationToken.None).First());
        Assert.Equal("SnapshotMismatch", shape.ErrorId);
        Assert.Contains("[2, 10, 3, 4]", shape.Message);
        Assert.Contains("[2, 14, 3, 4]", shape.Message);
    }

    [Fact]
    public void Prompts_switch_at_their_frames_and_a_one_frame_span_is_kept()
    {
        var model = DelegateVideoModel.Linear();
        var spans = new[] { new PromptSpan("red fire", 3), new PromptSpan("blue ocean", 1), new PromptSpan("green aurora", 4) };
        const int warmup = 5;
        var frames = Sampler(new FifoOptions { Start = "noise", WarmupIterations = warmup, WindowBatch = "1" })
            .Sample(Job(model, prompts: spans), CancellationToken.None).ToList();

        Assert.Equal(Enumerable.Range(0, 8).Select(i => (long)i), frames.Select(f => f.Index));
        var expected = new[] { "red fire", "red fire", "red fire", "blue ocean", "green aurora", "green aurora", "green aurora", "green aurora" };
        Assert.Equal(expected, frames.Select(f => f.Prompt));

        // Every window of iteration i is conditioned on the prompt of output frame i - warmup (4 windows per iteration).
        var condPrompts = model.Calls.Select(c => c.Prompts[0]).ToList();
        Assert.Equal((warmup + 8) * 4, condPrompts.Count);
        for (int i = 0; i < warmup + 8; i++)
            Assert.All(condPrompts.Skip(4 * i).Take(4), p => Assert.Equal(expected[Math.Max(0, i - warmup)], p));
    }

    [Fact]
    public void Cancellation_stops_before_the_next_model_call()
    {
        var model = DelegateVideoModel.Linear();
        using var cts = new CancellationTokenSource();
        const int cancelAt = 13;
        model.BeforeCall = call => { if (call == cancelAt) cts.Cancel(); };
        var sampler = Sampler(new FifoOptions { WindowBatch = "1", Start = "noise", WarmupIterations = 0 });
        int yielded = 0;
        Assert.ThrowsAny<OperationCanceledException>(() =>
        {
            foreach (var frame in sampler.Sample(Job(model, frames: 100), cts.Token)) yielded++;
        });
        Assert.Equal(cancelAt + 1, model.Calls.Count);
        Assert.Equal(3, yielded); // 4 calls per iteration: iterations 0..2 finished, the cancel came during iteration 3
    }

    [Fact]
    public void Base_clip_cache_reuses_the_clip()
    {
        var model = DelegateVideoModel.Linear();
        var options = new FifoOptions { BaseClipCache = Path.Combine(folder, "cache") };
        var first = Latents(Sampler(options), Job(model, frames: 3));
        int callsFirst = model.Calls.Count;
        Assert.Single(Directory.GetFiles(Path.Combine(folder, "cache")));
        model.Calls.Clear();
        var second = Latents(Sampler(options), Job(model, frames: 3));
        Assert.Equal(callsFirst - 8, model.Calls.Count); // S = 8 base steps skipped
        TensorAssert.Identical(first, second, "cached base clip");

        // The same name and shape with other weights or settings (a new fingerprint) samples its own base clip.
        var retrained = new DelegateVideoModel(model.Info with { Fingerprint = "other weights" }, (x, t, c) => model.PredictNoise(x, t, c) * 0.5);
        var third = Latents(Sampler(options), Job(retrained, frames: 3));
        Assert.Equal(2, Directory.GetFiles(Path.Combine(folder, "cache")).Length);
        Assert.False(third[0].equal(first[0]).all().item<bool>(), "a clip cached for other weights was reused");

        // A clip cached before the noise was recorded (libtorch's) has a key of its own, and is not taken for this noise.
        var plan = FifoPlan.Resolve(options, model.Info, Job(model, frames: 3));
        Assert.NotEqual(BaseClipCache.Key(model.Info, "slow clouds", 42, plan), BaseClipCache.Key(model.Info, "slow clouds", 42, plan, noise: KeyedNoise.Generator));
        Assert.Contains(Path.GetFileName(new BaseClipCache(folder).PathFor(BaseClipCache.Key(model.Info, "slow clouds", 42, plan, noise: KeyedNoise.Generator))),
            Directory.GetFiles(Path.Combine(folder, "cache")).Select(Path.GetFileName));
    }

    [Fact]
    public void A_base_clip_cache_that_is_a_file_is_refused_before_sampling_and_one_that_cannot_take_the_clip_only_warns()
    {
        var model = DelegateVideoModel.Linear();
        var file = Path.Combine(Directory.CreateDirectory(folder).FullName, "notes.txt");
        File.WriteAllText(file, "not a folder");
        var context = new PluginContext(workingDirectory: folder);
        var refused = Assert.Throws<FifoInputException>(() => new FifoSamplerFactory().Check(new FifoOptions { BaseClipCache = "notes.txt" }, model.Info, context));
        Assert.Equal(("BadSamplerOption", "baseClipCache"), (refused.ErrorId, refused.Option));
        Assert.Equal($"fifo sampler option 'baseClipCache': '{file}' is a file; give a folder for the cached base clips (it is made if missing).", refused.Message);
        Assert.Throws<FifoInputException>(() => new FifoSamplerFactory().Create(new FifoOptions { BaseClipCache = "notes.txt" }, context).Sample(Job(model, frames: 3), CancellationToken.None));
        Assert.Empty(model.Calls);

        // A folder that cannot be made (a file where its parent should be) costs the cache, not the run.
        var log = new RecordingSink();
        var uncached = new FifoSamplerFactory().Create(new FifoOptions { BaseClipCache = "notes.txt/cache" }, context)
            .Sample(Job(model, frames: 3) with { Log = log }, CancellationToken.None).ToList();
        Assert.Equal(3, uncached.Count);
        Assert.StartsWith($"fifo: the base clip was not cached in '{Path.Combine(folder, "notes.txt", "cache")}' (", Assert.Single(log.Warnings));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Every_batch_of_consecutive_windows_writes_consecutive_slots_and_others_are_refused(bool lookahead)
    {
        // The step noise of a batch is a view of the iteration's because of this: see PreparedWindowBatch.Create.
        var model = DelegateVideoModel.Linear(frames: 5, partitions: 3);
        var plan = FifoPlan.Resolve(new FifoOptions { Lookahead = lookahead }, model.Info, Job(model, frames: 3));
        for (int size = 1; size <= plan.Windows.Count; size++)
            foreach (var windows in plan.Windows.Chunk(size))
            {
                using var batch = PreparedWindowBatch.Create(plan, windows, CPU);
                Assert.Equal(Enumerable.Range(batch.WrittenSlots[0], batch.WrittenSlots.Count), batch.WrittenSlots);
            }
        var gap = new[] { plan.Windows[0], plan.Windows[2] };
        Assert.Contains("not consecutive", Assert.Throws<InvalidOperationException>(() => PreparedWindowBatch.Create(plan, gap, CPU)).Message);
    }

    [Fact]
    public void Start_latents_needs_matching_start_frames()
    {
        var model = DelegateVideoModel.Linear();
        var job = new SamplingJob
        {
            Model = model, Prompts = new[] { new PromptSpan("x", 2) }, Noise = new KeyedNoise(1), InitLatents = zeros(2, 3, 5, 5),
        };
        var ex = Assert.Throws<FifoInputException>(() => Sampler(new FifoOptions()).Sample(job, CancellationToken.None));
        Assert.Equal("BadStartLatents", ex.ErrorId);

        // 2 partitions of 4 frames: 8 denoising steps, so the queue holds at most 8 start frames, not 9 with one dropped.
        var tooMany = Assert.Throws<FifoInputException>(() => Sampler(new FifoOptions()).Sample(job with { InitLatents = zeros(2, 9, 3, 4) }, CancellationToken.None));
        Assert.Equal("BadStartLatents", tooMany.ErrorId);
        Assert.Contains("hold 9 frames, but the queue takes at most 8", tooMany.Message);
        Assert.NotEmpty(Sampler(new FifoOptions()).Sample(job with { InitLatents = zeros(2, 8, 3, 4) }, CancellationToken.None).Take(1).ToList());
    }

    [Fact]
    public void Impossible_options_are_reported()
    {
        var problems = new FifoOptions { Partitions = 0, Eta = 1.5, Step = "euler", WindowBatch = "-1", Start = "video", WarmupIterations = -2 }
            .Validate().Select(p => p.Option).ToList();
        Assert.Equal(new[] { "partitions", "eta", "step", "windowBatch", "start", "warmupIterations" }, problems);
        Assert.Empty(new FifoOptions().Validate());
        Assert.Throws<FifoInputException>(() => new FifoSamplerFactory().Create(new FifoOptions { Eta = -1 }, new PluginContext()));
    }

    [Fact]
    public void Options_for_another_start_are_refused_against_the_start_the_run_takes()
    {
        // No start given: the run starts from a base clip (or from the start frames), where a warm-up means nothing.
        var warmup = Assert.Throws<FifoInputException>(() => Sampler(new FifoOptions { WarmupIterations = 3 }).Sample(Job(DelegateVideoModel.Linear()), CancellationToken.None));
        Assert.Contains("'warmupIterations'", warmup.Message);
        Assert.Contains("base clip", warmup.Message);

        var model = DelegateVideoModel.Linear();
        var withFrames = Job(model) with { InitLatents = zeros(model.Info.LatentChannels, 2, model.Info.LatentHeight, model.Info.LatentWidth) };
        var cache = Assert.Throws<FifoInputException>(() => Sampler(new FifoOptions { BaseClipCache = folder }).Sample(withFrames, CancellationToken.None));
        Assert.Contains("'baseClipCache'", cache.Message);
        Assert.Contains("start frames", cache.Message);
    }

    [Fact]
    public void The_check_before_the_load_refuses_what_the_run_would_refuse_of_its_inputs()
    {
        var model = DelegateVideoModel.Linear().Info;
        var text = new JobInputs { Prompts = new[] { new PromptSpan("calm ocean", 6) } };
        FifoInputException Refused(FifoOptions options, JobInputs inputs) =>
            Assert.Throws<FifoInputException>(() => new FifoSamplerFactory().Check(options, model, inputs, new PluginContext(workingDirectory: folder)));

        var warmup = Refused(new FifoOptions { WarmupIterations = 2 }, text);
        Assert.Equal(("BadSamplerOption", "warmupIterations"), (warmup.ErrorId, warmup.Option));
        Assert.Equal("fifo sampler option 'warmupIterations': warmupIterations only applies to start: noise, and this run starts from a base clip " +
                     "(start: base, the default); remove it or set start: noise.", warmup.Message);
        Assert.Equal("start", Refused(new FifoOptions { Start = "latents" }, text).Option);
        var withFrames = text with { HasStartFrames = true };
        Assert.Equal("start", Refused(new FifoOptions { Start = "base" }, withFrames).Option);
        Assert.Equal("start", Refused(new FifoOptions { Start = "noise" }, withFrames).Option);
        Assert.Equal("baseClipCache", Refused(new FifoOptions { BaseClipCache = "cache" }, withFrames).Option);
        var restyling = text with { HasSource = true };
        Assert.Equal("start", Refused(new FifoOptions { Start = "noise" }, restyling).Option);
        Assert.Equal("tail", Refused(new FifoOptions { Tail = "lowfreq" }, restyling).Option);

        // The run refuses it in the same words when it samples: one check, before the load and of the job.
        var atRun = Assert.Throws<FifoInputException>(() => Sampler(new FifoOptions { WarmupIterations = 2 }).Sample(Job(DelegateVideoModel.Linear(), frames: 6), CancellationToken.None).ToList());
        Assert.Equal(warmup.Message, atRun.Message);
        // What fits its inputs passes.
        new FifoSamplerFactory().Check(new FifoOptions { Start = "noise", WarmupIterations = 2 }, model, text, new PluginContext());
        new FifoSamplerFactory().Check(new FifoOptions(), model, withFrames, new PluginContext());
    }

    [Fact]
    public void A_negative_prompt_guidance_never_runs_is_warned_of_once_by_the_check_before_the_load()
    {
        var model = DelegateVideoModel.Linear();
        var log = new RecordingSink();
        var inputs = new JobInputs { Prompts = new[] { new PromptSpan("calm ocean", 2) }, NegativePrompt = "blurry" };
        new FifoSamplerFactory().Check(new FifoOptions { Guidance = 1 }, model.Info, inputs, new PluginContext(log));
        Assert.Equal("The negative prompt 'blurry' has no effect at guidance 1, where only the conditional branch runs; raise guidance to use it.", Assert.Single(log.Warnings));
        // The run said it before its model loaded: sampling does not say it again.
        var sampled = new RecordingSink();
        Sampler(new FifoOptions { Guidance = 1 }).Sample(Job(model, frames: 2) with { NegativePrompt = "blurry", Log = sampled }, CancellationToken.None).ToList();
        Assert.Empty(sampled.Warnings);
        var guided = new RecordingSink();
        new FifoSamplerFactory().Check(new FifoOptions { Guidance = 2 }, model.Info, inputs, new PluginContext(guided));
        Assert.Empty(guided.Warnings);
    }

    [Fact]
    public void A_warm_up_of_more_than_a_few_queue_passes_is_refused_before_the_load()
    {
        // DelegateVideoModel: 4 window frames, 2 partitions, so 8 steps, and at most 4 passes of them.
        var model = DelegateVideoModel.Linear().Info;
        new FifoSamplerFactory().Check(new FifoOptions { Start = "noise", WarmupIterations = 32 }, model, new PluginContext());
        var endless = Assert.Throws<FifoInputException>(() => new FifoSamplerFactory().Check(new FifoOptions { Start = "noise", WarmupIterations = 1_000_000_000 }, model, new PluginContext()));
        Assert.Equal(("BadSamplerOption", "warmupIterations"), (endless.ErrorId, endless.Option));
        Assert.Equal("fifo sampler option 'warmupIterations': 1000000000 is more than 4 times the queue's 8 steps (32): after 8 iterations every output frame has grown " +
                     "from tail noise, and each iteration beyond only delays the first frame by a model call per window; set at most 32, or leave it out for 8.", endless.Message);
        Assert.Throws<FifoInputException>(() => new FifoSamplerFactory().Check(new FifoOptions { Start = "noise", WarmupIterations = 33 }, model, new PluginContext()));
    }

    [Fact]
    public void A_warm_up_shorter_than_the_steps_is_warned_of_and_eta_is_refused_beside_ddpm()
    {
        // DelegateVideoModel: 4 window frames, 2 partitions by default, so 8 steps.
        var log = new RecordingSink();
        Sampler(new FifoOptions { Start = "noise", WarmupIterations = 3 }).Sample(Job(DelegateVideoModel.Linear(), frames: 2) with { Log = log }, CancellationToken.None).ToList();
        Assert.Contains(log.Warnings, w => w.Contains("warmupIterations 3 leaves the first 4 output frames short of steps") && w.Contains("output frame 0 gets 4 of the 8 steps"));
        // S - 1 discarded: output frame 0 started at the top level, as every tail frame does.
        foreach (int? enough in new int?[] { null, 7 })
        {
            var full = new RecordingSink();
            Sampler(new FifoOptions { Start = "noise", WarmupIterations = enough }).Sample(Job(DelegateVideoModel.Linear(), frames: 2) with { Log = full }, CancellationToken.None).ToList();
            Assert.Empty(full.Warnings);
        }

        // Refused with the options when they name DDPM (so Test-FifoRecipe finds it), and at the run when the model's own rule is DDPM.
        Assert.Equal(new[] { "eta" }, new FifoOptions { Step = "ddpm", Eta = 0 }.Validate().Select(p => p.Option));
        Assert.Equal(new[] { "eta" }, new FifoPipes.Samplers.Baselines.ChunkedOptions { Step = "ddpm", Eta = 0 }.Validate().Select(p => p.Option));
        var linear = DelegateVideoModel.Linear();
        var ddpmModel = new DelegateVideoModel(linear.Info with { Defaults = linear.Info.Defaults with { Step = StepKind.Ddpm } }, (x, t, c) => linear.PredictNoise(x, t, c));
        var eta = Assert.Throws<FifoInputException>(() => Sampler(new FifoOptions { Eta = 0 }).Sample(Job(ddpmModel), CancellationToken.None).ToList());
        Assert.Contains("'eta': only applies to step: ddim", eta.Message);
        Assert.NotEmpty(Sampler(new FifoOptions { Step = "ddpm" }).Sample(Job(DelegateVideoModel.Linear(), frames: 1), CancellationToken.None).ToList());
    }

    [Fact]
    public void The_factory_is_a_mef_export_with_metadata()
    {
        var attribute = typeof(FifoSamplerFactory).GetCustomAttributes(typeof(FifoPluginAttribute), false).Cast<FifoPluginAttribute>().Single();
        Assert.Equal(PluginKind.Sampler, attribute.Kind);
        Assert.Equal("fifo", attribute.Name);
        Assert.Equal(typeof(ISamplerFactory), attribute.ContractType);
        Assert.Equal(typeof(FifoOptions), attribute.OptionsType);
        Assert.IsAssignableFrom<ExportAttribute>(attribute);
    }
}
