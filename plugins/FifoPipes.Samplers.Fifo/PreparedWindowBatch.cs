using FifoPipes.Core.Diffusion;
using static TorchSharp.torch;

namespace FifoPipes.Samplers.Fifo;

/// <summary>
/// One model call's worth of windows with everything that stays the same from iteration to iteration already on
/// the device: the slot timesteps and the written frames' step coefficients. Built once per run (and per batch size),
/// so an iteration copies nothing from the host but its noise.
/// </summary>
public sealed class PreparedWindowBatch : IDisposable
{
    PreparedWindowBatch(FifoWindow[] windows, int[] writtenSlots, Tensor timesteps, StepCoefficients coefficients)
    {
        Windows = windows;
        WrittenSlots = writtenSlots;
        Timesteps = timesteps;
        Coefficients = coefficients;
    }

    public IReadOnlyList<FifoWindow> Windows { get; }
    /// <summary>The queue slot of each written frame, in (window, frame) order: consecutive slots (see <see cref="Create"/>).</summary>
    public IReadOnlyList<int> WrittenSlots { get; }
    /// <summary>[windows, f] int64: the timestep of every frame of every window.</summary>
    public Tensor Timesteps { get; }
    /// <summary>Step coefficients of the written frames, [1, 1, M, 1, 1] each.</summary>
    public StepCoefficients Coefficients { get; }

    public static PreparedWindowBatch Create(FifoPlan plan, FifoWindow[] windows, Device device)
    {
        int f = plan.WindowFrames;
        var timesteps = windows.SelectMany(w => Enumerable.Range(w.Start, f).Select(plan.SlotTimestep)).ToArray();
        // Only the written part of each window is stepped; the lookahead context half is thrown away anyway.
        var slots = windows.SelectMany(w => Enumerable.Range(w.WriteFrom, w.End - w.WriteFrom)).ToArray();
        // Consecutive windows write adjacent slot ranges (WindowPlan), so a batch's step noise is a view of the
        // iteration's: no gather, and nothing a device without data (the meta device of HostSyncFreeLoopTests) cannot do.
        if (slots.Where((slot, i) => i > 0 && slot != slots[i - 1] + 1).Any())
            throw new InvalidOperationException($"The windows [{string.Join(", ", windows.Select(w => $"{w.Start}..{w.End}"))}] write slots that are not consecutive.");
        using var hostTimesteps = tensor(timesteps, new long[] { windows.Length, f });
        return new PreparedWindowBatch(windows, slots, hostTimesteps.to(device).DetachFromDisposeScope(),
            plan.Table.Prepare(slots.Select(plan.SlotK).ToArray(), 1, slots.Length, device));
    }

    /// <summary>The written frames of a batch tensor [windows, C, f, h, w] as [1, C, M, h, w], in (window, frame) order.</summary>
    public Tensor Written(Tensor batch)
    {
        using var scope = NewDisposeScope();
        var parts = Windows.Select((w, row) => batch[row].narrow(1, w.WriteOffset, w.End - w.WriteFrom)).ToList();
        return cat(parts, 1).unsqueeze(0).MoveToOuterDisposeScope();
    }

    /// <summary>The written frames' step noise out of the iteration's [C, L, h, w], as [1, C, M, h, w] (a view).</summary>
    public Tensor WrittenNoise(Tensor stepNoise) => stepNoise.narrow(1, WrittenSlots[0], WrittenSlots.Count).unsqueeze(0);

    public void Dispose()
    {
        Timesteps.Dispose();
        Coefficients.Dispose();
    }
}
