namespace FifoPipes.Abstractions;

/// <summary>
/// A ground-truth quality study of long-video samplers, offered by a model plugin whose true
/// distribution is known (the analytic model). Exported like other plugins, with kind
/// <see cref="PluginKind.Study"/> and an options class.
/// </summary>
public interface IQualityStudy
{
    /// <summary>Runs every candidate on the study's model and yields its measurements as soon as each is measured.</summary>
    IEnumerable<QualityPoint> Run(object? options, IReadOnlyList<QualityCandidate> candidates, CancellationToken cancellation, IProgressSink log);

    /// <summary>Writes plots (PNG), tables (markdown) and the raw points (CSV) into <paramref name="folder"/>; returns the files.</summary>
    IReadOnlyList<string> WriteReport(IReadOnlyList<QualityPoint> points, string folder);
}

/// <summary>A sampler to measure and the name it is reported under.</summary>
public sealed record QualityCandidate(string Name, ISampler Sampler);

/// <summary>
/// The statistics of one sampler over output frames [Position, Position + Frames), pooled over all streams.
/// Frechet: relative analytic Frechet distance of the F-frame windows starting there (0 = the true window distribution).
/// PowerRatio: mean over bins of empirical power / S(k) (1 ideal). PowerError: mean over bins of |power / S - 1|.
/// LagOneError: mean over bins of |corr_t,t-1 - a(k)| over consecutive pairs (corr normalised by the empirical power); LagOneSeamError the same over
/// the pairs (t - 1, t) with t a multiple of the window f (chunk seams of the chunked sampler), LagOneInteriorError over
/// the others. SecondsPerFrame: wall time the sampler took to hand over these frames, per frame; a sampler that makes
/// its frames in clips, or all at once (the windowed baselines), hands them over in bursts, so a stretch after its
/// first may show next to nothing: compare samplers by the time over all stretches (the report's ms/frame).
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
