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
    [Option("What goes wrong.", Choices = "none,throw,oom,short,shape,skip,late,nothing")]
    public string Mode { get; set; } = "none";
}

sealed class MisbehavingSampler(string mode, IProgressSink log) : ISampler, IDisposable
{
    /// <summary>Says so, for the test that the host disposes a disposable sampler when its run ends.</summary>
    public void Dispose() => log.Verbose("misbehaving-sampler disposed");

    public IEnumerable<LatentFrame> Sample(SamplingJob job, CancellationToken cancellation)
    {
        var info = job.Model.Info;
        long frames = job.Prompts.Sum(p => (long)p.Frames);
        if (mode == "nothing") yield break;
        for (long i = 0; i < frames; i++)
        {
            if (mode == "throw" && i == 2) throw new NullReferenceException("Object reference not set to an instance of an object.");
            if (mode == "oom") throw new System.Runtime.InteropServices.ExternalException("CUDA out of memory. Tried to allocate 20.00 GiB");
            if (mode == "short" && i == frames - 1) yield break;
            long[] shape = mode == "shape" ? new long[] { 1, info.LatentChannels, info.LatentHeight, info.LatentWidth } : new long[] { info.LatentChannels, info.LatentHeight, info.LatentWidth };
            yield return new LatentFrame(mode == "skip" && i > 0 || mode == "late" ? i + 1 : i, TorchSharp.torch.zeros(shape), job.Prompts[0].Prompt);
        }
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
[FifoPlugin(PluginKind.Model, "unloadable-described-model", typeof(IModelAdapter), Description = "Describes a 16-frame window; its load always fails.")]
public sealed class UnloadableDescribedModelAdapter : IModelAdapter
{
    public IVideoModel Load(object? options, PluginContext context) => throw new InvalidOperationException("the load was reached");

    public ModelInfo? Describe(object? options, PluginContext context) => new BrokenDecoderModel().Info with { WindowFrames = 16 };
}

/// <summary>A model whose Describe has a bug.</summary>
[FifoPlugin(PluginKind.Model, "failing-describe-model", typeof(IModelAdapter), Description = "Its Describe throws.")]
public sealed class FailingDescribeModelAdapter : IModelAdapter
{
    public IVideoModel Load(object? options, PluginContext context) => new BrokenDecoderModel();

    public ModelInfo? Describe(object? options, PluginContext context) => throw new NullReferenceException("Object reference not set to an instance of an object.");
}

/// <summary>A model whose decoder holds one latent back and says where it stands, as a causal VAE's does.</summary>
[FifoPlugin(PluginKind.Model, "held-latents-model", typeof(IModelAdapter), Description = "Its decoder holds pairs of latents and can resume.")]
public sealed class HeldLatentsModelAdapter : IModelAdapter
{
    public IVideoModel Load(object? options, PluginContext context) => new BrokenDecoderModel(stateless: false, resumable: true);
}

sealed class BrokenDecoderModel(bool stateless = true, bool resumable = false) : IVideoModel
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
    public IFrameDecoder CreateDecoder() => resumable ? new PairDecoder() : new FailingDecoder(stateless);
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

    /// <summary>Decodes latents in pairs, one frame each, holding the first of a pair until the second comes.</summary>
    sealed class PairDecoder : IResumableFrameDecoder
    {
        long pushed;
        public IReadOnlyList<TorchSharp.torch.Tensor> Push(TorchSharp.torch.Tensor latent) =>
            ++pushed % 2 == 0 ? new[] { TorchSharp.torch.zeros(3, 16, 16), TorchSharp.torch.zeros(3, 16, 16) } : Array.Empty<TorchSharp.torch.Tensor>();
        public IReadOnlyList<TorchSharp.torch.Tensor> Flush() =>
            pushed % 2 == 1 ? new[] { TorchSharp.torch.zeros(3, 16, 16) } : Array.Empty<TorchSharp.torch.Tensor>();
        public int MaxHeldLatents => 1;
        public long HeldFrom(long pushed) => pushed / 2 * 2;
        public long FramesBefore(long pushed) => pushed / 2 * 2;
        public void ResumeAt(long heldFrom) => pushed = heldFrom;
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
