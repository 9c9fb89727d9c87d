using FifoPipes.Abstractions;

namespace FifoPipes.Models.Analytic.Quality;

/// <summary>The quality study as a plugin, so the host (Measure-FifoQuality) runs it without referencing this assembly.</summary>
[FifoPlugin(PluginKind.Study, "analytic-quality", typeof(IQualityStudy), OptionsType = typeof(QualityStudyOptions),
    Description = "Measures long-video samplers against the analytic prior's true distribution: Frechet distance of windows, power and lag-1 correlation by position.")]
public sealed class AnalyticQualityStudy : IQualityStudy
{
    public IEnumerable<QualityPoint> Run(object? options, IReadOnlyList<QualityCandidate> candidates, CancellationToken cancellation, IProgressSink log)
    {
        var settings = PluginOptions.As<QualityStudyOptions>(options, "analytic-quality study");
        var all = settings.IncludeExactPrior ? candidates.Prepend(QualityCandidates.ExactPrior()) : candidates;
        return QualityStudy.Run(settings, all, cancellation, log);
    }

    public IReadOnlyList<string> WriteReport(IReadOnlyList<QualityPoint> points, string folder) => QualityReport.WriteAll(points, folder);
}
