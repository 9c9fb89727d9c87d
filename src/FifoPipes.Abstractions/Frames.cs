namespace FifoPipes.Abstractions;

/// <summary>A decoded output frame: RGB24 pixels, row-major, 3 bytes per pixel.</summary>
public sealed class VideoFrame
{
    /// <param name="rgb">width x height x 3 bytes, rows from the top; the frame keeps the array, not a copy.</param>
    public VideoFrame(long index, int width, int height, byte[] rgb, string prompt, double fps, Guid runId)
    {
        if (rgb.Length != checked(width * height * 3))
            throw new ArgumentException($"Expected {width * height * 3} bytes for a {width}x{height} RGB frame, got {rgb.Length}.", nameof(rgb));
        Index = index; Width = width; Height = height; Rgb = rgb; Prompt = prompt; Fps = fps; RunId = runId;
    }

    /// <summary>The frame's place in the video, from 0 (a resumed run goes on with the index it stopped at).</summary>
    public long Index { get; }
    /// <summary>Width in pixels.</summary>
    public int Width { get; }
    /// <summary>Height in pixels.</summary>
    public int Height { get; }
    /// <summary>
    /// The pixels, shared: every sink of a run and the pipeline get this one array, so read it and never change it
    /// (a sink that draws on a frame, a watermark say, draws on a copy). Said so since contracts 1.7.
    /// </summary>
    public byte[] Rgb { get; }
    /// <summary>The prompt the frame was finished under.</summary>
    public string Prompt { get; }
    /// <summary>The playback rate the frame was made for.</summary>
    public double Fps { get; }
    /// <summary>The run the frame belongs to: frames of one run share it.</summary>
    public Guid RunId { get; }
    /// <summary>Where the frame plays: <see cref="Index"/> / <see cref="Fps"/>.</summary>
    public TimeSpan Timestamp => TimeSpan.FromSeconds(Fps > 0 ? Index / Fps : 0);

    /// <summary>
    /// How the run that made the frame was set ("key=value" lines: model, sampler, the options that change frames,
    /// prompts, seed), for sinks to store in the files they write; null when unknown.
    /// </summary>
    public string? Provenance { get; init; }

    /// <summary>The same frame played at <paramref name="fps"/> (pixels shared, everything else kept). Contracts 1.2.</summary>
    public VideoFrame WithFps(double fps) => new(Index, Width, Height, Rgb, Prompt, fps, RunId) { Provenance = Provenance };
}

/// <summary>A sink plugin: creates a sink that writes to one target.</summary>
public interface ISinkFactory
{
    /// <summary>
    /// A sink for one run's frames to <paramref name="target"/>, called with the first frame, on the pipeline thread.
    /// Bad options or an output in the way are a <see cref="FifoInputException"/> naming the fix.
    /// </summary>
    /// <param name="options">The plugin's options, bound and validated; null for all defaults.</param>
    IFrameSink Create(object? options, SinkTarget target, PluginContext context);

    /// <summary>
    /// Refuses, before any frame is computed, what <see cref="Create"/> would refuse at the first frame: bad options, an
    /// output in the way, a missing encoder, a folder that takes no files. Leaves nothing on disk (a probe file it writes to try a folder is deleted at once). Sinks open lazily, so without it a run could spend
    /// hours on its first frame and only then find ffmpeg missing.
    /// </summary>
    void Check(object? options, SinkTarget target, PluginContext context) { }
}

/// <summary>Where and how a sink writes; common to every sink.</summary>
/// <param name="Path">
/// File (or, for image sequences, a file pattern or folder), absolute, with {seed}, {hash} and ${NAME} already filled; or
/// a stream address for a sink with <c>Schemes</c>.
/// </param>
/// <param name="Fps">Playback rate of the video.</param>
/// <param name="Overwrite">Replace existing files; without it a sink refuses to overwrite.</param>
public sealed record SinkTarget(string Path, double Fps, bool Overwrite);

/// <summary>
/// A streaming output: opens on the first frame, writes each frame as it comes and holds no list of
/// frames. <see cref="Complete"/> finalises a valid file holding every frame written so far; it is
/// called at the end of a run and also when the run is cancelled or fails. A run resumed from a snapshot starts at a
/// later frame (the first frame's <see cref="VideoFrame.Index"/> is not 0), with <see cref="SinkTarget.Overwrite"/> set
/// (-Force) to get past the outputs the interrupted run left: a sink must not replace them with the resumed part alone. The built-in video sinks write a
/// new segment beside the file (<c>SinkFiles.ContinuationPath</c> in FifoPipes.Core); an image sequence carries on in place.
/// </summary>
public interface IFrameSink : IDisposable
{
    /// <summary>Writes one frame; its pixels are shared with the run's other sinks, so they are read, never changed.</summary>
    void Write(VideoFrame frame);
    /// <summary>
    /// Finalises and returns what was written: the files, or the folder of an image sequence (its frames are not
    /// listed one by one). Safe to call more than once.
    /// </summary>
    IReadOnlyList<string> Complete();

    /// <summary>
    /// How many of the frames given to <see cref="Write"/>, counted from the first, the output holds durably: where no
    /// crash could lose them, of this process or of a helper it feeds (an encoder holding frames in its lookahead, a
    /// muxer its fragment). Null (the default): each frame once <see cref="Write"/> returns. The engine makes a snapshot
    /// the resume point only once every sink holds the frames before it, so a sink that answers lower than it was given
    /// keeps the resume point behind what is on disk. Read from the thread that writes, between calls. Contracts 1.12.
    /// </summary>
    long? FramesHeld => null;
}
