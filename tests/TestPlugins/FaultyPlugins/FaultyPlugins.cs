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
    public ISampler Create(object? options, PluginContext context) => new MisbehavingSampler(((MisbehavingOptions)options!).Mode);
}

public sealed class MisbehavingOptions
{
    [Option("What goes wrong.", Choices = "none,throw,oom,short,shape,skip,late,nothing")]
    public string Mode { get; set; } = "none";
}

sealed class MisbehavingSampler(string mode) : ISampler
{
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
