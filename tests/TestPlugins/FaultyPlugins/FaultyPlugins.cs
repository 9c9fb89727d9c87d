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
