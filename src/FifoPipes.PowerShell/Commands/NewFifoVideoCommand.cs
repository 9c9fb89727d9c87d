using System.Collections;
using System.Management.Automation;
using FifoPipes.Core.Media;
using FifoPipes.PowerShell.Engine;
using FifoPipes.Core.Sinks;
using FifoPipes.Hosting.Recipes;

namespace FifoPipes.PowerShell.Commands;

/// <summary>
/// <para type="synopsis">Generates a video of any length with FIFO-Diffusion and writes its frames to the pipeline as they are made.</para>
/// <para type="description">Frames stream out one by one (FifoFrame objects), so memory stays constant however long the video is. Pipe them to Export-FifoFrames to write files. Every setting can also come from a YAML recipe (-Recipe); parameters override it.</para>
/// <example><code>New-FifoVideo 'clouds drifting over a red sunset' -Frames 240 | Export-FifoFrames clouds.mp4</code></example>
/// <example><code>New-FifoVideo 'calm ocean','fire at night' -Frames 120,120 -Seed 7 | Export-FifoFrames story.mp4, story.gif</code></example>
/// </summary>
[Cmdlet(VerbsCommon.New, "FifoVideo", DefaultParameterSetName = "Prompt", SupportsShouldProcess = true)]
[OutputType(typeof(FifoFrame))]
public sealed class NewFifoVideoCommand : PSCmdlet
{
    // Made with the command, so a Ctrl+C that comes while the recipe is still being read stops the run before it loads anything.
    readonly RunPump pump;

    public NewFifoVideoCommand() => pump = new RunPump(this);

    /// <summary><para type="description">One prompt, or several played one after another (a prompt schedule).</para></summary>
    [Parameter(Position = 0, ParameterSetName = "Prompt", Mandatory = true)]
    [Parameter(Position = 0, ParameterSetName = "Recipe")]
    [ValidateNotNull]
    public string[]? Prompt { get; set; }

    /// <summary><para type="description">Frames per prompt: one number for all prompts, or one per prompt; with -Recipe and no -Prompt, for the recipe's own prompts (a continuation from a snapshot's recipe made longer, say). Default: with -Recipe and one prompt, all the recipe's frames (unless -Source names another video); otherwise, with a source video (-Source or the recipe's source:), the prompts share the frames it selects (a looping source needs -Frames); otherwise, with -Recipe, the prompts keep the recipe's length: as many as the recipe has take its counts in order, any other number share its frames as evenly as whole frames allow (too few frames to share is an error that asks for -Frames), as Invoke-FifoRecipe -Override @{ prompt = ... } does; otherwise 128 each. -Frames counts the model's latent frames: every model here makes one video frame of each, but Open-Sora Plan's causal VAE makes four of each after the first (-Frames 120 gives 477 frames; docs/models/opensora.md).</para></summary>
    [Parameter(Position = 1)]
    [ValidateRange(1, int.MaxValue)]
    [WholeNumber]
    public int[]? Frames { get; set; }

    /// <summary><para type="description">A YAML recipe to start from; other parameters override it.</para></summary>
    [Parameter(ParameterSetName = "Recipe", Mandatory = true)]
    public string? Recipe { get; set; }

    /// <summary><para type="description">Random seed. The same seed, prompt and options give the same frames, however the windows are batched and across resumes. Default: 0 (or the recipe's seed), so a command run twice makes the same video: give another seed for another take.</para></summary>
    [Parameter] [WholeNumber] public long? Seed { get; set; }
    /// <summary><para type="description">What guidance steers away from ('blurry, watermark, text'), in place of the empty prompt of the unconditional branch. Needs guidance above 1.</para></summary>
    [Parameter] public string? NegativePrompt { get; set; }
    /// <summary><para type="description">Model plugin (default: analytic, built in, needs no download), or a preset saved with Save-FifoModel (e.g. videocrafter2), which finds its files in the model store.</para></summary>
    [Parameter] [ArgumentCompleter(typeof(ModelNameCompleter))] public string? Model { get; set; }
    /// <summary><para type="description">Checkpoint file or model folder, for models that load weights.</para></summary>
    [Parameter] public string? ModelPath { get; set; }
    /// <summary><para type="description">cpu, cuda or cuda:N, or several as 'cuda:0,cuda:1' (quoted: one string; one model replica per device, each model call split across them; not for the analytic model).</para></summary>
    [Parameter] [ArgumentCompleter(typeof(DeviceCompleter))] public string? Device { get; set; }
    /// <summary><para type="description">Model options by name, e.g. @{ height = 40; width = 64 }. See (Get-FifoPlugin analytic).Options.</para></summary>
    [Parameter] public Hashtable? ModelOption { get; set; }
    /// <summary><para type="description">Frame width in pixels, for any model that can change it (recipe key width:); a multiple of 8 for the analytic model, whose latents have one cell per 8 pixels, and of 64 for the released VideoCrafter models. Default: the model's (512 for analytic and VideoCrafter2).</para></summary>
    [Parameter] [ValidateRange(1, 16384)] [WholeNumber] public int? Width { get; set; }
    /// <summary><para type="description">Frame height in pixels, for any model that can change it (recipe key height:). Default: the model's (320 for analytic and VideoCrafter2).</para></summary>
    [Parameter] [ValidateRange(1, 16384)] [WholeNumber] public int? Height { get; set; }
    /// <summary><para type="description">Sampler plugin (default: fifo).</para></summary>
    [Parameter] [ArgumentCompleter(typeof(SamplerNameCompleter))] public string? Sampler { get; set; }
    /// <summary><para type="description">Sampler options by name, e.g. @{ windowBatch = 2 }.</para></summary>
    [Parameter] public Hashtable? SamplerOption { get; set; }
    // The ranges are the fifo sampler's own (and, for -Fps, the recipe's), checked here so an error names the parameter.
    /// <summary><para type="description">n: the queue holds n times f frames; more partitions means more denoising steps per frame. Default: the model's (4 for analytic and VideoCrafter2).</para></summary>
    [Parameter] [ValidateRange(1, 64)] [WholeNumber] public int? Partitions { get; set; }
    /// <summary><para type="description">Turn off lookahead denoising (faster, slightly less coherent).</para></summary>
    [Parameter] public SwitchParameter NoLookahead { get; set; }
    /// <summary><para type="description">Classifier-free guidance scale. Default: the model's (1.5 for analytic, 12 for VideoCrafter2).</para></summary>
    [Parameter] [ValidateRange(0.0, 100.0)] public double? Guidance { get; set; }
    /// <summary><para type="description">DDIM eta (0 deterministic, 1 the reference's setting). Default: the model's (1 for analytic and VideoCrafter2, 0 for zeroscope).</para></summary>
    [Parameter] [ValidateRange(0.0, 1.0)] public double? Eta { get; set; }
    /// <summary><para type="description">Playback rate written on the frames.</para></summary>
    [Parameter] [ValidateRange(FrameRate.Min, FrameRate.Max)] public double? Fps { get; set; }
    /// <summary><para type="description">An image, animated GIF or PNG, or short video (read with ffmpeg) to start the video from.</para></summary>
    [Parameter] public string? InitImage { get; set; }
    /// <summary><para type="description">A video (or animated GIF) to restyle: output frame k follows its frame k, redrawn under the prompts (recipe key source:). Without -Frames, the prompts share the source's frames in order.</para></summary>
    [Parameter] public string? Source { get; set; }
    /// <summary><para type="description">With -Source, how far into the noise schedule each source frame goes before it is redrawn, from 0.01 to 1: 0.3 stays close to the source, 0.6 (the default) restyles it, 0.9 keeps little but its layout.</para></summary>
    [Parameter] [ValidateRange(0.01, 1.0)] public double? Strength { get; set; }
    /// <summary><para type="description">With -Source, resample the source to this many frames a second before restyling it (frames repeated or dropped to a constant rate); the output then plays at this rate unless -Fps says otherwise. Default: every frame the source has, at its own rate.</para></summary>
    [Parameter] [ValidateRange(FrameRate.Min, FrameRate.Max)] public double? SourceFps { get; set; }
    /// <summary><para type="description">With -Source, the second of the source that output frame 0 restyles (ffmpeg seeks there exactly). Default: 0.</para></summary>
    [Parameter] [ValidateRange(0.0, double.MaxValue)] public double? SourceStart { get; set; }
    /// <summary><para type="description">With -Source, start the source over after its last frame, so a short clip is restyled for as many -Frames as asked. A clip that does not loop by itself jumps back at each turn (-SourcePingPong plays it back and forth instead; the two are refused together).</para></summary>
    [Parameter] public SwitchParameter SourceLoop { get; set; }
    /// <summary><para type="description">With -Source, loop the source forward, then backward (recipe source.loop: pingpong), so a clip that does not loop by itself never jumps back. The clip's latents are kept in memory (up to 512 MB). Not with -SourceLoop.</para></summary>
    [Parameter] public SwitchParameter SourcePingPong { get; set; }
    /// <summary><para type="description">A text file that steers the run while it goes (recipe key livePrompt:): when its text (lines starting with # left out) changes, it becomes the prompt from the next frame on, and the video turns to it over about n·f frames. It need not exist yet; what it holds when the run starts is no change, and so is text that is not UTF-8 or a file over 64 KiB (with a warning). fifo sampler only; such a run cannot be resumed (-Resume).</para></summary>
    [Parameter] public string? LivePrompt { get; set; }
    /// <summary><para type="description">Save the sampler state to this file every -SnapshotEvery frames and after the last one, so a crashed run can be resumed and a finished one made longer (-Resume). A file already there is another run's resume point: the run is refused unless it resumes from that file (-Resume) or -Force lets it replace it.</para></summary>
    [Parameter] public string? SnapshotPath { get; set; }
    /// <summary><para type="description">How often to snapshot, in output frames: 100, or the recipe's snapshot.every. Needs -SnapshotPath, -Resume or a recipe with snapshot:.</para></summary>
    [Parameter] [ValidateRange(1, int.MaxValue)] [WholeNumber] public int SnapshotEvery { get; set; } = 100;
    /// <summary><para type="description">Continue an interrupted run from its snapshot file; the frames equal those of an uninterrupted run. The run goes on snapshotting to that file (every -SnapshotEvery frames) unless -SnapshotPath or the recipe names another.</para></summary>
    [Parameter] public string? Resume { get; set; }
    /// <summary><para type="description">Let this run's snapshots replace one already at -SnapshotPath (recipe key overwrite:). New-FifoVideo writes no other file.</para></summary>
    [Parameter] public SwitchParameter Force { get; set; }

    protected override void ProcessRecord()
    {
        var builder = new RecipeBuilder(ParameterOf, SettingOf);
        if (Prompt is { Length: > 0 }) builder.SetPrompts(Prompt, Frames, "-Prompt");
        // Without -Prompt there is a -Recipe (its parameter set): the counts go to the recipe's own prompts.
        else if (Frames is { Length: > 0 }) builder.SetFrames(Frames, "-Frames");
        if (MyInvocation.BoundParameters.ContainsKey(nameof(SnapshotEvery)) && SnapshotPath is null && Recipe is null && Resume is null)
            ThrowTerminatingError(new ErrorRecord(new PSArgumentException("-SnapshotEvery needs -SnapshotPath: the file to write the snapshots to."), "SnapshotEveryWithoutPath", ErrorCategory.InvalidArgument, SnapshotEvery));
        if (Seed is { } seed) builder.Set("seed", seed, "-Seed");
        if (NegativePrompt is not null) builder.Set("negativePrompt", NegativePrompt, "-NegativePrompt");
        if (Fps is { } fps) builder.Set("fps", fps, "-Fps");
        if (Width is { } width) builder.Set("width", width, "-Width");
        if (Height is { } height) builder.Set("height", height, "-Height");
        if (InitImage is not null) builder.Set("init", ResolvePath(InitImage), "-InitImage");
        if (LivePrompt is not null) builder.Set("livePrompt", ResolvePath(LivePrompt), "-LivePrompt");
        if (Source is not null) builder.SetEntry("source", "path", ResolvePath(Source), "-Source");
        SetSourceEntry(builder, "strength", Strength, nameof(Strength));
        SetSourceEntry(builder, "fps", SourceFps, nameof(SourceFps));
        SetSourceEntry(builder, "start", SourceStart, nameof(SourceStart));
        // -SourceLoop:$false turns a recipe's loop off; beside -SourcePingPong, either way, the two set one loop and are refused together.
        SetSourceEntry(builder, "loop", MyInvocation.BoundParameters.ContainsKey(nameof(SourceLoop)) ? SourceLoop.IsPresent : null, nameof(SourceLoop));
        if (SourcePingPong) SetSourceEntry(builder, "loop", FifoPipes.Hosting.Recipes.RecipeReader.PingPong, nameof(SourcePingPong));
        // Each sets only its own entry, so a recipe's snapshot interval survives -SnapshotPath and its path -SnapshotEvery.
        if (SnapshotPath is not null) builder.SetEntry("snapshot", "path", ResolvePath(SnapshotPath), "-SnapshotPath");
        if (MyInvocation.BoundParameters.ContainsKey(nameof(SnapshotEvery))) builder.SetEntry("snapshot", "every", SnapshotEvery, "-SnapshotEvery");
        if (Resume is not null) builder.Set("resume", ResolvePath(Resume), "-Resume");
        if (Force) builder.Set("overwrite", true, "-Force");
        if (Model is not null) builder.Use("model", Model, "-Model");
        if (Sampler is not null) builder.Use("sampler", Sampler, "-Sampler");
        if (ModelPath is not null) builder.Option("model", "path", ResolvePath(ModelPath), "-ModelPath");
        if (Device is not null) builder.Option("model", "device", Device, "-Device");
        foreach (DictionaryEntry e in ModelOption ?? new Hashtable()) builder.Option("model", e.Key.ToString()!, e.Value, $"-ModelOption {e.Key}");
        if (Partitions is { } n) builder.Option("sampler", "partitions", n, "-Partitions");
        if (NoLookahead) builder.Option("sampler", "lookahead", false, "-NoLookahead");
        if (Guidance is { } w) builder.Option("sampler", "guidance", w, "-Guidance");
        if (Eta is { } eta) builder.Option("sampler", "eta", eta, "-Eta");
        foreach (DictionaryEntry e in SamplerOption ?? new Hashtable()) builder.Option("sampler", e.Key.ToString()!, e.Value, $"-SamplerOption {e.Key}");

        var (recipe, diagnostics) = builder.Build(Recipe is null ? null : SessionState.Path.GetUnresolvedProviderPathFromPSPath(Recipe), SessionState.Path.CurrentFileSystemLocation.ProviderPath);
        foreach (var warning in builder.Warnings) WriteWarning(warning);
        if (recipe is null) ThrowTerminatingError(Errors.InvalidRecipe(diagnostics, Recipe, builder.ParameterFor, builder.UnsetParameterFor));
        if (recipe!.Sinks.Count > 0)
        {
            string unwritten = $"New-FifoVideo writes its frames to the pipeline, not to the recipe's sinks ({string.Join(", ", recipe.Sinks.Select(s => StreamAddress.Display(s.Path)))}).";
            // Piped on, the frames go where the user sent them (Export-FifoFrames, most likely): no cause for a warning.
            if (MyInvocation.PipelinePosition < MyInvocation.PipelineLength) WriteVerbose(unwritten);
            else WriteWarning(unwritten + " Pipe them to Export-FifoFrames, or run Invoke-FifoRecipe to write the sinks.");
        }
        // Nothing loads under -WhatIf: it says what the run would make, and what would stop it before its first frame.
        if (!WhatIf.ShouldProcess(this, RunTarget(recipe), $"{WhatIf.Action(recipe)} with the model {recipe.Model.Plugin.Name} and the sampler {recipe.Sampler.Plugin.Name}", out bool whatIf))
        {
            if (whatIf && EarlierSnapshot.InTheWay(recipe) is { } taken) WriteWarning($"What if: the run would stop before its first frame: {taken.Message}");
            return;
        }
        try
        {
            pump.Run(recipe!, WriteObject);
        }
        catch (Exception ex) when (!Errors.IsPipelineFlow(ex))
        {
            ThrowTerminatingError(Errors.From(builder.Placed(ex, recipe), recipe.File ?? (object?)Prompt));
        }
    }

    protected override void StopProcessing() => pump.Stop();

    /// <summary>The parameter that sets a recipe path, so a problem of a setting the user left out names what they would type; null for none.</summary>
    internal static string? ParameterOf(string key)
    {
        if (key.StartsWith("model.with.", StringComparison.OrdinalIgnoreCase) && key.Length > "model.with.".Length)
            return key["model.with.".Length..].ToLowerInvariant() switch { "path" => "-ModelPath", "device" => "-Device", _ => $"-ModelOption {key["model.with.".Length..]}" };
        if (key.StartsWith("sampler.with.", StringComparison.OrdinalIgnoreCase) && key.Length > "sampler.with.".Length)
            return key["sampler.with.".Length..].ToLowerInvariant() switch
            {
                "partitions" => "-Partitions", "guidance" => "-Guidance", "eta" => "-Eta", "lookahead" => "-NoLookahead",
                _ => $"-SamplerOption {key["sampler.with.".Length..]}",
            };
        return KeyParameters.GetValueOrDefault(key);
    }

    /// <summary>
    /// How this command sets a recipe path to a value as a recipe writes it ("false"): sampler.with.lookahead false is
    /// -NoLookahead, an option of a table @{ name = value }; null where it cannot (lookahead: true is the default).
    /// </summary>
    internal static string? SettingOf(string key, string value)
    {
        string typed = value switch
        {
            "true" or "false" => "$" + value,
            _ when double.TryParse(value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out _) => value,
            _ => $"'{value}'",
        };
        return ParameterOf(key) switch
        {
            null => null,
            "-NoLookahead" => value == "false" ? "-NoLookahead" : null,
            var table when table.Split(' ') is [var parameter, var option] => $"{parameter} @{{ {option} = {typed} }}",
            var parameter => $"{parameter} {typed}",
        };
    }

    static readonly Dictionary<string, string> KeyParameters = new(StringComparer.OrdinalIgnoreCase)
    {
        ["prompt"] = "-Prompt", ["prompts"] = "-Prompt", ["frames"] = "-Frames", ["seed"] = "-Seed", ["negativePrompt"] = "-NegativePrompt",
        ["fps"] = "-Fps", ["width"] = "-Width", ["height"] = "-Height", ["init"] = "-InitImage", ["livePrompt"] = "-LivePrompt",
        ["source"] = "-Source", ["source.path"] = "-Source", ["source.strength"] = "-Strength", ["source.fps"] = "-SourceFps",
        ["source.start"] = "-SourceStart", ["source.loop"] = "-SourceLoop", ["snapshot"] = "-SnapshotPath", ["snapshot.path"] = "-SnapshotPath",
        ["snapshot.every"] = "-SnapshotEvery", ["resume"] = "-Resume", ["overwrite"] = "-Force",
        ["model"] = "-Model", ["model.use"] = "-Model", ["sampler"] = "-Sampler", ["sampler.use"] = "-Sampler",
    };

    /// <summary>Where the run's output goes: down the pipeline, and its snapshots to their file.</summary>
    static string RunTarget(Recipe recipe) =>
        recipe.Snapshot is { } snapshot ? $"the pipeline, snapshots to '{snapshot.Path}'" : "the pipeline";

    string ResolvePath(string path) => SessionState.Path.GetUnresolvedProviderPathFromPSPath(path);

    /// <summary>A setting of the source video, which needs one: -Source, or a recipe that may name it.</summary>
    void SetSourceEntry(RecipeBuilder builder, string entry, object? value, string parameter)
    {
        if (value is null) return;
        if (Source is null && Recipe is null)
            ThrowTerminatingError(new ErrorRecord(new PSArgumentException($"-{parameter} needs -Source: the video to restyle."), $"{parameter}WithoutSource", ErrorCategory.InvalidArgument, value));
        builder.SetEntry("source", entry, value, "-" + parameter);
    }
}
