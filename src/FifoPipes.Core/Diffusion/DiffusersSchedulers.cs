using FifoPipes.Abstractions;
using static TorchSharp.torch;

namespace FifoPipes.Core.Diffusion;

/// <summary>The scheduler_config.json fields the DDIM and DDPM schedulers read (diffusers names in the comments).</summary>
public sealed record DiffusersSchedulerConfig
{
    public int NumTrainTimesteps { get; init; } = 1000;          // num_train_timesteps
    public double BetaStart { get; init; } = 0.0001;              // beta_start
    public double BetaEnd { get; init; } = 0.02;                  // beta_end
    public BetaSchedule BetaSchedule { get; init; } = BetaSchedule.Linear; // beta_schedule: "linear" | "scaled_linear"
    public bool ClipSample { get; init; } = true;                 // clip_sample
    public double ClipSampleRange { get; init; } = 1.0;           // clip_sample_range
    public bool SetAlphaToOne { get; init; } = true;              // set_alpha_to_one (DDIM)
    public int StepsOffset { get; init; }                         // steps_offset
    public TimestepSpacing TimestepSpacing { get; init; } = TimestepSpacing.Leading; // timestep_spacing

    public NoiseSchedule Schedule => new(BetaSchedule, BetaStart, BetaEnd, NumTrainTimesteps);

    /// <summary>Parses diffusers' beta_schedule / timestep_spacing names; anything else is unsupported here.</summary>
    public static BetaSchedule ParseBetaSchedule(string name) => name switch
    {
        "linear" => BetaSchedule.Linear,
        "scaled_linear" => BetaSchedule.ScaledLinear,
        _ => throw new FifoInputException("UnsupportedBetaSchedule", $"beta_schedule '{name}' is not supported; use 'linear' or 'scaled_linear'."),
    };

    public static TimestepSpacing ParseSpacing(string name) => name switch
    {
        "leading" => TimestepSpacing.Leading,
        "trailing" => TimestepSpacing.Trailing,
        "linspace" => TimestepSpacing.Linspace,
        _ => throw new FifoInputException("UnsupportedTimestepSpacing", $"timestep_spacing '{name}' is not supported; use 'leading', 'trailing' or 'linspace'."),
    };
}

/// <summary>The result of one scheduler step.</summary>
public sealed record SchedulerStep(Tensor PrevSample, Tensor PredOriginalSample) : IDisposable
{
    public void Dispose()
    {
        PrevSample.Dispose();
        PredOriginalSample.Dispose();
    }
}

/// <summary>
/// diffusers' DDIMScheduler (epsilon prediction): set_timesteps, then step(model_output, t, sample, eta).
/// All arithmetic is float32 on 0-d tensors, as in diffusers. Only the whole-clip path (one timestep per call).
/// </summary>
public sealed class DiffusersDdimScheduler
{
    readonly float finalAlphaCumprod;

    public DiffusersDdimScheduler(DiffusersSchedulerConfig config)
    {
        Config = config;
        AlphasCumprod = AlphaSchedules.DiffusersAlphasCumprod(config.Schedule);
        finalAlphaCumprod = config.SetAlphaToOne ? 1f : AlphasCumprod[0];
    }

    public DiffusersSchedulerConfig Config { get; }
    public float[] AlphasCumprod { get; }
    public long[] Timesteps { get; private set; } = Array.Empty<long>();
    public int NumInferenceSteps { get; private set; }

    public void SetTimesteps(int steps)
    {
        Timesteps = TimestepGrids.Diffusers(steps, Config.NumTrainTimesteps, Config.TimestepSpacing, Config.StepsOffset);
        NumInferenceSteps = steps;
    }

    /// <summary>One DDIM step from <paramref name="timestep"/>; <paramref name="varianceNoise"/> is needed when eta &gt; 0.</summary>
    public SchedulerStep Step(Tensor modelOutput, long timestep, Tensor sample, double eta = 0, Tensor? varianceNoise = null)
    {
        if (NumInferenceSteps == 0) throw new InvalidOperationException("Call SetTimesteps before Step.");
        if (eta > 0 && varianceNoise is null) throw new ArgumentException("eta > 0 needs variance noise.", nameof(varianceNoise));
        long prev = timestep - Config.NumTrainTimesteps / NumInferenceSteps;
        float a = AlphasCumprod[timestep];
        float ap = prev >= 0 ? AlphasCumprod[prev] : finalAlphaCumprod;
        float beta = 1f - a, betaPrev = 1f - ap;
        float variance = betaPrev / beta * (1f - a / ap);
        float std = (float)eta * MathF.Sqrt(variance);

        using var scope = NewDisposeScope();
        var x0 = StepMath.PredictX0(sample, modelOutput, Scalar(MathF.Sqrt(beta), sample), Scalar(MathF.Sqrt(a), sample));
        if (Config.ClipSample) x0 = x0.clamp(-Config.ClipSampleRange, Config.ClipSampleRange);
        var prevSample = StepMath.Ddim(x0, modelOutput, Scalar(MathF.Sqrt(ap), sample), Scalar(MathF.Sqrt(1f - ap - std * std), sample),
            eta > 0 ? Scalar(std, sample) : null, eta > 0 ? varianceNoise : null);
        return new SchedulerStep(prevSample.MoveToOuterDisposeScope(), x0.MoveToOuterDisposeScope());
    }

    internal static Tensor Scalar(float value, Tensor like) => tensor(value, dtype: ScalarType.Float32, device: like.device);
}

/// <summary>
/// diffusers' DDPMScheduler (epsilon prediction, fixed_small variance): the previous timestep is the next entry of
/// the grid (-1 after the last, where abar_prev = 1), x0 is clipped when clip_sample is set, and no noise is added at t = 0.
/// </summary>
public sealed class DiffusersDdpmScheduler
{
    public DiffusersDdpmScheduler(DiffusersSchedulerConfig config)
    {
        Config = config;
        AlphasCumprod = AlphaSchedules.DiffusersAlphasCumprod(config.Schedule);
    }

    public DiffusersSchedulerConfig Config { get; }
    public float[] AlphasCumprod { get; }
    public long[] Timesteps { get; private set; } = Array.Empty<long>();
    public int NumInferenceSteps { get; private set; }

    public void SetTimesteps(int steps)
    {
        Timesteps = TimestepGrids.Diffusers(steps, Config.NumTrainTimesteps, Config.TimestepSpacing, Config.StepsOffset);
        NumInferenceSteps = steps;
    }

    public long PreviousTimestep(long timestep) => timestep - Config.NumTrainTimesteps / NumInferenceSteps;

    /// <summary>One DDPM step; <paramref name="varianceNoise"/> is needed when <paramref name="timestep"/> &gt; 0.</summary>
    public SchedulerStep Step(Tensor modelOutput, long timestep, Tensor sample, Tensor? varianceNoise)
    {
        if (NumInferenceSteps == 0) throw new InvalidOperationException("Call SetTimesteps before Step.");
        if (timestep > 0 && varianceNoise is null) throw new ArgumentException("A step from t > 0 needs variance noise.", nameof(varianceNoise));
        long prev = PreviousTimestep(timestep);
        float a = AlphasCumprod[timestep];
        float ap = prev >= 0 ? AlphasCumprod[prev] : 1f;
        var c = FrameStepTable.DdpmCoefficients(a, ap, timestep);

        using var scope = NewDisposeScope();
        Tensor S(float v) => DiffusersDdimScheduler.Scalar(v, sample);
        var x0 = StepMath.PredictX0(sample, modelOutput, S(c.SqrtOneMinusAlpha), S(c.SqrtAlpha));
        if (Config.ClipSample) x0 = x0.clamp(-Config.ClipSampleRange, Config.ClipSampleRange);
        var prevSample = StepMath.Ddpm(x0, sample, S(c.X0Coefficient), S(c.SampleCoefficient),
            timestep > 0 ? S(c.Std) : null, timestep > 0 ? varianceNoise : null);
        return new SchedulerStep(prevSample.MoveToOuterDisposeScope(), x0.MoveToOuterDisposeScope());
    }
}
