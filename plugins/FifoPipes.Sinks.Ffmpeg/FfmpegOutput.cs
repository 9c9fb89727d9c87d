using FifoPipes.Abstractions;
using FifoPipes.Core.Sinks;

namespace FifoPipes.Sinks.Ffmpeg;

/// <summary>
/// What an ffmpeg sink writes to, and what that output needs around ffmpeg: a video file, where a resumed run's frames
/// go into a new segment beside the interrupted one; an HLS playlist (<see cref="HlsOutput"/>) does more.
/// </summary>
internal class FfmpegOutput
{
    protected readonly string Requested;
    protected readonly SinkTarget Target;
    protected readonly FfmpegContainer Container;
    protected readonly FfmpegSinkOptions Options;
    protected readonly IProgressSink Log;

    protected FfmpegOutput(string requested, SinkTarget target, FfmpegContainer container, FfmpegSinkOptions options, IProgressSink log)
    {
        (Requested, Target, Container, Options, Log) = (requested, target, container, options, log);
        Path = requested;
    }

    public static FfmpegOutput For(string requested, SinkTarget target, FfmpegContainer container, FfmpegSinkOptions options, IProgressSink log) =>
        container == FfmpegContainer.Hls
            ? new HlsOutput(requested, target, container, options, log)
            : new FfmpegOutput(requested, target, container, options, log);

    /// <summary>Where ffmpeg writes: the output asked for, or a new segment beside it.</summary>
    public string Path { get; protected set; }

    /// <summary>The file the sink reports when it completes.</summary>
    public virtual string Result => Path;

    /// <summary>Whether the output held this run's first frames already (frames below <see cref="FirstNewFrame"/>), so it is the run's output even if ffmpeg never starts.</summary>
    public virtual bool CarriesOn => false;

    /// <summary>The first frame ffmpeg is given; the sink makes the earlier ones but does not encode them again.</summary>
    public virtual long FirstNewFrame => 0;

    /// <summary>Decides where the run goes, at its first frame (which a resumed run has above 0).</summary>
    public virtual void Open(VideoFrame first, FrameFormat format) { }

    /// <summary>
    /// Settles <see cref="Path"/> before ffmpeg starts on <paramref name="first"/>: a resumed run's frames go into a new
    /// segment beside the interrupted file, with a warning naming the command that joins the two.
    /// </summary>
    /// <param name="interpolates">The file holds more frames than the run: the join cuts it by time.</param>
    public virtual void BeforeStart(VideoFrame first, FrameFormat format, bool interpolates) =>
        // The join cuts the first file's sound where its frames are cut; the segment's goes on from there.
        Path = SinkFiles.OpenPath(Requested, first.Index, Container.Name, Log, interpolates ? first.Index / format.Fps : null, Container.JoinedExtension, Container.JoinNote,
            soundUntil: Options.Audio.Length > 0 ? first.Index / format.Fps : null);

    /// <summary>
    /// After each frame ffmpeg took. Throws <see cref="FifoInputException"/> where the output shows a write ffmpeg failed
    /// without reporting it, having called <paramref name="stopFfmpeg"/> first: it must not write on over what is put back.
    /// </summary>
    public virtual void AfterFrame(Action stopFfmpeg) { }

    /// <summary>After ffmpeg finished the file; throws <see cref="FifoInputException"/> where the output cannot be completed.</summary>
    public virtual void End() { }

    /// <summary>Seconds of video a muxer may hold before it writes them: an MP4 fragment (frag_duration), a Matroska cluster (5 s in a file).</summary>
    double BufferedSeconds => Container == FfmpegContainer.Mp4 ? 1 : 5;

    /// <summary>Frames an encoder may have muxed out of order (B-frames: H.264 allows 16), whose earlier frames are not muxed yet.</summary>
    const int ReorderedFrames = 16;

    /// <summary>
    /// How many of the frames sent to ffmpeg its output holds on disk, at least, while ffmpeg runs: those before where its
    /// muxer has got (<paramref name="outputTime"/>, ffmpeg's progress report), less what a muxer holds before it writes
    /// and what an encoder muxes out of order. A classic MP4 holds none until ffmpeg writes its index at the end.
    /// </summary>
    /// <param name="interpolates">The file's frames are not the run's: its times are.</param>
    public virtual long FramesHeld(TimeSpan? outputTime, FrameFormat format, bool interpolates)
    {
        if (outputTime is not { } muxed || (Container == FfmpegContainer.Mp4 && !Options.Fragmented)) return 0;
        double fileRate = interpolates ? Options.Interpolate : format.Fps;
        double seconds = muxed.TotalSeconds - BufferedSeconds - ReorderedFrames / fileRate;
        return seconds <= 0 ? 0 : (long)Math.Floor(seconds * format.Fps + 1e-6);
    }
}

/// <summary>
/// An HLS playlist: its segments lie beside it and a fresh run with overwrite removes an earlier run's; ffmpeg leaves it
/// open and the sink ends it, so a crashed run's stays open; a resumed run carries it on in place (<see cref="HlsContinuation"/>)
/// where it can, else writes a playlist of its own beside it, as the video files do.
/// </summary>
internal sealed class HlsOutput : FfmpegOutput
{
    HlsContinuation? continuation;
    /// <summary>The playlist ffmpeg writes (the part, for a continuation), checked for the writes it fails without a word.</summary>
    HlsPlaylistWatch? watch;
    bool warnedRefresh;

    public HlsOutput(string requested, SinkTarget target, FfmpegContainer container, FfmpegSinkOptions options, IProgressSink log)
        : base(requested, target, container, options, log) { }

    public override string Result => continuation is null ? Path : Requested;
    public override bool CarriesOn => continuation is not null;
    public override long FirstNewFrame => continuation?.FirstNewFrame ?? 0;

    public override void Open(VideoFrame first, FrameFormat format)
    {
        if (first.Index <= 0) return;
        continuation = HlsContinuation.Open(Requested, first.Index, format, Options, Log, out var why, first.Provenance);
        if (continuation is null)
        {
            if (why is null)
            {
                BesideMissingPlaylist(first.Index);
                return;
            }
            // A killed run's playlist was left open for its resume; this run writes one of its own, so that one ends here.
            // Another run's playlist stays open for that run's own resume.
            bool ended = !why.StartsWith(RecordedRun.AnotherRuns, StringComparison.Ordinal) && HlsFiles.EndIfOurs(Requested);
            Log.Warning($"hls: '{Requested}' cannot be carried on in place: {why}. This run writes a playlist of its own beside it" +
                        (ended ? ", and the earlier one is ended (#EXT-X-ENDLIST)." : "."));
            return;
        }
        long held = continuation.EarlierFrames;
        if (held < first.Index)
            Log.Warning($"hls: '{Requested}' holds frames up to {held - 1}, but this run starts at frame {first.Index}: frames {held} to {first.Index - 1} " +
                        $"were lost with the interrupted run's ffmpeg, so the playlist jumps there. It goes on from frame {first.Index}.");
        else
            Log.Verbose($"hls: carrying on '{Requested}' in place: it holds frames up to {held - 1}, so this run adds frames from {continuation.FirstNewFrame} on " +
                        $"(written as '{System.IO.Path.GetFileName(continuation.PartPlaylist)}' and listed in '{System.IO.Path.GetFileName(Requested)}' as they complete).");
        Path = continuation.PartPlaylist;
    }

    /// <summary>
    /// A resume whose playlist is gone but whose segments are not (deleted by hand, or lost): they are the earlier run's
    /// frames, which -Force on a resume never replaces, so this run writes a playlist of its own beside them.
    /// </summary>
    void BesideMissingPlaylist(long firstFrame)
    {
        if (HlsFiles.EarlierRunFile(Requested) is not { } left) return;
        Path = HlsFiles.BesidePath(Requested, firstFrame);
        Log.Warning($"hls: '{Requested}' is missing, but segments of an earlier run are beside it ({System.IO.Path.GetFileName(left)}, ...), so this resumed run " +
                    $"leaves them as they are and writes a playlist of its own beside it, '{Path}', from frame {firstFrame} on. The frames before {firstFrame} " +
                    "are in those segments only: put the earlier playlist back to play them.");
    }

    /// <summary>
    /// The frames in the segments ffmpeg listed (of this run's part, for a continuation): a killed run's playlist keeps only
    /// those, and its resume deletes the rest (<see cref="HlsFiles.RemoveUnlisted"/>).
    /// </summary>
    public override long FramesHeld(TimeSpan? outputTime, FrameFormat format, bool interpolates) =>
        watch is null ? 0 : (long)Math.Floor(watch.ListedSeconds * format.Fps + 1e-3);

    public override void BeforeStart(VideoFrame first, FrameFormat format, bool interpolates)
    {
        if (continuation is null && Path == Requested) base.BeforeStart(first, format, interpolates);
        // A resumed run's own playlist name may have segments of an earlier, killed resume beside it.
        if (Path != Requested) HlsFiles.EnsureWritable(Path, Target.Overwrite);
        // The new playlist replaces the earlier run's, so its segments go too: a longer run leaves more than this one writes
        // over. A resume replaces nothing of an earlier run (-Force only gets it past the files that run left): only a
        // playlist of its own name beside them, which a killed resume of the same frame left.
        if (Target.Overwrite && (first.Index <= 0 || Path != Requested)) HlsFiles.RemoveEarlierRun(Path);
        watch = continuation?.Part ?? new HlsPlaylistWatch(Path);
    }

    /// <summary>
    /// Checks what ffmpeg listed, and for a continuation lists the part's completed segments in the playlist; a file error
    /// there only delays that (the frames are in the part). A write ffmpeg failed (a full disk) stops the run: ffmpeg
    /// would go on writing empty segments and an empty playlist without a word.
    /// </summary>
    public override void AfterFrame(Action stopFfmpeg)
    {
        try
        {
            if (continuation is null) watch!.Read();
            else Refresh();
        }
        catch (HlsWriteFailedException failed)
        {
            stopFfmpeg();
            throw WriteFailed(failed);
        }
    }

    void Refresh()
    {
        try
        {
            continuation!.Refresh();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            if (!warnedRefresh) Log.Warning($"hls: could not update '{Requested}' ({ex.Message}); trying again with the next frames.");
            warnedRefresh = true;
        }
    }

    /// <summary>The error for a write ffmpeg failed, once it is stopped: what showed it, the cause, and the playlist put back to its last sound listing.</summary>
    FifoInputException WriteFailed(HlsWriteFailedException failed)
    {
        string cause = watch!.Cause();
        string left = watch.PutBack();
        if (continuation is not null) left += $" '{Requested}' lists this run's segments up to there.";
        return new FifoInputException(FfmpegSink.FailedErrorId,
            $"ffmpeg could not write the playlist '{Path}' and its segments: {failed.Message}. {cause} ffmpeg's hls muxer goes on past a failed write " +
            $"without a word, so the sink stopped it. {left} Free space or write elsewhere, then run again (from the run's snapshot, where it takes them: " +
            "the playlist goes on in place).", failed);
    }

    /// <summary>
    /// Ends the playlist the run finished or stopped (<c>#EXT-X-ENDLIST</c>: players stop waiting for more). ffmpeg is
    /// told not to end it, so that a killed run's playlist stays open and its viewers wait for the resume to go on.
    /// </summary>
    /// <remarks>
    /// ffmpeg's last segment and playlist are checked first, as each before them was: a disk that filled at the end
    /// leaves a cut segment or an empty playlist that must not be ended as if complete. A playlist that cannot be ended is
    /// left as it was (it is rewritten by rename), every segment it lists whole.
    /// </remarks>
    public override void End()
    {
        try
        {
            if (continuation is not null) continuation.Refresh(final: true);
            else
            {
                watch?.Read(force: true);
                HlsFiles.End(Path);
            }
        }
        catch (HlsWriteFailedException failed)
        {
            throw WriteFailed(failed);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new FifoInputException(FfmpegSink.FailedErrorId,
                $"Could not end the playlist '{Result}' ({ex.Message}). It is as it was, every segment it lists whole; " +
                (continuation is null ? "add the line #EXT-X-ENDLIST to it by hand." : $"'{Path}' lists the newest; a resume from a snapshot lists them again."), ex);
        }
    }
}
