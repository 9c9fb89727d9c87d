using FifoPipes.Abstractions;
using FifoPipes.Models.OpenSoraPlan.Vae;
using TorchSharp;
using static TorchSharp.torch;

namespace FifoPipes.Models.OpenSoraPlan;

/// <summary>
/// Streams FIFO's popped latents through the CausalVAE. Its GroupNorms and temporal upsampling see the whole
/// clip, so single frames cannot be decoded; instead latents are gathered into chunks of
/// <see cref="CausalVaeTiling.LatentFrames"/> that overlap by one latent frame, and every chunk after the first
/// drops its first decoded frame (the duplicate of the previous chunk's last). These are exactly the time
/// chunks of the release's tiled decode of the whole sequence, so the result equals decoding everything at
/// the end, while at most one chunk of latents is held. A resumed run gives a fresh decoder the latents held at the
/// resume point again (<see cref="IResumableFrameDecoder"/>): chunks fall where they would have, so it still does.
/// </summary>
public sealed class ChunkedFrameDecoder : IResumableFrameDecoder
{
    readonly CausalVae vae;
    readonly CausalVaeTiling tiling;
    readonly double latentScale;
    readonly List<Tensor> pending = new();
    bool emittedFirstChunk;

    public ChunkedFrameDecoder(CausalVae vae, CausalVaeTiling tiling, double latentScale = OpenSoraPreset.LatentScale)
    {
        if (tiling.LatentFrames < 2)
            throw new ArgumentException("Chunks must hold at least two latent frames to overlap by one.", nameof(tiling));
        this.vae = vae;
        this.tiling = tiling;
        this.latentScale = latentScale;
    }

    /// <summary>Latent frames held back now (at most one chunk).</summary>
    public int Pending => pending.Count;

    public long LatentOf(long frame) => vae.Config.LatentOfFrame(frame);

    /// <summary>The last chunk's end holds one latent back for the next chunk's overlap, so at most a chunk less one.</summary>
    public int MaxHeldLatents => tiling.LatentFrames - 1;

    public long HeldFrom(long pushed) => DecodedThrough(pushed) is { } decoded ? decoded - 1 : 0;

    public long FramesBefore(long pushed) => DecodedThrough(pushed) is { } decoded ? vae.Config.DecodedFrames(decoded) : 0;

    /// <summary>
    /// How many latents the chunks decoded after <paramref name="pushed"/> latents cover: the first chunk decodes at
    /// LatentFrames, every later one LatentFrames − 1 latents on; null before the first.
    /// </summary>
    long? DecodedThrough(long pushed)
    {
        if (pushed < tiling.LatentFrames) return null;
        long stride = tiling.LatentFrames - 1;
        return tiling.LatentFrames + (pushed - tiling.LatentFrames) / stride * stride;
    }

    public void ResumeAt(long heldFrom)
    {
        if (pending.Count > 0 || emittedFirstChunk)
            throw new InvalidOperationException("Only a fresh decoder can be resumed; this one has decoded or holds latents already.");
        // Past the first chunk the held latents start with the overlap, whose frame was emitted with the chunk before.
        emittedFirstChunk = heldFrom > 0;
    }

    public IReadOnlyList<Tensor> Push(Tensor latent)
    {
        if (latent.dim() != 3)
            throw new ArgumentException($"a latent frame is [C, h, w]; got [{string.Join(", ", latent.shape)}]", nameof(latent));
        // Held where it was made: a chunk is 17 small latents, and copying each to the host would wait for the device.
        // The scope takes the detached handle, so nothing but the kept copy outlives the call (this runs once per frame).
        using (NewDisposeScope())
            pending.Add(latent.detach().to(ScalarType.Float32, copy: true).DetachFromDisposeScope());
        return pending.Count == tiling.LatentFrames ? DecodePending(keepLast: true) : Array.Empty<Tensor>();
    }

    public IReadOnlyList<Tensor> Flush()
    {
        // After a full chunk only its last latent is held, and that frame was already emitted.
        bool onlyOverlap = emittedFirstChunk && pending.Count == 1;
        if (pending.Count == 0 || onlyOverlap) return Array.Empty<Tensor>();
        return DecodePending(keepLast: false);
    }

    IReadOnlyList<Tensor> DecodePending(bool keepLast)
    {
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        var weights = vae.parameters().First();
        var z = stack(pending, 1).unsqueeze(0).to(weights.dtype, weights.device) / latentScale;
        var video = vae.DecodeTiles(z, tiling)[0].to(ScalarType.Float32).clamp(-1.0, 1.0);
        int skip = emittedFirstChunk ? 1 : 0;
        var frames = new List<Tensor>();
        for (long t = skip; t < video.shape[1]; t++)
            frames.Add(((video.select(1, t) + 1.0) / 2.0).MoveToOuterDisposeScope());
        emittedFirstChunk = true;

        var last = pending[^1];
        foreach (var p in pending.Take(pending.Count - 1)) p.Dispose();
        pending.Clear();
        if (keepLast) pending.Add(last);
        else last.Dispose();
        return frames;
    }

    public void Dispose()
    {
        foreach (var p in pending) p.Dispose();
        pending.Clear();
    }
}
