using FifoPipes.Torch.Nn;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace FifoPipes.Torch.UNets;

/// <summary>
/// Learned relative-position embeddings (Shaw et al.): <c>embeddings_table</c> [2L+1, d], row
/// clamp(j − i, −L, L) + L for query i and key j.
/// </summary>
public sealed class RelativePosition : Module<long, long, Tensor>
{
    readonly Parameter embeddings_table;

    /// <summary>A table [2·<paramref name="maxDistance"/> + 1, <paramref name="headDim"/>], Xavier-uniform until a checkpoint is loaded.</summary>
    public RelativePosition(int headDim, int maxDistance, Device? device = null, ScalarType? dtype = null) : base(nameof(RelativePosition))
    {
        MaxDistance = maxDistance;
        embeddings_table = new Parameter(empty(new long[] { 2 * maxDistance + 1, headDim }, dtype: dtype, device: device));
        if (embeddings_table.device_type != DeviceType.META)
        {
            using var noGrad = no_grad();
            init.xavier_uniform_(embeddings_table);
        }
        register_parameter("embeddings_table", embeddings_table);
    }

    /// <summary>Offsets beyond ±this share the table's end rows (VideoCrafter1: temporal_length, 16 frames).</summary>
    public int MaxDistance { get; }

    /// <summary>E[i, j] = table[clamp(j − i)] as [lengthQ, lengthK, d].</summary>
    public override Tensor forward(long lengthQ, long lengthK)
    {
        using var scope = NewDisposeScope();
        var q = arange(lengthQ, dtype: ScalarType.Int64, device: embeddings_table.device);
        var k = arange(lengthK, dtype: ScalarType.Int64, device: embeddings_table.device);
        var index = (k.unsqueeze(0) - q.unsqueeze(1)).clamp(-MaxDistance, MaxDistance) + MaxDistance;
        return embeddings_table.index_select(0, index.flatten()).view(lengthQ, lengthK, -1).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// VideoCrafter1's temporal attention with relative positions on keys and values:
/// sim = (q·kᵀ + q·E_k[i,j])·s, out = P·v + Σ_j P[i,j]·E_v[i,j]. The tables are shared by all heads.
/// The extra terms do not fit scaled_dot_product_attention, so this computes the scores explicitly
/// (the temporal sequences are short: at most a few dozen frames).
/// </summary>
public sealed class RelativePositionAttention : Attention
{
    readonly RelativePosition relative_position_k;
    readonly RelativePosition relative_position_v;

    /// <summary>An <see cref="Attention"/> plus the tables <c>relative_position_k</c> and <c>relative_position_v</c>; <see cref="Attention.PackShortSequences"/> has no effect on it.</summary>
    /// <param name="maxDistance">Clamp distance of both tables.</param>
    public RelativePositionAttention(long queryDim, long? contextDim, int heads, int headDim, int maxDistance,
        Device? device = null, ScalarType? dtype = null)
        : base(queryDim, contextDim, heads, headDim, device: device, dtype: dtype)
    {
        relative_position_k = new RelativePosition(headDim, maxDistance, device, dtype);
        relative_position_v = new RelativePosition(headDim, maxDistance, device, dtype);
        register_module("relative_position_k", relative_position_k);
        register_module("relative_position_v", relative_position_v);
    }

    /// <inheritdoc/>
    protected override Tensor Attend(Tensor q, Tensor k, Tensor v)
    {
        long n = q.shape[0], lq = q.shape[1], lk = k.shape[1];
        // Heads folded into the batch axis: [N·h, L, d].
        Tensor Fold(Tensor t) => SplitHeads(t).reshape(-1, t.shape[1], HeadDim);
        var qf = Fold(q);
        var kf = Fold(k);
        var vf = Fold(v);
        var sim = matmul(qf, kf.transpose(1, 2)) * Scale;
        var ek = relative_position_k.forward(lq, lk).to(q.dtype);
        sim = sim + einsum("btd,tsd->bts", qf, ek) * Scale;
        var p = sim.softmax(-1);
        var ev = relative_position_v.forward(lq, lk).to(q.dtype);
        var o = matmul(p, vf) + einsum("bts,tsd->btd", p, ev);
        return o.view(n, Heads, lq, HeadDim).transpose(1, 2).reshape(n, lq, (long)Heads * HeadDim);
    }
}
