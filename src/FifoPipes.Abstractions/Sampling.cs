using static TorchSharp.torch;

namespace FifoPipes.Abstractions;

/// <summary>A sampler plugin: creates a sampler from its options.</summary>
public interface ISamplerFactory
{
    /// <summary>
    /// A sampler for one run, made on the run's worker thread before the model's first call; options the sampler
    /// cannot take are a <see cref="FifoInputException"/> naming the fix. An <see cref="IDisposable"/> sampler is
    /// disposed when the run ends.
    /// </summary>
    /// <param name="options">The plugin's options, bound and validated; null for all defaults.</param>
    ISampler Create(object? options, PluginContext context);

    /// <summary>
    /// Refuses, before the model loads, options that <paramref name="model"/> cannot take (too many steps for its
    /// schedule, a window too small for an option), with a <see cref="FifoInputException"/> naming the fix. Only what
    /// options and model decide. Since contracts 1.13 the engine asks
    /// <see cref="Check(object?, ModelInfo, JobInputs, PluginContext)"/>, whose default calls this one: a sampler built
    /// against 1.13 or later implements that one. A description may leave <see cref="ModelInfo.Device"/> and
    /// <see cref="ModelInfo.Fingerprint"/> at their defaults. Implement it explicitly (<c>void ISamplerFactory.Check(...)</c>):
    /// a signature typed wrong is then a compiler error. Contracts 1.9.
    /// </summary>
    void Check(object? options, ModelInfo model, PluginContext context) { }

    /// <summary>
    /// Refuses, before the model loads, what the sampler would refuse of this run once it samples, as far as its options,
    /// <paramref name="model"/> and the run's <paramref name="inputs"/> decide it (an option that only applies to another
    /// start, start frames it would not use, a video longer than it can hold), with a <see cref="FifoInputException"/>
    /// naming the fix, and warns through <paramref name="context"/>'s log of what the run would ignore (a negative prompt
    /// guidance never runs). The engine asks it before every run, with what the model's adapter
    /// <see cref="IModelAdapter.Describe"/>s, and Test-FifoRecipe too; a model that cannot describe itself is checked once it
    /// is loaded, with its Info, before sampling. So its warnings are said here, not again when the sampler samples; its
    /// refusals a sampler still makes of the job it samples (a host of one's own may skip this), best by the same check,
    /// given <see cref="JobInputs.Of"/> the job. The default calls the check without inputs, for samplers built before
    /// contracts 1.13. Implement it explicitly, as the one without inputs. Contracts 1.13.
    /// </summary>
    void Check(object? options, ModelInfo model, JobInputs inputs, PluginContext context) => Check(options, model, context);
}

/// <summary>
/// What a run's <see cref="SamplingJob"/> will hold beyond its model and noise, as the host knows it before the model
/// loads: the prompts, the negative prompt and which inputs come with them, for
/// <see cref="ISamplerFactory.Check(object?, ModelInfo, JobInputs, PluginContext)"/>. Contracts 1.13.
/// </summary>
public sealed record JobInputs
{
    /// <summary>The prompts in order, each with the output frames it covers (<see cref="SamplingJob.Prompts"/>).</summary>
    public required IReadOnlyList<PromptSpan> Prompts { get; init; }
    /// <summary>What guidance steers away from, "" for none (<see cref="SamplingJob.NegativePrompt"/>).</summary>
    public string NegativePrompt { get; init; } = "";
    /// <summary>Whether the run starts from given frames (<see cref="SamplingJob.InitLatents"/>).</summary>
    public bool HasStartFrames { get; init; }
    /// <summary>Whether the run restyles a source video (<see cref="SamplingJob.Source"/>).</summary>
    public bool HasSource { get; init; }
    /// <summary>Output frames wanted (the sum of the prompt spans).</summary>
    public long Frames => Prompts.Sum(p => (long)p.Frames);

    /// <summary>The inputs of <paramref name="job"/>, for a sampler to judge the job it samples by the check it made before the load.</summary>
    public static JobInputs Of(SamplingJob job) => new()
    {
        Prompts = job.Prompts,
        NegativePrompt = job.NegativePrompt,
        HasStartFrames = job.InitLatents is not null,
        HasSource = job.Source is not null,
    };

    /// <summary>
    /// Why <see cref="NegativePrompt"/> does nothing at <paramref name="guidance"/>, for a sampler to warn of; null where
    /// there is none or guidance uses it. One text for every sampler that guides.
    /// </summary>
    public string? NegativePromptUnused(double guidance) =>
        NegativePrompt.Length > 0 && guidance == 1.0
            ? $"The negative prompt '{NegativePrompt}' has no effect at guidance 1, where only the conditional branch runs; raise guidance to use it."
            : null;
}

/// <summary>
/// Produces latent frames in order, lazily: one is yielded as soon as it leaves the sampler, so a
/// consumer can decode and write it while the next is computed. Stops within one model call of
/// its cancellation token being signalled (by throwing <see cref="OperationCanceledException"/>).
/// The rules a sampler keeps (the engine checks the count, order and shape of what it yields, and names a sampler that
/// gets them wrong):
/// <list type="bullet">
/// <item>One <see cref="LatentFrame"/> for every output frame of the job (the sum of its prompt spans' frames), indices
/// 0, 1, 2, ... in order; a resumed job starts at its snapshot's frame, after any <see cref="LatentFrame.Replayed"/> ones.</item>
/// <item>Each latent is [C, h, w] of the model's <see cref="ModelInfo"/> (LatentChannels, LatentHeight, LatentWidth), a new
/// tensor the engine owns from then on and disposes after decoding: never yield one the sampler keeps or yields again.</item>
/// <item>Noise comes from <see cref="SamplingJob.Noise"/>, keyed by frame, purpose and step, never from a generator of
/// the sampler's own: that keeps batching, several devices and resume exact.</item>
/// <item>Bad input (an option the model cannot take, a start image of the wrong size) is a <see cref="FifoInputException"/>
/// naming the fix; anything else the sampler throws is reported as its failure, with its name and path.</item>
/// <item>One sampler may be asked to <see cref="Sample"/> again: the host restarts it after a transient fault, from its
/// newest snapshot or else from the start. And a consumer may stop enumerating at any frame (a stop, a failed sink): free what the
/// enumeration holds in <c>finally</c> or <c>using</c>, not after its last frame.</item>
/// <item>A sampler that guides by calling <see cref="IVideoModel.PredictNoise"/> itself marks the unconditional
/// branch's <see cref="Conditioning"/> with <see cref="Conditioning.IsNegative"/> (PromptEmbeddings does), as some
/// models condition that branch differently.</item>
/// </list>
/// </summary>
public interface ISampler
{
    /// <summary>The job's latent frames, in order, as they leave the sampler (the rules above).</summary>
    /// <param name="cancellation">The run's stop: end within one model call of it.</param>
    IEnumerable<LatentFrame> Sample(SamplingJob job, CancellationToken cancellation);
}

/// <summary>One clean latent frame [C, h, w] and the prompt it was finished under.</summary>
public sealed record LatentFrame(long Index, Tensor Latent, string Prompt)
{
    /// <summary>
    /// The sampler's state right after this frame left it, saved under a temporary name. The engine makes it the
    /// resume point only once this frame and every earlier one are written by the sinks; null when none was taken.
    /// </summary>
    public StagedSnapshot? Snapshot { get; init; }

    /// <summary>
    /// True for a latent from before the resume point that a resumed sampler yields again, ahead of new ones
    /// (<see cref="SamplingJob.KeepLatents"/>): a decoder that held it at the resume point takes it up again; the engine
    /// drops the others.
    /// </summary>
    public bool Replayed { get; init; }
}

/// <summary>A prompt and how many output frames it covers.</summary>
public sealed record PromptSpan(string Prompt, int Frames);

/// <summary>A prompt that took over the video from output frame <paramref name="Frame"/> on, given while the run went (contracts 1.4).</summary>
public sealed record PromptChange(long Frame, string Prompt);

/// <summary>
/// Prompts given while a run goes (a watched file, a control channel), for an endless video steered live. A sampler
/// offers each output frame it first conditions; a waiting change takes over from that frame to the end of the
/// schedule. Changes once taken are kept in <see cref="Taken"/>, and a frame offered again (by a sampler restarted after a fault, from
/// a snapshot) takes none, so a restarted sampler sees the schedule the first one saw. Contracts 1.4.
/// </summary>
public interface ILivePrompts
{
    /// <summary>The changes taken so far, in frame order.</summary>
    IReadOnlyList<PromptChange> Taken { get; }

    /// <summary>
    /// The change that takes over from <paramref name="frame"/> on, if one waits and no frame at or after it was offered
    /// before; else null. Frames below 1 take none: a change there would replace the first span whole, and a restarted
    /// run's warm-up would then differ from the first one's.
    /// </summary>
    PromptChange? Take(long frame);
}

/// <summary>Everything a sampler needs for one run; a restart is the same job <c>with</c> another resume point.</summary>
public sealed record SamplingJob
{
    /// <summary>The loaded model; the engine owns it (a sampler never disposes it).</summary>
    public required IVideoModel Model { get; init; }
    /// <summary>The prompts in order, each with the output frames it covers (at least one).</summary>
    public required IReadOnlyList<PromptSpan> Prompts { get; init; }
    /// <summary>
    /// What guidance steers away from: the unconditional branch's prompt, "" (the default) for none. A sampler that
    /// cannot use it declares so (<see cref="SamplerInputs.NegativePrompt"/>) rather than ignore it.
    /// </summary>
    public string NegativePrompt { get; init; } = "";
    /// <summary>Output frames wanted (the sum of the prompt spans).</summary>
    public long Frames => Prompts.Sum(p => (long)p.Frames);
    /// <summary>The run's seed, as <see cref="Noise"/> keys its draws by it (for caches keyed on the run, for the record).</summary>
    public long Seed { get; init; }
    /// <summary>Source of every random tensor, keyed so results do not depend on draw order.</summary>
    public required INoiseSource Noise { get; init; }
    /// <summary>Optional start frames as latents [C, T, h, w] (from an image or short video).</summary>
    public Tensor? InitLatents { get; init; }
    /// <summary>
    /// A video to restyle (video-to-video): output frame k follows its frame k, noised to <see cref="SourceStrength"/>
    /// of the schedule and denoised under the prompts. Null for text-to-video. A sampler that cannot use it must refuse
    /// the job, not ignore it. Contracts 1.2.
    /// </summary>
    public ISourceLatents? Source { get; init; }
    /// <summary>
    /// Prompts given while the run goes, which take over the schedule from the frame they reach (see
    /// <see cref="ILivePrompts"/>); null for none. Samplers that condition through <c>PromptEmbeddings</c> follow them.
    /// Snapshots do not hold the changes: a host restarts a sampler from them within the run (the same ILivePrompts
    /// replays them), and must not resume a later run from them. Contracts 1.4.
    /// </summary>
    public ILivePrompts? LivePrompts { get; init; }
    /// <summary>How much of the schedule a <see cref="Source"/> frame is noised into, in (0, 1]: near 0 keeps the source, 1 keeps only its layout's faintest trace.</summary>
    public double SourceStrength { get; init; } = DefaultSourceStrength;

    /// <summary>The strength a source is restyled at when none is given: the prompt's look, the source's layout.</summary>
    public const double DefaultSourceStrength = 0.6;

    /// <summary>Why a source of <paramref name="available"/> frames cannot serve prompts of <paramref name="asked"/> frames (one text for every place that checks).</summary>
    public static string SourceTooShort(long available, long asked) =>
        $"the source video has {available} frames, and the prompts ask for {asked}: each output frame restyles its own source frame, so set the frames to at most {available}";
    /// <summary>Where and how often to save sampler state; null for none.</summary>
    public SnapshotPolicy? Snapshots { get; init; }
    /// <summary>A snapshot file to continue from; null to start fresh.</summary>
    public string? ResumeFrom { get; init; }
    /// <summary>
    /// How many of the latest output latents every snapshot also keeps, for a resumed run to yield again first, in order
    /// and ending with the one just before the resume point (marked <see cref="LatentFrame.Replayed"/>): a decoder that
    /// holds latents back (<see cref="IResumableFrameDecoder"/>) needs them to continue. 0 when the decoder holds none.
    /// A sampler that snapshots must honour it.
    /// </summary>
    public int KeepLatents { get; init; }
    /// <summary>Hash of everything that determines the video (recipe, seed); a snapshot from another recipe is refused.</summary>
    public string RunHash { get; init; } = "";
    /// <summary>The "key=value" lines <see cref="RunHash"/> is computed from, so a refused snapshot can name what differs.</summary>
    public string RunSettings { get; init; } = "";
    /// <summary>
    /// The plugins that make the frames and their versions ("model analytic 1.2.0; sampler fifo 1.3.0"), out of
    /// <see cref="RunHash"/>: an upgraded plugin may resume a snapshot, and a sampler that records this in its snapshots
    /// (<see cref="SnapshotMetadata.Plugins"/>) can say so when it does. Empty where the host does not say. Contracts 1.11.
    /// </summary>
    public string RunPlugins { get; init; } = "";
    /// <summary>Where the sampler's messages go, as <see cref="PluginContext.Log"/>.</summary>
    public IProgressSink Log { get; init; } = NullProgressSink.Instance;
}

/// <summary>
/// The frames of a source video as latents, one latent frame per video frame, read in increasing order (a sampler asks
/// for each index about once, a little ahead of the frame it outputs). Contracts 1.2.
/// </summary>
public interface ISourceLatents
{
    /// <summary>Frames in the source; <see cref="long.MaxValue"/> for a source that loops, which has no end (contracts 1.3).</summary>
    long Count { get; }

    /// <summary>Latent [C, h, w] (float32, any device) of source frame <paramref name="index"/>, 0 &lt;= index &lt; <see cref="Count"/>; the caller owns the tensor.</summary>
    Tensor Latent(long index);
}

/// <summary>
/// The metadata keys under which a snapshot file's safetensors header records the run it belongs to, so tools
/// (Get-FifoProvenance) read any sampler's snapshot without knowing its format. Contracts 1.2.
/// </summary>
public static class SnapshotMetadata
{
    /// <summary><see cref="SamplingJob.RunHash"/>.</summary>
    public const string RunHash = "runHash";
    /// <summary><see cref="SamplingJob.RunSettings"/>.</summary>
    public const string RunSettings = "runSettings";
    /// <summary><see cref="SamplingJob.RunPlugins"/>. Contracts 1.11.</summary>
    public const string Plugins = "plugins";

    /// <summary>
    /// The settings of a <see cref="RunSettings"/> text, in order: lines <c>key=value</c> (model.use=, sampler.eta=,
    /// prompts[3]=...), a value's own line breaks (a prompt written over lines) kept in it. Contracts 1.5.
    /// </summary>
    public static IReadOnlyList<KeyValuePair<string, string>> Settings(string runSettings)
    {
        var settings = new List<KeyValuePair<string, string>>();
        foreach (var line in runSettings.TrimEnd('\n').Split('\n'))
        {
            int equals = line.IndexOf('=');
            bool names = equals > 0 && line[..equals].All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '[' or ']' or '_');
            if (names) settings.Add(new(line[..equals], line[(equals + 1)..]));
            else if (settings.Count > 0) settings[^1] = new(settings[^1].Key, settings[^1].Value + "\n" + line);
        }
        return settings;
    }

    const string PromptSpanKey = "prompts[";

    /// <summary>The setting that records prompt span <paramref name="index"/>: <c>prompts[i]=prompt|frames</c>, the prompt as <paramref name="prompt"/> gives it.</summary>
    public static string PromptSpanSetting(int index, string prompt, long frames) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{PromptSpanKey}{index}]={prompt}|{frames}");

    /// <summary>Whether a setting's key names a prompt span.</summary>
    public static bool IsPromptSpan(string key) => key.StartsWith(PromptSpanKey, StringComparison.Ordinal);

    /// <summary>A prompt span's value (prompt|frames) read back; null where it is not one. The last bar divides: a prompt may hold bars.</summary>
    public static (string Prompt, long Frames)? PromptSpanValue(string value)
    {
        int bar = value.LastIndexOf('|');
        return bar >= 0 && long.TryParse(value.AsSpan(bar + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long frames)
            ? (value[..bar], frames)
            : null;
    }
}

/// <summary>Save the sampler state to <see cref="Path"/> every <see cref="EveryFrames"/> output frames, and after the last one.</summary>
public sealed record SnapshotPolicy(string Path, int EveryFrames)
{
    const string StagedSuffix = ".staged";

    /// <summary>
    /// Where the snapshot taken after <paramref name="framesBefore"/> output frames waits until those frames are
    /// written. A sampler runs a few frames ahead of the sinks; committing its state earlier would let a crash skip
    /// the frames still in flight. Every stage gets a name of its own: a restarted sampler stages the frames it redoes
    /// again, and must not touch the stages of the first attempt that the engine still holds.
    /// </summary>
    public StagedSnapshot Stage(long framesBefore)
    {
        var frames = framesBefore.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return new($"{Path}.{frames}.{Guid.NewGuid().ToString("N")[..8]}{StagedSuffix}", Path, framesBefore);
    }

    /// <summary>The <see cref="FifoInputException.ErrorId"/> of a place snapshots cannot be written (<see cref="EnsureWritable"/>).</summary>
    public const string NotWritableErrorId = "SnapshotNotWritable";

    /// <summary>
    /// Writes and deletes a stage-named file where the snapshots go (making the folder), so a place the run cannot write
    /// (no permission, a read-only disk) is found before the model loads, not at the first snapshot. A kill in between
    /// leaves a stage, which <see cref="DeleteLeftoverStages"/> takes away.
    /// </summary>
    public void EnsureWritable()
    {
        var probe = Stage(0).StagedPath;
        try
        {
            var folder = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path));
            if (!string.IsNullOrEmpty(folder)) Directory.CreateDirectory(folder);
            using (File.Create(probe)) { }
            File.Delete(probe);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The probe's stage name means nothing to the user; the reason without it does.
            var reason = ex.Message.Replace($" : '{probe}'", "").Replace($" '{probe}'", "").TrimEnd('.');
            throw new FifoInputException(NotWritableErrorId,
                $"Snapshots cannot be written to '{Path}' ({reason}). Give snapshot.path (-SnapshotPath) a file in a folder this user can write.", ex);
        }
    }

    /// <summary>
    /// Deletes staged snapshots a killed process left behind; they were never the resume point. Only the engine may
    /// call this, before its sampler starts: later, some stages are still waiting for their frames.
    /// </summary>
    [System.ComponentModel.EditorBrowsable(System.ComponentModel.EditorBrowsableState.Never)]
    public void DeleteLeftoverStages()
    {
        var folder = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path));
        if (folder is null || !Directory.Exists(folder)) return;
        var prefix = System.IO.Path.GetFileName(Path) + ".";
        foreach (var file in Directory.EnumerateFiles(folder, prefix + "*"))
        {
            // The pattern also matches the snapshot itself ("name.*" takes "name"): only longer names can be stages.
            var name = System.IO.Path.GetFileName(file);
            if (name.Length > prefix.Length && name.StartsWith(prefix, StringComparison.Ordinal) && IsLeftover(name[prefix.Length..])) File.Delete(file);
        }
    }

    /// <summary>A stage ("16.0a1b2c3d.staged"), or the writer's temporary file of one a kill interrupted ("&lt;stage&gt;.&lt;32 hex&gt;.partial").</summary>
    static bool IsLeftover(string rest)
    {
        if (rest.EndsWith(StagedSuffix, StringComparison.Ordinal)) return IsStageName(rest[..^StagedSuffix.Length]);
        const string PartialSuffix = ".partial";
        int staged = rest.LastIndexOf(StagedSuffix + ".", StringComparison.Ordinal);
        if (staged < 0 || !rest.EndsWith(PartialSuffix, StringComparison.Ordinal)) return false;
        var token = rest[(staged + StagedSuffix.Length + 1)..^PartialSuffix.Length];
        return token.Length == 32 && token.All(char.IsAsciiHexDigit) && IsStageName(rest[..staged]);
    }

    /// <summary>"frames.token" as <see cref="Stage"/> writes it, or plain "frames" as versions before unique stages did.</summary>
    static bool IsStageName(string middle)
    {
        var parts = middle.Split('.');
        return parts.Length is 1 or 2 && parts[0].Length > 0 && parts[0].All(char.IsAsciiDigit)
               && (parts.Length == 1 || (parts[1].Length > 0 && parts[1].All(char.IsAsciiHexDigit)));
    }
}

/// <summary>
/// A snapshot saved at <see cref="StagedPath"/>, to become <see cref="Path"/> once the frames of the
/// <see cref="FramesBefore"/> output latents before it are safe (one frame per latent, unless the decoder holds latents back).
/// A sampler makes it (<see cref="SnapshotPolicy.Stage"/>), writes it and hands it on with its frame, or discards it when
/// the write fails; only the engine commits it, when the frames before it are written.
/// </summary>
public sealed record StagedSnapshot(string StagedPath, string Path, long FramesBefore)
{
    volatile bool committed;

    // Equality and copies go by the three positions alone: whether the rename happened is this object's news, so a
    // stage neither stops equalling itself once committed nor hands "committed" to a copy (with { }) never renamed.
    StagedSnapshot(StagedSnapshot original)
    {
        StagedPath = original.StagedPath;
        Path = original.Path;
        FramesBefore = original.FramesBefore;
    }

    /// <summary>The same stage: the same staged file, resume point and frames before it, committed or not.</summary>
    public bool Equals(StagedSnapshot? other) =>
        other is not null && StagedPath == other.StagedPath && Path == other.Path && FramesBefore == other.FramesBefore;

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(StagedPath, Path, FramesBefore);

    /// <summary>
    /// True once <see cref="Commit"/> made this stage the resume point. Read from the sampler's thread while the
    /// consumer's commits: from the first committed stage on, the file at <see cref="Path"/> is this run's own.
    /// </summary>
    public bool Committed => committed;

    /// <summary>
    /// Makes the staged file the resume point in one atomic rename; the engine's to call. A stage that is already gone
    /// leaves the previous resume point in place (<see cref="TryCommit"/> says so).
    /// </summary>
    [System.ComponentModel.EditorBrowsable(System.ComponentModel.EditorBrowsableState.Never)]
    public void Commit() => TryCommit();

    /// <summary>
    /// As <see cref="Commit"/>; false where the stage is gone (another run at the same snapshot path took it away as a
    /// leftover), so the engine can tell the user that the resume point stayed where it was. Contracts 1.7.
    /// </summary>
    [System.ComponentModel.EditorBrowsable(System.ComponentModel.EditorBrowsableState.Never)]
    public bool TryCommit()
    {
        try
        {
            // The last guard of a user's file: a sink writing the same path (a video named as the snapshot) made it after
            // the run's checks. Refused as a failed rename is, the stage deleted so refusals do not fill the disk.
            if (!File.Exists(StagedPath)) return false;
            if (!IsSnapshotOrNone(Path))
            {
                Discard();
                throw new IOException($"'{Path}' is a file that is not a snapshot (another output of the run, or the user's), which a snapshot must not replace; give the snapshots a path of their own");
            }
            File.Move(StagedPath, Path, overwrite: true);
            committed = true;
            return true;
        }
        catch (FileNotFoundException) { return false; }
    }

    /// <summary>Whether <paramref name="path"/> is free or begins as a snapshot (a safetensors file: its header length, then '{').</summary>
    static bool IsSnapshotOrNone(string path)
    {
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 1);
            Span<byte> head = stackalloc byte[9];
            return file.ReadAtLeast(head, 9, throwOnEndOfStream: false) == 9 && head[8] == (byte)'{';
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException) { return true; }
    }

    /// <summary>Drops a snapshot whose frames never reached the sinks (a cancelled or failed run).</summary>
    public void Discard()
    {
        try { File.Delete(StagedPath); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

/// <summary>Why a random tensor is drawn; part of its key.</summary>
public enum NoisePurpose
{
    /// <summary>Start noise of the base clip.</summary>
    BaseStart = 1,
    /// <summary>Per-step noise of the base clip sampler (eta &gt; 0).</summary>
    BaseStep = 2,
    /// <summary>Noise used to forward-noise a frame into the initial queue.</summary>
    QueueInit = 3,
    /// <summary>Fresh noise pushed at the tail of the queue.</summary>
    QueueTail = 4,
    /// <summary>Per-frame DDIM/DDPM step noise.</summary>
    Step = 5,
    /// <summary>Anything else a sampler needs (baselines' own draws).</summary>
    Other = 6,
}

/// <summary>
/// Keyed noise: the tensor for (frame, purpose, step) is always the same for a given seed, whatever
/// order or batch it is requested in. That is what makes batching, several devices and resume exact.
/// </summary>
public interface INoiseSource
{
    /// <summary>The seed every draw is keyed by.</summary>
    long Seed { get; }
    /// <summary>N(0, I) of <paramref name="shape"/> for one frame id, purpose and step (float32, on CPU unless a device is given).</summary>
    Tensor Normal(long[] shape, long frame, NoisePurpose purpose, int step, Device? device = null);
}
