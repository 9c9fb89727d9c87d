using System.Management.Automation;
using FifoPipes.Hosting.Engine;
using FifoPipes.Abstractions;
using FifoPipes.PowerShell.Engine;
using FifoPipes.Core.Sinks;

namespace FifoPipes.PowerShell.Commands;

/// <summary>
/// <para type="synopsis">Runs a YAML recipe: model, prompt schedule, sampler and sinks, and writes its files.</para>
/// <para type="description">The recipe is validated strictly first (see Test-FifoRecipe). Several recipes or -Override tables run one after another; one that is invalid or fails is reported as an error and the rest still run (-ErrorAction Stop stops at the first). Frames go to the recipe's sinks as they are made; on Ctrl+C every file is finalised with the frames made so far. Emits the written files, or with -PassThru each frame once it is written.</para>
/// <example><code>Invoke-FifoRecipe examples/recipes/analytic-demo.yaml -Force</code></example>
/// <example><code>Invoke-FifoRecipe long.yaml -Resume long.snapshot -Force</code></example>
/// <example><code>Get-ChildItem recipes/*.yaml | Invoke-FifoRecipe</code></example>
/// </summary>
[Cmdlet(VerbsLifecycle.Invoke, "FifoRecipe", SupportsShouldProcess = true, DefaultParameterSetName = "Path")]
[OutputType(typeof(FileInfo), typeof(DirectoryInfo), typeof(FifoFrame))]
public sealed class InvokeFifoRecipeCommand : FileArgumentsCmdlet, IDisposable
{
    // Made with the command, so a Ctrl+C that comes while the recipe is still being read stops the run before it loads anything.
    readonly RunPump pump;

    public InvokeFifoRecipeCommand() => pump = new RunPump(this);

    /// <summary><para type="description">Continue from a snapshot written by an interrupted run of the same recipe.</para></summary>
    [Parameter] public string? Resume { get; set; }
    /// <summary><para type="description">Overwrite existing output files.</para></summary>
    [Parameter] public SwitchParameter Force { get; set; }
    /// <summary><para type="description">Passes each frame on once it is written, for further commands; the written files are then told by -Verbose.</para></summary>
    [Parameter] public SwitchParameter PassThru { get; set; }
    /// <summary><para type="description">Recipe settings to change, by dotted key: @{ seed = 7; 'sampler.with.partitions' = 8; 'model.use' = 'videocrafter2'; 'snapshot.every' = 50 }; $null takes a key out, so its default applies (@{ snapshot = $null }). Checked as strictly as the file's own; sink paths can name the run with {seed} and {hash}, and must where several runs write them: a run that would write a file an earlier run of the command wrote is refused, -Force or not. Several hashtables run the recipe once for each, keeping the model loaded between consecutive runs with the same model settings (one is held at a time: put runs of one model together); an error of one names its table by number and keys. Another 'sampler.use' or 'model.use' keeps the file's options the new plugin has too (guidance, eta, steps) and warns of those it has not.</para></summary>
    [Parameter] [ValidateNotNull] public System.Collections.Hashtable[]? Override { get; set; }

    // Recipes run so far by this command, over every pipeline input: -Resume belongs to exactly one.
    int recipesRun;
    // A sweep (several -Override tables, several recipes) loads a model once when the runs share it.
    readonly LoadedModels models = new();
    // The files earlier runs of this command wrote, and which run: a later run must not replace them, -Force or not.
    readonly Dictionary<string, int> filesOfEarlierRuns = new(SinkTargets.PathComparer);

    protected override void BeginProcessing()
    {
        if (Resume is not null && Override is { Length: > 1 })
            ThrowTerminatingError(new ErrorRecord(new PSArgumentException($"-Resume continues one run, and {Override.Length} -Override tables would make {Override.Length}; give the one table the snapshot's run was made with."),
                "ResumeWithSeveralRecipes", ErrorCategory.InvalidArgument, Resume));
    }

    /// <summary>What a recipe without sinks lacks for this command, and the two ways on.</summary>
    internal const string NoSinks = "has no sinks, so nothing would be written. Add 'sinks:' (e.g. - path: out.mp4), or use New-FifoVideo -Recipe to get the frames.";

    protected override void ProcessRecord()
    {
        var overrides = Override is { Length: > 0 } ? Override : new System.Collections.Hashtable[] { new() };
        var files = Files().ToList();
        // Several recipes given at once are refused before the first runs, as several tables are; one piped in after
        // another is refused when it comes (below), as nothing says a second is coming.
        if (Resume is not null && recipesRun == 0 && files.Count > 1)
            ThrowTerminatingError(new ErrorRecord(new PSArgumentException(
                    $"-Resume continues one run, and {files.Count} recipes would make {files.Count} ({string.Join(", ", files.Select(f => $"'{f}'"))}); run the recipe the snapshot belongs to on its own."),
                "ResumeWithSeveralRecipes", ErrorCategory.InvalidArgument, Resume));
        for (int f = 0; f < files.Count; f++)
        {
            // A problem of the file itself (a YAML syntax error) comes back the same for every table: said once.
            string? lastProblem = null;
            var repeated = new List<int>();
            for (int o = 0; o < overrides.Length; o++)
            {
                if (Resume is not null && recipesRun > 0)
                    ThrowTerminatingError(new ErrorRecord(new PSArgumentException($"-Resume continues one recipe, and '{files[f]}' would be the second; run the recipe the snapshot belongs to on its own."),
                        "ResumeWithSeveralRecipes", ErrorCategory.InvalidArgument, files[f]));
                recipesRun++;
                // With no run to follow, the model goes before the files are written out, not when commands downstream are done.
                bool last = !MyInvocation.ExpectingInput && f == files.Count - 1 && o == overrides.Length - 1;
                // One recipe's failure is its own: the rest of a batch or sweep still runs (-ErrorAction Stop stops there).
                string? table = overrides.Length > 1 ? Table(overrides, o) : null;
                var failure = Run(files[f], overrides[o], last, table);
                // Only the recipe's own problems: a run's failure (ffmpeg missing, out of memory) is each table's to report.
                bool recipeProblem = failure?.FullyQualifiedErrorId.StartsWith("InvalidRecipe", StringComparison.Ordinal) == true;
                if (recipeProblem && failure!.Exception.Message == lastProblem)
                {
                    repeated.Add(o + 1);
                    continue;
                }
                if (failure is not null) WriteError(InTable(failure, table));
                lastProblem = recipeProblem ? failure!.Exception.Message : null;
            }
            if (repeated.Count > 0)
                WriteWarning($"The recipe problem reported for '{files[f]}' came again with -Override table{(repeated.Count == 1 ? "" : "s")} {string.Join(", ", repeated)}; it is not repeated.");
        }
    }

    /// <summary>
    /// One of several -Override tables as a user finds it among them: its number and its keys (a sweep's tables differ in
    /// their values, which the problem itself names).
    /// </summary>
    static string Table(System.Collections.Hashtable[] overrides, int index)
    {
        var keys = overrides[index].Keys.Cast<object>().Select(k => k.ToString()).Order(StringComparer.OrdinalIgnoreCase).ToList();
        string shown = keys.Count == 0 ? "none" : string.Join(", ", keys.Take(4)) + (keys.Count > 4 ? $" and {keys.Count - 4} more" : "");
        return $"-Override table {index + 1} of {overrides.Length} (keys: {shown})";
    }

    /// <summary>A sweep's error said with the table whose run it is; the exception stays as thrown, for scripts that read it.</summary>
    static ErrorRecord InTable(ErrorRecord error, string? table)
    {
        if (table is not null) error.ErrorDetails = new ErrorDetails($"{table}: {error.Exception.Message}");
        return error;
    }

    protected override void EndProcessing() => models.Dispose();

    public void Dispose() => models.Dispose();

    /// <summary>Runs one recipe with one set of overrides; the error that stopped it, or null when its files are written.</summary>
    /// <param name="table">The -Override table among several, as <see cref="Table"/> names it; null for the only one.</param>
    ErrorRecord? Run(string recipeFile, System.Collections.Hashtable overrides, bool lastRun, string? table)
    {
        var builder = new RecipeBuilder();
        if (Resume is not null) builder.Set("resume", SessionState.Path.GetUnresolvedProviderPathFromPSPath(Resume), "-Resume");
        if (Force) builder.Set("overwrite", true);
        foreach (System.Collections.DictionaryEntry e in overrides)
        {
            var key = e.Key.ToString() ?? "";
            // sinks[0].path reads as the recipe's text would, but an item is not a key: the list is replaced whole.
            if (key.IndexOf('[') is > 0 and var bracket)
                ThrowTerminatingError(InTable(new ErrorRecord(new PSArgumentException(
                    $"-Override key '{key}' names an item of the list '{key[..bracket]}'; -Override replaces a list whole: @{{ {key[..bracket]} = @(@{{ ... }}, ...) }}, " +
                    (key[..bracket].Equals("prompts", StringComparison.OrdinalIgnoreCase)
                        ? "e.g. @{ prompt = @(@{ prompt = 'a'; frames = 64 }, @{ prompt = 'b'; frames = 32 }) }; to change only the counts, @{ frames = 64 } (all) or @{ frames = 64, 32 } (each)."
                        : "e.g. @{ sinks = @(@{ path = 'out.mp4' }) }. To give each run its own file, put {seed} or {hash} in the recipe's path.")),
                    "InvalidOverrideKey", ErrorCategory.InvalidArgument, key), table));
            if (!builder.Override(key, e.Value, $"-Override {key}"))
                ThrowTerminatingError(InTable(new ErrorRecord(new PSArgumentException(
                    $"-Override key '{key}' is not a recipe key: give 'key' (seed), 'key.entry' (snapshot.every), 'model.use' or 'sampler.with.option'."),
                    "InvalidOverrideKey", ErrorCategory.InvalidArgument, key), table));
        }
        var (recipe, diagnostics) = builder.Build(recipeFile, SessionState.Path.CurrentFileSystemLocation.ProviderPath);
        foreach (var warning in builder.Warnings) WriteWarning(warning);
        if (recipe is null) return Errors.InvalidRecipe(diagnostics, recipeFile, builder.ParameterFor);
        if (recipe.Sinks.Count == 0)
            return Errors.From(new FifoInputException("RecipeWithoutSinks", $"The recipe '{recipe.File}' {NoSinks}"), recipe.File);
        var log = new CmdletLog(this);
        using var sinks = new SinkSet(recipe.Sinks, recipe.Overwrite, recipe.Fps ?? 8, new PluginContext(log, recipe.BaseDirectory, pump.Stopping));
        var taken = TakenByEarlierRun(recipe);
        if (!WhatIf.ShouldProcess(this, string.Join(", ", recipe.Sinks.Select(s => StreamAddress.Display(s.Path))), WhatIf.Action(recipe), out bool whatIf))
        {
            if (whatIf)
            {
                if (taken is not null) WriteWarning($"What if: the run would stop before its first frame: {taken.Message}");
                WhatIf.WarnOfRefusals(this, sinks);
                log.Drain();
                TakeFiles(recipe);
            }
            return null;
        }
        if (taken is not null) return Errors.From(taken, recipeFile);
        // An output in the way or a missing ffmpeg is found now, not after the model has loaded and made the first frame.
        try { sinks.Check(); }
        catch (Exception ex) when (ex is FifoInputException or PluginFailedException) { return Errors.From(ex, recipeFile); }
        finally { log.Drain(); }
        // From here this run writes them, whatever becomes of it.
        TakeFiles(recipe);
        try
        {
            pump.Run(recipe, frame =>
            {
                sinks.Write(frame.ToVideoFrame());
                log.Drain();
                if (PassThru) WriteObject(frame);
            }, models);
            if (lastRun) models.Dispose();
        }
        catch (Exception ex) when (!Errors.IsPipelineFlow(ex))
        {
            // The sinks are finalised by Dispose with what was written; the run's error is what the user needs.
            return Errors.From(builder.Placed(ex, recipe), recipeFile);
        }
        IReadOnlyList<string> files;
        try { files = sinks.Complete(); }
        catch (Exception ex) when (!Errors.IsPipelineFlow(ex)) { return Errors.From(ex, recipeFile); }
        finally { log.Drain(); }
        WrittenItems.Write(this, files, framesPassedOn: PassThru);
        return null;
    }

    protected override void StopProcessing() => pump.Stop();

    // Runs one after another may each stream to one address; files are what a later run would replace. A later run's
    // snapshot would replace an earlier run's resume point, the one way to make that video longer.
    static IEnumerable<string> FilesOf(Hosting.Recipes.Recipe recipe) =>
        recipe.Sinks.Select(s => s.Path).Where(p => !StreamAddress.IsAddress(p))
            .Concat(recipe.Snapshot is { } snapshot ? new[] { snapshot.Path } : Array.Empty<string>())
            .Select(SinkTargets.PathKey);

    void TakeFiles(Hosting.Recipes.Recipe recipe)
    {
        foreach (var file in FilesOf(recipe)) filesOfEarlierRuns.TryAdd(file, recipesRun);
    }

    /// <summary>
    /// A sweep whose sink path does not name the run: without -Force each later run would stop at the file, with it
    /// replace the run before it, and only the last run's video would be left.
    /// </summary>
    FifoInputException? TakenByEarlierRun(Hosting.Recipes.Recipe recipe)
    {
        foreach (var file in FilesOf(recipe))
            if (filesOfEarlierRuns.TryGetValue(file, out int run))
                return new FifoInputException("DuplicateOutputPath",
                    $"'{file}' is written by run {run} of this command, so run {recipesRun} would {(recipe.Overwrite ? "replace" : "stop at")} it. " +
                    (IsSnapshot(recipe, file) ? "Put {hash} in the snapshot path ('runs/{hash}.snapshot') so every run keeps its own, or give each -Override table its own 'snapshot.path'."
                                              : "Put {seed} or {hash} in the sink path ('sweep-{seed}.mp4') so every run writes its own file, or give each -Override table its own sink path."));
        return null;
    }

    static bool IsSnapshot(Hosting.Recipes.Recipe recipe, string file) =>
        recipe.Snapshot is { } snapshot && SinkTargets.PathComparer.Equals(SinkTargets.PathKey(snapshot.Path), file);
}
