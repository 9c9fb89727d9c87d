using FifoPipes.Abstractions;

namespace FifoPipes.Models.Analytic.Quality;

/// <summary>
/// The configuration of a quality study on the analytic prior. Every latent channel is an independent stream of
/// the same prior (all channels get the same sigma), so <see cref="Streams"/> channels measure that many
/// independent videos for nearly the price of one.
/// </summary>
public sealed class QualityStudyOptions
{
    /// <summary>Latent height and width.</summary>
    public int Height { get; set; } = 8;
    public int Width { get; set; } = 8;
    /// <summary>Independent streams, run as the model's latent channels.</summary>
    public int Streams { get; set; } = 16;
    /// <summary>The model's window f (frames per denoiser call).</summary>
    public int WindowFrames { get; set; } = 8;
    /// <summary>The model's default partitions n; samplers default to S = n f steps.</summary>
    public int Partitions { get; set; } = 4;
    /// <summary>The model's default DDIM eta.</summary>
    public double Eta { get; set; } = 1.0;
    /// <summary>Output frames N of every run.</summary>
    public int Frames { get; set; } = 2048;
    /// <summary>One point per this many frames (P).</summary>
    public int Every { get; set; } = 256;
    /// <summary>Frames per measured window (F) for the Frechet distance.</summary>
    public int MeasureFrames { get; set; } = 8;
    /// <summary>Frames between the starts of measured windows.</summary>
    public int WindowStride { get; set; } = 1;
    public long Seed { get; set; } = 1;
    /// <summary>The prior: spectral slope, corner frequency, persistence and drift (latent pixels per frame).</summary>
    public double Beta { get; set; } = 3.0;
    public double K0 { get; set; } = 0.1;
    public double T0 { get; set; } = 10.0;
    public double VelocityY { get; set; } = 0.25;
    public double VelocityX { get; set; } = -0.5;
    /// <summary>The prompt the runs use; the study pins its prior to the parameters above.</summary>
    public string Prompt { get; set; } = "quality study";

    /// <summary>The prior every stream follows.</summary>
    public PromptParameters Prior() =>
        new(Enumerable.Repeat(1.0, Streams).ToArray(), Beta, K0, T0, VelocityY, VelocityX);

    /// <summary>Throws <see cref="FifoInputException"/> naming the first bad setting.</summary>
    public void Check()
    {
        void Require(bool ok, string name, string message)
        {
            if (!ok) throw new FifoInputException("BadQualityOption", $"Quality study option '{name}': {message}");
        }
        Require(Height >= 2 && Width >= 2, "height/width", $"the latent {Height}x{Width} is too small; use at least 2x2 (8x8 is typical).");
        Require(Streams >= 1, "streams", $"{Streams} streams; use at least 1.");
        Require(WindowFrames >= 2, "windowFrames", $"{WindowFrames}; use at least 2.");
        Require(Partitions >= 1 && Partitions * WindowFrames <= 1000, "partitions", $"{Partitions} x {WindowFrames} frames must be 1..1000 steps.");
        Require(Eta >= 0 && Eta <= 1, "eta", $"{Eta} is outside 0..1.");
        Require(MeasureFrames >= 1, "measureFrames", $"{MeasureFrames}; use at least 1.");
        Require(Frames >= MeasureFrames + 1 && Frames >= 2, "frames", $"{Frames} frames is too short for windows of {MeasureFrames}.");
        Require(Every >= 2 && Every <= Frames, "every", $"{Every} must be within 2..frames ({Frames}).");
        Require(WindowStride >= 1, "windowStride", $"{WindowStride}; use at least 1.");
        Require(Beta >= 0 && K0 > 0 && T0 > 0 && double.IsFinite(VelocityY) && double.IsFinite(VelocityX), "prior",
            "beta must be >= 0, k0 and T0 positive, the velocity finite.");
    }
}

/// <summary>A sampler to measure and the name it is reported under.</summary>
public sealed record QualityCandidate(string Name, ISampler Sampler)
{
    /// <summary>Exact samples of the prior: the finite-sample floor of every statistic.</summary>
    public static QualityCandidate ExactPrior(string name = "exact prior") => new(name, new ExactPriorSampler());
}

/// <summary>
/// The statistics of one sampler over output frames [Position, Position + Frames), pooled over all streams.
/// Frechet: relative analytic Frechet distance of the F-frame windows starting there (0 = the true window distribution).
/// PowerRatio: mean over bins of empirical power / S(k) (1 ideal). PowerError: mean over bins of |power / S - 1|.
/// LagOneError: mean over bins of |corr_t,t-1 - a(k)| over consecutive pairs (corr normalised by the empirical power); LagOneSeamError the same over
/// the pairs (t - 1, t) with t a multiple of the window f (chunk seams of the chunked sampler), LagOneInteriorError over
/// the others. SecondsPerFrame: wall time the sampler took to hand over these frames, per frame.
/// </summary>
public sealed record QualityPoint(
    string Sampler,
    long Position,
    int Frames,
    int Windows,
    double Frechet,
    double PowerRatio,
    double PowerError,
    double LagOneError,
    double LagOneSeamError,
    double LagOneInteriorError,
    double SecondsPerFrame);
