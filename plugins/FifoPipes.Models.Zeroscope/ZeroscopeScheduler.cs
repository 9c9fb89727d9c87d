using System.Globalization;
using FifoPipes.Abstractions;
using FifoPipes.Core.Diffusion;
using FifoPipes.Torch.Diffusers;

namespace FifoPipes.Models.Zeroscope;

/// <summary>scheduler/scheduler_config.json (a DDIMScheduler in zeroscope's folders) as our diffusers scheduler config.</summary>
public static class ZeroscopeScheduler
{
    /// <summary>Schedulers whose training schedule (betas) we can read; the sampler chooses its own step rule.</summary>
    static readonly string[] KnownSchedulers = { "DDIMScheduler", "DDPMScheduler", "DPMSolverMultistepScheduler", "PNDMScheduler", "EulerDiscreteScheduler" };

    // Released diffusers models train on 1000 timesteps. Far fewer leave no room for the samplers' step counts (FIFO
    // runs partitions × frames of them, 64 to 96 for zeroscope); far more only grow the alpha tables, one entry per timestep.
    const int MinTrainTimesteps = 100, MaxTrainTimesteps = 100_000;
    // The last alphas_cumprod (the signal left at the noisiest timestep) of released schedules is 4e-5 (linear 1e-4..0.02)
    // or 5e-3 (scaled_linear 0.00085..0.012). Below this the x0 prediction divides by sqrt of almost nothing, and float32
    // underflows to 0 a little further on; betas that large are a damaged config, not a schedule.
    const double MinFinalAlphaCumprod = 1e-20;

    public static DiffusersSchedulerConfig ConfigFrom(DiffusersConfig c, out IReadOnlyList<string> warnings)
    {
        c.Ignore("_diffusers_version", "_name_or_path", "_use_default_values",
            // PNDM's option, written into DDIM configs by old conversions; DDIM ignores it (as diffusers does).
            "skip_prk_steps",
            // Thresholding and x0 ranges only apply to a sampler that enables them; FIFO steps never do.
            "dynamic_thresholding_ratio", "sample_max_value", "variance_type");
        var className = c.String("_class_name", "DDIMScheduler");
        if (!KnownSchedulers.Contains(className)) c.Problem($"_class_name = {className} (expected one of {string.Join(", ", KnownSchedulers)})");
        int trainTimesteps = c.Int("num_train_timesteps", 1000, MinTrainTimesteps, MaxTrainTimesteps);
        var config = new DiffusersSchedulerConfig
        {
            NumTrainTimesteps = trainTimesteps,
            BetaStart = c.Double("beta_start", 0.0001),
            BetaEnd = c.Double("beta_end", 0.02),
            BetaSchedule = Named(c, "beta_schedule", "linear", DiffusersSchedulerConfig.ParseBetaSchedule),
            ClipSample = c.Bool("clip_sample", true),
            ClipSampleRange = c.Double("clip_sample_range", 1.0),
            SetAlphaToOne = c.Bool("set_alpha_to_one", true),
            // Added to every timestep of a leading grid: 0 or 1 in diffusers' configs. Negative puts the last step before
            // timestep 0; at num_train_timesteps or more, even a one-step grid starts past the last timestep.
            StepsOffset = c.Int("steps_offset", 0, 0, Math.Max(0, trainTimesteps - 1)),
            TimestepSpacing = Named(c, "timestep_spacing", "leading", DiffusersSchedulerConfig.ParseSpacing),
        };
        CheckBetas(c, config);
        c.Expect("prediction_type", "epsilon");
        c.Expect("thresholding", false);
        c.Expect("rescale_betas_zero_snr", false);
        c.ExpectNull("trained_betas", "an explicit beta list");
        warnings = c.Finish("scheduler");
        return config;
    }

    /// <summary>A name Core parses (beta_schedule, timestep_spacing), its refusal naming this file as well.</summary>
    static T Named<T>(DiffusersConfig c, string key, string fallback, Func<string, T> parse)
    {
        var name = c.String(key, fallback);
        try { return parse(name); }
        catch (FifoInputException ex) { throw new FifoInputException(ex.ErrorId, $"{c.Source}: {ex.Message}", ex) { Option = ex.Option }; }
    }

    /// <summary>
    /// Each beta is the variance of one step's noise, so within (0, 1); together they must leave some signal at the
    /// noisiest timestep and add some noise at the first, in float32, or the alpha tables hold 0 or 1 where samplers divide.
    /// </summary>
    static void CheckBetas(DiffusersConfig c, DiffusersSchedulerConfig config)
    {
        bool usable = true;
        foreach (var (key, beta) in new[] { ("beta_start", config.BetaStart), ("beta_end", config.BetaEnd) })
        {
            if (double.IsNaN(beta)) { usable = false; continue; } // already recorded as not a finite number
            if (beta is > 0 and < 1) continue;
            c.Invalid(key, "must be within (0, 1): a beta is the variance of one step's noise");
            usable = false;
        }
        int t = config.NumTrainTimesteps;
        if (!usable || t < MinTrainTimesteps || t > MaxTrainTimesteps) return;

        // The betas as diffusers spreads them (scaled_linear interpolates their square roots), their product in float64.
        double from = config.BetaSchedule == BetaSchedule.ScaledLinear ? Math.Sqrt(config.BetaStart) : config.BetaStart;
        double to = config.BetaSchedule == BetaSchedule.ScaledLinear ? Math.Sqrt(config.BetaEnd) : config.BetaEnd;
        double logAlphaCumprod = 0;
        for (int i = 0; i < t; i++)
        {
            double b = AlphaSchedules.NumpyLinspace(from, to, t, i);
            if (config.BetaSchedule == BetaSchedule.ScaledLinear) b *= b;
            logAlphaCumprod += Math.Log(1 - b);
        }
        if ((float)(1 - config.BetaStart) >= 1f)
            c.Invalid("beta_start", "too small to add any noise at the first timestep in float32 (1 - beta_start rounds to 1)");
        if (logAlphaCumprod < Math.Log(MinFinalAlphaCumprod))
            c.Invalid("beta_end", string.Create(CultureInfo.InvariantCulture,
                $"too large: with beta_start {config.BetaStart} over {t} timesteps it leaves alphas_cumprod {Math.Exp(logAlphaCumprod):G3} at the last timestep, below {MinFinalAlphaCumprod:G} (no signal left to denoise from)"));
    }
}
