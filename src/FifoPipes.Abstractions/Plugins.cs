using System.ComponentModel;
using System.Composition;

namespace FifoPipes.Abstractions;

/// <summary>What a plugin is: the three things a recipe wires together, and quality studies.</summary>
public enum PluginKind
{
    /// <summary>An <see cref="IModelAdapter"/>: loads a video diffusion model.</summary>
    Model,
    /// <summary>An <see cref="ISamplerFactory"/>: makes latent frames from a model (FIFO, baselines).</summary>
    Sampler,
    /// <summary>An <see cref="ISinkFactory"/>: writes or sends the frames.</summary>
    Sink,
    /// <summary>An <see cref="IQualityStudy"/>: measures samplers (Measure-FifoQuality).</summary>
    Study,
}

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
    /// <param name="contractType">The interface of <paramref name="kind"/> the class implements (typeof(ISamplerFactory) for a sampler).</param>
    public FifoPluginAttribute(PluginKind kind, string name, Type contractType)
        : base(contractType)
    {
        Kind = kind;
        Name = name;
    }

    /// <summary>What the plugin is.</summary>
    public PluginKind Kind { get; }
    /// <summary>The name recipes and cmdlets use (use: fifo, -Format gif); unique within its kind.</summary>
    public string Name { get; }
    /// <summary>The plugin's own version, shown by Get-FifoPlugin.</summary>
    public string Version { get; set; } = "1.0.0";
    /// <summary>One sentence for Get-FifoPlugin and tab completion: what it does.</summary>
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
    public static IReadOnlyList<string> Every { get; } = All.Split(',').Append(NegativePrompt).ToArray();

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

/// <summary>
/// MEF metadata view: System.Composition fills it from <see cref="FifoPluginAttribute"/>, property by property of the
/// same name (see there). A property added later needs a [DefaultValue], or plugins built before it fail to compose.
/// </summary>
public sealed class PluginMetadata
{
    /// <summary><see cref="FifoPluginAttribute.Kind"/>.</summary>
    public PluginKind Kind { get; set; }
    /// <summary><see cref="FifoPluginAttribute.Name"/>.</summary>
    public string Name { get; set; } = "";
    /// <summary><see cref="FifoPluginAttribute.Version"/>.</summary>
    public string Version { get; set; } = "";
    /// <summary><see cref="FifoPluginAttribute.Description"/>.</summary>
    public string Description { get; set; } = "";
    /// <summary><see cref="FifoPluginAttribute.OptionsType"/>.</summary>
    public Type? OptionsType { get; set; }
    /// <summary><see cref="FifoPluginAttribute.Extensions"/>.</summary>
    public string Extensions { get; set; } = "";
    // Plugins built against contracts before 1.4 carry no Schemes, before 1.5 no Refuses.
    /// <summary><see cref="FifoPluginAttribute.Schemes"/>.</summary>
    [DefaultValue("")] public string Schemes { get; set; } = "";
    /// <summary><see cref="FifoPluginAttribute.Refuses"/>.</summary>
    [DefaultValue("")] public string Refuses { get; set; } = "";
}

/// <summary>Describes one option of a plugin's options class.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class OptionAttribute : Attribute
{
    /// <param name="description">What the option does, for Get-FifoPlugin, help and tab completion.</param>
    public OptionAttribute(string description) => Description = description;

    /// <summary>What the option does, for Get-FifoPlugin, help and tab completion.</summary>
    public string Description { get; }
    /// <summary>Inclusive lower bound for numeric options (NaN = unbounded).</summary>
    public double Min { get; set; } = double.NaN;
    /// <summary>Inclusive upper bound for numeric options (NaN = unbounded).</summary>
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
public enum FrameSide
{
    /// <summary>Not a frame size.</summary>
    None,
    /// <summary>The frames' width.</summary>
    Width,
    /// <summary>The frames' height.</summary>
    Height,
}

/// <summary>A plugin's options as its own type.</summary>
public static class PluginOptions
{
    /// <summary>
    /// <paramref name="options"/> as <typeparamref name="T"/>, the plugin's <see cref="FifoPluginAttribute.OptionsType"/>:
    /// the host passes it bound and validated, or null for every default (a fresh <typeparamref name="T"/>). Any other
    /// type is refused naming both: a caller's mistake (a test, a host of one's own), or the plugin's, reading its
    /// options as another type than its attribute's OptionsType. Contracts 1.10.
    /// </summary>
    /// <param name="plugin">The plugin as a message names it: "fifo sampler".</param>
    public static T As<T>(object? options, string plugin) where T : class, new() => options switch
    {
        null => new T(),
        T typed => typed,
        _ => throw new ArgumentException($"The {plugin} takes {typeof(T).Name}, got {options.GetType().Name} " +
                                         $"(a plugin reads its options as the OptionsType its [FifoPlugin] names).", nameof(options)),
    };
}

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
    /// <param name="log">Where the plugin's messages go; none (dropped) when null.</param>
    /// <param name="workingDirectory">What relative paths are taken from; the process's working folder when null.</param>
    public PluginContext(IProgressSink? log = null, string? workingDirectory = null)
    {
        Log = log ?? NullProgressSink.Instance;
        WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory;
    }

    /// <param name="stopping">Cancelled when the user stops the command (Ctrl+C).</param>
    public PluginContext(IProgressSink? log, string? workingDirectory, CancellationToken stopping) : this(log, workingDirectory) => Stopping = stopping;

    /// <summary>Where the plugin's verbose and warning messages go (any thread, see <see cref="IProgressSink"/>).</summary>
    public IProgressSink Log { get; }
    /// <summary>
    /// Cancelled when the user stops the command, and for a run's plugins when the run ends: a sink that waits on its own (a stream pausing before
    /// it connects again) ends the wait, a model's <see cref="IModelAdapter.Load"/> stops loading (as
    /// <see cref="LoadCancellation"/> does on the loading thread; this token also reaches threads the adapter starts).
    /// It belongs to the call the context came with: a model kept for later runs must not keep it, and a sampler stops by
    /// the token <see cref="ISampler.Sample"/> takes. None (never cancelled) where a command gives none. Contracts 1.4.
    /// </summary>
    public CancellationToken Stopping { get; }
    /// <summary>Relative paths in options are resolved against this (the recipe's folder or the shell's location).</summary>
    public string WorkingDirectory { get; }
    /// <summary>An option's path made absolute against <see cref="WorkingDirectory"/> (an absolute one stays as it is).</summary>
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

    /// <summary>The stop of the run this thread works for; none on a thread no run set.</summary>
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
    /// <summary>What the plugin is doing (PowerShell's verbose stream: shown with -Verbose).</summary>
    void Verbose(string message);
    /// <summary>Something the user should know that does not stop the run (PowerShell's warning stream).</summary>
    void Warning(string message);
}

/// <summary>A log that drops every message: for a plugin called outside a command (tests, tools).</summary>
public sealed class NullProgressSink : IProgressSink
{
    /// <summary>The one instance; it holds nothing.</summary>
    public static readonly NullProgressSink Instance = new();
    /// <inheritdoc/>
    public void Verbose(string message) { }
    /// <inheritdoc/>
    public void Warning(string message) { }
}
