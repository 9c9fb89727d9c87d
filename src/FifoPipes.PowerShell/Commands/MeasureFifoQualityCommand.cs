using System.Collections;
using System.Management.Automation;
using FifoPipes.Abstractions;
using FifoPipes.Hosting.Options;
using FifoPipes.Hosting.Plugins;
using FifoPipes.PowerShell.Engine;

namespace FifoPipes.PowerShell.Commands;

/// <summary>
/// <para type="synopsis">Measures long-video samplers against the analytic prior's true distribution.</para>
/// <para type="description">Each sampler generates a long stream on the analytic model (guidance 1, so the target is the prior itself); every -Every frames the stretch is measured: the analytic Frechet distance of windows, the power ratio and the lag-1 correlation error (separately at chunk seams). Writes one object per sampler and position; -OutputFolder also writes PNG plots, markdown tables and a CSV.</para>
/// <example><code>Measure-FifoQuality -Sampler fifo,chunked -Frames 1024 -Every 256 | Format-Table Sampler, Position, Frechet, LagOneSeamError</code></example>
/// <example><code>Measure-FifoQuality -OutputFolder quality -Option @{ streams = 32 }</code></example>
/// </summary>
[Cmdlet(VerbsDiagnostic.Measure, "FifoQuality")]
[OutputType(typeof(FifoPipes.Abstractions.QualityPoint))]
public sealed class MeasureFifoQualityCommand : PSCmdlet
{
    readonly CancellationTokenSource stop = new();

    /// <summary><para type="description">Sampler plugins to measure (default: every sampler).</para></summary>
    [Parameter(Position = 0)]
    [ArgumentCompleter(typeof(SamplerNameCompleter))]
    public string[]? Sampler { get; set; }

    /// <summary><para type="description">Per-sampler options: @{ fifo = @{ lookahead = $false } }. A key that names no sampler of -Sampler, with 'use' in its table, is a variant measured beside them under that name: @{ 'fifo-nolookahead' = @{ use = 'fifo'; lookahead = $false } }.</para></summary>
    [Parameter] public Hashtable? SamplerOption { get; set; }

    /// <summary><para type="description">Output frames each sampler generates (the study's frames option, which -Option @{ frames = ... } sets too): at least the study's measureFrames + 1 (9 for analytic-quality), best a multiple of -Every, as frames left over after the last whole stretch get no point of their own (a warning says so). Default: the study's, 2048 for analytic-quality.</para></summary>
    [Parameter] [ValidateRange(2, 1_000_000)] [WholeNumber] public int? Frames { get; set; }
    /// <summary><para type="description">Measure the run in stretches of this many frames: one point per sampler every -Every frames (the study's every option), at least the study's measureFrames (8 for analytic-quality) and at most -Frames. Default: the study's, 256 for analytic-quality; a run shorter than that (-Frames 100) is measured as one stretch.</para></summary>
    [Parameter] [ValidateRange(2, 1_000_000)] [WholeNumber] public int? Every { get; set; }

    /// <summary><para type="description">Study options (height, width, streams, windowFrames, partitions, seed, beta, k0, T0, ...): see (Get-FifoPlugin analytic-quality).Options.</para></summary>
    [Parameter] public Hashtable? Option { get; set; }

    /// <summary><para type="description">The study plugin (default analytic-quality).</para></summary>
    [Parameter] [ArgumentCompleter(typeof(StudyNameCompleter))] public string Study { get; set; } = "analytic-quality";

    /// <summary><para type="description">Write plots (PNG), tables (markdown) and the points (CSV) here.</para></summary>
    [Parameter] public string? OutputFolder { get; set; }

    protected override void EndProcessing()
    {
        try { Measure(); }
        catch (Exception ex) when (!Errors.IsPipelineFlow(ex) && ex is not OperationCanceledException)
        {
            ThrowTerminatingError(Errors.From(ex));
        }
    }

    /// <summary>The key of a hashtable a user typed that means <paramref name="name"/>, in any case; null where there is none.</summary>
    static object? KeyOf(IDictionary? table, string name) =>
        table?.Keys.Cast<object>().FirstOrDefault(k => string.Equals(k?.ToString(), name, StringComparison.OrdinalIgnoreCase));

    /// <summary>The sampler a variant's table names with 'use'; null where it names none.</summary>
    static string? UseOf(object? table) =>
        table is IDictionary options && KeyOf(options, "use") is { } key ? (options[key] is PSObject p ? p.BaseObject : options[key])?.ToString() : null;

    static Hashtable WithoutUse(IDictionary options)
    {
        var rest = new Hashtable(StringComparer.OrdinalIgnoreCase);
        foreach (DictionaryEntry e in options)
            if (!string.Equals(e.Key.ToString(), "use", StringComparison.OrdinalIgnoreCase)) rest[e.Key] = e.Value;
        return rest;
    }

    void Measure()
    {
        var plugins = ModuleState.Plugins;
        var studyPlugin = plugins.Require(PluginKind.Study, Study);
        // -Frames below the study's default stretch (256) measures the whole run as one stretch rather than failing on
        // an -Every the user never set.
        bool everyGiven = Every is not null || KeyOf(Option, "every") is not null;
        var defaultEvery = studyPlugin.Options.FirstOrDefault(o => o.Name == "every")?.Default as int?;
        // The frames may come from -Frames or from -Option @{ frames = ... }: either short run is one stretch.
        int? frames = Frames ?? (KeyOf(Option, "frames") is { } key && LanguagePrimitives.TryConvertTo<int>(Option![key], out var fromOption) ? fromOption : null);
        int? every = Every ?? (!everyGiven && frames < defaultEvery ? frames : null);
        // The study would refuse it as an option; the user gave a parameter.
        if (Every > frames)
            ThrowTerminatingError(Errors.From(new FifoInputException("InvalidParameter",
                $"-Every {Every} is more than the run's {frames} frames: a measured stretch lies within the run. Give -Every at most {frames}, or leave it out to measure the run as one stretch."), "-Every"));
        var studyOptions = Bind(studyPlugin, Option, "-Option", extra: new Dictionary<string, object?> { ["frames"] = Frames, ["every"] = every });
        // Checked before the study runs: found when the report is written, it would throw the whole measurement away.
        var reportFolder = OutputFolder is null ? null : SessionState.Path.GetUnresolvedProviderPathFromPSPath(OutputFolder);
        if (reportFolder is not null && FileInTheWay(reportFolder) is { } inTheWay)
            ThrowTerminatingError(Errors.From(new FifoInputException("OutputFolderIsFile", inTheWay == Path.TrimEndingDirectorySeparator(reportFolder)
                ? $"-OutputFolder '{reportFolder}' is a file, but the report is several files (plots, tables, a CSV): give a folder, e.g. '{Path.Join(Path.GetDirectoryName(reportFolder), "quality")}'."
                : $"-OutputFolder '{reportFolder}' cannot be made: '{inTheWay}' is a file, not a folder. Give a folder outside it."), "-OutputFolder"));
        var log = new CmdletLog(this);
        var context = new PluginContext(log, SessionState.Path.CurrentFileSystemLocation.ProviderPath, stop.Token);
        var names = Sampler ?? plugins.OfKind(PluginKind.Sampler).Select(p => p.Name).ToArray();
        // -SamplerOption @{ fifo = @{ partitions = 8 } }: every key names a sampler measured here, or a variant with its 'use'.
        var perSampler = (SamplerOption ?? new Hashtable()).Cast<DictionaryEntry>().ToDictionary(e => e.Key.ToString()!, e => e.Value is PSObject p ? p.BaseObject : e.Value, StringComparer.OrdinalIgnoreCase);
        var variants = perSampler.Where(e => !names.Contains(e.Key, StringComparer.OrdinalIgnoreCase)).ToList();
        if (variants.FirstOrDefault(v => UseOf(v.Value) is null) is { Key: { } stray })
            ThrowTerminatingError(Errors.From(new FifoInputException("InvalidParameter",
                $"-SamplerOption names '{stray}', which is not measured here ({string.Join(", ", names)}); name a sampler of -Sampler, or give a variant " +
                $"its sampler: @{{ '{stray}' = @{{ use = 'fifo'; ... }} }}."), "-SamplerOption"));
        var measured = names.Select(name => (Label: name, Plugin: name, Given: perSampler.GetValueOrDefault(name)))
            .Concat(variants.Select(v => (Label: v.Key, Plugin: UseOf(v.Value)!, Given: (object?)WithoutUse((IDictionary)v.Value!))));
        // Every sampler's options are checked before the first sampler is made: a mistake in the last leaves none to dispose.
        var bound = measured.Select(m =>
        {
            var (label, name, given) = m;
            var plugin = plugins.Require(PluginKind.Sampler, name);
            if (given is not (null or IDictionary))
                ThrowTerminatingError(Errors.From(new FifoInputException("InvalidParameter",
                    $"-SamplerOption {label} must be a hashtable of that sampler's options, got {given.GetType().Name}."), "-SamplerOption"));
            // The study's target is the prior itself, which guidance 1 samples: another scale would be measured, not the sampler.
            if (KeyOf(given as IDictionary, "guidance") is { } guidanceKey
                && !(LanguagePrimitives.TryConvertTo<double>(((IDictionary)given!)[guidanceKey], out var scale) && scale == 1))
                ThrowTerminatingError(Errors.From(new FifoInputException("InvalidParameter",
                    $"-SamplerOption {label} guidance: the study measures how far a sampler's video is from the prior it samples, which takes guidance 1; " +
                    "with another scale the distance would measure the guidance. Leave guidance out."), "-SamplerOption"));
            return (Label: label == name ? plugin.Name : label, Plugin: plugin, Options: Bind(plugin, given as IDictionary, $"-SamplerOption {label}"));
        }).ToList();
        var candidates = bound.Select(b => new QualityCandidate(b.Label, b.Plugin.Create<ISamplerFactory>().Create(b.Options, context))).ToList();

        var points = new List<QualityPoint>();
        var progress = new ProgressRecord(2, "Measuring sampler quality on the analytic prior", "starting");
        try
        {
            foreach (var point in studyPlugin.Create<IQualityStudy>().Run(studyOptions, candidates, stop.Token, log))
            {
                points.Add(point);
                log.Drain();
                progress.StatusDescription = $"{point.Sampler}: measured up to frame {point.Position + point.Frames}";
                WriteProgress(progress);
                WriteObject(point);
            }
        }
        finally
        {
            // Also when the study fails or is stopped: a bar left open would hang over the prompt.
            progress.RecordType = ProgressRecordType.Completed;
            WriteProgress(progress);
            log.Drain();
            foreach (var candidate in candidates) (candidate.Sampler as IDisposable)?.Dispose();
        }
        if (reportFolder is not null)
            foreach (var file in studyPlugin.Create<IQualityStudy>().WriteReport(points, reportFolder)) WriteVerbose($"wrote {file}");
    }

    /// <summary>The folder itself, or the nearest folder above it, where that is a file; null where the folder can be made.</summary>
    static string? FileInTheWay(string folder)
    {
        for (var at = Path.TrimEndingDirectorySeparator(folder); !string.IsNullOrEmpty(at); at = Path.GetDirectoryName(at))
        {
            if (File.Exists(at)) return at;
            if (Directory.Exists(at)) return null;
        }
        return null;
    }

    object? Bind(PluginDescriptor plugin, IDictionary? values, string parameter, IReadOnlyDictionary<string, object?>? extra = null)
    {
        var (options, error) = OptionTable.Bind(plugin, values, parameter, extra: extra);
        if (error is not null) ThrowTerminatingError(error);
        return options;
    }

    protected override void StopProcessing() => stop.Cancel();
}
