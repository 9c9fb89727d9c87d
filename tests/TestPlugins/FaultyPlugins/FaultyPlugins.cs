using FifoPipes.Abstractions;

namespace FaultyPlugins;

/// <summary>Works: proves the host keeps the healthy exports of an assembly whose other exports fail.</summary>
[FifoPlugin(PluginKind.Sink, "healthy-sink", typeof(ISinkFactory), Description = "A sink that works.", OptionsType = typeof(HealthyOptions))]
public sealed class HealthySinkFactory : ISinkFactory
{
    public IFrameSink Create(object? options, SinkTarget target, PluginContext context) => throw new NotSupportedException("never written to in tests");
}

public sealed class HealthyOptions
{
    [Option("How many things.", Min = 1, Max = 9)]
    public int Count { get; set; } = 3;
}

[FifoPlugin(PluginKind.Sink, "throwing-sink", typeof(ISinkFactory), Description = "Its constructor throws.")]
public sealed class ThrowingSinkFactory : ISinkFactory
{
    public ThrowingSinkFactory() => throw new InvalidOperationException("the throwing sink refuses to start");
    public IFrameSink Create(object? options, SinkTarget target, PluginContext context) => throw new NotSupportedException();
}

[FifoPlugin(PluginKind.Sink, "gif", typeof(ISinkFactory), Description = "Claims a name the built-in GIF sink already has.")]
public sealed class DuplicateGifSinkFactory : ISinkFactory
{
    public IFrameSink Create(object? options, SinkTarget target, PluginContext context) => throw new NotSupportedException();
}

[FifoPlugin(PluginKind.Model, "ghostly-model", typeof(IModelAdapter), Description = "Needs Ghost.dll, which is not shipped.")]
public sealed class GhostlyModelAdapter : IModelAdapter
{
    readonly string name;
    public GhostlyModelAdapter() => name = Ghost.GhostType.Name;
    public IVideoModel Load(object? options, PluginContext context) => throw new NotSupportedException(name);
}

[FifoPlugin(PluginKind.Sampler, "mislabelled-sink", typeof(ISinkFactory), Description = "A sink declared as a sampler.")]
public sealed class MislabelledSinkFactory : ISinkFactory
{
    public IFrameSink Create(object? options, SinkTarget target, PluginContext context) => throw new NotSupportedException();
}

[FifoPlugin(PluginKind.Sink, "timed-sink", typeof(ISinkFactory), Description = "An option no recipe can set.", OptionsType = typeof(TimedOptions))]
public sealed class TimedSinkFactory : ISinkFactory
{
    public IFrameSink Create(object? options, SinkTarget target, PluginContext context) => throw new NotSupportedException();
}

public sealed class TimedOptions
{
    [Option("How long.")] public TimeSpan Duration { get; set; }
}

/// <summary>Samples in each way a third-party sampler can break its contract, for the engine's checks of what it yields.</summary>
[FifoPlugin(PluginKind.Sampler, "misbehaving-sampler", typeof(ISamplerFactory), Description = "Breaks the sampler contract as its mode says.",
    OptionsType = typeof(MisbehavingOptions))]
public sealed class MisbehavingSamplerFactory : ISamplerFactory
{
    public ISampler Create(object? options, PluginContext context) => new MisbehavingSampler(((MisbehavingOptions)options!).Mode, context.Log);
}

public sealed class MisbehavingOptions
{
    [Option("What goes wrong.", Choices = "none,throw,oom,short,shape,skip,late,nothing,replay-late,replay-held,replay-last,replay-none,replay-ahead")]
    public string Mode { get; set; } = "none";
}

sealed class MisbehavingSampler(string mode, IProgressSink log) : ISampler, IDisposable
{
    /// <summary>Says so, for the test that the host disposes a disposable sampler when its run ends.</summary>
    public void Dispose() => log.Verbose("misbehaving-sampler disposed");

    /// <summary>Where the replay modes resume (their recipe names any file as its snapshot): after 5 latents, a chunk decoder holding 3 and 4.</summary>
    const long ResumePoint = 5;

    public IEnumerable<LatentFrame> Sample(SamplingJob job, CancellationToken cancellation)
    {
        var info = job.Model.Info;
        long frames = job.Prompts.Sum(p => (long)p.Frames);
        if (mode == "nothing") yield break;
        bool resumed = mode.StartsWith("replay-", StringComparison.Ordinal) && mode != "replay-late" && job.ResumeFrom is not null;
        // The latents yielded again: those a chunk decoder held (3, 4), only the last, none, or the one at the resume point.
        long[] replayed = !resumed ? Array.Empty<long>() : mode switch
        {
            "replay-held" => new[] { ResumePoint - 2, ResumePoint - 1 },
            "replay-last" => new[] { ResumePoint - 1 },
            "replay-ahead" => new[] { ResumePoint },
            _ => Array.Empty<long>(),
        };
        TorchSharp.torch.Tensor Latent() => TorchSharp.torch.zeros(info.LatentChannels, info.LatentHeight, info.LatentWidth);
        foreach (long old in replayed) yield return new LatentFrame(old, Latent(), job.Prompts[0].Prompt) { Replayed = true };
        for (long i = resumed ? ResumePoint : 0; i < frames; i++)
        {
            if (mode == "throw" && i == 2) throw new NullReferenceException("Object reference not set to an instance of an object.");
            if (mode == "oom") throw new System.Runtime.InteropServices.ExternalException("CUDA out of memory. Tried to allocate 20.00 GiB");
            if (mode == "short" && i == frames - 1) yield break;
            long[] shape = mode == "shape" ? new long[] { 1, info.LatentChannels, info.LatentHeight, info.LatentWidth } : new long[] { info.LatentChannels, info.LatentHeight, info.LatentWidth };
            yield return new LatentFrame(mode == "skip" && i > 0 || mode == "late" ? i + 1 : i, TorchSharp.torch.zeros(shape), job.Prompts[0].Prompt);
            // A replayed latent yielded after a new one.
            if (mode == "replay-late" && i == 0) yield return new LatentFrame(1, Latent(), job.Prompts[0].Prompt) { Replayed = true };
        }
    }
}

/// <summary>A model whose decoder holds latents back in chunks of three and can resume (a causal VAE's chunks in small).</summary>
[FifoPlugin(PluginKind.Model, "chunk-decoder-model", typeof(IModelAdapter), Description = "Its resumable decoder turns latents into frames three at a time.")]
public sealed class ChunkDecoderModelAdapter : IModelAdapter
{
    public IVideoModel Load(object? options, PluginContext context) => new ChunkDecoderModel(leaky: false);
}

/// <summary>As chunk-decoder-model, but its decoder also returns a frame for a latent it says it holds: it breaks the resume contract.</summary>
[FifoPlugin(PluginKind.Model, "leaky-chunk-decoder-model", typeof(IModelAdapter), Description = "Its resumable decoder returns frames for held latents.")]
public sealed class LeakyChunkDecoderModelAdapter : IModelAdapter
{
    public IVideoModel Load(object? options, PluginContext context) => new ChunkDecoderModel(leaky: true);
}

sealed class ChunkDecoderModel(bool leaky) : IVideoModel
{
    public ModelInfo Info { get; } = new BrokenDecoderModel().Info with { Name = leaky ? "leaky-chunk-decoder" : "chunk-decoder" };
    public Conditioning Encode(string prompt) => new PromptOnly(prompt);
    public TorchSharp.torch.Tensor PredictNoise(TorchSharp.torch.Tensor x, TorchSharp.torch.Tensor timesteps, IReadOnlyList<Conditioning> conditioning) => TorchSharp.torch.zeros_like(x);
    public IFrameDecoder CreateDecoder() => leaky ? new LeakyChunkDecoder() : new ChunkDecoder();
    public TorchSharp.torch.Tensor EncodeFrames(TorchSharp.torch.Tensor rgb) => throw new NotSupportedException("no encoder");
    public void Dispose() { }

    sealed class PromptOnly(string prompt) : Conditioning(prompt);
}

/// <summary>Latents 3k to 3k + 2 become frames 3k to 3k + 2 when the third arrives; the latents of a last, short chunk at the flush.</summary>
class ChunkDecoder : IResumableFrameDecoder
{
    protected long Pushed;
    protected static TorchSharp.torch.Tensor Frame() => TorchSharp.torch.zeros(3, 16, 16);
    public virtual IReadOnlyList<TorchSharp.torch.Tensor> Push(TorchSharp.torch.Tensor latent) =>
        ++Pushed % 3 == 0 ? new[] { Frame(), Frame(), Frame() } : Array.Empty<TorchSharp.torch.Tensor>();
    public IReadOnlyList<TorchSharp.torch.Tensor> Flush() => Enumerable.Range(0, (int)(Pushed % 3)).Select(_ => Frame()).ToArray();
    public int MaxHeldLatents => 2;
    public long HeldFrom(long pushed) => pushed / 3 * 3;
    public long FramesBefore(long pushed) => pushed / 3 * 3;
    public void ResumeAt(long heldFrom) => Pushed = heldFrom;
    public void Dispose() { }
}

/// <summary>Returns a frame for every latent, also for one it holds at the resume point.</summary>
sealed class LeakyChunkDecoder : ChunkDecoder
{
    public override IReadOnlyList<TorchSharp.torch.Tensor> Push(TorchSharp.torch.Tensor latent)
    {
        Pushed++;
        return new[] { Frame() };
    }
}

[FifoPlugin(PluginKind.Model, "failing-model", typeof(IModelAdapter), Description = "Its Load throws.")]
public sealed class FailingModelAdapter : IModelAdapter
{
    public IVideoModel Load(object? options, PluginContext context) => throw new InvalidOperationException("the widget would not start");
}

/// <summary>Loads until the run stops, as a large download or a slow disk would, watching the token its context brings.</summary>
[FifoPlugin(PluginKind.Model, "stoppable-model", typeof(IModelAdapter), Description = "Its Load waits for the run's stop.")]
public sealed class StoppableModelAdapter : IModelAdapter
{
    public IVideoModel Load(object? options, PluginContext context)
    {
        if (!context.Stopping.WaitHandle.WaitOne(TimeSpan.FromSeconds(20)))
            throw new TimeoutException("the load was never told that the run stopped");
        throw new OperationCanceledException(context.Stopping);
    }
}

/// <summary>Guides by no unconditional branch of its own, so it declares that it takes no negative prompt.</summary>
[FifoPlugin(PluginKind.Sampler, "unguided-sampler", typeof(ISamplerFactory), Description = "Takes no negative prompt.", Refuses = SamplerInputs.NegativePrompt)]
public sealed class UnguidedSamplerFactory : ISamplerFactory
{
    public ISampler Create(object? options, PluginContext context) => throw new NotSupportedException("never run in tests");
}

/// <summary>Exports the product instead of its factory: refused alone, with the attribute to write.</summary>
[FifoPlugin(PluginKind.Sampler, "product-exporting-sampler", typeof(ISampler), Description = "Names ISampler, not ISamplerFactory.")]
public sealed class ProductExportingSamplerFactory : ISamplerFactory
{
    public ISampler Create(object? options, PluginContext context) => throw new NotSupportedException();
}

/// <summary>Implements a factory but forgot its attribute.</summary>
public sealed class UnexportedSinkFactory : ISinkFactory
{
    public IFrameSink Create(object? options, SinkTarget target, PluginContext context) => throw new NotSupportedException();
}

/// <summary>Exported the plain MEF way, without the kind and name the host needs.</summary>
[System.Composition.Export(typeof(IModelAdapter))]
public sealed class PlainExportModelAdapter : IModelAdapter
{
    public IVideoModel Load(object? options, PluginContext context) => throw new NotSupportedException();
}

/// <summary>A helper part a plugin could import: exported under a contract of its own, so it stays a part, without a word.</summary>
[System.Composition.Export]
public sealed class SharedClock
{
    public DateTime Now => DateTime.UtcNow;
}

[FifoPlugin(PluginKind.Sink, "Contact Sheet!", typeof(ISinkFactory), Description = "A name no recipe can give.")]
public sealed class BadlyNamedSinkFactory : ISinkFactory
{
    public IFrameSink Create(object? options, SinkTarget target, PluginContext context) => throw new NotSupportedException();
}

[FifoPlugin(PluginKind.Sink, "read-only-sink", typeof(ISinkFactory), Description = "An option without a setter.", OptionsType = typeof(ReadOnlyOptions))]
public sealed class ReadOnlySinkFactory : ISinkFactory
{
    public IFrameSink Create(object? options, SinkTarget target, PluginContext context) => throw new NotSupportedException();
}

public sealed class ReadOnlyOptions
{
    [Option("How many.")] public int Count { get; } = 3;
}

/// <summary>A model that denoises (to nothing) but whose decoder fails at its third latent, as a buggy VAE would.</summary>
[FifoPlugin(PluginKind.Model, "broken-decoder-model", typeof(IModelAdapter), Description = "Its decoder throws at the third latent.")]
public sealed class BrokenDecoderModelAdapter : IModelAdapter
{
    public IVideoModel Load(object? options, PluginContext context) => new BrokenDecoderModel();
}

/// <summary>A model whose decoder keeps state between latents and cannot say where it stands: no snapshot could resume it.</summary>
[FifoPlugin(PluginKind.Model, "stateful-decoder-model", typeof(IModelAdapter), Description = "Its decoder is neither stateless nor resumable.")]
public sealed class StatefulDecoderModelAdapter : IModelAdapter
{
    public IVideoModel Load(object? options, PluginContext context) => new BrokenDecoderModel(stateless: false);
}

/// <summary>A model that describes itself and fails to load: what is refused before the load never reaches it.</summary>
[FifoPlugin(PluginKind.Model, "unloadable-described-model", typeof(IModelAdapter), Description = "Describes a 16-frame window without fused attention; its load always fails.")]
public sealed class UnloadableDescribedModelAdapter : IModelAdapter
{
    public IVideoModel Load(object? options, PluginContext context) => throw new InvalidOperationException("the load was reached");

    public ModelInfo? Describe(object? options, PluginContext context) => new BrokenDecoderModel().Info with { WindowFrames = 16, FusesTemporalAttention = false };
}

/// <summary>A model whose Describe says a 16-frame window and whose Load gives one of 4: its description is wrong.</summary>
[FifoPlugin(PluginKind.Model, "misdescribed-model", typeof(IModelAdapter), Description = "Describes another window than it loads.")]
public sealed class MisdescribedModelAdapter : IModelAdapter
{
    public IVideoModel Load(object? options, PluginContext context) => new BrokenDecoderModel();

    public ModelInfo? Describe(object? options, PluginContext context) => new BrokenDecoderModel().Info with { WindowFrames = 16 };
}

/// <summary>A model whose Describe has a bug.</summary>
[FifoPlugin(PluginKind.Model, "failing-describe-model", typeof(IModelAdapter), Description = "Its Describe throws.")]
public sealed class FailingDescribeModelAdapter : IModelAdapter
{
    public IVideoModel Load(object? options, PluginContext context) => new BrokenDecoderModel();

    public ModelInfo? Describe(object? options, PluginContext context) => throw new NullReferenceException("Object reference not set to an instance of an object.");
}

/// <summary>
/// A model a command keeps loaded for its next run. It counts its descriptions (a run describes quietly, so a test
/// reads the count) and says in the run's log when it loads.
/// </summary>
[FifoPlugin(PluginKind.Model, "reusable-described-model", typeof(IModelAdapter), Description = "Describes itself, and serves several runs of one command.")]
public sealed class ReusableDescribedModelAdapter : IModelAdapter
{
    static int descriptions;
    public static int Descriptions => descriptions;

    public IVideoModel Load(object? options, PluginContext context)
    {
        context.Log.Verbose("reusable-described-model loaded");
        return new ReusableModel();
    }

    public ModelInfo? Describe(object? options, PluginContext context)
    {
        Interlocked.Increment(ref descriptions);
        return new ReusableModel().Info;
    }

    sealed class ReusableModel : IVideoModel, IReusableModel
    {
        readonly ChunkDecoderModel shapes = new(leaky: false);
        public ModelInfo Info => shapes.Info with { Name = "reusable-described" };
        public Conditioning Encode(string prompt) => shapes.Encode(prompt);
        public TorchSharp.torch.Tensor PredictNoise(TorchSharp.torch.Tensor x, TorchSharp.torch.Tensor timesteps, IReadOnlyList<Conditioning> conditioning) => TorchSharp.torch.zeros_like(x);
        public IFrameDecoder CreateDecoder() => shapes.CreateDecoder();
        public TorchSharp.torch.Tensor EncodeFrames(TorchSharp.torch.Tensor rgb) => throw new NotSupportedException("no encoder");
        public void BeginRun() { }
        public void Dispose() { }
    }
}

sealed class BrokenDecoderModel(bool stateless = true) : IVideoModel
{
    public ModelInfo Info { get; } = new()
    {
        Name = "broken-decoder",
        LatentChannels = 2,
        LatentHeight = 2,
        LatentWidth = 2,
        WindowFrames = 4,
        Schedule = new NoiseSchedule(BetaSchedule.ScaledLinear, 0.00085, 0.012),
        Defaults = new SamplingDefaults { Guidance = 1.0, Eta = 1.0, Partitions = 1, Fps = 8 },
    };

    public Conditioning Encode(string prompt) => new PromptOnly(prompt);
    public TorchSharp.torch.Tensor PredictNoise(TorchSharp.torch.Tensor x, TorchSharp.torch.Tensor timesteps, IReadOnlyList<Conditioning> conditioning) => TorchSharp.torch.zeros_like(x);
    public IFrameDecoder CreateDecoder() => new FailingDecoder(stateless);
    public TorchSharp.torch.Tensor EncodeFrames(TorchSharp.torch.Tensor rgb) => throw new NotSupportedException("no encoder");
    public void Dispose() { }

    sealed class PromptOnly(string prompt) : Conditioning(prompt);

    sealed class FailingDecoder(bool stateless) : IFrameDecoder
    {
        int pushed;
        public IReadOnlyList<TorchSharp.torch.Tensor> Push(TorchSharp.torch.Tensor latent) =>
            ++pushed == 3 ? throw new IndexOutOfRangeException("Index was outside the bounds of the array.") : new[] { TorchSharp.torch.zeros(3, 16, 16) };
        public IReadOnlyList<TorchSharp.torch.Tensor> Flush() => Array.Empty<TorchSharp.torch.Tensor>();
        public bool Stateless => stateless;
        public void Dispose() { }
    }
}

/// <summary>Its text encoder has a bug: the sampler calls it, and the error says the model's code threw.</summary>
[FifoPlugin(PluginKind.Model, "failing-encoder-model", typeof(IModelAdapter), Description = "Its Encode throws.")]
public sealed class FailingEncoderModelAdapter : IModelAdapter
{
    public IVideoModel Load(object? options, PluginContext context) => new FailingEncoderModel();
}

sealed class FailingEncoderModel : IVideoModel
{
    readonly BrokenDecoderModel shapes = new();
    public ModelInfo Info => shapes.Info;
    public Conditioning Encode(string prompt) => throw new InvalidOperationException($"no glyphs for '{prompt}'");
    public TorchSharp.torch.Tensor PredictNoise(TorchSharp.torch.Tensor x, TorchSharp.torch.Tensor timesteps, IReadOnlyList<Conditioning> conditioning) => TorchSharp.torch.zeros_like(x);
    public IFrameDecoder CreateDecoder() => shapes.CreateDecoder();
    public TorchSharp.torch.Tensor EncodeFrames(TorchSharp.torch.Tensor rgb) => throw new NotSupportedException("no encoder");
    public void Dispose() { }
}

/// <summary>A sink whose check has a bug: named in the error, not an unhandled exception that ends a batch of recipes.</summary>
[FifoPlugin(PluginKind.Sink, "buggy-check-sink", typeof(ISinkFactory), Description = "Its check throws a NullReferenceException.")]
public sealed class BuggyCheckSinkFactory : ISinkFactory
{
    public void Check(object? options, SinkTarget target, PluginContext context) => throw new NullReferenceException("Object reference not set to an instance of an object.");
    public IFrameSink Create(object? options, SinkTarget target, PluginContext context) => throw new NotSupportedException();
}

/// <summary>A sink that takes frames but whose encoder dies as it finishes: a failure of its own, not an input error.</summary>
[FifoPlugin(PluginKind.Sink, "crashing-finish-sink", typeof(ISinkFactory), Description = "Its Complete throws IOException.")]
public sealed class CrashingFinishSinkFactory : ISinkFactory
{
    public IFrameSink Create(object? options, SinkTarget target, PluginContext context) => new Crashing();

    sealed class Crashing : IFrameSink
    {
        public void Write(VideoFrame frame) { }
        public IReadOnlyList<string> Complete() => throw new IOException("the encoder died while writing the trailer");
        public void Dispose() { }
    }
}

/// <summary>Counts the frames it is given and writes the count to its file when completed, so a test sees that it was.</summary>
[FifoPlugin(PluginKind.Sink, "tally-sink", typeof(ISinkFactory), Description = "Writes how many frames it took when completed.")]
public sealed class TallySinkFactory : ISinkFactory
{
    public IFrameSink Create(object? options, SinkTarget target, PluginContext context) => new Tally(target.Path);

    sealed class Tally(string path) : IFrameSink
    {
        int frames;
        public void Write(VideoFrame frame) => frames++;
        public IReadOnlyList<string> Complete()
        {
            File.WriteAllText(path, frames.ToString(System.Globalization.CultureInfo.InvariantCulture));
            return new[] { path };
        }
        public void Dispose() { }
    }
}

/// <summary>A sink that takes frames but refuses to finish, with an input error whose ErrorId a script matches on.</summary>
[FifoPlugin(PluginKind.Sink, "unfinishable-sink", typeof(ISinkFactory), Description = "Its Complete throws FifoInputException 'DiskQuotaExceeded'.")]
public sealed class UnfinishableSinkFactory : ISinkFactory
{
    public IFrameSink Create(object? options, SinkTarget target, PluginContext context) => new Unfinishable();

    sealed class Unfinishable : IFrameSink
    {
        public void Write(VideoFrame frame) { }
        public IReadOnlyList<string> Complete() => throw new FifoInputException("DiskQuotaExceeded", "The quota of this folder is used up; free space and run again.");
        public void Dispose() { }
    }
}

[FifoPlugin(PluginKind.Sink, "buggy-options-sink", typeof(ISinkFactory), Description = "Its option check throws a NullReferenceException.", OptionsType = typeof(BuggyOptions))]
public sealed class BuggyOptionsSinkFactory : ISinkFactory
{
    public IFrameSink Create(object? options, SinkTarget target, PluginContext context) => throw new NotSupportedException();
}

public sealed class BuggyOptions : IValidatableOptions
{
    [Option("A label.")] public string? Label { get; set; }
    public IEnumerable<OptionProblem> Validate() => Label!.Length > 0 ? Array.Empty<OptionProblem>() : new[] { new OptionProblem("label", "empty") };
}

/// <summary>A sink whose check meets a folder it may not list: the machine's problem, reported for that output.</summary>
[FifoPlugin(PluginKind.Sink, "unlistable-sink", typeof(ISinkFactory), Description = "Its check throws UnauthorizedAccessException.")]
public sealed class UnlistableSinkFactory : ISinkFactory
{
    public void Check(object? options, SinkTarget target, PluginContext context) => throw new UnauthorizedAccessException($"Access to the path '{target.Path}' is denied.");
    public IFrameSink Create(object? options, SinkTarget target, PluginContext context) => throw new NotSupportedException();
}

/// <summary>
/// Starts, then needs Ghost.dll, which its folder lacks, once it loads its model: a plugin built without
/// EnableDynamicLoading whose NuGet dependency was left out of its build output.
/// </summary>
[FifoPlugin(PluginKind.Model, "ghost-loading-model", typeof(IModelAdapter), Description = "Its Load needs Ghost.dll, which is not shipped.")]
public sealed class GhostLoadingModelAdapter : IModelAdapter
{
    public IVideoModel Load(object? options, PluginContext context) => throw new InvalidOperationException($"the {Ghost.GhostType.Name} was found after all");
}

/// <summary>Opens, then needs Ghost.dll, which its folder lacks, at its first frame.</summary>
[FifoPlugin(PluginKind.Sink, "ghost-writing-sink", typeof(ISinkFactory), Description = "Its Write needs Ghost.dll, which is not shipped.")]
public sealed class GhostWritingSinkFactory : ISinkFactory
{
    public IFrameSink Create(object? options, SinkTarget target, PluginContext context) => new GhostWriting();

    sealed class GhostWriting : IFrameSink
    {
        public void Write(VideoFrame frame) => _ = Ghost.GhostType.Name;
        public IReadOnlyList<string> Complete() => Array.Empty<string>();
        public void Dispose() { }
    }
}
