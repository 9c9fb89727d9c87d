using FifoPipes.Abstractions;

namespace FifoPipes.Models.Analytic;

/// <summary>The cumulative alphas of a training noise schedule, in float64 (what the exact denoiser is conditioned on).</summary>
public static class DiffusionSchedule
{
    public static double[] AlphasCumprod(NoiseSchedule schedule)
    {
        int count = schedule.TrainTimesteps;
        var abar = new double[count];
        double running = 1.0;
        for (int i = 0; i < count; i++)
        {
            double f = count == 1 ? 0.0 : i / (double)(count - 1);
            double beta = schedule.Betas switch
            {
                BetaSchedule.Linear => schedule.BetaStart + f * (schedule.BetaEnd - schedule.BetaStart),
                BetaSchedule.ScaledLinear => Math.Pow(Math.Sqrt(schedule.BetaStart) + f * (Math.Sqrt(schedule.BetaEnd) - Math.Sqrt(schedule.BetaStart)), 2),
                _ => throw new ArgumentOutOfRangeException(nameof(schedule), $"Unknown beta schedule {schedule.Betas}."),
            };
            running *= 1.0 - beta;
            abar[i] = running;
        }
        return abar;
    }
}
