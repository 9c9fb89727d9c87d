using FifoPipes.Abstractions;

namespace FifoPipes.Hosting.Engine;

/// <summary>What a run reports to the thread that consumes it.</summary>
public abstract record RunEvent;

/// <summary>The model is loaded and sampling begins.</summary>
public sealed record RunStarted(ModelInfo Model, long Frames, double Fps, Guid RunId) : RunEvent;

/// <summary>A decoded frame, in order.</summary>
public sealed record FrameProduced(VideoFrame Frame, RunTimings Timings) : RunEvent;

/// <summary>
/// The sampler's state after the first <paramref name="Frames"/> frames. <see cref="VideoRun.Events"/> makes it the
/// resume point when the consumer asks for the event after the last of those frames, that is once it has written them,
/// and every sink writing them holds them (<see cref="IFrameSink.FramesHeld"/>, found by <see cref="HeldFrames"/>), so a
/// crash at any moment resumes without a gap.
/// </summary>
public sealed record SnapshotSaved(StagedSnapshot Snapshot, long Frames) : RunEvent;

public enum MessageLevel { Verbose, Warning }

/// <summary>A message from the engine or a plugin.</summary>
public sealed record RunMessage(MessageLevel Level, string Text) : RunEvent;

/// <summary>Cumulative seconds spent in each stage of the worker so far.</summary>
public sealed record RunTimings(double Sampling, double Decoding, double Total);
