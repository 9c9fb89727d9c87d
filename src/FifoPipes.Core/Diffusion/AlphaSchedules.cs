using FifoPipes.Abstractions;
using static TorchSharp.torch;

namespace FifoPipes.Core.Diffusion;

/// <summary>
/// Cumulative alphas (abar) of a training noise schedule, at the precision each reference family uses:
/// LDM/VideoCrafter builds betas and the cumulative product in float64 and casts the result to float32;
/// diffusers does everything in float32. The two differ by about 1e-7, which is enough to matter for bit-exact parity.
/// </summary>
public static class AlphaSchedules
{
    /// <summary>LDM: betas = linspace(...) in float64, abar = cumprod(1 - betas) in float64, then float32.</summary>
    public static float[] LdmAlphasCumprod(NoiseSchedule schedule) =>
        AlphasCumprod(schedule.Betas, schedule.BetaStart, schedule.BetaEnd, schedule.TrainTimesteps, ScalarType.Float64);

    /// <summary>diffusers: betas and their cumulative product in float32 (torch.linspace / torch.cumprod).</summary>
    public static float[] DiffusersAlphasCumprod(NoiseSchedule schedule) =>
        AlphasCumprod(schedule.Betas, schedule.BetaStart, schedule.BetaEnd, schedule.TrainTimesteps, ScalarType.Float32);

    /// <summary>
    /// abar[t] = prod(1 - beta) up to t, for t = 0..<paramref name="trainTimesteps"/> - 1, computed by libtorch in
    /// <paramref name="precision"/> (Float64 as LDM, Float32 as diffusers) and returned as float32. <paramref name="betaStart"/>
    /// and <paramref name="betaEnd"/> are betas, not their square roots, also for <see cref="BetaSchedule.ScaledLinear"/>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Fewer than 2 timesteps.</exception>
    /// <exception cref="FifoInputException">"ScheduleUnsupported" for a beta schedule this version does not know.</exception>
    public static float[] AlphasCumprod(BetaSchedule betas, double betaStart, double betaEnd, int trainTimesteps, ScalarType precision)
    {
        if (trainTimesteps < 2) throw new ArgumentOutOfRangeException(nameof(trainTimesteps), "A schedule needs at least 2 timesteps.");
        using var scope = NewDisposeScope();
        // Computed with libtorch itself, so linspace and cumprod round exactly as the references' torch calls do.
        var beta = betas switch
        {
            BetaSchedule.Linear => linspace(betaStart, betaEnd, trainTimesteps, dtype: precision),
            BetaSchedule.ScaledLinear => linspace(Math.Sqrt(betaStart), Math.Sqrt(betaEnd), trainTimesteps, dtype: precision).pow(2),
            _ => throw new FifoInputException("ScheduleUnsupported",
                $"The model's beta schedule '{betas}' is newer than this FifoPipes, which knows Linear and ScaledLinear: update FifoPipes, or use another model."),
        };
        var abar = (1 - beta).cumprod(0).to(ScalarType.Float32);
        return abar.data<float>().ToArray();
    }

    /// <summary>
    /// LDM's use_scale array indexed by timestep: concat(linspace(1, end, steps), full(end)) as float32.
    /// All ones when the schedule has no x0 scale.
    /// </summary>
    public static float[] X0Scale(NoiseSchedule schedule)
    {
        var scale = new float[schedule.TrainTimesteps];
        int steps = schedule.X0ScaleSteps;
        double end = schedule.X0ScaleEnd;
        for (int t = 0; t < scale.Length; t++)
            scale[t] = t < steps ? (float)NumpyLinspace(1.0, end, steps, t) : (float)end;
        return scale;
    }

    /// <summary>Element <paramref name="i"/> of numpy.linspace(start, stop, num): start + i * step, the last one exactly stop.</summary>
    public static double NumpyLinspace(double start, double stop, int num, int i)
    {
        if (num == 1) return start;
        if (i == num - 1) return stop;
        double step = (stop - start) / (num - 1);
        return i * step + start;
    }
}
