using FifoPipes.Abstractions;

namespace FifoPipes.Core.Diffusion;

/// <summary>How diffusers spreads inference timesteps over the training range.</summary>
public enum TimestepSpacing
{
    /// <summary>Multiples of T / S (integer division) from 0 up, each plus steps_offset; diffusers' default.</summary>
    Leading,
    /// <summary>round(T - i T / S) - 1: from T - 1 down, so the noisiest step is T - 1 and the cleanest about T / S - 1.</summary>
    Trailing,
    /// <summary>round(linspace(0, T - 1, S)): both ends included.</summary>
    Linspace,
}

/// <summary>Inference timestep grids.</summary>
public static class TimestepGrids
{
    /// <summary>
    /// FIFO-Diffusion's DDIM grid, ascending: tau_k = round(linspace(0, T - 1, S)), numpy rounding (half to even),
    /// no +1 offset, so tau_0 = 0 and tau_{S-1} = T - 1.
    /// </summary>
    public static long[] FifoUniform(int steps, int trainTimesteps)
    {
        if (steps < 1) throw new ArgumentOutOfRangeException(nameof(steps), "At least one step is needed.");
        var tau = new long[steps];
        for (int k = 0; k < steps; k++)
            tau[k] = (long)Math.Round(AlphaSchedules.NumpyLinspace(0, trainTimesteps - 1, steps, k), MidpointRounding.ToEven);
        return tau;
    }

    /// <summary>diffusers' set_timesteps grid, descending (as scheduler.timesteps).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="steps"/> is outside 1..<paramref name="trainTimesteps"/>.</exception>
    /// <exception cref="FifoInputException">"StepsOffsetOutOfRange" when the config's steps_offset moves a leading grid outside 0..T - 1.</exception>
    public static long[] Diffusers(int steps, int trainTimesteps, TimestepSpacing spacing, int stepsOffset)
    {
        if (steps < 1 || steps > trainTimesteps)
            throw new ArgumentOutOfRangeException(nameof(steps), $"Inference steps must be within 1..{trainTimesteps}, got {steps}.");
        var t = new long[steps];
        switch (spacing)
        {
            case TimestepSpacing.Leading:
                int ratio = trainTimesteps / steps;
                for (int i = 0; i < steps; i++) t[i] = (long)(steps - 1 - i) * ratio + stepsOffset;
                // diffusers indexes its alpha table with these unchecked (steps_offset 1 with steps = T reaches T); we refuse.
                if (t[^1] < 0 || t[0] >= trainTimesteps)
                    throw new FifoInputException("StepsOffsetOutOfRange",
                        $"steps_offset {stepsOffset} moves {steps} leading steps to timesteps {t[^1]}..{t[0]}, outside the schedule's 0..{trainTimesteps - 1}: " +
                        "use fewer steps, or the model's own scheduler_config.json (steps_offset 0 or 1).");
                break;
            case TimestepSpacing.Trailing:
                double r = (double)trainTimesteps / steps;
                // np.round(np.arange(T, 0, -r)) - 1
                for (int i = 0; i < steps; i++) t[i] = (long)Math.Round(trainTimesteps - i * r, MidpointRounding.ToEven) - 1;
                break;
            case TimestepSpacing.Linspace:
                for (int i = 0; i < steps; i++)
                    t[i] = (long)Math.Round(AlphaSchedules.NumpyLinspace(0, trainTimesteps - 1, steps, steps - 1 - i), MidpointRounding.ToEven);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(spacing), spacing, null);
        }
        return t;
    }

    /// <summary>diffusers "leading" grid reversed to ascending order, the per-slot grid FIFO uses with a diffusers DDPM model.</summary>
    public static long[] LeadingAscending(int steps, int trainTimesteps, int stepsOffset = 0)
    {
        var t = Diffusers(steps, trainTimesteps, TimestepSpacing.Leading, stepsOffset);
        Array.Reverse(t);
        return t;
    }
}
