using FifoPipes.Abstractions;
using static TorchSharp.torch;

namespace FifoPipes.Core.Diffusion;

/// <summary>The scheduler_config.json fields the DDIM and DDPM schedulers read (diffusers names in the comments).</summary>
public sealed record DiffusersSchedulerConfig
{
    /// <summary>T, the training timesteps: the alpha table has T entries and timesteps run 0..T - 1.</summary>
    public int NumTrainTimesteps { get; init; } = 1000;          // num_train_timesteps
    /// <summary>beta at t = 0.</summary>
    public double BetaStart { get; init; } = 0.0001;              // beta_start
    /// <summary>beta at t = T - 1.</summary>
    public double BetaEnd { get; init; } = 0.02;                  // beta_end
    /// <summary>How the betas run from <see cref="BetaStart"/> to <see cref="BetaEnd"/>.</summary>
    public BetaSchedule BetaSchedule { get; init; } = BetaSchedule.Linear; // beta_schedule: "linear" | "scaled_linear"
    /// <summary>Whether the predicted x0 is clamped to ±<see cref="ClipSampleRange"/> before the step.</summary>
    public bool ClipSample { get; init; } = true;                 // clip_sample
    /// <summary>The bound x0 is clamped to when <see cref="ClipSample"/> is set.</summary>
    public double ClipSampleRange { get; init; } = 1.0;           // clip_sample_range
    /// <summary>DDIM only: the last step ends at abar = 1 (a clean sample) rather than at abar[0].</summary>
    public bool SetAlphaToOne { get; init; } = true;              // set_alpha_to_one (DDIM)
    /// <summary>Added to every timestep of a <see cref="Diffusion.TimestepSpacing.Leading"/> grid (1 in Stable Diffusion's configs); the other spacings ignore it, as diffusers does.</summary>
    public int StepsOffset { get; init; }                         // steps_offset
    /// <summary>How <c>SetTimesteps</c> spreads the inference steps over 0..T - 1.</summary>
    public TimestepSpacing TimestepSpacing { get; init; } = TimestepSpacing.Leading; // timestep_spacing

    /// <summary>The training schedule these fields give, without an x0 scale, for the alpha tables.</summary>
    public NoiseSchedule Schedule => new(BetaSchedule, BetaStart, BetaEnd, NumTrainTimesteps);

    /// <summary>Parses diffusers' beta_schedule / timestep_spacing names; anything else is unsupported here.</summary>
    public static BetaSchedule ParseBetaSchedule(string name) => name switch
    {
        "linear" => BetaSchedule.Linear,
        "scaled_linear" => BetaSchedule.ScaledLinear,
        _ => throw new FifoInputException("UnsupportedBetaSchedule", $"beta_schedule '{name}' is not supported; use 'linear' or 'scaled_linear'."),
    };

    /// <summary>Parses diffusers' timestep_spacing ("leading", "trailing" or "linspace", exact case); anything else is a <see cref="FifoInputException"/> "UnsupportedTimestepSpacing".</summary>
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
    /// <summary>Disposes both tensors.</summary>
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

    /// <summary>Builds the float32 alpha table from <paramref name="config"/>; call <see cref="SetTimesteps"/> before <see cref="Step"/>.</summary>
    public DiffusersDdimScheduler(DiffusersSchedulerConfig config)
    {
        Config = config;
        AlphasCumprod = AlphaSchedules.DiffusersAlphasCumprod(config.Schedule);
        finalAlphaCumprod = config.SetAlphaToOne ? 1f : AlphasCumprod[0];
    }

    /// <summary>The scheduler_config.json fields the scheduler was built from.</summary>
    public DiffusersSchedulerConfig Config { get; }
    /// <summary>abar[t] for t = 0..T - 1, in float32 as diffusers computes it.</summary>
    public float[] AlphasCumprod { get; }
    /// <summary>The inference timesteps, descending as diffusers' scheduler.timesteps; empty until <see cref="SetTimesteps"/>.</summary>
    public long[] Timesteps { get; private set; } = Array.Empty<long>();
    /// <summary>Steps of <see cref="Timesteps"/>; 0 until <see cref="SetTimesteps"/>.</summary>
    public int NumInferenceSteps { get; private set; }

    /// <summary>diffusers' set_timesteps: the grid of <paramref name="steps"/> by the config's spacing and steps offset.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="steps"/> is outside 1..T.</exception>
    /// <exception cref="FifoInputException">"StepsOffsetOutOfRange" when the config's steps_offset moves the grid outside 0..T - 1.</exception>
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
/// diffusers' DDPMScheduler (epsilon prediction, fixed_small variance): the previous timestep is T / S before the current
/// one (the next entry of a leading grid; negative after the last, where abar_prev = 1), x0 is clipped when clip_sample is set, and no noise is added at t = 0.
/// </summary>
public sealed class DiffusersDdpmScheduler
{
    /// <summary>Builds the float32 alpha table from <paramref name="config"/>; call <see cref="SetTimesteps"/> before <see cref="Step"/>.</summary>
    public DiffusersDdpmScheduler(DiffusersSchedulerConfig config)
    {
        Config = config;
        AlphasCumprod = AlphaSchedules.DiffusersAlphasCumprod(config.Schedule);
    }

    /// <summary>The scheduler_config.json fields the scheduler was built from.</summary>
    public DiffusersSchedulerConfig Config { get; }
    /// <summary>abar[t] for t = 0..T - 1, in float32 as diffusers computes it.</summary>
    public float[] AlphasCumprod { get; }
    /// <summary>The inference timesteps, descending as diffusers' scheduler.timesteps; empty until <see cref="SetTimesteps"/>.</summary>
    public long[] Timesteps { get; private set; } = Array.Empty<long>();
    /// <summary>Steps of <see cref="Timesteps"/>; 0 until <see cref="SetTimesteps"/>.</summary>
    public int NumInferenceSteps { get; private set; }

    /// <summary>diffusers' set_timesteps: the grid of <paramref name="steps"/> by the config's spacing and steps offset.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="steps"/> is outside 1..T.</exception>
    /// <exception cref="FifoInputException">"StepsOffsetOutOfRange" when the config's steps_offset moves the grid outside 0..T - 1.</exception>
    public void SetTimesteps(int steps)
    {
        Timesteps = TimestepGrids.Diffusers(steps, Config.NumTrainTimesteps, Config.TimestepSpacing, Config.StepsOffset);
        NumInferenceSteps = steps;
    }

    /// <summary>
    /// t - T / S (integer division), as diffusers' previous_timestep without custom timesteps: negative after the last step.
    /// Only a leading grid's next entry.
    /// </summary>
    /// <exception cref="InvalidOperationException"><see cref="SetTimesteps"/> was not called, so there is no S.</exception>
    public long PreviousTimestep(long timestep) => NumInferenceSteps == 0
        ? throw new InvalidOperationException("Call SetTimesteps before PreviousTimestep.")
        : timestep - Config.NumTrainTimesteps / NumInferenceSteps;

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
