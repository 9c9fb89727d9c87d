using System.ComponentModel;
using System.Composition;

namespace FifoPipes.Abstractions;

/// <summary>What a plugin is: the three things a recipe wires together, and quality studies.</summary>
public enum PluginKind { Model, Sampler, Sink, Study }

/// <summary>
/// Marks a MEF export as a FifoPipes plugin and carries its metadata. The options type is a plain
/// class whose public settable properties are the options a recipe may set (see <see cref="OptionAttribute"/>);
/// a fresh instance holds the defaults. The host makes a new instance of the marked class for every use (a load, a
/// check, a sampler or sink created), as System.Composition makes a part that is not shared: keep no state in it
/// between calls, or mark the class [Shared] for one instance per plugin host.
/// </summary>
[MetadataAttribute]
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class FifoPluginAttribute : ExportAttribute
{
    public FifoPluginAttribute(PluginKind kind, string name, Type contractType)
        : base(contractType)
    {
        Kind = kind;
        Name = name;
    }

    public PluginKind Kind { get; }
    public string Name { get; }
    public string Version { get; set; } = "1.0.0";
    public string Description { get; set; } = "";
    /// <summary>Options class; null when the plugin takes no options.</summary>
    public Type? OptionsType { get; set; }
    /// <summary>For sinks: file extensions (without dot) this sink writes, e.g. "mp4,webm".</summary>
    public string Extensions { get; set; } = "";
    /// <summary>For sinks: the network address schemes (without "://") this sink sends to, e.g. "rtmp,srt". Contracts 1.4.</summary>
    public string Schemes { get; set; } = "";
    /// <summary>
    /// For samplers: the run inputs it does not take (<see cref="SamplerInputs"/>, comma-separated), so a host refuses a
    /// recipe that gives one before it loads a model, at the recipe's line. The sampler still refuses them itself. Contracts 1.5.
    /// </summary>
    public string Refuses { get; set; } = "";
}

/// <summary>The inputs of a run beyond its prompts that a sampler may refuse (<see cref="FifoPluginAttribute.Refuses"/>): their recipe keys.</summary>
public static class SamplerInputs
{
    /// <summary>Start frames (<see cref="SamplingJob.InitLatents"/>).</summary>
    public const string Init = "init";
    /// <summary>A source video to restyle (<see cref="SamplingJob.Source"/>).</summary>
    public const string Source = "source";
    /// <summary>Prompts given while the run goes (<see cref="SamplingJob.LivePrompts"/>).</summary>
    public const string LivePrompt = "livePrompt";
    /// <summary>Snapshots to write and resume from (<see cref="SamplingJob.Snapshots"/>, <see cref="SamplingJob.ResumeFrom"/>).</summary>
    public const string Snapshot = "snapshot";
    /// <summary>
    /// What guidance steers away from (<see cref="SamplingJob.NegativePrompt"/>): a sampler that guides through
    /// PromptEmbeddings takes it; one that builds its own unconditional branch must take it too or refuse it. Contracts 1.8.
    /// </summary>
    public const string NegativePrompt = "negativePrompt";

    /// <summary>Start frames, a source, live prompts and snapshots: for a sampler of text alone (it may still take <see cref="NegativePrompt"/>).</summary>
    public const string All = Init + "," + Source + "," + LivePrompt + "," + Snapshot;

    /// <summary>Every input a sampler may refuse.</summary>
    public static IReadOnlyList<string> Every { get; } = new[] { Init, Source, LivePrompt, Snapshot, NegativePrompt };

    /// <summary>
    /// The contracts that brought <paramref name="input"/> to samplers: one built against older ones does not know it
    /// is there and would ignore it, so it counts as refused.
    /// </summary>
    public static Version Since(string input) => input.ToLowerInvariant() switch
    {
        "negativeprompt" => new Version(1, 1),
        "source" => new Version(1, 2),
        "liveprompt" => new Version(1, 4),
        _ => new Version(1, 0),
    };
}

/// <summary>MEF metadata view: System.Composition fills it from <see cref="FifoPluginAttribute"/>.</summary>
public sealed class PluginMetadata
{
    public PluginKind Kind { get; set; }
    public string Name { get; set; } = "";
    public string Version { get; set; } = "";
    public string Description { get; set; } = "";
    public Type? OptionsType { get; set; }
    public string Extensions { get; set; } = "";
    // Plugins built against contracts before 1.4 carry no Schemes, before 1.5 no Refuses.
    [DefaultValue("")] public string Schemes { get; set; } = "";
    [DefaultValue("")] public string Refuses { get; set; } = "";
}

/// <summary>Describes one option of a plugin's options class.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class OptionAttribute : Attribute
{
    public OptionAttribute(string description) => Description = description;
    public string Description { get; }
    /// <summary>Inclusive bounds for numeric options (NaN = unbounded).</summary>
    public double Min { get; set; } = double.NaN;
    public double Max { get; set; } = double.NaN;
    /// <summary>For string options with a closed set of values, e.g. "ddim,ddpm".</summary>
    public string Choices { get; set; } = "";
    /// <summary>
    /// False for an option that changes how the frames are computed but not which ones: the device, the batch size, a
    /// cache. A snapshot resumes across a change to it (to rounding, where batch shapes or devices differ).
    /// </summary>
    public bool ChangesFrames { get; set; } = true;
    /// <summary>
    /// Marks the option that sets the frames' width or height, so a recipe's model-neutral <c>width:</c> and
    /// <c>height:</c> (pixels) and New-FifoVideo -Width/-Height reach it, whatever the model calls it. Contracts 1.2.
    /// </summary>
    public FrameSide FrameSide { get; set; }
    /// <summary>Pixels per unit of a <see cref="FrameSide"/> option: 1 for a size in pixels, 8 for one in latent cells of an 8x VAE.</summary>
    public int PixelsPerUnit { get; set; } = 1;
    /// <summary>A <see cref="FrameSide"/> option's sizes are multiples of this many pixels (8 for a size in pixels through an 8x VAE); at least <see cref="PixelsPerUnit"/>.</summary>
    public int PixelStep { get; set; } = 1;
}

/// <summary>Which side of the frames an option sizes (<see cref="OptionAttribute.FrameSide"/>).</summary>
public enum FrameSide { None, Width, Height }

/// <summary>Options classes may check relations between their values (called after binding).</summary>
public interface IValidatableOptions
{
    /// <summary>Returns one message per problem, naming the option and the fix.</summary>
    IEnumerable<OptionProblem> Validate();
}

/// <summary>A problem with an option value; <see cref="Option"/> is the YAML name (camelCase).</summary>
public sealed record OptionProblem(string Option, string Message);

/// <summary>What a plugin gets from the host when it is created.</summary>
public sealed class PluginContext
{
    public PluginContext(IProgressSink? log = null, string? workingDirectory = null)
    {
        Log = log ?? NullProgressSink.Instance;
        WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory;
    }

    /// <param name="stopping">Cancelled when the user stops the command (Ctrl+C).</param>
    public PluginContext(IProgressSink? log, string? workingDirectory, CancellationToken stopping) : this(log, workingDirectory) => Stopping = stopping;

    public IProgressSink Log { get; }
    /// <summary>
    /// Cancelled when the user stops the command or the run ends: a sink that waits on its own (a stream pausing before
    /// it connects again) ends the wait, a model's <see cref="IModelAdapter.Load"/> stops loading (as
    /// <see cref="LoadCancellation"/> does on the loading thread; this token also reaches threads the adapter starts).
    /// It belongs to the call the context came with: a model kept for later runs must not keep it, and a sampler stops by
    /// the token <see cref="ISampler.Sample"/> takes. None (never cancelled) where a command gives none. Contracts 1.4.
    /// </summary>
    public CancellationToken Stopping { get; }
    /// <summary>Relative paths in options are resolved against this (the recipe's folder or the shell's location).</summary>
    public string WorkingDirectory { get; }
    public string ResolvePath(string path) => Path.GetFullPath(Path.Combine(WorkingDirectory, path));
}

/// <summary>
/// The stop of the run whose work this thread is doing, for the one long step that takes no token: loading a model
/// (<see cref="IModelAdapter.Load"/>, a lazily loaded text encoder). The engine sets it for its worker thread; checkpoint
/// loaders check it between tensors, so Ctrl+C during a multi-gigabyte load takes effect within one tensor.
/// </summary>
public static class LoadCancellation
{
    [ThreadStatic] static CancellationToken current;

    public static CancellationToken Current => current;

    /// <summary>Makes <paramref name="token"/> this thread's until the result is disposed.</summary>
    public static IDisposable Use(CancellationToken token)
    {
        var previous = current;
        current = token;
        return new Restore(previous);
    }

    sealed class Restore(CancellationToken previous) : IDisposable
    {
        public void Dispose() => current = previous;
    }
}

/// <summary>
/// Verbose and warning messages from plugins; the cmdlets forward them on the pipeline thread. A plugin may call it from
/// any thread: a message from a thread of its own shows with the next one from the thread that called the plugin, or
/// when the command is done with the plugin (after a frame, a check, the sinks' completion); one that comes after the
/// command ended is dropped. Contracts 1.7 (before, only the calling thread).
/// </summary>
public interface IProgressSink
{
    void Verbose(string message);
    void Warning(string message);
}

public sealed class NullProgressSink : IProgressSink
{
    public static readonly NullProgressSink Instance = new();
    public void Verbose(string message) { }
    public void Warning(string message) { }
}
