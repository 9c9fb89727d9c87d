using System.Collections;
using System.Management.Automation;
using FifoPipes.Abstractions;
using FifoPipes.Core.Media;
using FifoPipes.Core.Sinks;
using FifoPipes.Hosting.Engine;
using FifoPipes.Hosting.Options;
using FifoPipes.Hosting.Plugins;
using FifoPipes.Hosting.Recipes;
using FifoPipes.PowerShell.Engine;

namespace FifoPipes.PowerShell.Commands;

/// <summary>
/// <para type="synopsis">Writes frames from the pipeline to video files (MP4, WebM, MKV), an HLS live stream, a live stream to a server (RTMP, SRT, UDP, TCP), an animated GIF or a PNG sequence.</para>
/// <para type="description">The format follows each path's extension (or an address's scheme: rtmp://, srt://, ...), or -Format names a sink plugin. Frames are written as they arrive; when the pipeline is stopped (Ctrl+C) every file is still finalised with the frames received so far. Emits the written files at the end, or with -PassThru each frame once it is written.</para>
/// <example><code>New-FifoVideo 'aurora over snowy hills' -Frames 300 | Export-FifoFrames aurora.mp4, aurora.gif -Fps 12</code></example>
/// <example><code>New-FifoVideo 'lava' -Frames 50 | Export-FifoFrames ./frames -Format png -Force</code></example>
/// <example><code>New-FifoVideo 'tide pools' -Frames 200 | Export-FifoFrames tide.mp4 -PassThru | Select-Object -Last 1 | ForEach-Object { $_.Save('poster.png') }</code></example>
/// </summary>
[Cmdlet(VerbsData.Export, "FifoFrames", SupportsShouldProcess = true)]
[OutputType(typeof(FileInfo), typeof(DirectoryInfo), typeof(FifoFrame))]
public sealed class ExportFifoFramesCommand : PSCmdlet, IDisposable
{
    SinkSet? sinks;
    CmdletLog? log;
    bool writing;
    long framesWritten;
    // The run record last played at -Fps, and it rewritten: a run's frames share one record, rewritten once.
    (string? Record, string? AtFps) played;
    // Sinks whose paths name the run ({seed}, {hash}): opened with each run's first frame, which says which run it is,
    // so the runs of a sweep piped in write a file each rather than one file recorded as the first run's.
    List<SinkUse>? namedByRun;
    PluginContext? sinkContext;
    // The run of the frames being written: another run's first frame opens files of its own, or follows on in these.
    (Guid Id, string? Seed)? runOfFrames;
    // What the runs before the one being written wrote, by path: their files are done, and no later run may replace one.
    readonly List<string> filesOfEarlierRuns = new();
    readonly Dictionary<string, string> pathsOfEarlierRuns = new(SinkTargets.PathComparer);
    // Never disposed: a StopProcessing may come after Dispose, and a source without timers holds nothing.
    readonly CancellationTokenSource stopping = new();

    /// <summary><para type="description">One or more output paths or stream addresses (rtmp://..., srt://...); each gets its own sink. {seed} and {hash} in a path are filled from the run the first frame records ('clip-{seed}.mp4', quoted: unquoted braces are a script block to PowerShell), as in recipes' sink paths; each further run piped in (a sweep's -PassThru) writes files of its own, and one that would replace an earlier run's file is refused.</para></summary>
    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = Array.Empty<string>();

    /// <summary><para type="description">Frames from New-FifoVideo (pipeline input).</para></summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true)]
    public FifoFrame? InputObject { get; set; }

    /// <summary><para type="description">Sink plugin name (png, gif, mp4, webm, mkv, hls, or a third-party sink) instead of the extension.</para></summary>
    [Parameter] [ArgumentCompleter(typeof(SinkNameCompleter))] public string? Format { get; set; }
    /// <summary><para type="description">Playback rate; default: the rate the frames were made for. The files record it with the run, so the recipe Get-FifoProvenance reads back from them plays at it too.</para></summary>
    [Parameter] [ValidateRange(FrameRate.Min, FrameRate.Max)] public double? Fps { get; set; }
    /// <summary><para type="description">Sink options, e.g. @{ crf = 18 } for MP4. With several paths each sink takes the keys it has.</para></summary>
    [Parameter] public Hashtable? Option { get; set; }
    /// <summary><para type="description">Overwrite existing files.</para></summary>
    [Parameter] public SwitchParameter Force { get; set; }
    /// <summary><para type="description">Passes each frame on once it is written, as it came (-Fps is this command's alone), for further commands; the written files are then told by -Verbose.</para></summary>
    [Parameter] public SwitchParameter PassThru { get; set; }

    protected override void BeginProcessing()
    {
        try { OpenSinks(); }
        catch (Exception ex) when (ex is FifoInputException or PluginFailedException or PSArgumentException)
        {
            ThrowTerminatingError(ex is not PSArgumentException ? Errors.From(ex) : new ErrorRecord(ex, "UnknownSinkFormat", ErrorCategory.InvalidArgument, Path.Select(StreamAddress.Display).ToArray()));
        }
    }

    void OpenSinks()
    {
        var uses = new List<SinkUse>();
        var chosen = new List<bool>();
        bool whatIf = false;
        var seen = new SinkTargets();
        foreach (var path in Path)
        {
            // An address (rtmp://...) is where a stream goes; PowerShell would take its scheme for a drive.
            var full = StreamAddress.IsAddress(path) ? path : SessionState.Path.GetUnresolvedProviderPathFromPSPath(path);
            var shown = StreamAddress.Display(full);
            if (RunNames.Misspelt(path) is { } misspelt)
                ThrowTerminatingError(Errors.From(new FifoInputException("MisspeltRunName", $"'{shown}': {misspelt}"), shown));
            var plugin = ResolveSink(full);
            if (!seen.Add(full))
                ThrowTerminatingError(Errors.From(new FifoInputException("DuplicateOutputPath", $"'{shown}' is given twice; every output needs its own path."), shown));
            uses.Add(new SinkUse(plugin, null, full));
            chosen.Add(WhatIf.ShouldProcess(this, shown, $"Write frames with the {plugin.Name} sink", out bool asked));
            whatIf |= asked;
        }
        // Every path's sink takes its share of -Option, those -WhatIf or a No to -Confirm leaves out too: the keys go
        // where they would go in the real run, and a mistake in them shows under -WhatIf.
        var sinksOfPaths = uses.Select(u => u.Plugin).ToList();
        RefuseOptionsNoSinkTakes(sinksOfPaths);
        uses = uses.Select(u => u with { Options = BindOptions(u.Plugin, sinksOfPaths) }).ToList();
        log = new CmdletLog(this);
        var context = new PluginContext(log, SessionState.Path.CurrentFileSystemLocation.ProviderPath, stopping.Token);
        if (whatIf)
            using (var all = new SinkSet(uses, Force, Fps ?? 8, context)) WhatIf.WarnOfRefusals(this, all);
        var written = uses.Where((_, i) => chosen[i]).ToList();
        writing = written.Count > 0;
        sinks = new SinkSet(written, Force, Fps ?? 8, context);
        // Before the upstream command computes its first frame: a missing ffmpeg, bad options, a sequence in the way.
        sinks.Check();
        if (written.Any(u => RunNames.In(u.Path))) (namedByRun, sinkContext) = (written, context);
        sinkPaths = written.Select(u => u.Path).ToList();
    }

    // Where the sinks now write (the run's names filled in), to keep the upstream run's snapshots out of them.
    List<string> sinkPaths = new();

    /// <summary>
    /// Refuses, before the run's first frame is written, a sink that writes where the run upstream snapshots to: each
    /// snapshot would replace the video (or the video the snapshot), and New-FifoVideo cannot see the paths given here.
    /// </summary>
    void RefuseSnapshotPath(string? snapshot)
    {
        if (snapshot is null || sinkPaths.FirstOrDefault(p => SinkTargets.IsFile(p, snapshot)) is not { } taken) return;
        throw new FifoInputException("SnapshotPathIsOutput",
            $"'{taken}' is where New-FifoVideo writes the run's snapshots (-SnapshotPath), so the two would replace each other. " +
            $"Give the snapshots a file of their own, such as '{EarlierSnapshot.OwnPath(taken)}', or the frames another path.");
    }

    /// <summary>The frame played at <paramref name="fps"/>, its run record saying so: the recipe Get-FifoProvenance reads back plays as the file does.</summary>
    VideoFrame PlayingAt(VideoFrame frame, double fps)
    {
        if (frame.Provenance is { } record && !ReferenceEquals(record, played.Record)) played = (record, RunProvenance.WithFps(record, fps));
        return new VideoFrame(frame.Index, frame.Width, frame.Height, frame.Rgb, frame.Prompt, fps, frame.RunId)
        {
            Provenance = frame.Provenance is null ? null : played.AtFps,
        };
    }

    protected override void ProcessRecord()
    {
        // -WhatIf (or No to every -Confirm) keeps no output: said so in BeginProcessing, so stop the frames coming.
        if (!writing) UpstreamStop.Request(this);
        if (!writing || InputObject is null) return;
        var frame = InputObject.ToVideoFrame();
        if (Fps is { } fps && Math.Abs(fps - frame.Fps) > 1e-9)
            frame = PlayingAt(frame, fps);
        try
        {
            if (frame.RunId != runOfFrames?.Id)
            {
                if (namedByRun is { } uses) OpenNamedByRun(uses, frame, InputObject.OutputRunHash);
                else NoteRun(frame);
                RefuseSnapshotPath(InputObject.SnapshotPath);
            }
            sinks!.Write(frame);
            framesWritten++;
            log!.Drain();
        }
        catch (Exception ex) when (!Errors.IsPipelineFlow(ex))
        {
            FinishQuietly();
            ThrowTerminatingError(Errors.From(ex, InputObject));
        }
        // After the write: a command further on that stops early (Select-Object -First) ends this one with the frame kept.
        if (PassThru) WriteObject(InputObject);
    }

    protected override void EndProcessing()
    {
        // An upstream command that failed or made nothing would otherwise end the pipeline with no word and no file.
        if (writing && framesWritten == 0)
            WriteWarning($"No frames came down the pipeline, so nothing was written to {string.Join(", ", Path.Select(p => $"'{StreamAddress.Display(p)}'"))}.");
        IReadOnlyList<string> files;
        try { files = filesOfEarlierRuns.Concat(sinks!.Complete()).ToList(); }
        catch (Exception ex) when (!Errors.IsPipelineFlow(ex)) { ThrowTerminatingError(Errors.From(ex)); return; }
        finally { log?.Drain(); }
        WrittenItems.Write(this, files, framesPassedOn: PassThru);
    }

    /// <summary>
    /// Frames of a second run into the same outputs follow the first's (a PNG sequence numbers on), but a video or GIF
    /// records only the first run: said once per run, with the way to a file each.
    /// </summary>
    void NoteRun(VideoFrame first)
    {
        var seed = first.Provenance is { } text ? RunProvenance.Parse(text, $"frame {first.Index}").Value("seed") : null;
        if (runOfFrames is { } earlier)
            WriteWarning($"Frames of another run{(seed is null ? "" : $" (seed {seed})")} follow those of the run before{(earlier.Seed is null ? "" : $" (seed {earlier.Seed})")} " +
                         $"into {string.Join(", ", Path.Select(p => $"'{StreamAddress.Display(p)}'"))}; a video or GIF records only the first run, so Get-FifoProvenance names it for all its frames. " +
                         "To write a file per run, name the path by the run ('clip-{seed}.mp4', quoted).");
        runOfFrames = (first.RunId, seed);
    }

    /// <summary>
    /// The sinks again, their paths naming the run <paramref name="first"/> belongs to, checked as BeginProcessing checked
    /// them; the files of the run before it are finished first.
    /// </summary>
    /// <param name="outputHash">The hash {hash} names the run by where it is not the frame's own (a resume's: its snapshot's run).</param>
    void OpenNamedByRun(List<SinkUse> uses, VideoFrame first, string? outputHash)
    {
        var run = first.Provenance is { } text ? RunProvenance.Parse(text, $"frame {first.Index}") : null;
        if (run?.Value("seed") is not { } seed)
            throw new FifoInputException("OutputNamesUnknownRun",
                $"'{uses.First(u => RunNames.In(u.Path)).Path}' names the run by {RunNames.Seed} or {RunNames.Hash}, but frame {first.Index} records no run. Give the path without them.");
        var named = uses.Select(u => u with { Path = RunNames.Fill(u.Path, seed, () => outputHash ?? run.RunHash) }).ToList();
        var seen = new SinkTargets();
        foreach (var use in named)
        {
            if (!seen.Add(use.Path))
                throw new FifoInputException("DuplicateOutputPath", $"'{StreamAddress.Display(use.Path)}' is given twice once the run names it; every output needs its own path.");
            if (pathsOfEarlierRuns.TryGetValue(use.Path, out var earlier))
                throw new FifoInputException("DuplicateOutputPath",
                    $"'{StreamAddress.Display(use.Path)}' was written by the run before (seed {earlier}), and the run now coming (seed {seed}) would replace it. " +
                    "Put {hash} in the path, which differs between runs that share a seed.");
        }
        if (runOfFrames is not null)
        {
            filesOfEarlierRuns.AddRange(sinks!.Complete());
            log!.Drain();
        }
        foreach (var use in named) pathsOfEarlierRuns[use.Path] = seed;
        sinkPaths = named.Select(u => u.Path).ToList();
        runOfFrames = (first.RunId, seed);
        sinks!.Dispose();
        sinks = new SinkSet(named, Force, Fps ?? 8, sinkContext!);
        sinks.Check();
    }

    /// <summary>Ctrl+C: a sink waiting on its own (a stream pausing before it connects again) stops waiting.</summary>
    protected override void StopProcessing() => stopping.Cancel();

    /// <summary>PowerShell disposes a stopped command without calling EndProcessing: finalise the files here.</summary>
    public void Dispose() => FinishQuietly();

    void FinishQuietly()
    {
        var s = sinks;
        sinks = null;
        writing = false;
        s?.Dispose();
    }

    // What the sinks give cause to warn of (another of the name ignored) is said once per command, not once per path.
    readonly HashSet<string> pluginWarnings = new();

    PluginDescriptor ResolveSink(string path)
    {
        var sink = ChooseSink(path);
        foreach (var warning in ModuleState.Plugins.Warnings(sink))
            if (pluginWarnings.Add(warning)) WriteWarning(warning);
        return sink;
    }

    PluginDescriptor ChooseSink(string path)
    {
        var plugins = ModuleState.Plugins;
        if (Format is not null)
        {
            var named = SinkTakes(plugins.Require(PluginKind.Sink, Format), path);
            // A player goes by the extension: a GIF named .mp4 opens nowhere. The png sink writes a folder, and refuses one named like a video itself.
            if (plugins.SinkFor(path) is { } byExtension && byExtension != named && named.Extensions.Count > 0 && named != plugins.Find(PluginKind.Sink, "png"))
                WriteWarning($"-Format {named.Name} writes '{path}' as {named.Name}, though its extension is {byExtension.Name}'s; players go by the extension, so name it .{named.Extensions[0]}.");
            return named;
        }
        if (plugins.DefaultSinkFor(path) is { } sink) return sink;
        var (problem, taken) = plugins.NoSinkFor(path);
        throw new PSArgumentException($"{char.ToUpperInvariant(problem[0])}{problem[1..]} ('{StreamAddress.Display(path)}'). Use one of: {string.Join(", ", taken)}, or name a sink with -Format.");
    }

    static PluginDescriptor SinkTakes(PluginDescriptor sink, string path) =>
        PluginHost.AddressProblem(sink, path) is { } refused
            ? throw new FifoInputException("SinkTakesNoAddress", $"{char.ToUpperInvariant(refused[0])}{refused[1..]}. Leave out -Format (the stream sink sends to addresses), or give a file path.")
            : sink;

    /// <summary>
    /// -Option goes to every path, so each sink takes the keys it has (a.mp4, a.gif -Option @{ crf = 18 } sets the MP4's crf);
    /// a key no sink has goes to all of them, to be refused with their did-you-mean.
    /// </summary>
    object? BindOptions(PluginDescriptor plugin, IReadOnlyList<PluginDescriptor> allSinks)
    {
        var (options, error) = OptionTable.Bind(plugin, Option, "-Option", key => Has(plugin, key) || !allSinks.Any(sink => Has(sink, key)));
        if (error is not null) ThrowTerminatingError(error);
        return options;
    }

    static bool Has(PluginDescriptor sink, string key) => sink.Options.Any(o => string.Equals(o.Name, key, StringComparison.OrdinalIgnoreCase));

    /// <summary>Once for all paths: a key no sink of theirs takes, where more can be said than each sink's own refusal.</summary>
    void RefuseOptionsNoSinkTakes(IReadOnlyList<PluginDescriptor> sinks)
    {
        foreach (var key in (Option?.Keys ?? Array.Empty<object>()).Cast<object>().Select(k => k.ToString()!))
            if (!sinks.Any(sink => Has(sink, key)) && NoSinkTakes(key, sinks) is { } problem)
                ThrowTerminatingError(new ErrorRecord(new FifoInputException("InvalidParameter", $"Invalid -Option:{Environment.NewLine}  {key}: {problem}"),
                    "InvalidParameter", ErrorCategory.InvalidArgument, "-Option"));
    }

    /// <summary>
    /// Why no sink of these paths takes <paramref name="key"/>, where more can be said than each sink's own refusal: the
    /// sink elsewhere that has it (bitrate: the stream sink), or the name one of these has close to it (colours: gif's colors).
    /// </summary>
    static string? NoSinkTakes(string key, IReadOnlyList<PluginDescriptor> sinks)
    {
        string these = sinks.Count == 1 ? $"the {sinks[0].Name} sink does not take it" : $"none of the {string.Join(", ", sinks.Select(s => s.Name).Distinct())} sinks takes it";
        var elsewhere = ModuleState.Plugins.OfKind(PluginKind.Sink).Where(s => Has(s, key)).Select(s => s.Name).ToList();
        if (elsewhere.Count > 0) return $"{these}; it is an option of the {string.Join(", ", elsewhere)} sink{(elsewhere.Count > 1 ? "s" : "")}.";
        // One sink's own refusal already names its nearest option.
        var near = sinks.Count == 1 ? null : OptionBinder.Suggest(key, sinks.SelectMany(s => s.Options.Select(o => o.Name)));
        return near is null ? null : $"{these}. Did you mean '{near}' ({string.Join(", ", sinks.Where(s => Has(s, near)).Select(s => s.Name).Distinct())})?";
    }
}
