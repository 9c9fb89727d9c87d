using System.Globalization;
using FifoPipes.Core.Media;
using FifoPipes.Abstractions;
using FifoPipes.Core.Sinks;

namespace FifoPipes.Sinks.Ffmpeg;

/// <summary>Shared by the mp4, webm, mkv and hls exports; they differ only in their container.</summary>
public abstract class FfmpegSinkFactory : ISinkFactory
{
    public const string OptionInvalidErrorId = "SinkOptionInvalid";

    protected abstract FfmpegContainer Container { get; }

    public IFrameSink Create(object? options, SinkTarget target, PluginContext context)
    {
        var (settings, path, ffmpeg) = Prepare(options, target, context);
        return new FfmpegSink(ffmpeg, path, target, Container, settings, context.Log);
    }

    /// <remarks>
    /// Options of another container (keep: on an mp4, a slip for .m3u8 most likely) are warned of here, once: a run
    /// checks its sinks before it computes a frame, and so do Test-FifoRecipe -Sinks and -WhatIf.
    /// </remarks>
    public void Check(object? options, SinkTarget target, PluginContext context)
    {
        var (settings, _, _) = Prepare(options, target, context);
        if (settings.UnusedBy(Container) is { Count: > 0 } unused)
            context.Log.Warning($"{Container.Name}: {string.Join(" and ", unused.Select(u => u.Option))} {(unused.Count == 1 ? "is an option" : "are options")} of " +
                                $"{string.Join(" and ", unused.Select(u => u.Container.Name).Distinct())}; this {Container.Name} file does not use {(unused.Count == 1 ? "it" : "them")}.");
        SoundFile.EnsureReadable(settings.Audio, Container.Name);
        var codec = FfmpegCommand.CodecFor(settings, Container);
        EncoderTrial.Ensure(settings, codec, settings.Audio.Length > 0 ? FfmpegCommand.AudioCodecFor(Container) : null, Container.Name, TrialMuxer.For(Container));
    }

    (FfmpegSinkOptions Settings, string Path, string Ffmpeg) Prepare(object? options, SinkTarget target, PluginContext context)
    {
        var settings = Bind(options, context);
        var path = SinkFiles.FileFor(target, context, Container.Name);
        SinkFiles.EnsureWritable(path, target.Overwrite, Container == FfmpegContainer.Hls ? SinkFiles.ResumedInPlace : SinkFiles.ResumedBeside);
        if (Container == FfmpegContainer.Hls)
        {
            if (HlsExtraArguments.Problem(CommandLineWords.Split(settings.ExtraArgs)) is { } problem)
                throw new FifoInputException(OptionInvalidErrorId, $"The hls sink options are invalid: {problem}");
            HlsFiles.EnsureWritable(path, target.Overwrite);
        }
        return (settings, path, FfmpegLocator.Locate());
    }

    FfmpegSinkOptions Bind(object? options, PluginContext context) => Bind<FfmpegSinkOptions>(options, Container.Name, context);

    /// <summary>
    /// An ffmpeg sink's options as given (null: the defaults), checked: any problem is an input error naming the option;
    /// their audio file found from <paramref name="context"/>'s folder.
    /// </summary>
    internal static T Bind<T>(object? options, string sink, PluginContext context) where T : FfmpegEncodingOptions, new()
    {
        var bound = PluginOptions.As<T>(options, $"{sink} sink");
        var problems = bound.Validate().ToList();
        if (problems.Count > 0)
            throw new FifoInputException(OptionInvalidErrorId,
                $"The {sink} sink options are invalid: " + string.Join(" ", problems.Select(p => p.Message)));
        return bound.WithAudioFrom<T>(context, sink);
    }
}

[FifoPlugin(PluginKind.Sink, "mp4", typeof(ISinkFactory), Extensions = "mp4,m4v", OptionsType = typeof(FfmpegSinkOptions),
    Description = "MP4 video through ffmpeg (H.264, yuv420p by default; fragmented, so an interrupted run keeps its frames).")]
public sealed class Mp4SinkFactory : FfmpegSinkFactory
{
    protected override FfmpegContainer Container => FfmpegContainer.Mp4;
}

[FifoPlugin(PluginKind.Sink, "webm", typeof(ISinkFactory), Extensions = "webm", OptionsType = typeof(FfmpegSinkOptions),
    Description = "WebM video through ffmpeg (VP9 by default).")]
public sealed class WebmSinkFactory : FfmpegSinkFactory
{
    protected override FfmpegContainer Container => FfmpegContainer.WebM;
}

[FifoPlugin(PluginKind.Sink, "mkv", typeof(ISinkFactory), Extensions = "mkv", OptionsType = typeof(FfmpegSinkOptions),
    Description = "Matroska video through ffmpeg (H.264 by default; any codec ffmpeg has).")]
public sealed class MkvSinkFactory : FfmpegSinkFactory
{
    protected override FfmpegContainer Container => FfmpegContainer.Mkv;
}

[FifoPlugin(PluginKind.Sink, "hls", typeof(ISinkFactory), Extensions = "m3u8", OptionsType = typeof(FfmpegSinkOptions),
    Description = "HTTP Live Streaming through ffmpeg: a playlist that grows with the run and its segments beside it (H.264 in fragmented MP4), " +
                  "so any static web server streams an endless run live while it is made.")]
public sealed class HlsSinkFactory : FfmpegSinkFactory
{
    protected override FfmpegContainer Container => FfmpegContainer.Hls;
}

/// <summary>
/// Pipes raw RGB24 frames to ffmpeg as they come. ffmpeg starts on the first frame (it needs the
/// size); <see cref="Complete"/> closes its stdin, which makes it finish a playable file with every
/// frame written so far, whether the run ended or was cancelled.
/// </summary>
public sealed class FfmpegSink : IFrameSink
{
    public const string FailedErrorId = "FfmpegFailed";

    /// <summary>How long a dying ffmpeg may do nothing before it is killed: it only has to exit and say why.</summary>
    internal static readonly TimeSpan DyingIdleLimit = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long ffmpeg may do no work, once its input has ended, before it is killed: an encoder finishing its file
    /// works all the time, however long it takes; a wedged one must not hold the end of a run, or Ctrl+C, forever.
    /// </summary>
    public static readonly TimeSpan DefaultIdleLimit = TimeSpan.FromMinutes(2);

    readonly TimeSpan idleLimit;

    readonly string ffmpeg;
    readonly FfmpegOutput output;
    readonly SinkTarget target;
    readonly FfmpegContainer container;
    readonly FfmpegSinkOptions options;
    readonly IProgressSink log;
    FfmpegProcess? process;
    FrameFormat? format;
    long framesWritten;
    // Frames the output held already (a playlist carried on in place), given to the sink but not to ffmpeg.
    long framesSkipped;
    // ffmpeg finished its file with every frame it was sent, and the output was ended: all of them are held.
    bool finishedWhole;
    FifoInputException? failure;
    IReadOnlyList<string>? completed;
    // What stood at the output before ffmpeg started (its last write and length), null for nothing: only a file ffmpeg
    // made may be deleted after it failed, and a failure says whether ffmpeg touched the one that was there.
    (DateTime Written, long Length)? outputBefore;

    public FfmpegSink(string ffmpeg, string path, SinkTarget target, FfmpegContainer container, FfmpegSinkOptions options, IProgressSink log,
        TimeSpan? idleLimit = null)
    {
        this.idleLimit = idleLimit ?? DefaultIdleLimit;
        this.ffmpeg = ffmpeg;
        output = FfmpegOutput.For(path, target, container, options, log);
        this.target = target;
        this.container = container;
        this.options = options;
        this.log = log;
    }

    /// <summary>The ffmpeg process id once the first frame has started it (for diagnostics).</summary>
    public int? ProcessId => process?.Id;

    public void Write(VideoFrame frame)
    {
        if (completed is not null) throw new InvalidOperationException($"The {container.Name} sink for '{output.Path}' was already completed.");
        if (failure is not null) throw failure;
        // The first frame fixes the format and decides where the run goes.
        if (format is null)
        {
            format = FrameFormat.Of(frame, target);
            output.Open(frame, format);
        }
        else format.EnsureMatches(frame, output.Path);
        if (process is null)
        {
            // The resumed run makes these again on its way to the frames the output lacks; they are in it already.
            if (frame.Index < output.FirstNewFrame)
            {
                framesSkipped++;
                return;
            }
            Start(frame);
        }
        StopIfWriteFailed();
        try
        {
            process!.Write(frame.Rgb);
        }
        catch (IOException ex)
        {
            int exitCode = process!.Finish(DyingIdleLimit);
            // Gone after a failed write: that is the cause to name, not the pipe it closed.
            failure = Failure(WriteFailed() is { } cause ? WriteFailedWhat(cause) : $"ffmpeg stopped reading frames while writing '{output.Path}' after {framesWritten} frames", exitCode, ex);
            throw failure;
        }
        framesWritten++;
        try { output.AfterFrame(StopFfmpeg); }
        catch (FifoInputException ex) { throw failure = ex; }
        StopIfWriteFailed();
    }

    /// <summary>
    /// How many of the frames given, from the first, are in the output where no crash can take them: those it held
    /// already, and of those sent to ffmpeg the ones its output holds by now (<see cref="FfmpegOutput.FramesHeld"/>), not
    /// those in the encoder's lookahead or the muxer's open fragment. All of them once ffmpeg finished the file.
    /// </summary>
    public long? FramesHeld =>
        finishedWhole || process is null ? framesSkipped + framesWritten
        : framesSkipped + Math.Clamp(output.FramesHeld(process.OutputTime, format!, FfmpegCommand.Interpolates(options, format!)), 0, framesWritten);

    /// <summary>
    /// Stops the run at ffmpeg's first failed write (a full disk, a file size limit): ffmpeg says so and goes on reading
    /// frames it cannot write, so without this the run would learn of it only when ffmpeg gives up, hundreds of frames on.
    /// </summary>
    void StopIfWriteFailed()
    {
        if (WriteFailed() is not { } cause) return;
        StopFfmpeg();
        failure = Failure(WriteFailedWhat(cause) + ", and was stopped: it goes on reading frames past a failed write", process!.ExitCodeOr(-1), null);
        throw failure;
    }

    /// <summary>The failed write ffmpeg reported; never for a playlist, whose watch finds it and puts the playlist back (<see cref="HlsPlaylistWatch"/>).</summary>
    string? WriteFailed() => container == FfmpegContainer.Hls ? null : process!.WriteFailure;

    string WriteFailedWhat(string cause) => $"ffmpeg could not write '{output.Path}' ({cause}) after {framesWritten} frames were sent";

    /// <summary>Stops an ffmpeg whose output went wrong without its noticing: killed, as what it writes next would be lost too.</summary>
    void StopFfmpeg()
    {
        process!.Kill();
        process.Finish(DyingIdleLimit);
    }

    void Start(VideoFrame first)
    {
        var format = this.format!;
        bool interpolates = FfmpegCommand.Interpolates(options, format);
        if (options.Interpolate > 0 && !interpolates)
            log.Warning($"{container.Name}: interpolate {Rate(options.Interpolate)} is not above the frames' {format.FpsText} fps; they are encoded as made.");
        output.BeforeStart(first, format, interpolates);
        // A resumed run's sound goes on where the interrupted one's was at this frame.
        double soundFrom = SoundFile.PositionAt(options.Audio, first.Index / format.Fps);
        // A playlist carried on in place starts where the interrupted run's did: its init segment stays that run's, one stream.
        var record = output.CarriesOn ? first.Provenance : FileRecord.Of(first);
        // Progress reports say how far the output has got (FramesHeld): the frames piped in are not yet in the file.
        var arguments = FfmpegProcess.ProgressArguments.Concat(FfmpegCommand.Build(options, container, format, output.Path, target.Overwrite, record, soundFrom)).ToList();
        if (FfmpegCommand.PaddingNote(options, format) is { } padding) log.Verbose($"{container.Name}: {padding}");
        // The provenance comment is many lines; the log line names it instead of repeating it (a comment of the user's own stays).
        string? provenanceArgument = record is null ? null : "comment=" + record;
        log.Verbose($"{container.Name}: {ffmpeg} {FfmpegCommand.Show(arguments, a => a == provenanceArgument ? $"comment=<provenance, {provenanceArgument.Length - 8} characters>" : a)}");
        SinkFiles.CreateParentFolder(output.Path);
        outputBefore = File.Exists(output.Path) ? Stamp(output.Path) : null;
        process = FfmpegProcess.Start(ffmpeg, arguments);
    }

    public IReadOnlyList<string> Complete() => Finish();

    IReadOnlyList<string> Finish()
    {
        if (completed is not null) return completed;
        if (process is null)
        {
            // A resume stopped before it got past the frames the output held: it is as complete as before.
            if (!output.CarriesOn) return completed = Array.Empty<string>();
            End();
            finishedWhole = true;
            return completed = new[] { output.Result };
        }
        int exitCode = process.Finish(idleLimit);
        completed = File.Exists(output.Result) ? new[] { output.Result } : Array.Empty<string>();
        // A failure seen while writing was already reported; finishing what is left is all that remains.
        if (failure is null && exitCode != 0)
        {
            failure = Failure($"ffmpeg could not finish '{output.Path}' ({framesWritten} frames sent)", exitCode, null);
            throw failure;
        }
        // A failed write it went on past, at the very end: the file lacks frames though ffmpeg exited well.
        if (failure is null && WriteFailed() is { } cause)
        {
            failure = Failure($"ffmpeg could not write all of '{output.Path}' ({cause}; {framesWritten} frames sent)", exitCode, null);
            throw failure;
        }
        // An output whose ffmpeg failed is not complete: it is not ended as if it were.
        if (failure is null)
        {
            End();
            finishedWhole = true;
        }
        log.Verbose($"{container.Name}: wrote {framesWritten} frames to {output.Result}{(FfmpegCommand.Interpolates(options, format!) ? $" (interpolated to {Rate(options.Interpolate)} fps)" : "")}");
        return completed;
    }

    void End()
    {
        try { output.End(); }
        catch (FifoInputException ex) { throw failure = ex; }
    }

    static string Rate(double fps) => fps.ToString(CultureInfo.InvariantCulture);

    FifoInputException Failure(string what, int exitCode, Exception? inner)
    {
        if (process!.NotStarted(ffmpeg, inner) is { } notStarted) return notStarted;
        string left = RemoveIfEmpty() ? $"ffmpeg wrote nothing, so the empty '{output.Path}' is removed (it would stand in the next run's way)."
            : outputBefore is { } before && File.Exists(output.Path) && Stamp(output.Path) == before ? $"'{output.Path}' is as it was before this run: ffmpeg did not touch it."
            : outputBefore is { Length: > 0 } && new FileInfo(output.Path) is { Exists: true, Length: 0 } ? $"ffmpeg emptied the earlier '{output.Path}' as it opened it (-Force) and wrote nothing into it."
            : File.Exists(output.Path) ? $"What ffmpeg had written to '{output.Path}' is left in place."
            : $"ffmpeg wrote no '{output.Path}'.";
        return new FifoInputException(FailedErrorId,
            $"{what}: {process.LastWords(exitCode)}{Environment.NewLine}{left} Check free disk space, the codec options " +
            $"(codec {FfmpegCommand.CodecFor(options, container)}, preset {(options.Preset.Length > 0 ? options.Preset : "default")}, pixelFormat {options.PixelFormat}, extraArgs) " +
            "and that `ffmpeg -version` runs.",
            inner);
    }

    static (DateTime, long) Stamp(string path)
    {
        var file = new FileInfo(path);
        return (file.LastWriteTimeUtc, file.Length);
    }

    /// <summary>
    /// Deletes the output file a failed ffmpeg made and left empty. Only one it made: what was there before (a file
    /// replaced with -Force, a device such as /dev/full) is not this sink's to delete. An HLS playlist's files are the
    /// continuation's to judge.
    /// </summary>
    bool RemoveIfEmpty()
    {
        if (container == FfmpegContainer.Hls || outputBefore is not null) return false;
        try
        {
            var file = new FileInfo(output.Path);
            if (!file.Exists || file.Length > 0) return false;
            file.Delete();
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { return false; }
    }

    public void Dispose()
    {
        if (process is null) return;
        if (completed is null)
        {
            try { Finish(); }
            catch (FifoInputException) { } // disposal without Complete is cleanup; the failure had no one to go to
        }
        process.Dispose();
    }
}
