namespace FifoPipes.Models.Analytic;

/// <summary>
/// Everything a prompt decides about the analytic prior and its look: the per-channel pixel standard
/// deviation, the spectral shape (beta, k0), the temporal persistence T0, the drift velocity in latent
/// pixels per frame, and the palette that maps latent channels to RGB (rgb = 0.5 + offset + M z).
/// Immutable; <see cref="Fingerprint"/> identifies the prior (not the palette) for operator caching.
/// </summary>
public sealed class PromptParameters
{
    readonly double[] sigma;
    readonly double[,] palette;
    readonly double[] offset;

    public PromptParameters(IReadOnlyList<double> sigma, double beta, double k0, double t0, double velocityY, double velocityX,
        double[,]? palette = null, IReadOnlyList<double>? offset = null)
    {
        if (sigma.Count == 0) throw new ArgumentException("At least one channel is needed.", nameof(sigma));
        if (sigma.Any(s => !(s > 0) || double.IsInfinity(s))) throw new ArgumentOutOfRangeException(nameof(sigma), "Every channel's sigma must be positive and finite.");
        if (!(beta >= 0) || double.IsInfinity(beta)) throw new ArgumentOutOfRangeException(nameof(beta), "beta must be non-negative and finite.");
        if (!(k0 > 0) || double.IsInfinity(k0)) throw new ArgumentOutOfRangeException(nameof(k0), "k0 must be positive and finite.");
        if (!(t0 > 0) || double.IsInfinity(t0)) throw new ArgumentOutOfRangeException(nameof(t0), "T0 must be positive and finite.");
        if (!double.IsFinite(velocityY) || !double.IsFinite(velocityX)) throw new ArgumentOutOfRangeException(nameof(velocityY), "The velocity must be finite.");
        this.sigma = sigma.ToArray();
        Beta = beta; K0 = k0; T0 = t0; VelocityY = velocityY; VelocityX = velocityX;
        this.palette = palette is null ? GreyPalette(this.sigma.Length) : (double[,])palette.Clone();
        if (this.palette.GetLength(0) != 3 || this.palette.GetLength(1) != this.sigma.Length)
            throw new ArgumentException($"The palette must be 3 x {this.sigma.Length}, got {this.palette.GetLength(0)} x {this.palette.GetLength(1)}.", nameof(palette));
        this.offset = offset?.ToArray() ?? new double[3];
        if (this.offset.Length != 3) throw new ArgumentException("The colour offset has one value per RGB channel.", nameof(offset));
        Fingerprint = string.Join(",", this.sigma.Select(Bits).Concat(new[] { beta, k0, t0, velocityY, velocityX }.Select(Bits)));
    }

    public int Channels => sigma.Length;
    /// <summary>Pixel standard deviation of each latent channel.</summary>
    public IReadOnlyList<double> Sigma => sigma;
    /// <summary>Spectral slope: S(k) ~ (1 + |k|^2/k0^2)^(-beta/2).</summary>
    public double Beta { get; }
    /// <summary>Corner frequency, cycles per latent pixel.</summary>
    public double K0 { get; }
    /// <summary>Persistence in frames of the coarsest structure: rho(k) = exp(-(1 + |k|/k0) / T0).</summary>
    public double T0 { get; }
    /// <summary>Drift in latent pixels per frame (positive y is down, positive x is right).</summary>
    public double VelocityY { get; }
    public double VelocityX { get; }
    /// <summary>The 3 x C colour matrix M (a copy).</summary>
    public double[,] Palette => (double[,])palette.Clone();
    /// <summary>Added to 0.5 before clamping: the mean colour minus mid grey.</summary>
    public IReadOnlyList<double> Offset => offset;
    /// <summary>Identifies the prior (sigma, beta, k0, T0, velocity) exactly; equal fingerprints mean equal denoisers.</summary>
    public string Fingerprint { get; }

    public PromptParameters WithPrior(IReadOnlyList<double>? sigma = null, double? beta = null, double? k0 = null, double? t0 = null,
        double? velocityY = null, double? velocityX = null) =>
        new(sigma ?? this.sigma, beta ?? Beta, k0 ?? K0, t0 ?? T0, velocityY ?? VelocityY, velocityX ?? VelocityX, palette, offset);

    public override string ToString() =>
        $"sigma [{string.Join(", ", sigma.Select(s => s.ToString("G3")))}], beta {Beta:G3}, k0 {K0:G3}, T0 {T0:G3}, v ({VelocityY:G3}, {VelocityX:G3})";

    static string Bits(double d) => BitConverter.DoubleToInt64Bits(d).ToString("x16");

    static double[,] GreyPalette(int channels)
    {
        var m = new double[3, channels];
        for (int c = 0; c < channels; c++)
            for (int k = 0; k < 3; k++) m[k, c] = 0.15 / (c + 1);
        return m;
    }
}
