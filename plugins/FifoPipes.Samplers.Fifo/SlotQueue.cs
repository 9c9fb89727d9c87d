using static TorchSharp.torch;

namespace FifoPipes.Samplers.Fifo;

/// <summary>
/// The FIFO queue: one latent [C, h, w] per slot, head (index 0) cleanest. The tensors belong to the queue and live
/// outside any dispose scope, because the queue outlives every step and every yield of the sampler.
/// </summary>
public sealed class SlotQueue : IDisposable
{
    readonly List<Tensor> slots;

    public SlotQueue(IEnumerable<Tensor> latents) => slots = latents.Select(Own).ToList();

    public int Length => slots.Count;
    public Tensor this[int slot] => slots[slot];

    /// <summary>Slots [start, end) as one tensor [C, end - start, h, w].</summary>
    public Tensor Window(int start, int end) => stack(slots.GetRange(start, end - start), 1);

    /// <summary>The whole queue as [C, L, h, w] (snapshots, tests).</summary>
    public Tensor ToTensor() => stack(slots, 1);

    /// <summary>Replaces the latent of <paramref name="slot"/>; the queue takes ownership of <paramref name="latent"/>.</summary>
    public void Replace(int slot, Tensor latent)
    {
        var old = slots[slot];
        slots[slot] = Own(latent);
        old.Dispose();
    }

    /// <summary>A copy of <paramref name="slot"/>, for the caller to keep.</summary>
    public Tensor Copy(int slot) => slots[slot].clone();

    /// <summary>Drops the head, moves every slot one place forward and appends <paramref name="tail"/> (ownership taken).</summary>
    public void ShiftAndPush(Tensor tail)
    {
        slots[0].Dispose();
        slots.RemoveAt(0);
        slots.Add(Own(tail));
    }

    public void Dispose()
    {
        foreach (var t in slots) t.Dispose();
        slots.Clear();
    }

    static Tensor Own(Tensor t) => t.DetachFromDisposeScope();
}
