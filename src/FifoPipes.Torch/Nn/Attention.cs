using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace FifoPipes.Torch.Nn;

/// <summary>
/// Multi-head attention with the LDM / diffusers layout: <c>to_q</c>, <c>to_k</c>, <c>to_v</c> (no bias) and
/// <c>to_out.0</c> (with bias). Self-attention when no context is given. The attention itself is
/// scaled_dot_product_attention (memory-efficient kernels on GPU); TorchSharp's SDPA has no scale
/// argument, so a non-default scale is folded into q.
/// </summary>
public class Attention : Module<Tensor, Tensor?, Tensor>
{
    readonly Linear to_q;
    readonly Linear to_k;
    readonly Linear to_v;
    readonly Sequential to_out;
    readonly double queryFactor;

    /// <param name="contextDim">Width of the context for cross-attention; null for self-attention.</param>
    /// <param name="scale">Logit scale; null for the usual headDim^-0.5.</param>
    public Attention(long queryDim, long? contextDim, int heads, int headDim, double? scale = null,
        Device? device = null, ScalarType? dtype = null)
        : base(nameof(Attention))
    {
        Heads = heads;
        HeadDim = headDim;
        Scale = scale ?? 1.0 / Math.Sqrt(headDim);
        queryFactor = Scale * Math.Sqrt(headDim);
        long inner = (long)heads * headDim;
        long kvDim = contextDim ?? queryDim;
        to_q = Linear(queryDim, inner, hasBias: false, device: device, dtype: dtype);
        to_k = Linear(kvDim, inner, hasBias: false, device: device, dtype: dtype);
        to_v = Linear(kvDim, inner, hasBias: false, device: device, dtype: dtype);
        to_out = Sequential(("0", Linear(inner, queryDim, hasBias: true, device: device, dtype: dtype)));
        register_module("to_q", to_q);
        register_module("to_k", to_k);
        register_module("to_v", to_v);
        register_module("to_out", to_out);
    }

    /// <summary>Heads; the projections' heads·<see cref="HeadDim"/> outputs are split into this many.</summary>
    public int Heads { get; }
    /// <summary>Width of one head.</summary>
    public int HeadDim { get; }
    /// <summary>Factor of q·kᵀ before the softmax: the constructor's scale, or headDim^-0.5 without one.</summary>
    public double Scale { get; }

    /// <summary>
    /// Self-attention over short sequences (the temporal layers' 16 frames) with as many sequences packed into each
    /// row of at most 128 tokens as divide the batch, under a block-diagonal mask, so that fused kernels whose tiles
    /// are sized for long sequences fill them. The same result as one sequence per row. Off by default: a candidate
    /// until a GPU has measured the whole call with it (docs/gpu.md); subclasses with their own attention ignore it.
    /// </summary>
    public bool PackShortSequences { get; set; }

    /// <param name="x">Queries [N, Lq, queryDim].</param>
    /// <param name="context">Keys/values source [N, Lk, contextDim]; null for self-attention.</param>
    public override Tensor forward(Tensor x, Tensor? context)
    {
        using var scope = NewDisposeScope();
        var source = context ?? x;
        var mixed = Attend(to_q.forward(x), to_k.forward(source), to_v.forward(source));
        return to_out.forward(mixed).MoveToOuterDisposeScope();
    }

    /// <summary>Attention over projected q, k, v [N, L, heads·headDim]; returns [N, Lq, heads·headDim].</summary>
    protected virtual Tensor Attend(Tensor q, Tensor k, Tensor v)
    {
        long n = q.shape[0], lq = q.shape[1];
        if (PackShortSequences && k.shape[1] == lq && SequencesPerRow(n, lq) is > 1 and var pack) return AttendPacked(q, k, v, pack);
        var qh = SplitHeads(q);
        if (queryFactor != 1.0) qh = qh * queryFactor;
        var o = BatchedAttention(qh, SplitHeads(k), SplitHeads(v));
        return o.transpose(1, 2).reshape(n, lq, (long)Heads * HeadDim);
    }

    /// <summary>
    /// CUDA launches at most 65,535 blocks along a grid's y and z axes, where the fused attention kernels put the batch;
    /// the temporal layers' batch is rows·h·w sequences (81,920 at 32 rows of 320x512 latents), so larger ones go in slices.
    /// </summary>
    public const long MaxKernelBatch = 65_535;

    /// <summary>
    /// scaled_dot_product_attention over [N, heads, L, d], in slices of at most <paramref name="limit"/> along N: each
    /// sequence attends only to itself, so the slices are exact. A 4-D mask with N rows (one per sequence) is sliced with
    /// them; any other mask broadcasts over N.
    /// </summary>
    public static Tensor BatchedAttention(Tensor q, Tensor k, Tensor v, Tensor? mask = null, long limit = MaxKernelBatch)
    {
        long n = q.shape[0];
        if (n <= limit) return functional.scaled_dot_product_attention(q, k, v, attn_mask: mask);
        bool maskPerSequence = mask is { Dimensions: 4 } && mask.shape[0] == n;
        var slices = new List<Tensor>();
        for (long start = 0; start < n; start += limit)
        {
            long length = Math.Min(limit, n - start);
            var sliceMask = maskPerSequence ? mask!.narrow(0, start, length) : mask;
            slices.Add(functional.scaled_dot_product_attention(q.narrow(0, start, length), k.narrow(0, start, length), v.narrow(0, start, length), attn_mask: sliceMask));
        }
        return cat(slices, 0);
    }

    Tensor AttendPacked(Tensor q, Tensor k, Tensor v, long pack) =>
        PackedAttention(queryFactor != 1.0 ? q * queryFactor : q, k, v, Heads, pack);

    /// <summary>
    /// Attention of each of N sequences [N, L, heads·d] to itself, computed <paramref name="pack"/> sequences to a row:
    /// as [N / pack, heads, pack·L, d] (a view) under a block-diagonal mask. Returns [N, L, heads·d].
    /// </summary>
    public static Tensor PackedAttention(Tensor q, Tensor k, Tensor v, int heads, long pack)
    {
        long n = q.shape[0], length = q.shape[1], width = q.shape[2], rowLength = pack * length;
        Tensor Packed(Tensor t) => t.reshape(n / pack, rowLength, heads, width / heads).transpose(1, 2);
        var sequence = arange(rowLength, ScalarType.Int64, q.device).floor_divide(length);
        var sameSequence = sequence.unsqueeze(1).eq(sequence.unsqueeze(0));
        var o = BatchedAttention(Packed(q), Packed(k), Packed(v), sameSequence);
        return o.transpose(1, 2).reshape(n, length, width);
    }

    /// <summary>The most sequences of <paramref name="length"/> that fit a 128-token row and divide <paramref name="sequences"/>; 1 when none do.</summary>
    public static long SequencesPerRow(long sequences, long length)
    {
        for (long pack = 128 / Math.Max(1, length); pack >= 2; pack--)
            if (sequences % pack == 0) return pack;
        return 1;
    }

    /// <summary>[N, L, h·d] to [N, h, L, d].</summary>
    protected Tensor SplitHeads(Tensor t) => t.view(t.shape[0], t.shape[1], Heads, HeadDim).transpose(1, 2);
}
