using TorchSharp;
using static TorchSharp.torch;

namespace FifoPipes.Models.Analytic;

/// <summary>
/// The exact posterior-mean noise prediction of the analytic prior for a window whose frames carry
/// different noise levels. Per rfft bin, with A = diag(sqrt(abar)), D = diag(1 - abar) and the window
/// covariance K, the prediction is eps = D^(1/2) (A K A + D)^(-1) Y (the same as
/// (y - A xhat0) / sqrt(1 - abar) with xhat0 = K A (A K A + D)^(-1) Y, without the cancellation).
/// That F x F operator depends only on the prior and the abar vector, and FIFO shows every window
/// position the same abar vector at every iteration, so operators are built once in float64, kept in
/// a small LRU cache and applied as one batched complex64 matvec per call.
/// </summary>
public sealed class ExactDenoiser : IDisposable
{
    /// <summary>How much a growing cache may hold: a few hundred operators at the default size.</summary>
    public const long GrowthLimitBytes = 1L << 30;

    int capacity;
    readonly bool grows;
    readonly LinkedList<(string Key, Tensor Operator)> recent = new();
    readonly Dictionary<string, LinkedListNode<(string Key, Tensor Operator)>> cache = new(StringComparer.Ordinal);
    // Keys evicted lately: asking for one again means the cache is smaller than the cycle of operators in use.
    readonly HashSet<string> evicted = new(StringComparer.Ordinal);

    /// <param name="grows">
    /// Let the cache grow (to <see cref="GrowthLimitBytes"/>) while it evicts operators that are asked for again: FIFO
    /// uses the same operators in the same order every iteration, so a cache one short of that cycle rebuilds them all.
    /// </param>
    public ExactDenoiser(int height, int width, Device? device = null, int cacheCapacity = 24, bool grows = false)
    {
        if (height < 1 || width < 1) throw new ArgumentOutOfRangeException(nameof(height), "The latent must be at least 1 x 1.");
        if (cacheCapacity < 1) throw new ArgumentOutOfRangeException(nameof(cacheCapacity), "The operator cache holds at least one entry.");
        Height = height;
        Width = width;
        Device = device ?? CPU;
        capacity = cacheCapacity;
        this.grows = grows;
    }

    /// <summary>Bytes of one operator: frames x frames complex64 per channel and rfft bin.</summary>
    public static long OperatorBytes(int frames, int channels, int height, int width) => 8L * frames * frames * channels * height * (width / 2 + 1);

    /// <summary>Operators the cache holds at most now.</summary>
    public int Capacity => capacity;

    public int Height { get; }
    public int Width { get; }
    public Device Device { get; }
    /// <summary>Operators built so far (cache misses); useful to check that FIFO reuses them.</summary>
    public long OperatorsBuilt { get; private set; }
    public int CachedOperators => cache.Count;

    /// <summary>
    /// eps [C, F, h, w] (float32) for noisy latents <paramref name="y"/> [C, F, h, w] whose frame t has
    /// cumulative alpha <paramref name="abar"/>[t] (each strictly between 0 and 1).
    /// </summary>
    public Tensor PredictNoise(Tensor y, IReadOnlyList<double> abar, PromptParameters parameters)
    {
        if (y.dim() != 4 || y.shape[0] != parameters.Channels || y.shape[1] != abar.Count || y.shape[2] != Height || y.shape[3] != Width)
            throw new ArgumentException($"Expected latents [{parameters.Channels}, {abar.Count}, {Height}, {Width}], got [{string.Join(", ", y.shape)}].", nameof(y));
        using var scope = NewDisposeScope();
        var op = Operator(parameters, abar);                                          // [F, F, C, h, w'] complex64
        // Frames lead so the per-bin matvec is a broadcast multiply-add over long contiguous bin rows
        // (several times faster on the CPU than a batched matmul of 16 x 16 blocks).
        var bins = fft.rfft2(y.to(ScalarType.Float32).to(Device).transpose(0, 1), norm: FFTNormType.Ortho);   // [F, C, h, w']
        var eps = (op * bins.unsqueeze(0)).sum(1);
        return fft.irfft2(eps, s: new long[] { Height, Width }, norm: FFTNormType.Ortho).transpose(0, 1).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>The cached operator D^(1/2) (A K A + D)^(-1) per channel and bin, laid out [F, F, C, h, w/2+1] (complex64).</summary>
    public Tensor Operator(PromptParameters parameters, IReadOnlyList<double> abar)
    {
        string key = parameters.Fingerprint + "|" + string.Join(",", abar.Select(a => BitConverter.DoubleToInt64Bits(a).ToString("x16")));
        if (cache.TryGetValue(key, out var node))
        {
            recent.Remove(node);
            recent.AddFirst(node);
            return node.Value.Operator;
        }
        var op = BuildOperator(parameters, abar);
        // Cached tensors outlive the caller's dispose scope; the cache disposes them on eviction.
        op.DetachFromDisposeScope();
        cache[key] = recent.AddFirst((key, op));
        OperatorsBuilt++;
        if (grows && evicted.Remove(key) && (capacity + 1) * op.NumberOfElements * op.ElementSize <= GrowthLimitBytes) capacity++;
        while (cache.Count > capacity)
        {
            var last = recent.Last!;
            recent.RemoveLast();
            cache.Remove(last.Value.Key);
            last.Value.Operator.Dispose();
            if (grows && evicted.Add(last.Value.Key) && evicted.Count > 4 * capacity) evicted.Clear();
        }
        return op;
    }

    Tensor BuildOperator(PromptParameters parameters, IReadOnlyList<double> abar)
    {
        foreach (var a in abar)
            if (!(a > 0 && a < 1)) throw new ArgumentOutOfRangeException(nameof(abar), $"Cumulative alphas must lie strictly between 0 and 1, got {a}.");
        using var scope = NewDisposeScope();
        var prior = Prior(parameters, abar.Count);
        Tensor op;
        if (abar.All(a => a == abar[0]))
        {
            // One noise level for every frame (a base clip's steps): with K = V L V^H, (a K + (1 - a) I)^-1 is
            // V diag(1 / (a l + 1 - a)) V^H, so each step is two products instead of an inversion.
            double a = abar[0];
            var (values, vectors) = prior.Eigen;
            var gains = (Math.Sqrt(1 - a) / (a * values + (1 - a))).to(ScalarType.ComplexFloat64).unsqueeze(-2);
            op = matmul(vectors * gains, vectors.conj().transpose(-1, -2));
        }
        else
        {
            var alpha = tensor(abar.ToArray(), ScalarType.Float64);
            var scale = alpha.sqrt();
            var noise = 1.0 - alpha;
            var m = prior.Covariance * outer(scale, scale).to(ScalarType.ComplexFloat64) + diag(noise).to(ScalarType.ComplexFloat64);
            op = noise.sqrt().to(ScalarType.ComplexFloat64).unsqueeze(-1) * linalg.inv(m);
        }
        return op.permute(3, 4, 0, 1, 2).to(ScalarType.ComplexFloat32).contiguous().to(Device).MoveToOuterDisposeScope();
    }

    /// <summary>The window covariance K [C, h, w', F, F] of a prompt's prior, and its eigen-decomposition when asked for.</summary>
    sealed class WindowPrior(Tensor covariance) : IDisposable
    {
        (Tensor Values, Tensor Vectors)? eigen;
        public Tensor Covariance { get; } = covariance;
        public (Tensor Values, Tensor Vectors) Eigen => eigen ??= Decompose(Covariance);

        static (Tensor, Tensor) Decompose(Tensor k)
        {
            using var scope = NewDisposeScope();
            var (values, vectors) = linalg.eigh(k);
            return (values.DetachFromDisposeScope(), vectors.DetachFromDisposeScope());
        }

        public void Dispose()
        {
            Covariance.Dispose();
            if (eigen is var (values, vectors)) { values.Dispose(); vectors.Dispose(); }
        }
    }

    // K depends on the prompt and the window length only: computed once for every noise level it is asked at.
    readonly Dictionary<string, WindowPrior> priors = new(StringComparer.Ordinal);

    WindowPrior Prior(PromptParameters parameters, int frames)
    {
        string key = parameters.Fingerprint + "|" + frames.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (priors.TryGetValue(key, out var known)) return known;
        // A handful of prompts at a time: a long schedule must not keep every prompt's covariance.
        if (priors.Count >= 4)
        {
            foreach (var old in priors.Values) old.Dispose();
            priors.Clear();
        }
        var k = new SpectralPrior(parameters, Height, Width).WindowCovariance(frames).DetachFromDisposeScope();   // [C, h, w', F, F]
        return priors[key] = new WindowPrior(k);
    }

    public void Dispose()
    {
        foreach (var (_, op) in recent) op.Dispose();
        recent.Clear();
        cache.Clear();
        foreach (var prior in priors.Values) prior.Dispose();
        priors.Clear();
    }
}
