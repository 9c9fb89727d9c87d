namespace FifoPipes.Torch.UNets;

/// <summary>Floating-point operations of one <see cref="UNet3D"/> forward, by kind (2 per multiply-add).</summary>
/// <param name="Linear">Linear layers and 1×1 projections, time-embedding MLPs included.</param>
/// <param name="SpatialConv">Per-frame 2-D convolutions (conv_in, ResBlocks, skips, resamplers, conv_out).</param>
/// <param name="TemporalConv">The temporal Conv3d stacks (zero without <see cref="UNet3DConfig.TemporalConv"/>).</param>
/// <param name="Attention">The attention matmuls QKᵀ and PV (relative-position terms included).</param>
public sealed record UNet3DFlopCount(double Linear, double SpatialConv, double TemporalConv, double Attention)
{
    /// <summary>Spatial plus temporal convolution FLOPs.</summary>
    public double Conv => SpatialConv + TemporalConv;
    /// <summary>Every counted FLOP of the forward.</summary>
    public double Total => Linear + Conv + Attention;
}

/// <summary>
/// Counts the FLOPs of one UNet3D forward from its configuration, walking the same block layout the constructor
/// builds: 2·MACs of every Linear (1×1 projections included) and Conv, plus the attention matmuls (QKᵀ and PV);
/// norms, activations and other elementwise work (under 2%) are left out, as in the design notes' table.
/// </summary>
public static class UNet3DFlops
{
    /// <param name="batch">Rows per call (windows × guidance branches).</param>
    /// <param name="frames">Frames per row (f).</param>
    /// <param name="height">Latent height.</param>
    /// <param name="width">Latent width.</param>
    /// <param name="contextLength">Text tokens the cross-attention sees (77 for CLIP).</param>
    public static UNet3DFlopCount Count(UNet3DConfig config, long batch, long frames, long height, long width, long contextLength = 77)
    {
        var c = new Counter(config, batch, frames, contextLength);
        int mc = config.ModelChannels, emb = config.TimeEmbedDim;
        long n = batch * frames;

        // Time (and fps) embedding MLPs, one row per frame.
        c.Linear += (config.FpsCond ? 2 : 1) * 2.0 * n * ((double)mc * emb + (double)emb * emb);

        long h = height, w = width;
        c.Conv2d(config.InChannels, mc, 3, h, w);
        if (config.AdditionAttention) c.Temporal(mc, 8, config.NumHeadChannels, h, w, projectionIsConv: true);
        var skips = new Stack<int>();
        skips.Push(mc);
        int ch = mc, ds = 1;
        for (int level = 0; level < config.Levels; level++)
        {
            for (int r = 0; r < config.NumResBlocks; r++)
            {
                int outCh = config.ChannelsAt(level);
                c.Res(ch, outCh, h, w);
                ch = outCh;
                if (config.AttentionResolutions.Contains(ds)) c.Transformers(ch, h, w);
                skips.Push(ch);
            }
            if (level != config.Levels - 1)
            {
                h = (h + 1) / 2;
                w = (w + 1) / 2;
                c.Conv2d(ch, ch, 3, h, w); // stride 2: counted at the output size
                skips.Push(ch);
                ds *= 2;
            }
        }
        c.Res(ch, ch, h, w);
        c.Transformers(ch, h, w);
        c.Res(ch, ch, h, w);
        for (int level = config.Levels - 1; level >= 0; level--)
        {
            for (int i = 0; i <= config.NumResBlocks; i++)
            {
                int outCh = config.ChannelsAt(level);
                c.Res(ch + skips.Pop(), outCh, h, w);
                ch = outCh;
                if (config.AttentionResolutions.Contains(ds)) c.Transformers(ch, h, w);
                if (level > 0 && i == config.NumResBlocks)
                {
                    h *= 2;
                    w *= 2;
                    c.Conv2d(ch, ch, 3, h, w);
                    ds /= 2;
                }
            }
        }
        c.Conv2d(mc, config.OutChannels, 3, h, w);
        return new UNet3DFlopCount(c.Linear, c.SpatialConv, c.TemporalConv, c.Attention);
    }

    sealed class Counter
    {
        readonly UNet3DConfig config;
        readonly long batch, frames, contextLength;
        public double Linear, SpatialConv, TemporalConv, Attention;

        public Counter(UNet3DConfig config, long batch, long frames, long contextLength)
        {
            this.config = config;
            this.batch = batch;
            this.frames = frames;
            this.contextLength = contextLength;
        }

        long Frames => batch * frames;

        public void Conv2d(long cin, long cout, long k, long h, long w) => SpatialConv += 2.0 * cin * cout * k * k * h * w * Frames;

        public void Res(long cin, long cout, long h, long w)
        {
            Conv2d(cin, cout, 3, h, w);
            Linear += 2.0 * config.TimeEmbedDim * cout * Frames;
            Conv2d(cout, cout, 3, h, w);
            if (cin != cout) Conv2d(cin, cout, 1, h, w);
            if (!config.TemporalConv) return;
            long wide = config.TempspatialAware ? 27 : 3;
            TemporalConv += 2.0 * cout * cout * (2 * wide + 2 * 3) * h * w * Frames;
        }

        public void Transformers(int channels, long h, long w)
        {
            var (heads, headDim) = config.HeadsAt(channels);
            Spatial(channels, heads * headDim, h * w);
            if (config.TemporalAttention) Temporal(channels, heads, headDim, h, w, projectionIsConv: false);
        }

        /// <summary>Per frame: tokens = h·w, self-attention then cross-attention to the text.</summary>
        void Spatial(long channels, long inner, long tokens)
        {
            double rows = (double)tokens * Frames;
            Linear += 2 * 2.0 * channels * inner * rows; // proj_in, proj_out
            for (int d = 0; d < config.TransformerDepth; d++)
            {
                Linear += 4 * 2.0 * inner * inner * rows;                                  // attn1 q, k, v, out
                Attention += 4.0 * tokens * tokens * inner * Frames;                         // attn1 QKᵀ, PV
                Linear += 2 * 2.0 * inner * inner * rows;                                    // attn2 q, out
                Linear += 2 * 2.0 * config.ContextDim * inner * contextLength * Frames;       // attn2 k, v (per frame's copy of the text)
                Attention += 4.0 * tokens * contextLength * inner * Frames;                  // attn2 QKᵀ, PV
                Linear += 2.0 * inner * 8 * inner * rows + 2.0 * 4 * inner * inner * rows;   // GEGLU ff
            }
        }

        /// <summary>Per pixel: a sequence over the frames; both attentions are self-attention.</summary>
        public void Temporal(long channels, int heads, int headDim, long h, long w, bool projectionIsConv)
        {
            long inner = (long)heads * headDim;
            double rows = (double)h * w * Frames;
            double sequences = (double)h * w * batch;
            Linear += 2 * 2.0 * channels * inner * rows;
            int depth = projectionIsConv ? config.TransformerDepth : config.TemporalTransformerDepth;
            for (int d = 0; d < depth; d++)
            {
                Linear += 2 * 4 * 2.0 * inner * inner * rows;
                // Relative positions (VideoCrafter1) add q·E_k and P·E_v, one more matmul pair per attention.
                Attention += 2 * 4.0 * frames * frames * inner * sequences * (config.UseRelativePosition ? 2 : 1);
                Linear += 2.0 * inner * 8 * inner * rows + 2.0 * 4 * inner * inner * rows;
            }
        }
    }
}
