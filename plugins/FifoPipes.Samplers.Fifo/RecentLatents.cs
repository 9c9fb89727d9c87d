using FifoPipes.Abstractions;
using static TorchSharp.torch;

namespace FifoPipes.Samplers.Fifo;

/// <summary>
/// Copies of the latest output latents, as many as <see cref="SamplingJob.KeepLatents"/> asks, for snapshots: a
/// decoder that holds latents back cannot continue a resumed run without the ones it held.
/// </summary>
sealed class RecentLatents : IDisposable
{
    readonly int capacity;
    readonly Queue<Tensor> latents = new();

    public RecentLatents(int capacity) => this.capacity = capacity;

    /// <summary>Output latents before the oldest one kept.</summary>
    public long First { get; private set; }
    public int Count => latents.Count;

    /// <summary>Keeps a copy of output latent <paramref name="index"/>, the one after the newest kept.</summary>
    public void Add(long index, Tensor latent)
    {
        if (latents.Count == 0) First = index;
        using (NewDisposeScope()) latents.Enqueue(latent.detach().clone().DetachFromDisposeScope());
        if (latents.Count > capacity)
        {
            latents.Dequeue().Dispose();
            First++;
        }
    }

    /// <summary>The kept latents as [C, n, h, w] on the host (a new tensor), or null when none is kept.</summary>
    public Tensor? ToHost()
    {
        if (latents.Count == 0) return null;
        using var scope = NewDisposeScope();
        return stack(latents, 1).cpu().clone().MoveToOuterDisposeScope();
    }

    /// <summary>Replaces the kept latents with a snapshot's [C, n, h, w], the last n before output latent <paramref name="end"/>.</summary>
    public void Restore(Tensor stacked, long end, Device device)
    {
        Clear();
        long n = Math.Min(stacked.shape[1], capacity);
        First = end - n;
        using var scope = NewDisposeScope();
        foreach (var latent in stacked.narrow(1, stacked.shape[1] - n, n).to(device).unbind(1)) latents.Enqueue(latent.clone().DetachFromDisposeScope());
    }

    /// <summary>Copies of the kept latents with their output indices, oldest first; the caller owns them.</summary>
    public IEnumerable<(long Index, Tensor Latent)> Copies() => latents.Select((t, i) => (First + i, t.clone().DetachFromDisposeScope()));

    void Clear()
    {
        foreach (var t in latents) t.Dispose();
        latents.Clear();
    }

    public void Dispose() => Clear();
}
