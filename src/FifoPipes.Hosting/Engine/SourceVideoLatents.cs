using FifoPipes.Abstractions;
using FifoPipes.Core.Media;
using FifoPipes.Hosting.Recipes;
using static TorchSharp.torch;

namespace FifoPipes.Hosting.Engine;

/// <summary>
/// A source video as latents for video-to-video (<see cref="ISourceLatents"/>): frames stream from the file and are
/// encoded by the model one at a time, as the sampler asks for them. They are encoded under no prompt: a model whose
/// latent space follows the prompt (the analytic model's palette) then shows them in each prompt's look, which is the
/// restyle; for the others the prompt makes no difference to encoding. A sampler asks in increasing order, repeating an
/// index now and then, so the latest latent is kept (and a looping source's whole turn, where it fits).
/// </summary>
public sealed class SourceVideoLatents : ISourceLatents, IDisposable
{
    readonly IVideoModel model;
    readonly SourceVideo source;
    readonly IProgressSink log;
    readonly CancellationToken stop;
    readonly long selected;
    SourceFrames frames;
    (long Index, Tensor Latent)? latest;
    // How many frames the stream really decodes, once it has ended before the count (a cut file); null until then.
    long? decoded;

    /// <summary>
    /// A looping source's frames come round every turn: one turn of latents is kept (on the CPU, up to this size) so later
    /// turns neither decode nor encode again. A longer clip is read again each turn.
    /// </summary>
    const long TurnBytes = 512L << 20;
    readonly Dictionary<long, Tensor> turn = new();
    readonly bool keepsTurn;

    SourceVideoLatents(IVideoModel model, SourceVideo source, SourceFrames.Summary summary, bool keepsTurn, IProgressSink log, CancellationToken stop)
    {
        this.model = model;
        this.stop = stop;
        this.source = source;
        this.keepsTurn = keepsTurn;
        this.log = log;
        selected = summary.Frames;
        Fps = summary.Fps;
        frames = Open();
    }

    public long Count => source.Loops ? long.MaxValue : selected;

    /// <summary>The prompt frames are encoded under: none, explicitly, so no model falls back on state from an earlier prompt.</summary>
    const string NoPrompt = "";

    /// <summary>The source's frame rate (its resampled rate, or the file's where it gives one): the output's, unless the recipe sets fps.</summary>
    public double? Fps { get; }

    /// <summary>
    /// Opens <paramref name="source"/> for <paramref name="model"/>, after checking that the model keeps one latent per
    /// frame (a model that compresses time, such as Open-Sora Plan's causal VAE, cannot follow a video frame by frame).
    /// </summary>
    /// <param name="stop">The run's stop: a resume far into a long source reads its way there, which must not outlast Ctrl+C.</param>
    public static SourceVideoLatents Open(IVideoModel model, SourceVideo source, IProgressSink? log = null, CancellationToken stop = default)
    {
        var summary = SourceFrames.Probe(source.Path, source.Timing);
        // ffmpeg reads a picture as a video of one frame: what the user meant is most likely a start image.
        if (summary.Frames == 1 && !source.Loops)
            log?.Warning($"The source video '{source.Path}' holds one frame (a still image?), so the run makes one frame: a source is restyled frame by frame. " +
                         "To start a video from a picture, give it as -InitImage (recipe key init:) instead.");
        bool keepsTurn;
        using (var probe = new SourceFrames(source.Path, model.Info.PixelWidth, model.Info.PixelHeight, source.Timing))
        using (var scope = NewDisposeScope())
        {
            var first = new List<Tensor>();
            while (first.Count < 5 && probe.Next() is { } frame) first.Add(frame);
            using var mode = inference_mode();
            var latents = model.EncodeFrames(stack(first), NoPrompt);
            if (latents.shape[1] != first.Count)
                throw new FifoInputException("SourceUnsupported",
                    $"Model '{model.Info.Name}' encodes {first.Count} video frames into {latents.shape[1]} latent frames; restyling a source video needs one latent " +
                    "per frame. Use a model without temporal compression (analytic, videocrafter, zeroscope).");
            // Played backwards, a clip is read from memory: a file decodes forwards only.
            long turnBytes = summary.Frames * (latents.NumberOfElements / latents.shape[1]) * sizeof(float);
            if (source.Loop == SourceLoop.PingPong && turnBytes > TurnBytes)
                throw new FifoInputException("SourcePingPongTooLong",
                    $"A ping-pong loop keeps the whole clip's latents in memory, and the {summary.Frames} frames of '{source.Path}' take {Megabytes(turnBytes, TurnBytes)}, more than {TurnBytes >> 20} MB. " +
                    "Loop a shorter part of it (source.start and a lower source.fps select fewer frames), or loop: true.");
            keepsTurn = source.Loop == SourceLoop.PingPong || (source.Loops && turnBytes <= TurnBytes);
        }
        return new SourceVideoLatents(model, source, summary, keepsTurn, log ?? NullProgressSink.Instance, stop);
    }

    /// <summary>"576 MB", "512.3 MB"; in bytes where even that reads as the <paramref name="limit"/> it is over.</summary>
    static string Megabytes(long bytes, long limit)
    {
        var culture = System.Globalization.CultureInfo.InvariantCulture;
        string megabytes = (bytes / 1048576.0).ToString("0.#", culture);
        return megabytes == (limit / 1048576.0).ToString("0.#", culture) ? bytes.ToString("N0", culture) + " bytes" : megabytes + " MB";
    }

    public Tensor Latent(long index)
    {
        if (index < 0 || index >= Count) throw new ArgumentOutOfRangeException(nameof(index), index, $"The source has {Count} frames.");
        // A looping source starts over after its last frame (or, ping-pong, turns back at it); past the end of a cut file,
        // its last decoded frame stands in.
        long frame = Math.Min(TurnFrame(index), (decoded ?? selected) - 1);
        if (turn.TryGetValue(frame, out var kept)) return kept.clone();
        if (latest is { } last && last.Index == frame) return last.Latent.clone();
        if (frame < frames.Position)
        {
            frames.Dispose();
            frames = Open();
        }
        // Played back, a ping-pong clip comes from memory: on the way to a frame, every frame passed is kept.
        while (frames.Position < frame && (source.Loop == SourceLoop.PingPong ? KeepNext() : frames.Skip())) stop.ThrowIfCancellationRequested();
        using var scope = NewDisposeScope();
        var rgb = frames.Position == frame ? frames.Next() : null;
        if (rgb is null)
        {
            // A stream may decode fewer frames than its packets counted (a cut file). The frame that stands in is read
            // as itself, not taken from whatever came last, so a resumed run gets the same one as an unbroken run.
            decoded = frames.Position;
            if (decoded == 0) throw new FifoInputException(SourceFrames.UnreadableErrorId, $"Source video '{source.Path}' decoded no frame of the {selected} it counted.");
            log.Warning($"Source video '{source.Path}' decoded only {decoded} of the {selected} frames it counted; its last frame stands in for the rest.");
            return Latent(decoded.Value - 1).MoveToOuterDisposeScope();
        }
        var latent = Encode(rgb);
        latest?.Latent.Dispose();
        latest = (frame, latent);
        Keep(frame, latent);
        return latent.clone().MoveToOuterDisposeScope();
    }

    Tensor Encode(Tensor rgb)
    {
        using (inference_mode())
            return model.EncodeFrames(rgb.unsqueeze(0), NoPrompt).select(1, 0).to(ScalarType.Float32).clone().DetachFromDisposeScope();
    }

    /// <summary>Keeps a looping source's latent for later turns, where the turn fits (a ping-pong turn always does: Open checked it).</summary>
    void Keep(long frame, Tensor latent)
    {
        // A copy of its own: on a CPU model .cpu() would hand back the latest latent itself, which the next frame disposes.
        if (keepsTurn && !turn.ContainsKey(frame)) turn[frame] = zeros(latent.shape, ScalarType.Float32, CPU).copy_(latent).DetachFromDisposeScope();
    }

    /// <summary>Reads, encodes and keeps the next frame; false at the end of the stream.</summary>
    bool KeepNext()
    {
        long at = frames.Position;
        using var scope = NewDisposeScope();
        if (frames.Next() is not { } rgb) return false;
        using var latent = Encode(rgb);
        Keep(at, latent);
        return true;
    }

    /// <summary>The clip's frame that output frame <paramref name="index"/> restyles: 0, 1, ..., N-1, then N-2, ..., 1 again for a ping-pong loop.</summary>
    long TurnFrame(long index)
    {
        if (source.Loop != SourceLoop.PingPong || selected < 2) return index % selected;
        long period = 2 * selected - 2, p = index % period;
        return p < selected ? p : period - p;
    }

    SourceFrames Open() => new(source.Path, model.Info.PixelWidth, model.Info.PixelHeight, source.Timing);

    public void Dispose()
    {
        latest?.Latent.Dispose();
        latest = null;
        foreach (var kept in turn.Values) kept.Dispose();
        turn.Clear();
        frames.Dispose();
    }
}
