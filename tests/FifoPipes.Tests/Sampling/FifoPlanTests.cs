using FifoPipes.Abstractions;
using FifoPipes.Core;
using FifoPipes.Samplers.Fifo;
using Xunit;
using static TorchSharp.torch;

namespace FifoPipes.Tests.Sampling;

/// <summary>
/// <see cref="FifoPlan.Resolve"/> at its edges: the smallest queues that exist, the window and partition counts it
/// refuses (each named with the fix), and what a run that takes an option's boundary value gets.
/// </summary>
public sealed class FifoPlanTests
{
    static ModelInfo Model(int windowFrames = 4, int partitions = 2, int trainTimesteps = 1000) => new()
    {
        Name = "edge-model",
        LatentChannels = 2,
        LatentHeight = 3,
        LatentWidth = 4,
        WindowFrames = windowFrames,
        Schedule = new NoiseSchedule(BetaSchedule.ScaledLinear, 0.00085, 0.012, trainTimesteps),
        Defaults = new SamplingDefaults { Guidance = 3, Eta = 1, Partitions = partitions },
    };

    static SamplingJob Job(Tensor? initLatents = null) => new()
    {
        Model = DelegateVideoModel.Linear(),
        Prompts = new[] { new PromptSpan("slow clouds", 4) },
        Noise = new KeyedNoise(42),
        InitLatents = initLatents,
    };

    static FifoPlan Resolve(FifoOptions options, ModelInfo? model = null, SamplingJob? job = null) =>
        FifoPlan.Resolve(options, model ?? Model(), job ?? Job());

    static FifoInputException Refused(FifoOptions options, ModelInfo? model = null, SamplingJob? job = null) =>
        Assert.Throws<FifoInputException>(() => Resolve(options, model, job));

    [Fact]
    public void The_smallest_queue_is_one_slot_for_a_one_frame_window_without_lookahead()
    {
        var plan = Resolve(new FifoOptions { Lookahead = false, Partitions = 1 }, Model(windowFrames: 1));
        Assert.Equal((1, 0, 1, 0), (plan.Steps, plan.Padding, plan.QueueLength, plan.Discarded));
        Assert.Equal(new[] { new FifoWindow(0, 1, 0) }, plan.Windows);
        Assert.Equal(1, plan.Table.Steps);
    }

    [Fact]
    public void The_smallest_lookahead_queue_is_a_two_frame_window_behind_one_slot_of_padding()
    {
        var plan = Resolve(new FifoOptions { Lookahead = true, Partitions = 1 }, Model(windowFrames: 2));
        Assert.Equal((2, 1, 3, 0), (plan.Steps, plan.Padding, plan.QueueLength, plan.Discarded));
        Assert.Equal(new[] { new FifoWindow(0, 2, 1), new FifoWindow(1, 3, 2) }, plan.Windows);
        // The padding slot is context at the first step, never written.
        Assert.Equal(new[] { 0, 0, 1 }, Enumerable.Range(0, plan.QueueLength).Select(plan.SlotK));
    }

    [Theory]
    [InlineData(1, 1, false, 1, 0)]
    [InlineData(2, 3, false, 6, 0)]
    [InlineData(2, 3, true, 6, 1)]
    [InlineData(3, 2, true, 6, 1)]
    [InlineData(5, 1, true, 5, 2)]
    [InlineData(16, 4, true, 64, 8)]
    public void The_queue_holds_n_windows_of_f_steps_behind_half_a_window_of_lookahead_padding(int f, int n, bool lookahead, int steps, int padding)
    {
        var plan = Resolve(new FifoOptions { Lookahead = lookahead, Partitions = n }, Model(windowFrames: f));
        Assert.Equal((steps, padding, steps + padding), (plan.Steps, plan.Padding, plan.QueueLength));
        Assert.Equal(lookahead ? 2 * n : n, plan.Windows.Count);
        Assert.All(plan.Windows, w => Assert.InRange(w.End, f, plan.QueueLength));
        // From a base clip of f frames, the other S - f pops are not output.
        Assert.Equal(steps - f, plan.Discarded);
    }

    [Fact]
    public void Partitions_left_out_take_the_models_and_given_ones_override_it()
    {
        Assert.Equal(3, Resolve(new FifoOptions(), Model(partitions: 3)).Partitions);
        Assert.Equal(1, Resolve(new FifoOptions { Partitions = 1 }, Model(partitions: 3)).Partitions);
    }

    [Fact]
    public void A_model_reporting_no_window_frames_is_a_bad_model_not_a_bad_option()
    {
        var ex = Refused(new FifoOptions { Lookahead = false }, Model(windowFrames: 0));
        Assert.Equal("BadModelInfo", ex.ErrorId);
        Assert.Equal("Model 'edge-model' reports 0 window frames; it must be at least 1.", ex.Message);
    }

    [Fact]
    public void Lookahead_on_a_one_frame_window_is_refused_saying_to_turn_it_off()
    {
        var ex = Refused(new FifoOptions { Lookahead = true }, Model(windowFrames: 1));
        Assert.Equal("BadSamplerOption", ex.ErrorId);
        Assert.Equal("fifo sampler option 'lookahead': lookahead needs a window of at least 2 frames, and model 'edge-model' has 1; set lookahead: false.", ex.Message);
    }

    [Fact]
    public void A_model_whose_own_partitions_are_zero_is_refused_at_the_partitions_option()
    {
        // Options validation catches partitions: 0 in a recipe; a model's default reaches Resolve unchecked.
        var ex = Refused(new FifoOptions(), Model(partitions: 0));
        Assert.Equal("BadSamplerOption", ex.ErrorId);
        Assert.Equal("fifo sampler option 'partitions': must be at least 1, got 0.", ex.Message);
    }

    [Fact]
    public void More_steps_than_training_timesteps_are_refused_and_exactly_as_many_are_taken()
    {
        var ex = Refused(new FifoOptions { Partitions = 3 }, Model(windowFrames: 4, trainTimesteps: 11));
        Assert.Equal("BadSamplerOption", ex.ErrorId);
        Assert.Equal("fifo sampler option 'partitions': 3 partitions x 4 frames = 12 steps exceed the model's 11 training timesteps; use fewer partitions.", ex.Message);

        var plan = Resolve(new FifoOptions { Partitions = 3 }, Model(windowFrames: 4, trainTimesteps: 12));
        Assert.Equal(12, plan.Steps);
        Assert.Equal(Enumerable.Range(0, 12).Select(t => (long)t), plan.Table.Timesteps);
    }

    [Theory]
    [InlineData("step", "euler", "'euler' is unknown; use ddim or ddpm")]
    [InlineData("start", "video", "'video' is unknown; use base, noise or latents")]
    [InlineData("tail", "sharp", "'sharp' is unknown; use noise or lowfreq")]
    [InlineData("windowBatch", "-1", "'-1' is neither auto nor a window count >= 0")]
    public void An_unknown_choice_is_refused_naming_the_option_and_the_choices(string option, string value, string message)
    {
        var options = option switch
        {
            "step" => new FifoOptions { Step = value },
            "start" => new FifoOptions { Start = value },
            "tail" => new FifoOptions { Tail = value },
            _ => new FifoOptions { WindowBatch = value },
        };
        var ex = Refused(options);
        Assert.Equal("BadSamplerOption", ex.ErrorId);
        Assert.Equal($"fifo sampler option '{option}': {message}.", ex.Message);
    }

    [Fact]
    public void Start_latents_without_start_frames_and_start_frames_under_another_start_are_refused()
    {
        var none = Refused(new FifoOptions { Start = "latents" });
        Assert.Equal("fifo sampler option 'start': start: latents needs start frames, and none were given: give an image or video to start from " +
                     "(a recipe's init:, New-FifoVideo -InitImage), or leave start out.", none.Message);

        var frames = Job(zeros(2, 2, 3, 4));
        var other = Refused(new FifoOptions { Start = "noise" }, job: frames);
        Assert.Equal("fifo sampler option 'start': start frames were given, but start is 'noise'; set start: latents to use them or drop them.", other.Message);
        Assert.Equal("BadSamplerOption", other.ErrorId);

        // Left out, start follows the start frames; all S of them fill the queue, so none is discarded.
        var full = Resolve(new FifoOptions(), job: Job(zeros(2, 8, 3, 4)));
        Assert.Equal((QueueStart.Latents, 0), (full.Start, full.Discarded));
        var two = Resolve(new FifoOptions(), job: frames);
        Assert.Equal((QueueStart.Latents, 6), (two.Start, two.Discarded));
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(1.5)]
    [InlineData(double.NaN)]
    public void A_source_strength_outside_zero_to_one_is_refused_with_the_default_to_use(double strength)
    {
        var job = Job() with { Source = new ConstantSource(10), SourceStrength = strength };
        var ex = Refused(new FifoOptions(), job: job);
        Assert.Equal("BadSourceStrength", ex.ErrorId);
        Assert.StartsWith($"Source strength {strength} is outside (0, 1]; {SamplingJob.DefaultSourceStrength} restyles", ex.Message);
    }

    [Fact]
    public void A_source_strength_of_one_is_taken_with_all_steps_but_the_last_discarded()
    {
        var plan = Resolve(new FifoOptions(), job: Job() with { Source = new ConstantSource(10), SourceStrength = 1 });
        Assert.Equal(QueueStart.Source, plan.Start);
        Assert.Equal(plan.Steps - 1, plan.Discarded);
    }

    sealed class ConstantSource(long count) : ISourceLatents
    {
        public long Count => count;
        public Tensor Latent(long index) => zeros(2, 3, 4);
    }
}
