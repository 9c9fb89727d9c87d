using System.Management.Automation;
using FifoPipes.Abstractions;
using FifoPipes.Hosting.Engine;
using FifoPipes.Hosting.Options;
using FifoPipes.Hosting.Recipes;
using FifoPipes.PowerShell.Engine;

namespace FifoPipes.PowerShell.Commands;

/// <summary>
/// <para type="synopsis">Checks a YAML recipe without running it and returns every problem found, with file, line and column.</para>
/// <para type="description">Checks syntax, every key, plugin and option (names, types, limits, with the valid choices) and meaning (frame counts, paths, sink formats), and whether the sampler takes its options with the model and the run's inputs (start frames, a source, the prompts and their frames), as the run checks them before its model loads, with the run's warnings, where the model can describe itself without its files (the analytic model always can). With -Sinks, a valid recipe's sinks are also asked whether they could write, as a run asks them before its first frame; with -Model, its model whether it would load here (files, device). Returns nothing for a valid recipe; -Quiet returns $true or $false instead.</para>
/// <example><code>Test-FifoRecipe my.yaml | Format-Table Line, Column, Path, Message</code></example>
/// <example><code>if (Test-FifoRecipe my.yaml -Sinks -Quiet) { Invoke-FifoRecipe my.yaml }</code></example>
/// <example><code>Test-FifoRecipe recipes/*.yaml | Format-Table File, Line, Message</code></example>
/// <example><code>Test-FifoRecipe broadcast.yaml -Sinks</code></example>
/// <example><code>Test-FifoRecipe videocrafter2.yaml -Model -Sinks -Quiet</code></example>
/// </summary>
[Cmdlet(VerbsDiagnostic.Test, "FifoRecipe", DefaultParameterSetName = "Path")]
[OutputType(typeof(FifoRecipeDiagnostic), typeof(bool))]
public sealed class TestFifoRecipeCommand : FileArgumentsCmdlet
{
    /// <summary><para type="description">Return $true for a valid recipe, $false otherwise: one per file, so with a wildcard test them all (-notcontains $false).</para></summary>
    [Parameter] public SwitchParameter Quiet { get; set; }

    /// <summary><para type="description">Also ask a valid recipe's sinks whether they could write, as Invoke-FifoRecipe would: a recipe without sinks is a problem then; ffmpeg found, no output or earlier snapshot in the way (unless the recipe overwrites or resumes from that snapshot), sound files readable, an RTMP server taking connections, a folder that takes files (tried with an empty probe file, deleted at once). What a sink would only warn of (an option its file kind does not use) is a warning, as in the run. Leaves nothing on disk.</para></summary>
    [Parameter] public SwitchParameter Sinks { get; set; }

    /// <summary><para type="description">Also ask a valid recipe's model whether it would load on this machine, without loading its weights: the checkpoint or folder there with the parts it needs, each weight file's index readable (a truncated or damaged download is a problem), the device present (cuda on a machine without CUDA is a problem); then whether the recipe's sampler takes its options with that model (64 partitions of a 16-frame window are more steps than a 1,000-step schedule has), from the model's configs (a warning says so where a third-party model cannot describe itself). A model whose files are missing still has its sampler checked where it describes itself from its options alone (VideoCrafter, by its preset), with -Model or without; one that needs its files for that, and they are missing, is left to -Model (-Verbose says so). Check on the machine that will run the recipe.</para></summary>
    [Parameter] public SwitchParameter Model { get; set; }

    protected override void ProcessRecord()
    {
        foreach (var file in Files())
        {
            var builder = new RecipeBuilder();
            var (recipe, diagnostics) = builder.Build(file, SessionState.Path.CurrentFileSystemLocation.ProviderPath);
            // A run would warn of these too (a plugin of the same name ignored), and they may be why it fails or surprises.
            foreach (var warning in builder.Warnings) WriteWarning(warning);
            if (recipe is not null) diagnostics = diagnostics.Concat(Model ? ModelProblems(recipe) : FitProblems(recipe)).ToList();
            if (Sinks && recipe is not null) diagnostics = diagnostics.Concat(SinkProblems(recipe)).Concat(SnapshotProblems(recipe)).ToList();
            if (Quiet) WriteObject(diagnostics.Count == 0);
            else foreach (var d in diagnostics) WriteObject(new FifoRecipeDiagnostic(d, file));
        }
    }

    IEnumerable<Diagnostic> ModelProblems(Recipe recipe)
    {
        var context = new PluginContext(new CmdletLog(this), recipe.BaseDirectory);
        FifoInputException? refusal = null;
        Diagnostic? Problem(string path, SourceLocation? location, Action check)
        {
            try
            {
                check();
                return null;
            }
            // A damaged file a check reads (a tokenizer, a shard index) is a problem of this recipe too, not of the command.
            catch (Exception ex) when (IsRecipeProblem(ex))
            {
                refusal = ex as FifoInputException;
                return new Diagnostic(path, ex.Message, location, Array.Empty<string>());
            }
        }
        ModelInfo? described = null;
        var unloadable = Problem("model", ModelLocation(recipe), () =>
            PluginFailedException.Guard($"Checking {PluginFailedException.Name(recipe.Model.Plugin)}", () =>
            {
                recipe.Model.Plugin.Create<IModelAdapter>().Check(recipe.Model.Options, context);
                return true;
            }));
        if (unloadable is not null)
        {
            // A missing checkpoint need not hide the sampler's problem: a model that describes itself from its options
            // alone (VideoCrafter, by its preset) still has its sampler checked, as without -Model.
            var first = AtOption(unloadable, refusal, recipe);
            return FitProblems(recipe).Where(d => d.Message != first.Message).Prepend(first).ToList();
        }
        var problem = Problem("model", ModelLocation(recipe), () => described = SamplerFit.Describe(recipe, context))
                      // The model would load: would its sampler take the options with it?
                      ?? (described is null ? null : SamplerProblem(recipe, described, context));
        // Said, so that a recipe passing here is not taken for one whose sampler was checked.
        if (problem is null && described is null)
            WriteWarning($"The model '{recipe.Model.Plugin.Name}' did not describe itself for these options before it loads (IModelAdapter.Describe gave none), so the " +
                         $"options of the sampler '{recipe.Sampler.Plugin.Name}' were not checked against it; a run checks them once the model is loaded.");
        return problem is null ? Array.Empty<Diagnostic>() : new[] { AtOption(problem, refusal, recipe) };
    }

    /// <summary>
    /// Without -Model: whether the sampler takes its options with the model as it describes itself from its options
    /// (the analytic model always can), which a run refuses before its first frame. A model that cannot describe itself
    /// here, its files missing or its device absent, is -Model's to report: its fit is then left to the run, quietly.
    /// </summary>
    IEnumerable<Diagnostic> FitProblems(Recipe recipe)
    {
        var context = new PluginContext(new CmdletLog(this), recipe.BaseDirectory);
        ModelInfo? described;
        try { described = SamplerFit.Describe(recipe, context); }
        // A model option it refuses (a size off its VAE's grid) is the recipe's; its files and device are -Model's.
        catch (FifoInputException refusal) when (Errors.CategoryOf(refusal.ErrorId) == ErrorCategory.InvalidArgument)
        {
            return new[] { AtOption(new Diagnostic("model", refusal.Message, ModelLocation(recipe), Array.Empty<string>()), refusal, recipe) };
        }
        catch (Exception ex) when (IsRecipeProblem(ex))
        {
            WriteVerbose($"The sampler's options were not checked against the model '{recipe.Model.Plugin.Name}': it could not describe itself here ({ex.Message}). " +
                         (Model ? "Mend the model's problem this reports, and test again." : "Test-FifoRecipe -Model checks its files and device, and then the sampler's options."));
            return Array.Empty<Diagnostic>();
        }
        if (described is null)
        {
            WriteVerbose($"The model '{recipe.Model.Plugin.Name}' does not describe itself before it loads, so the sampler's options were not checked against it; a run checks them once it is loaded.");
            return Array.Empty<Diagnostic>();
        }
        return SamplerProblem(recipe, described, context) is { } problem ? new[] { problem } : Array.Empty<Diagnostic>();
    }

    /// <summary>Whether the sampler takes its options with the <paramref name="described"/> model; a refusal at the option it names, where the recipe sets it.</summary>
    static Diagnostic? SamplerProblem(Recipe recipe, ModelInfo described, PluginContext context)
    {
        try
        {
            SamplerFit.Check(recipe, described, context);
            return null;
        }
        catch (Exception ex) when (IsRecipeProblem(ex))
        {
            return AtOption(new Diagnostic("sampler", ex.Message, recipe.Sampler.Location ?? ModelLocation(recipe), Array.Empty<string>()), ex as FifoInputException, recipe);
        }
    }

    /// <summary>A refusal where its option's value came from, as a run places it (a plugin's bug stays at the plugin).</summary>
    static Diagnostic AtOption(Diagnostic problem, FifoInputException? refusal, Recipe recipe) =>
        problem is { Path: "model" or "sampler" } && refusal is not null && RefusedOption.Of(refusal, problem.Path, recipe) is { } refused
            ? problem with { Path = refused.Path, Location = refused.Location ?? problem.Location, Message = refused.Said(problem.Message) }
            : problem;

    /// <summary>
    /// What a check throws that is this recipe's problem to report: its input errors, a damaged file it reads, and a
    /// plugin's bug (named), which must not end a batch of recipes.
    /// </summary>
    static bool IsRecipeProblem(Exception ex) => ex is FifoInputException or PluginFailedException or IOException or UnauthorizedAccessException
        or InvalidDataException or FormatException or System.Text.Json.JsonException;

    static SourceLocation? ModelLocation(Recipe recipe) => recipe.Model.Location ?? (recipe.File is { } file ? new SourceLocation(file, 1, 1) : null);

    IEnumerable<Diagnostic> SinkProblems(Recipe recipe)
    {
        // Invoke-FifoRecipe refuses a recipe without sinks; New-FifoVideo -Recipe takes it.
        if (recipe.Sinks.Count == 0) return new[] { new Diagnostic("sinks", "the recipe " + InvokeFifoRecipeCommand.NoSinks, null, Array.Empty<string>()) };
        var log = new CmdletLog(this);
        using var sinks = new SinkSet(recipe.Sinks, recipe.Overwrite, recipe.Fps ?? 8, new PluginContext(log, recipe.BaseDirectory));
        var problems = sinks.Problems().Select(p => new Diagnostic($"sinks[{p.Index}]", p.Problem.Message, p.Use.Location, Array.Empty<string>())).ToList();
        log.Drain();
        return problems;
    }

    /// <summary>A run stops before its model loads at a snapshot it must not replace, as it would at a sink's output.</summary>
    static IEnumerable<Diagnostic> SnapshotProblems(Recipe recipe) =>
        EarlierSnapshot.InTheWay(recipe) is { } held
            ? new[] { new Diagnostic("snapshot.path", held.Message, recipe.SnapshotLocation, Array.Empty<string>()) }
            : Array.Empty<Diagnostic>();
}

/// <summary>One problem in a recipe.</summary>
public sealed class FifoRecipeDiagnostic
{
    /// <param name="recipe">The recipe file tested, for a problem that has no place in it (a file that is not there, no sinks).</param>
    internal FifoRecipeDiagnostic(FifoPipes.Hosting.Options.Diagnostic d, string? recipe = null)
    {
        File = d.File ?? recipe; Line = d.Line; Column = d.Column; Path = d.Path; Message = d.Message; ValidChoices = d.ValidChoices.ToArray();
        Problem = d.Message + d.Choices();
        Text = d.ToString();
    }

    /// <summary>The recipe file; for a problem of the whole file, the file tested.</summary>
    public string? File { get; }
    public int Line { get; }
    public int Column { get; }
    /// <summary>Where in the recipe, e.g. sampler.with.partitions.</summary>
    public string Path { get; }
    public string Message { get; }
    public string[] ValidChoices { get; }
    /// <summary>The message and the valid choices, as one text (the table's Message column).</summary>
    public string Problem { get; }
    public string Text { get; }
    public override string ToString() => Text;
}
