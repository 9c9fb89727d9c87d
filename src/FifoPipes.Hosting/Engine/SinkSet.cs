using FifoPipes.Abstractions;
using FifoPipes.Core.Sinks;
using FifoPipes.Hosting.Plugins;
using FifoPipes.Hosting.Recipes;

namespace FifoPipes.Hosting.Engine;

/// <summary>
/// Several sinks fed the same frames. Sinks open lazily on the first frame (so a run that fails
/// before producing anything leaves no empty files) and are always completed, even when a run is
/// cancelled or one sink fails: every file holds every frame written so far.
/// </summary>
public sealed class SinkSet : IDisposable
{
    readonly List<(SinkUse Use, IFrameSink? Sink)> sinks;
    // Frames each sink took, by its place: a run's snapshots wait until the sinks hold theirs (HeldFrames).
    readonly List<long> given;
    readonly PluginContext context;
    readonly double fallbackFps;
    readonly bool overwrite;
    bool completed;

    public SinkSet(IEnumerable<SinkUse> uses, bool overwrite, double fallbackFps, PluginContext context)
    {
        sinks = uses.Select(u => (u, (IFrameSink?)null)).ToList();
        given = sinks.Select(_ => 0L).ToList();
        this.overwrite = overwrite;
        this.fallbackFps = fallbackFps;
        this.context = context;
    }

    public int Count => sinks.Count;

    /// <summary>Asks every sink whether it could write its target, before the run computes anything (see <see cref="ISinkFactory.Check"/>).</summary>
    public void Check()
    {
        foreach (var (_, _, problem) in Problems()) throw problem;
    }

    /// <summary>
    /// What each sink would refuse, with its place among the sinks, asked of every one (<see cref="Check"/> stops at the
    /// first): an input error as the sink gave it, a bug in the sink's check as a <see cref="PluginFailedException"/> naming it.
    /// </summary>
    public IEnumerable<(int Index, SinkUse Use, Exception Problem)> Problems()
    {
        for (int i = 0; i < sinks.Count; i++)
        {
            var use = sinks[i].Use;
            Exception? problem = null;
            try { use.Plugin.Create<ISinkFactory>().Check(use.Options, new SinkTarget(use.Path, fallbackFps, overwrite), context); }
            catch (FifoInputException ex) { problem = ex; }
            // The machine's (a folder that cannot be listed): a problem of this output, named, not the end of a batch.
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                problem = new FifoInputException("SinkCheckFailed", $"The output '{StreamAddress.Display(use.Path)}' cannot be checked: {ex.Message}", ex);
            }
            catch (Exception ex) when (PluginFailedException.Names(ex))
            {
                problem = new PluginFailedException($"Checking the output '{StreamAddress.Display(use.Path)}' with {PluginFailedException.Name(use.Plugin)} failed", ex);
            }
            if (problem is not null) yield return (i, use, problem);
        }
    }

    public void Write(VideoFrame frame)
    {
        for (int i = 0; i < sinks.Count; i++)
        {
            var (use, sink) = sinks[i];
            try
            {
                if (sink is null)
                {
                    var fps = frame.Fps > 0 ? frame.Fps : fallbackFps;
                    sink = use.Plugin.Create<ISinkFactory>().Create(use.Options, new SinkTarget(use.Path, fps, overwrite), context);
                    sinks[i] = (use, sink);
                }
                sink.Write(frame);
                HeldFrames.Wrote(frame.RunId, sink, frame.Index, given[i]++);
            }
            catch (Exception ex) when (Wrapped(ex))
            {
                throw new SinkFailedException(use.Plugin.Name, use.Plugin.Source, use.Path, ex, frame.Index);
            }
        }
    }

    /// <summary>Completes every opened sink; returns the files written. Failures are collected, not allowed to skip other sinks.</summary>
    public IReadOnlyList<string> Complete()
    {
        completed = true;
        var files = new List<string>();
        var failures = new List<Exception>();
        foreach (var (use, sink) in sinks)
        {
            if (sink is null) continue;
            try { files.AddRange(sink.Complete()); }
            catch (Exception ex) { failures.Add(Wrapped(ex) ? new SinkFailedException(use.Plugin.Name, use.Plugin.Source, use.Path, ex) : ex); }
            // Finished or failed, what it holds now is all it will: the snapshots waiting for it are settled.
            finally { HeldFrames.Finished(sink, context.Log); }
        }
        if (failures.Count == 1) throw failures[0];
        if (failures.Count > 1) throw new AggregateException("Several sinks failed to finish their files.", failures);
        return files;
    }

    /// <summary>
    /// An input error keeps its own ErrorId (FfmpegFailed, StreamFailed), and a stop the user asked for (PowerShell's
    /// -WarningAction Stop inside a sink's log call, a stopped pipeline) is not the sink's failure.
    /// </summary>
    static bool Wrapped(Exception ex) => ex is not (FifoInputException or OperationCanceledException) && !PluginFailedException.IsUsersStop(ex);

    public void Dispose()
    {
        if (!completed)
        {
            try { Complete(); } catch { /* the run's own error is the one to report */ }
        }
        foreach (var (_, sink) in sinks) sink?.Dispose();
    }
}

/// <summary>A sink failed to write (disk full, encoder died); names the sink and the file (or the stream's address, its key masked).</summary>
public sealed class SinkFailedException : Exception
{
    /// <param name="frame">The frame it was writing; null when it failed finishing its files.</param>
    public SinkFailedException(string sink, string path, Exception inner, long? frame = null) : this(sink, null, path, inner, frame) { }

    /// <param name="source">The sink plugin's assembly, named where the failure is the plugin's own: a dependency its folder lacks.</param>
    internal SinkFailedException(string sink, string? source, string path, Exception inner, long? frame = null)
        : base(DiskFull(inner)
            ? $"The disk holding '{path}' is full, so the {sink} sink could not {(frame is { } f ? $"write frame {f}" : "finish its files")}; what it wrote before is kept. " +
              "Free space or write elsewhere, then run again (from the run's snapshot, where it takes them)."
            : PluginFailedException.MissingAssembly(inner) is not null
            ? $"The {sink} sink{(source is null ? "" : $" ({source})")} writing '{StreamAddress.Display(path)}' failed: {PluginFailedException.WithFix(inner)}"
            : $"The {sink} sink writing '{StreamAddress.Display(path)}' failed: {StreamAddress.Hide(inner.Message, path)}", inner)
    {
        Sink = sink;
        Path = path;
    }

    /// <summary>No space left on the device (ENOSPC on Linux and macOS; ERROR_DISK_FULL, ERROR_HANDLE_DISK_FULL on Windows).</summary>
    static bool DiskFull(Exception error) =>
        error is IOException io && (OperatingSystem.IsWindows() ? (io.HResult & 0xFFFF) is 0x70 or 0x27 : io.HResult == 28);

    public string Sink { get; }
    public string Path { get; }
}
