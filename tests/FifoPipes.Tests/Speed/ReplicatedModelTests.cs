using FifoPipes.Abstractions;
using FifoPipes.Core;
using FifoPipes.Core.Devices;
using FifoPipes.Models.Analytic;
using FifoPipes.Models.VideoCrafter;
using FifoPipes.Samplers.Fifo;
using FifoPipes.Tests.Sampling;
using FifoPipes.Tests.VideoCrafter;
using FifoPipes.Tests.Parity;
using Xunit;
using static TorchSharp.torch;

namespace FifoPipes.Tests.Speed;

/// <summary>Several replicas ("cpu,cpu" stands in for several GPUs) give the frames of one, and their rows really run apart.</summary>
public sealed class ReplicatedModelTests : IClassFixture<TinyVideoCrafterCheckpoint>
{
    readonly TinyVideoCrafterCheckpoint tiny;
    public ReplicatedModelTests(TinyVideoCrafterCheckpoint tiny) => this.tiny = tiny;

    static List<Tensor> Sample(IVideoModel model, FifoOptions options, int frames) =>
        new FifoSamplerFactory().Create(options, new PluginContext())
            .Sample(new SamplingJob { Model = model, Prompts = new[] { new PromptSpan("a lighthouse at dusk", frames) }, Noise = new KeyedNoise(5), Seed = 5 },
                CancellationToken.None)
            .Select(f => f.Latent).ToList();

    [Theory]
    [InlineData(16, 2, new long[] { 8, 8 })]
    [InlineData(7, 3, new long[] { 3, 2, 2 })]
    [InlineData(1, 2, new long[] { 1, 0 })]
    public void Rows_split_into_contiguous_nearly_equal_parts(long rows, int replicas, long[] expected) =>
        Assert.Equal(expected, ReplicatedModel.Split(rows, replicas));

    [Fact]
    public void Two_cpu_replicas_of_the_analytic_model_give_the_frames_of_one()
    {
        static AnalyticModel Analytic() => new(new AnalyticOptions { Height = 8, Width = 8, Frames = 4, Partitions = 2 });
        var options = new FifoOptions { Start = "noise", WarmupIterations = 2 };
        using var single = Analytic();
        var expected = Sample(single, options, 4);
        using var replicated = new ReplicatedModel(new IVideoModel[] { Analytic(), Analytic() });
        var actual = Sample(replicated, options, 4);
        TensorAssert.Identical(expected, actual, "analytic on cpu,cpu");
        // 2n = 4 windows, doubled for guidance: 8 rows, 4 per replica.
        Assert.Equal(new long[] { 4, 4 }, replicated.LastSplit);
    }

    [Fact]
    public void The_tiny_videocrafter_on_cpu_cpu_gives_the_frames_of_one_cpu()
    {
        using var single = tiny.Load(tiny.Options());
        var options = new FifoOptions { Partitions = 2, Start = "noise", WarmupIterations = 1 };
        var expected = Sample(single, options, 3);

        var twoCpus = tiny.Options();
        twoCpus.Device = "cpu,cpu";
        using var model = new VideoCrafterModelAdapter().Load(twoCpus, new PluginContext());
        var replicated = Assert.IsType<FusedReplicatedModel>(model);
        Assert.Equal(2, replicated.Replicas.Count);
        var (primary, other) = (Assert.IsType<VideoCrafterModel>(replicated.Replicas[0]), Assert.IsType<VideoCrafterModel>(replicated.Replicas[1]));
        var actual = Sample(model, options, 3);
        Assert.Equal(new long[] { 4, 4 }, replicated.LastSplit);
        TensorAssert.Identical(expected, actual, "tiny VideoCrafter on cpu,cpu");
        // Only the primary holds the text encoder and the VAE; the other replica denoises what it was handed.
        Assert.True(primary.TextEncoderLoaded && primary.VaeLoaded);
        Assert.False(other.TextEncoderLoaded || other.VaeLoaded);
        Assert.Equal(0, other.TextEncoderLoads);
        Assert.Throws<InvalidOperationException>(() => other.CreateDecoder());
    }

    [Fact]
    public void Each_replica_runs_its_rows_on_its_own_thread_and_sees_its_own_conditioning()
    {
        var models = Enumerable.Range(0, 3).Select(_ => new ThreadRecordingModel()).ToArray();
        using var replicated = new ReplicatedModel(models);
        var cond = replicated.Encode("waves");
        var x = arange(5 * 2 * 3 * 2 * 2, dtype: ScalarType.Float32).view(5, 2, 3, 2, 2);
        var t = zeros(new long[] { 5, 3 }, ScalarType.Int64);
        using var eps = replicated.PredictNoise(x, t, Enumerable.Repeat(cond, 5).ToList());
        Assert.True(eps.equal(x * 2).all().item<bool>(), "rows came back out of order or altered");
        Assert.Equal(new long[] { 2, 2, 1 }, models.Select(m => m.Rows).ToArray());
        Assert.Equal(Environment.CurrentManagedThreadId, models[0].ThreadId);
        Assert.Equal(3, models.Select(m => m.ThreadId).Distinct().Count());
        Assert.All(models, m => Assert.Same(m, m.ConditioningOwner));
        Assert.All(models, m => Assert.Equal(1, m.Encodes));
    }

    [Fact]
    public void Replicas_that_adopt_take_the_primarys_embedding_and_never_encode()
    {
        var models = Enumerable.Range(0, 3).Select(_ => new AdoptingModel()).ToArray();
        using var replicated = new ReplicatedModel(models);
        var cond = (ReplicatedConditioning)replicated.Encode("waves");
        Assert.Equal(new[] { 1, 0, 0 }, models.Select(m => m.Encodes));
        Assert.Equal(new[] { 0, 1, 1 }, models.Select(m => m.Adoptions));
        Assert.All(Enumerable.Range(0, 3), i => Assert.Same(models[i], ((OwnedConditioning)cond.For(i)).Owner));
        using var eps = replicated.PredictNoise(zeros(new long[] { 3, 2, 3, 2, 2 }), zeros(new long[] { 3, 3 }, ScalarType.Int64), Enumerable.Repeat<Conditioning>(cond, 3).ToList());
        Assert.All(models, m => Assert.Same(m, m.ConditioningOwner));
    }

    [Fact]
    public void Replicas_that_do_not_pair_the_unconditional_embedding_share_one_for_every_prompt()
    {
        var models = new[] { new ThreadRecordingModel(), new ThreadRecordingModel() };
        using var replicated = new ReplicatedModel(models);
        using var prompts = new PromptEmbeddings(replicated, new PromptSchedule(new[] { new PromptSpan("waves", 2), new PromptSpan("fire", 2) }));
        Assert.False(replicated.PairsUnconditional);
        Assert.Same(prompts.UnconditionalFor(prompts.ForFrame(0)), prompts.UnconditionalFor(prompts.ForFrame(3)));
        Assert.All(models, m => Assert.Equal(3, m.Encodes));   // "waves", "fire" and "" once
    }

    [Fact]
    public void Create_loads_the_first_device_as_the_primary_and_the_others_as_denoisers()
    {
        var roles = new List<(string Device, ReplicaRole Role)>();
        using var model = ReplicatedModel.Create(ModelDevices.ParseDevices("cpu,cpu,cpu")!, (device, role) =>
        {
            roles.Add((device.ToString(), role));
            return new ThreadRecordingModel();
        });
        Assert.Equal(new[] { ReplicaRole.Primary, ReplicaRole.Denoiser, ReplicaRole.Denoiser }, roles.Select(r => r.Role));
        using var single = ReplicatedModel.Create(ModelDevices.ParseDevices("cpu")!, (_, role) =>
            role == ReplicaRole.Primary ? new ThreadRecordingModel() : throw new InvalidOperationException("one device is the primary"));
        Assert.IsType<ThreadRecordingModel>(single);
    }

    [Fact]
    public void A_model_too_big_for_a_device_says_what_to_change()
    {
        var first = new ThreadRecordingModel();
        var ex = Assert.Throws<FifoInputException>(() => ReplicatedModel.Create(ModelDevices.ParseDevices("cpu,cpu")!, (device, role) =>
            role == ReplicaRole.Primary ? first : throw new InvalidOperationException("CUDA out of memory. Tried to allocate 2.00 GiB")));
        Assert.Equal("ModelDoesNotFit", ex.ErrorId);
        Assert.Contains("does not fit in the memory of cpu", ex.Message);
        Assert.Contains("bfloat16", ex.Message);
        Assert.True(first.Disposed, "the replica loaded before the failing one was left in memory");
    }

    [Fact]
    public void A_failing_replica_fails_the_call_after_the_others_finished()
    {
        var models = new[] { new ThreadRecordingModel(), new ThreadRecordingModel { Fail = true } };
        using var replicated = new ReplicatedModel(models);
        var cond = replicated.Encode("");
        var ex = Assert.Throws<InvalidOperationException>(() =>
            replicated.PredictNoise(zeros(new long[] { 4, 2, 3, 2, 2 }), zeros(new long[] { 4, 3 }, ScalarType.Int64), Enumerable.Repeat(cond, 4).ToList()));
        Assert.Contains("replica failed", ex.Message);
        Assert.Equal(2, models[0].Rows);
    }

    [Fact]
    public void Device_lists_parse_and_bad_entries_are_reported()
    {
        Assert.Equal(new[] { "cuda:0", "cuda:1" }, ModelDevices.ParseDevices("cuda:0, cuda:1")!.Select(d => d.ToString()));
        Assert.Equal(2, ModelDevices.ParseDevices("cpu,cpu")!.Count);
        Assert.Null(ModelDevices.ParseDevices("cuda:0,,cuda:1"));
        Assert.Null(ModelDevices.ParseDevices("cuda:0,tpu"));
        var problem = Assert.Single(new VideoCrafterOptions { Path = "x", Device = "cpu,gpu" }.Validate());
        Assert.Equal("device", problem.Option);
        Assert.Contains("comma-separated", problem.Message);
        Assert.Contains("comma-separated", Assert.Single(new FifoPipes.Models.OpenSoraPlan.OpenSoraOptions { Path = "x", Device = "cpu,gpu" }.Validate()).Message);
        // One GPU twice is two replicas in its memory for no speed; the CPU may repeat (the stand-ins above).
        Assert.Contains("names cuda:0 more than once", Assert.Single(new VideoCrafterOptions { Path = "x", Device = "cuda,cuda:0" }.Validate()).Message);
        Assert.Empty(new VideoCrafterOptions { Path = "x", Device = "cpu,cpu" }.Validate());
        // The analytic model's decoder follows the rows it denoised, so it stays on one device and says so.
        var analytic = Assert.Single(new AnalyticOptions { Device = "cuda:0,cuda:1" }.Validate());
        Assert.Equal("device", analytic.Option);
        Assert.Contains("runs on one", analytic.Message);
    }

    /// <summary>eps = 2x; records the rows it got, the thread it ran on, whose conditioning it was handed and how often it encoded.</summary>
    class ThreadRecordingModel : IVideoModel
    {
        public long Rows;
        public int ThreadId;
        public object? ConditioningOwner;
        public bool Fail;
        public int Encodes;

        public ModelInfo Info { get; } = DelegateVideoModel.Linear().Info;
        public Conditioning Encode(string prompt)
        {
            Encodes++;
            return new OwnedConditioning(prompt, this);
        }

        public Tensor PredictNoise(Tensor x, Tensor timesteps, IReadOnlyList<Conditioning> conditioning)
        {
            if (Fail) throw new InvalidOperationException("replica failed");
            Thread.Sleep(20);
            Rows = x.shape[0];
            ThreadId = Environment.CurrentManagedThreadId;
            ConditioningOwner = ((OwnedConditioning)conditioning[0]).Owner;
            return x * 2;
        }

        public IFrameDecoder CreateDecoder() => throw new NotSupportedException();
        public Tensor EncodeFrames(Tensor rgb) => throw new NotSupportedException();
        public bool Disposed { get; private set; }
        public void Dispose() => Disposed = true;
    }

    /// <summary>Takes the primary's embeddings instead of encoding.</summary>
    sealed class AdoptingModel : ThreadRecordingModel, IAdoptConditioning
    {
        public int Adoptions;

        public Conditioning Adopt(Conditioning fromAnotherReplica)
        {
            Adoptions++;
            return new OwnedConditioning(fromAnotherReplica.Prompt, this);
        }
    }

    sealed class OwnedConditioning : Conditioning
    {
        public OwnedConditioning(string prompt, object owner) : base(prompt) => Owner = owner;
        public object Owner { get; }
    }
}
