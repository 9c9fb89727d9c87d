using FifoPipes.Abstractions;
using FifoPipes.Core.Diffusion;
using FifoPipes.Samplers.Fifo;
using FifoPipes.Tests.Parity;
using FifoPipes.Tests.Sampling;
using Xunit;
using static TorchSharp.torch;

namespace FifoPipes.Tests.VideoCrafter;

/// <summary>
/// What a "fifo.trajectory" case records beside its popped latents: the DDIM table, the queue's slots and windows,
/// and the tiny UNet's iteration-0 windows. The case's runner checks them all, so every declared output is compared.
/// </summary>
public static class FifoCaseRecords
{
    /// <summary>alphas_cumprod, tau and sched/*: our step table against the reference's DDIM schedule.</summary>
    public static void StepTableMatches(ParityCase c)
    {
        var replay = new FifoTrajectoryReplay(c);
        int steps = c.Config.GetProperty("num_inference_steps").GetInt32();
        var table = FrameStepTable.ForModel(replay.Info.Schedule, StepKind.Ddim, steps, replay.Eta, clipSample: false);

        Assert.Equal(c["alphas_cumprod"].data<float>().ToArray(), AlphaSchedules.LdmAlphasCumprod(replay.Info.Schedule));
        Assert.Equal(c["tau"].data<long>().ToArray(), table.Timesteps);
        Assert.Equal(c["sched/ddim_alphas"].data<float>().ToArray(), table.Alphas);
        Assert.Equal(c["sched/ddim_alphas_prev"].data<float>().ToArray(), table.AlphasPrev);
        Assert.Equal(c["sched/ddim_sigmas"].data<float>().ToArray(), Enumerable.Range(0, steps).Select(table.Sigma));
        Assert.Equal(c["sched/ddim_sqrt_one_minus_alphas"].data<float>().ToArray(), Enumerable.Range(0, steps).Select(table.SqrtOneMinusAlpha));
        if (c.Io.TryGetValue("sched/ddim_scale_arr", out var scale))
        {
            var x0Scale = AlphaSchedules.X0Scale(replay.Info.Schedule);
            Assert.Equal(scale.data<float>().ToArray(), table.Timesteps.Select(t => x0Scale[t]));
            Assert.Equal(c["sched/ddim_scale_arr_prev"].data<float>().ToArray(),
                Enumerable.Range(0, steps).Select(k => x0Scale[k == 0 ? 0 : table.Timesteps[k - 1]]));
        }
    }

    /// <summary>slot_k, slot_t and config.derived: the queue's length, pop slot and windows.</summary>
    public static void SlotsAndWindowsMatch(ParityCase c)
    {
        var replay = new FifoTrajectoryReplay(c);
        using var model = new DelegateVideoModel(replay.Info, (x, t, cond) => throw new InvalidOperationException("not called"));
        var (_, plan) = replay.CreateJob(model);
        var derived = c.Config.GetProperty("derived");

        Assert.Equal(derived.GetProperty("queue_length").GetInt32(), plan.QueueLength);
        Assert.Equal(derived.GetProperty("pop_slot").GetInt32(), plan.PopSlot);
        Assert.Equal(derived.GetProperty("windows_per_iteration").GetInt32(), plan.Windows.Count);
        Assert.Equal(derived.GetProperty("num_iterations").GetInt32(), plan.Discarded + replay.NewFrames);
        Assert.Equal(c["slot_k"].data<long>().ToArray(), Enumerable.Range(0, plan.QueueLength).Select(s => (long)plan.SlotK(s)));
        Assert.Equal(c["slot_t"].data<long>().ToArray(), Enumerable.Range(0, plan.QueueLength).Select(plan.SlotTimestep));
        int stride = derived.GetProperty("window_stride").GetInt32();
        Assert.Equal(Enumerable.Range(0, plan.Windows.Count).Select(r => r * stride), plan.Windows.Select(w => w.Start));
    }

    /// <summary>
    /// debug/it0/rank r (x_in to eps_cond, eps_uncond): the tiny UNet in per-frame mode, the window's timesteps being
    /// slot_t[start, start + f).
    /// </summary>
    public static void IterationZeroWindowsMatch(ParityCase fifoCase, TinyUNetDenoiser denoiser)
    {
        var config = fifoCase.Config;
        int f = config.GetProperty("video_length").GetInt32();
        int n = config.GetProperty("num_partitions").GetInt32();
        bool lookahead = config.GetProperty("lookahead_denoising").GetBoolean();
        bool guided = config.GetProperty("unconditional_guidance_scale").GetDouble() != 1.0;
        long fps = config.GetProperty("fps").GetInt64();
        int windows = lookahead ? 2 * n : n, stride = lookahead ? f / 2 : f;
        const double atol = 2e-5, rtol = 1e-4; // README: debug/* agree to about 1e-6 across valid float32 variants

        _ = fifoCase.Io;
        var slotT = fifoCase["slot_t"];
        var cond = fifoCase["cond/context"];
        var uncond = fifoCase["uncond/context"];
        for (int r = 0; r < windows; r++)
        {
            using var scope = NewDisposeScope();
            string prefix = $"debug/it0/rank{r}/";
            var x = fifoCase[prefix + "x_in"];
            var t = slotT.narrow(0, r * stride, f).reshape(1, f);
            var epsCond = denoiser.Eps(x, t, cond, fps);
            if (guided)
            {
                TensorAssert.Close(fifoCase[prefix + "eps_cond"], epsCond, atol, rtol, $"{fifoCase.Name} rank {r} eps_cond");
                TensorAssert.Close(fifoCase[prefix + "eps_uncond"], denoiser.Eps(x, t, uncond, fps), atol, rtol, $"{fifoCase.Name} rank {r} eps_uncond");
            }
            else
            {
                TensorAssert.Close(fifoCase[prefix + "eps"], epsCond, atol, rtol, $"{fifoCase.Name} rank {r} eps");
            }
        }
    }
}
