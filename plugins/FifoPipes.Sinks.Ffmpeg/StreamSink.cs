using System.Diagnostics;
using System.Globalization;
using FifoPipes.Abstractions;
using FifoPipes.Core.Media;
using FifoPipes.Core.Sinks;

namespace FifoPipes.Sinks.Ffmpeg;

[FifoPlugin(PluginKind.Sink, "stream", typeof(ISinkFactory), Schemes = StreamProtocol.Schemes, OptionsType = typeof(StreamSinkOptions),
    Description = "A live stream to a server or a player through ffmpeg: RTMP(S) (YouTube, Twitch, nginx-rtmp) as FLV, SRT, UDP and TCP as MPEG-TS; " +
                  "H.264 without lookahead, paced at the frames' rate, reconnecting when the connection drops.")]
public sealed class StreamSinkFactory : ISinkFactory
{
    public IFrameSink Create(object? options, SinkTarget target, PluginContext context)
    {
        var (settings, protocol, address) = Prepare(options, target, context);
        return new StreamSink(FfmpegLocator.Locate(), target, protocol, settings, context.Log, listens: StreamProtocol.Listens(address), stopping: context.Stopping);
    }

    /// <summary>Also tries an RTMP server, and a TCP or SRT address of this machine (see <see cref="StreamProtocol.EnsureReachable"/>); the sink itself finds a dead one when ffmpeg connects.</summary>
    public void Check(object? options, SinkTarget target, PluginContext context)
    {
        var (settings, protocol, address) = Prepare(options, target, context);
        FfmpegLocator.Locate();
        SoundFile.EnsureReadable(settings.Audio, "stream");
        var (codec, defaultPreset) = FfmpegCommand.StreamCodec(settings);
        bool sound = settings.Audio.Length > 0 || settings.SilentAudio;
        EncoderTrial.Ensure(settings, codec, sound ? "aac" : null, "stream", TrialMuxer.For(protocol), defaultPreset);
        protocol.EnsureReachable(address, StreamAddress.Display(target.Path), CommandLineWords.Split(settings.ExtraArgs));
    }

    static (StreamSinkOptions Settings, StreamProtocol Protocol, Uri Address) Prepare(object? options, SinkTarget target, PluginContext context)
    {
        var settings = FfmpegSinkFactory.Bind<StreamSinkOptions>(options, "stream", context);
        var (protocol, address) = StreamProtocol.Of(target.Path);
        return (settings, protocol, address);
    }
}

/// <summary>
/// Sends frames to a live stream through ffmpeg as they come. A dropped connection (a server restart, a network blip)
/// does not end an endless run: ffmpeg is started again, after a pause that grows with each failed try, and the stream
/// goes on from the frame at hand; the frames ffmpeg held when the connection dropped are lost to viewers, as in any live
/// stream. The address is shown with its key masked in every message.
/// </summary>
public sealed class StreamSink : IFrameSink
{
    public const string FailedErrorId = "StreamFailed";

    /// <summary>Video a connection must carry before its drop counts as a first failure again, not one more in a row.</summary>
    const double HealthySeconds = 10;

    /// <summary>Frames the pace is measured over before a slow run is reported: enough that one slow frame is not a trend.</summary>
    const int PacedFrames = 16;

    readonly string ffmpeg;
    readonly string address;
    readonly string shown;
    readonly Func<string, string> hide;
    readonly SinkTarget target;
    readonly StreamProtocol protocol;
    readonly StreamSinkOptions options;
    readonly IProgressSink log;
    readonly bool listens;
    readonly CancellationToken stopping;
    readonly Func<int, TimeSpan> pauseBeforeTry;
    readonly Func<long> clock;
    readonly TimeSpan holdAfterLastFrame;
    FfmpegProcess? process;
    /// <summary>The index of the first frame this sink was given: the sound's place follows it (a resumed run's stream).</summary>
    long firstIndex;
    FrameFormat? format;
    long framesSent, framesOnConnection;
    int triesInARow;
    long? lastWriteEnded;
    long producingTicks, framesTimed;
    long? firstTimed;
    bool warnedSlow;
    FifoInputException? failure;
    bool completed;
    bool stopped;

    /// <param name="listens">Whether ffmpeg waits at the address for a player (<see cref="StreamProtocol.Listens"/>).</param>
    /// <param name="pauseBeforeTry">The pause before reconnect try k (1, 2, ...); tests shorten it.</param>
    /// <param name="clock">Stopwatch ticks, for the pace; tests drive it.</param>
    /// <param name="stopping">The user's stop (Ctrl+C): a pause before connecting again ends with it, and the stream with it.</param>
    public StreamSink(string ffmpeg, SinkTarget target, StreamProtocol protocol, StreamSinkOptions options, IProgressSink log,
        bool listens = false, Func<int, TimeSpan>? pauseBeforeTry = null, Func<long>? clock = null, CancellationToken stopping = default)
    {
        this.stopping = stopping;
        this.ffmpeg = ffmpeg;
        address = StreamAddress.Normalised(target.Path);
        shown = StreamAddress.Display(address);
        hide = StreamAddress.HiderOf(address);
        // Messages that name the target (a frame of another size) name it masked.
        this.target = target with { Path = shown };
        this.listens = listens;
        this.protocol = protocol;
        this.options = options;
        this.log = log;
        this.pauseBeforeTry = pauseBeforeTry ?? (k => TimeSpan.FromSeconds(Math.Min(10, 1 << Math.Min(k - 1, 4)))); // 1, 2, 4, 8, 10, 10, ...
        this.clock = clock ?? Stopwatch.GetTimestamp;
        holdAfterLastFrame = protocol.HoldAfterLastFrame(new Uri(address));
        // A listener waits for its player inside a write, which no pause ends: the stop kills the waiting ffmpeg.
        if (listens) stopWaiting = stopping.Register(() => process?.Kill());
    }

    readonly CancellationTokenRegistration stopWaiting;

    /// <summary>How many times ffmpeg was started again (and started) after the stream stopped taking frames.</summary>
    public int Reconnects { get; private set; }

    public void Write(VideoFrame frame)
    {
        if (completed) throw new InvalidOperationException($"The stream sink for '{shown}' was already completed.");
        if (failure is not null) throw failure;
        // Stopped while it paused to connect again: the stream has ended, and the frames still coming go nowhere.
        if (stopped) return;
        var arrived = clock();
        if (lastWriteEnded is { } ended) { producingTicks += arrived - ended; framesTimed++; }
        if (process is null) Start(frame); else format!.EnsureMatches(frame, shown);
        while (true)
        {
            try
            {
                process!.Write(frame.Rgb);
                break;
            }
            catch (IOException ex)
            {
                Reconnect(ex);
                if (stopped) return;
            }
        }
        framesSent++;
        if (++framesOnConnection >= HealthySeconds * format!.Fps) triesInARow = 0;
        lastWriteEnded = clock();
        // The stream's pace counts from a frame it has taken: a player's connecting, or a connection's making, is no pace.
        firstTimed ??= lastWriteEnded;
        ReportSlowPace(lastWriteEnded.Value);
    }

    void Start(VideoFrame first)
    {
        format = FrameFormat.Of(first, target);
        firstIndex = first.Index;
        if (FfmpegCommand.PaddingNote(options, format) is { } padding) log.Verbose($"stream: {padding}");
        Launch(first: true);
    }

    /// <summary>
    /// Starts ffmpeg, first or again, its sound where the video is, with the pace measured afresh; one that cannot start
    /// ends the stream with that error.
    /// </summary>
    void Launch(bool first)
    {
        var arguments = FfmpegCommand.BuildStream(options, protocol, format!, address, SoundFile.PositionAt(options.Audio, (firstIndex + framesSent) / format!.Fps));
        // The hold after the last frame waits for ffmpeg's own report of it.
        if (holdAfterLastFrame > TimeSpan.Zero) arguments = FfmpegProcess.ProgressArguments.Concat(arguments).ToList();
        if (first)
        {
            log.Verbose($"stream: {ffmpeg} {FfmpegCommand.Show(arguments, hide)}");
            if (listens) log.Verbose($"stream: waiting at {shown} for a player to connect; the run waits with it.");
        }
        try { process = FfmpegProcess.Start(ffmpeg, arguments); }
        catch (FifoInputException notStartable) { throw failure = notStartable; }
        (lastWriteEnded, firstTimed, framesTimed, producingTicks) = (null, null, 0, 0);
    }

    /// <summary>ffmpeg stopped taking frames: the connection dropped or could not be made. Start it again, or give up with its reasons.</summary>
    void Reconnect(IOException ex)
    {
        int exitCode = process!.Finish(FfmpegSink.DyingIdleLimit);
        var notStarted = process.NotStarted(ffmpeg, ex);
        var why = process.LastWords(exitCode, hide);
        var lastLine = process.StderrTail().LastOrDefault() is { } line ? hide(line) : $"ffmpeg exited with code {exitCode}";
        process.Dispose();
        process = null;
        if (notStarted is not null) throw failure = notStarted;
        // Ctrl+C while ffmpeg waited for a player: the stop killed it.
        if (stopping.IsCancellationRequested)
        {
            Stop();
            return;
        }
        if (triesInARow >= options.Reconnect)
        {
            failure = new FifoInputException(FailedErrorId,
                $"The stream to '{shown}' stopped after {framesSent} frames{(triesInARow > 0 ? $" and {triesInARow} tries in a row to connect again" : "")}: {why}{Environment.NewLine}" +
                "Check the address and stream key, that the server takes the stream (codec, bitrate), and the network; reconnect sets how many tries a run makes.", ex);
            throw failure;
        }
        triesInARow++;
        var pause = pauseBeforeTry(triesInARow);
        // Frames handed to ffmpeg, not frames that reached the server: a connection refused at once has taken one or two.
        log.Warning($"stream: ffmpeg stopped taking frames for '{shown}' after {framesOnConnection} ({lastLine}); " +
                    $"connecting again in {pause.TotalSeconds:0.#} s (try {triesInARow} of {options.Reconnect}).");
        if (stopping.WaitHandle.WaitOne(pause))
        {
            Stop();
            return;
        }
        framesOnConnection = 0;
        Launch(first: false);
        Reconnects++;
    }

    void Stop()
    {
        stopped = true;
        log.Warning($"stream: stopped while waiting to connect to '{shown}'; {framesSent} frames were sent.");
    }

    /// <summary>
    /// A stream plays its frames at their rate whatever the run does: a run that makes them slower, or an ffmpeg that
    /// encodes them slower (motion interpolation, a large scale, a slow preset), leaves viewers waiting for each one.
    /// Said once, with the rate that keeps up: the run's measured between frames (the wait in this sink left out), the
    /// stream's from the frames it took over the time they took, waits included.
    /// </summary>
    void ReportSlowPace(long now)
    {
        if (warnedSlow || framesTimed < PacedFrames) return;
        double made = framesTimed * Stopwatch.Frequency / (double)Math.Max(1, producingTicks);
        // The frames taken since this connection's first, over the time since: ffmpeg's input queue takes the first few at once.
        double sent = framesTimed * Stopwatch.Frequency / (double)Math.Max(1, now - firstTimed!.Value);
        double fps = format!.Fps;
        if (Math.Min(made, sent) >= fps * 0.95) return;
        warnedSlow = true;
        string Rate(double rate) => Math.Max(0.01, Math.Floor(rate * 0.9 * 100) / 100).ToString("0.##", CultureInfo.InvariantCulture);
        log.Warning(made < fps * 0.95
            ? string.Create(CultureInfo.InvariantCulture,
                $"stream: frames are made at {made:0.##} per second, and '{shown}' plays {format.FpsText}: viewers will wait for each one. " +
                $"Stream at a rate the run keeps up with (-Fps {Rate(made)}, or fps: in a recipe), and set interpolate (e.g. 24) for smooth motion at that rate") +
                (FfmpegCommand.Interpolates(options, format) || options.Scale != 1 ? ", if the CPU can spare it: ffmpeg's interpolation and scaling already take CPU from the run." : ".")
            : string.Create(CultureInfo.InvariantCulture,
                $"stream: ffmpeg takes {sent:0.##} frames a second, and '{shown}' plays {format.FpsText}: it cannot encode at the stream's pace, and viewers will wait. " +
                $"Lighten the encoding (interpolate, scale, a faster preset) or stream at -Fps {Rate(sent)}."));
    }

    public IReadOnlyList<string> Complete()
    {
        if (completed) return Array.Empty<string>();
        completed = true;
        if (process is null) return Array.Empty<string>();
        HoldForReceiver();
        int exitCode = process.Finish(FfmpegSink.DefaultIdleLimit);
        if (failure is null && exitCode != 0)
        {
            // Handed to ffmpeg, not sent: one that never connected (a refused address) has read every frame of a short run all the same.
            failure = new FifoInputException(FailedErrorId,
                $"ffmpeg could not finish the stream to '{shown}' ({framesSent} frames handed to it): {process.LastWords(exitCode, hide)}");
            throw failure;
        }
        log.Verbose($"stream: sent {framesSent} frames to {shown}{(Reconnects > 0 ? $", starting ffmpeg again {Reconnects} times" : "")}.");
        // A stream leaves no file behind.
        return Array.Empty<string>();
    }

    /// <summary>
    /// Keeps the connection up until the receiver has played the last frame out (<see cref="StreamProtocol.HoldAfterLastFrame"/>),
    /// counted from when ffmpeg's output reached it (its progress report: a paced ffmpeg, or a listener's whose player came
    /// late, may be seconds behind the writes). A stop ends the wait.
    /// </summary>
    void HoldForReceiver()
    {
        if (holdAfterLastFrame <= TimeSpan.Zero || stopped || failure is not null || framesOnConnection == 0 || process!.HasExited) return;
        var lastFrame = TimeSpan.FromSeconds((framesOnConnection - 1.5) / format!.Fps);
        // ffmpeg holds at most its input queue and the pipe's buffer unread: the report cannot be further behind.
        long frameBytes = (long)format.Width * format.Height * 3;
        var most = TimeSpan.FromSeconds(Math.Min(framesOnConnection, FfmpegCommand.InputQueueFrames + PipeBytes / frameBytes + 2) / format.Fps + 5);
        var waited = Stopwatch.StartNew();
        while (!(process.OutputTime >= lastFrame) && !process.HasExited && waited.Elapsed < most)
            if (stopping.WaitHandle.WaitOne(50)) return;
        stopping.WaitHandle.WaitOne(holdAfterLastFrame);
    }

    /// <summary>A Linux pipe's buffer: what a write can leave there before ffmpeg reads.</summary>
    const int PipeBytes = 65536;

    public void Dispose()
    {
        if (!completed)
        {
            try { Complete(); }
            catch (FifoInputException) { } // disposal without Complete is cleanup; the failure had no one to go to
        }
        stopWaiting.Dispose();
        process?.Dispose();
    }
}
