using FifoPipes.Abstractions;
using FifoPipes.Samplers.Fifo;
using FifoPipes.Tests.Parity;
using Xunit;
using static TorchSharp.torch;

namespace FifoPipes.Tests.Sampling;

/// <summary>
/// Replays a recorded FIFO-Diffusion trajectory (../parity/fifo cases) through our sampler with a given denoiser and
/// the recorded noise, comparing the queue and the popped latents. With the iteration-0 lookup denoiser it checks
/// the sampler alone; with a real UNet (a future "fifo.trajectory" runner) it replays whole trajectories.
/// </summary>
public sealed class FifoTrajectoryReplay
{
    /// <summary>Conditioning prompt the replay model sees for the case's cond context ("" is the uncond one).</summary>
    public const string CondPrompt = "cond";

    public FifoTrajectoryReplay(ParityCase parityCase)
    {
        Case = parityCase;
        var config = parityCase.Config;
        var shape = config.GetProperty("noise_shape").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        var diffusion = config.GetProperty("diffusion");
        Assert.Equal("linear", diffusion.GetProperty("beta_schedule").GetString());
        WindowFrames = config.GetProperty("video_length").GetInt32();
        Partitions = config.GetProperty("num_partitions").GetInt32();
        NewFrames = config.GetProperty("new_video_length").GetInt32();
        Lookahead = config.GetProperty("lookahead_denoising").GetBoolean();
        Eta = config.GetProperty("eta").GetDouble();
        Guidance = config.GetProperty("unconditional_guidance_scale").GetDouble();
        Info = new ModelInfo
        {
            Name = "fifo-replay",
            LatentChannels = shape[1],
            LatentHeight = shape[3],
            LatentWidth = shape[4],
            WindowFrames = WindowFrames,
            // LDM's "linear" is linspace(sqrt(start), sqrt(end))^2, i.e. ScaledLinear here.
            Schedule = new NoiseSchedule(BetaSchedule.ScaledLinear, diffusion.GetProperty("linear_start").GetDouble(),
                diffusion.GetProperty("linear_end").GetDouble(), diffusion.GetProperty("timesteps").GetInt32())
            {
                X0ScaleEnd = diffusion.GetProperty("use_scale").GetBoolean() ? diffusion.GetProperty("scale_b").GetDouble() : 1.0,
                X0ScaleSteps = diffusion.GetProperty("mid_step").GetInt32(),
            },
            Defaults = new SamplingDefaults { Guidance = Guidance, Eta = Eta, Partitions = Partitions, Step = StepKind.Ddim },
        };
    }

    public ParityCase Case { get; }
    public ModelInfo Info { get; }
    public int WindowFrames { get; }
    public int Partitions { get; }
    public int NewFrames { get; }
    public bool Lookahead { get; }
    public double Eta { get; }
    public double Guidance { get; }
    public bool HasBaseRecord => Case.Io.ContainsKey("base/x_T");

    public FifoOptions Options(QueueStart start) => new()
    {
        Lookahead = Lookahead,
        Start = start.ToString().ToLowerInvariant(),
        Partitions = Partitions,
        Guidance = Guidance,
        Eta = Eta,
        Step = "ddim",
    };

    /// <summary>
    /// A job over the recorded noise. With <paramref name="fromBaseClip"/> false the recorded z0 is fed in as the base
    /// clip (start: latents, which forward-noises it exactly as prepare_latents does); with true the sampler samples
    /// the base clip itself from base/x_T and base/noise/k (needs a real denoiser).
    /// </summary>
    public (SamplingJob Job, FifoPlan Plan) CreateJob(IVideoModel model, bool fromBaseClip = false)
    {
        var job = new SamplingJob
        {
            Model = model,
            Prompts = new[] { new PromptSpan(CondPrompt, NewFrames) },
            Noise = new RecordedNoise(Case),
            InitLatents = fromBaseClip ? null : Case["z0"][0],
            RunHash = Case.Name,
        };
        var plan = FifoPlan.Resolve(Options(fromBaseClip ? QueueStart.Base : QueueStart.Latents), Info, job);
        return (job, plan);
    }

    /// <summary>Float32 rounding, on any CPU: what the sampler's own arithmetic may add to exact inputs.</summary>
    const double Rounding = 1e-5;
    /// <summary>A queue denoised by the real tiny UNet (measured up to 8e-5 against the recording, in every recorded iteration).</summary>
    const double ThroughTheUNet = 4e-4;

    /// <summary>
    /// Checks the schedule, the initial queue and the first <paramref name="iterations"/> iterations (queue after the
    /// windows where recorded, popped latent). Each is held to what can stand between it and the recording: the case's
    /// tolerance is sized for frames many real model calls deep, far looser than a sampler bug in the first queues.
    /// </summary>
    /// <param name="denoiserReplaysTheRecording">True where the denoiser answers with the recorded outputs (a lookup):
    /// then only rounding is allowed anywhere.</param>
    public void Replay(DelegateVideoModel.Denoiser denoiser, int iterations, bool fromBaseClip = false, bool denoiserReplaysTheRecording = false)
    {
        using var model = new DelegateVideoModel(Info, denoiser);
        var (job, plan) = CreateJob(model, fromBaseClip);
        Assert.Equal(Case.Config.GetProperty("derived").GetProperty("num_discarded_pops").GetInt32(), plan.Discarded);
        Assert.Equal(Case.Config.GetProperty("derived").GetProperty("queue_length").GetInt32(), plan.QueueLength);
        using var run = FifoRun.Create(job, plan, CancellationToken.None);
        double rtol = denoiserReplaysTheRecording ? Rounding : Case.Rtol;
        // The recorded z0 noised: rounding alone, unless the base clip was sampled here first.
        double initAtol = fromBaseClip && !denoiserReplaysTheRecording ? ThroughTheUNet : Rounding;
        double denoisedAtol = denoiserReplaysTheRecording ? Rounding : ThroughTheUNet;
        double poppedAtol = denoiserReplaysTheRecording ? Rounding : Case.Atol;
        using (var queue = run.QueueTensor()) TensorAssert.Close(Case["queue_init"][0], queue, initAtol, rtol, $"{Case.Name} queue_init");
        for (int i = 0; i < iterations; i++)
        {
            run.DenoiseWindows(CancellationToken.None);
            if (Case.Io.TryGetValue($"queue_denoised/{i}", out var expected))
                using (var queue = run.QueueTensor()) TensorAssert.Close(expected[0], queue, denoisedAtol, rtol, $"{Case.Name} queue_denoised/{i}");
            using var popped = run.PopShiftPush();
            TensorAssert.Close(Case[$"popped/{i}"][0], popped, poppedAtol, rtol, $"{Case.Name} popped/{i}");
        }
    }

    /// <summary>
    /// The recorded UNet outputs of iteration 0 as a denoiser: each batch row is matched to the window whose recorded
    /// input it equals (and whose timesteps it carries), and answered with that window's eps_cond or eps_uncond.
    /// </summary>
    public DelegateVideoModel.Denoiser Iteration0Lookup()
    {
        int windows = Case.Config.GetProperty("derived").GetProperty("windows_per_iteration").GetInt32();
        int stride = Case.Config.GetProperty("derived").GetProperty("window_stride").GetInt32();
        var slotT = Case["slot_t"].data<long>().ToArray();
        bool single = Guidance == 1.0;
        return (x, t, conditioning) =>
        {
            var rows = new List<Tensor>();
            for (int b = 0; b < x.shape[0]; b++)
            {
                var row = x[b];
                int rank = Enumerable.Range(0, windows)
                    .OrderBy(r => (row - Case[$"debug/it0/rank{r}/x_in"][0]).abs().max().item<float>()).First();
                float distance = (row - Case[$"debug/it0/rank{rank}/x_in"][0]).abs().max().item<float>();
                Assert.True(distance < 1e-4, $"{Case.Name}: model input row {b} matches no recorded iteration-0 window (closest rank {rank}, max diff {distance:G3}).");
                Assert.Equal(slotT.Skip(rank * stride).Take(WindowFrames).ToArray(), t[b].data<long>().ToArray());
                string name = single ? "eps" : conditioning[b].Prompt.Length == 0 ? "eps_uncond" : "eps_cond";
                rows.Add(Case[$"debug/it0/rank{rank}/{name}"][0]);
            }
            return stack(rows, 0);
        };
    }
}

/// <summary>The noise a fifo case recorded, served by (frame id, purpose, step) as the sampler asks for it.</summary>
public sealed class RecordedNoise : INoiseSource
{
    readonly ParityCase parityCase;

    public RecordedNoise(ParityCase parityCase) => this.parityCase = parityCase;

    public long Seed => parityCase.Config.GetProperty("seed").GetInt64();
    public List<string> Requested { get; } = new();

    public Tensor Normal(long[] shape, long frame, NoisePurpose purpose, int step, Device? device = null)
    {
        string name = purpose switch
        {
            NoisePurpose.QueueInit => $"noise_init/{frame}",
            NoisePurpose.QueueTail => $"noise_tail/{frame}",
            NoisePurpose.Step => $"noise_step/{frame}/{step}",
            NoisePurpose.BaseStart => "base/x_T",
            NoisePurpose.BaseStep => $"base/noise/{step}",
            _ => throw new InvalidOperationException($"The reference draws no {purpose} noise."),
        };
        Requested.Add(name);
        if (!parityCase.Io.TryGetValue(name, out var recorded))
            throw new InvalidOperationException($"{parityCase.Name}: the sampler asked for noise '{name}', which the reference never drew.");
        // Per-frame latents are stored [1, C, h, w]; the base-clip draws are whole clips [1, C, f, h, w].
        var noise = purpose is NoisePurpose.BaseStart or NoisePurpose.BaseStep ? recorded[0, .., frame] : recorded[0];
        Assert.Equal(shape, noise.shape);
        return noise.clone().to(device ?? CPU);
    }
}
