using FifoPipes.Core.Diffusion;
using FifoPipes.Torch.Diffusers;

namespace FifoPipes.Models.Zeroscope;

/// <summary>scheduler/scheduler_config.json (a DDIMScheduler in zeroscope's folders) as our diffusers scheduler config.</summary>
public static class ZeroscopeScheduler
{
    /// <summary>Schedulers whose training schedule (betas) we can read; the sampler chooses its own step rule.</summary>
    static readonly string[] KnownSchedulers = { "DDIMScheduler", "DDPMScheduler", "DPMSolverMultistepScheduler", "PNDMScheduler", "EulerDiscreteScheduler" };

    public static DiffusersSchedulerConfig ConfigFrom(DiffusersConfig c, out IReadOnlyList<string> warnings)
    {
        c.Ignore("_diffusers_version", "_name_or_path", "_use_default_values",
            // PNDM's option, written into DDIM configs by old conversions; DDIM ignores it (as diffusers does).
            "skip_prk_steps",
            // Thresholding and x0 ranges only apply to a sampler that enables them; FIFO steps never do.
            "dynamic_thresholding_ratio", "sample_max_value", "variance_type");
        var className = c.String("_class_name", "DDIMScheduler");
        if (!KnownSchedulers.Contains(className)) c.Problem($"_class_name = {className} (expected one of {string.Join(", ", KnownSchedulers)})");
        var config = new DiffusersSchedulerConfig
        {
            NumTrainTimesteps = c.Int("num_train_timesteps", 1000),
            BetaStart = c.Double("beta_start", 0.0001),
            BetaEnd = c.Double("beta_end", 0.02),
            BetaSchedule = DiffusersSchedulerConfig.ParseBetaSchedule(c.String("beta_schedule", "linear")),
            ClipSample = c.Bool("clip_sample", true),
            ClipSampleRange = c.Double("clip_sample_range", 1.0),
            SetAlphaToOne = c.Bool("set_alpha_to_one", true),
            StepsOffset = c.Int("steps_offset", 0),
            TimestepSpacing = DiffusersSchedulerConfig.ParseSpacing(c.String("timestep_spacing", "leading")),
        };
        c.Expect("prediction_type", "epsilon");
        c.Expect("thresholding", false);
        c.Expect("rescale_betas_zero_snr", false);
        c.ExpectNull("trained_betas", "an explicit beta list");
        warnings = c.Finish("scheduler");
        return config;
    }
}
