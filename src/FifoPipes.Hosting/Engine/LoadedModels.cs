using FifoPipes.Abstractions;
using FifoPipes.Hosting.Recipes;

namespace FifoPipes.Hosting.Engine;

/// <summary>
/// Keeps the last run's model loaded for the next run of the same command when both name the same plugin, options and
/// folder and the model can serve another run (<see cref="IReusableModel"/>): a sweep over seeds or prompts loads a
/// checkpoint once. It holds one model at a time and frees it when disposed, at the end of the command.
/// </summary>
public sealed class LoadedModels : IDisposable
{
    string? key;
    IVideoModel? kept;
    // Models keep the log they were loaded with; this one reaches whichever run uses the model now.
    readonly CurrentRunLog log = new();

    /// <summary>
    /// The model for <paramref name="use"/>: the kept one, begun anew, or a fresh one from <paramref name="load"/>, which
    /// gets a log that always reaches the run using the model (<paramref name="runLog"/> for this one).
    /// </summary>
    public ModelLease Lease(PluginUse use, string workingDirectory, Func<IProgressSink, IVideoModel> load, IProgressSink runLog)
    {
        log.Target = runLog;
        var wanted = Key(use, workingDirectory);
        if (kept is IReusableModel reusable && wanted == key)
        {
            reusable.BeginRun();
            runLog.Verbose($"Using the '{use.Plugin.Name}' model loaded for the previous run of this command (same options).");
            return new ModelLease(kept, this);
        }
        kept?.Dispose();
        (kept, key) = (null, null);
        var model = load(log);
        if (model is IReusableModel { CanServeAnotherRun: true }) (kept, key) = (model, wanted);
        return new ModelLease(model, this);
    }

    internal bool Keeps(IVideoModel model) => ReferenceEquals(model, kept);

    /// <summary>What the model kept for <paramref name="use"/> is, where the next run will take it; null where it will load one.</summary>
    public ModelInfo? KeptInfo(PluginUse use, string workingDirectory) =>
        kept is IReusableModel && Key(use, workingDirectory) == key ? kept.Info : null;

    /// <summary>Every option, not only those that change frames: device and dtype decide what is loaded too.</summary>
    static string Key(PluginUse use, string workingDirectory) =>
        string.Join("\n", use.FormattedOptions(_ => true).Select(o => $"{o.Name}={o.Value}")) + $"\n{use.Plugin.Name}\n{workingDirectory}";

    public void Dispose()
    {
        kept?.Dispose();
        (kept, key) = (null, null);
    }

    sealed class CurrentRunLog : IProgressSink
    {
        public IProgressSink Target { get; set; } = NullProgressSink.Instance;
        public void Verbose(string message) => Target.Verbose(message);
        public void Warning(string message) => Target.Warning(message);
    }
}

/// <summary>A run's model: disposed with the run unless <see cref="LoadedModels"/> keeps it for the next one.</summary>
public sealed class ModelLease : IDisposable
{
    readonly LoadedModels? owner;

    internal ModelLease(IVideoModel model, LoadedModels? owner)
    {
        Model = model;
        this.owner = owner;
    }

    public IVideoModel Model { get; }

    /// <summary>A model for one run only.</summary>
    public static ModelLease ForOneRun(IVideoModel model) => new(model, null);

    public void Dispose()
    {
        if (owner is null || !owner.Keeps(Model)) Model.Dispose();
    }
}
