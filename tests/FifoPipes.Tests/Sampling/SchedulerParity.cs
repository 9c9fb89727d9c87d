using System.Text.Json;
using FifoPipes.Core.Diffusion;
using FifoPipes.Tests.Parity;
using Xunit;
using static TorchSharp.torch;

namespace FifoPipes.Tests.Sampling;

/// <summary>Parity of the diffusers-compatible DDIM and DDPM schedulers (zeroscope / Open-Sora Plan settings).</summary>
public sealed class SchedulerParity : IParityComponent
{
    public IEnumerable<string> Components => new[] { "zs.ddim.step", "zs.ddpm.step" };

    public void Run(ParityCase c)
    {
        var config = ParseConfig(c.Config);
        int steps = c.Json.GetProperty("num_inference_steps").GetInt32();
        bool ddim = c.Component == "zs.ddim.step";
        var ddimScheduler = ddim ? new DiffusersDdimScheduler(config) : null;
        var ddpmScheduler = ddim ? null : new DiffusersDdpmScheduler(config);
        ddimScheduler?.SetTimesteps(steps);
        ddpmScheduler?.SetTimesteps(steps);
        var timesteps = ddimScheduler?.Timesteps ?? ddpmScheduler!.Timesteps;
        var alphas = ddimScheduler?.AlphasCumprod ?? ddpmScheduler!.AlphasCumprod;

        Assert.Equal(c["timesteps"].data<long>().ToArray(), timesteps);
        using (var a = tensor(alphas)) TensorAssert.Close(c["alphas_cumprod"], a, 1e-7, 0, "alphas_cumprod");

        foreach (var call in c.Json.GetProperty("calls").EnumerateArray())
        {
            long t = c[call.GetProperty("timestep").GetString()!].item<long>();
            var sample = c[call.GetProperty("sample").GetString()!];
            var eps = c[call.GetProperty("model_output").GetString()!];
            var noise = call.TryGetProperty("variance_noise", out var n) && n.ValueKind == JsonValueKind.String ? c[n.GetString()!] : null;
            using var step = ddim
                ? ddimScheduler!.Step(eps, t, sample, call.GetProperty("eta").GetDouble(), noise)
                : ddpmScheduler!.Step(eps, t, sample, noise);
            TensorAssert.Close(c[call.GetProperty("prev_sample").GetString()!], step.PrevSample, c.Atol, c.Rtol, $"prev_sample at t={t}");
            TensorAssert.Close(c[call.GetProperty("pred_original_sample").GetString()!], step.PredOriginalSample, c.Atol, c.Rtol, $"pred_original_sample at t={t}");
        }
    }

    static DiffusersSchedulerConfig ParseConfig(JsonElement j)
    {
        Assert.Equal("epsilon", j.GetProperty("prediction_type").GetString());
        Assert.False(j.GetProperty("thresholding").GetBoolean());
        var config = new DiffusersSchedulerConfig
        {
            NumTrainTimesteps = j.GetProperty("num_train_timesteps").GetInt32(),
            BetaStart = j.GetProperty("beta_start").GetDouble(),
            BetaEnd = j.GetProperty("beta_end").GetDouble(),
            BetaSchedule = DiffusersSchedulerConfig.ParseBetaSchedule(j.GetProperty("beta_schedule").GetString()!),
            ClipSample = j.GetProperty("clip_sample").GetBoolean(),
            ClipSampleRange = j.GetProperty("clip_sample_range").GetDouble(),
            StepsOffset = j.GetProperty("steps_offset").GetInt32(),
            TimestepSpacing = DiffusersSchedulerConfig.ParseSpacing(j.GetProperty("timestep_spacing").GetString()!),
        };
        if (j.TryGetProperty("set_alpha_to_one", out var one)) config = config with { SetAlphaToOne = one.GetBoolean() };
        return config;
    }
}
