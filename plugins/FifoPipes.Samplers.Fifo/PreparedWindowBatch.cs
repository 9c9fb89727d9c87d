using FifoPipes.Core.Diffusion;
using static TorchSharp.torch;

namespace FifoPipes.Samplers.Fifo;

/// <summary>
/// One model call's worth of windows with everything that stays the same from iteration to iteration already on
/// the device: the slot timesteps, where the written frames sit in the batch, and their step coefficients. Built
/// once per run (and per batch size), so an iteration copies nothing from the host but its noise.
/// </summary>
public sealed class PreparedWindowBatch : IDisposable
{
    PreparedWindowBatch(FifoWindow[] windows, int[] writtenSlots, Tensor timesteps, Tensor writtenRows, Tensor writtenSlotIndex, StepCoefficients coefficients)
    {
        Windows = windows;
        WrittenSlots = writtenSlots;
        Timesteps = timesteps;
        WrittenRows = writtenRows;
        WrittenSlotIndex = writtenSlotIndex;
        Coefficients = coefficients;
    }

    public IReadOnlyList<FifoWindow> Windows { get; }
    /// <summary>The queue slot of each written frame, in (window, frame) order.</summary>
    public IReadOnlyList<int> WrittenSlots { get; }
    /// <summary>[windows, f] int64: the timestep of every frame of every window.</summary>
    public Tensor Timesteps { get; }
    /// <summary>[M] int64: row·f + frame of each written frame in the (window frame)-flattened batch.</summary>
    public Tensor WrittenRows { get; }
    /// <summary>[M] int64: <see cref="WrittenSlots"/> as a tensor, to pick the written frames' step noise.</summary>
    public Tensor WrittenSlotIndex { get; }
    /// <summary>Step coefficients of the written frames, [1, 1, M, 1, 1] each.</summary>
    public StepCoefficients Coefficients { get; }

    public static PreparedWindowBatch Create(FifoPlan plan, FifoWindow[] windows, Device device)
    {
        int f = plan.WindowFrames;
        var timesteps = windows.SelectMany(w => Enumerable.Range(w.Start, f).Select(plan.SlotTimestep)).ToArray();
        // Only the written part of each window is stepped; the lookahead context half is thrown away anyway.
        var written = windows.SelectMany((w, row) => Enumerable.Range(w.WriteOffset, f - w.WriteOffset).Select(m => (Row: (long)row * f + m, Slot: w.Start + m))).ToList();
        var slots = written.Select(p => p.Slot).ToArray();
        Tensor OnDevice(long[] values, params long[] shape)
        {
            using var host = tensor(values, shape);
            return host.to(device).DetachFromDisposeScope();
        }
        return new PreparedWindowBatch(windows, slots,
            OnDevice(timesteps, windows.Length, f),
            OnDevice(written.Select(p => p.Row).ToArray(), written.Count),
            OnDevice(slots.Select(s => (long)s).ToArray(), slots.Length),
            plan.Table.Prepare(slots.Select(plan.SlotK).ToArray(), 1, slots.Length, device));
    }

    /// <summary>
    /// The written frames of a batch tensor [windows, C, f, h, w] as [1, C, M, h, w]. Tensor indexing rather than
    /// index_select (the same gather) because it has a meta-device kernel, on which HostSyncFreeLoopTests runs the loop.
    /// </summary>
    public Tensor Written(Tensor batch)
    {
        long b = batch.shape[0], c = batch.shape[1], f = batch.shape[2], h = batch.shape[3], w = batch.shape[4];
        return batch.permute(0, 2, 1, 3, 4).reshape(b * f, c, h, w)[TensorIndex.Tensor(WrittenRows)].permute(1, 0, 2, 3).unsqueeze(0);
    }

    public void Dispose()
    {
        Timesteps.Dispose();
        WrittenRows.Dispose();
        WrittenSlotIndex.Dispose();
        Coefficients.Dispose();
    }
}
