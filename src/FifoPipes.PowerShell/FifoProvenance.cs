using System.Collections.Specialized;
using FifoPipes.Abstractions;
using FifoPipes.Hosting.Recipes;

namespace FifoPipes.PowerShell;

/// <summary>What a file FifoPipes wrote records of the run that made it.</summary>
public sealed class FifoProvenance
{
    /// <param name="path">The file or folder asked about.</param>
    /// <param name="snapshot">Whether <paramref name="path"/> is a snapshot, so the recipe resumes from it.</param>
    /// <param name="recordPath">The file <paramref name="run"/> was read from, where it is not <paramref name="path"/>: a frame of a PNG sequence's folder.</param>
    internal FifoProvenance(string path, RunProvenance run, bool snapshot = false, string? recordPath = null)
    {
        Path = path;
        RecordPath = recordPath ?? path;
        RunHash = run.RunHash;
        RecordComplete = run.Complete;
        Recipe = run.ToRecipe(snapshot ? path : null, Engine.ModuleState.Plugins);
        Settings = new OrderedDictionary(StringComparer.Ordinal);
        foreach (var (key, value) in run.Settings) Settings[key] = value;
        Model = run.Value("model");
        Sampler = run.Value("sampler");
        Seed = long.TryParse(run.Value("seed"), System.Globalization.NumberStyles.AllowLeadingSign,
            System.Globalization.CultureInfo.InvariantCulture, out long seed) ? seed : null;
        var spans = run.PromptSpans;
        Prompts = spans.Select(s => s.Prompt).ToArray();
        spanEnds = spans.Select(s => s.Frames).ToArray();
        Frames = spans.Sum(s => s.Frames);
    }

    /// <summary>The file's name, as the table shows it: for a PNG sequence's folder, the folder's.</summary>
    public string File => System.IO.Path.GetFileName(System.IO.Path.TrimEndingDirectorySeparator(Path));
    /// <summary>The model's plugin name (analytic, videocrafter, ...).</summary>
    public string? Model { get; }
    /// <summary>The sampler's plugin name (fifo, chunked, ...): what tells apart the files of a sweep over samplers.</summary>
    public string? Sampler { get; }
    public long? Seed { get; }
    /// <summary>
    /// The schedule's prompt at the file's first frame (<see cref="FirstFrame"/>): for one PNG frame, the prompt it was
    /// made under, so a table of a sequence's frames shows where the look changes; for a file from frame 0, the first.
    /// </summary>
    public string? Prompt => PromptAt(FirstFrame ?? 0);
    readonly long[] spanEnds;

    /// <summary>The prompt whose span holds <paramref name="frame"/>; past the schedule's end (a looping source's), the last.</summary>
    string? PromptAt(long frame)
    {
        for (int i = 0; i < Prompts.Length; i++)
        {
            if (frame < spanEnds[i]) return Prompts[i];
            frame -= spanEnds[i];
        }
        return Prompts.LastOrDefault();
    }
    /// <summary>Every prompt of the schedule in order.</summary>
    public string[] Prompts { get; }
    /// <summary>The frames the run planned (its schedule, over all its prompts): not what this file holds, which <see cref="FirstFrame"/> and <see cref="FramesWritten"/> tell.</summary>
    public long Frames { get; }

    /// <summary>
    /// The run's frame this file starts at: 0, or N for a file that starts mid-run (a resumed run's, frames after
    /// Select-Object -Skip, a PNG frame), as its record says, or for a file an older version wrote, its name
    /// (story.from-000096.mp4: 96); for a live playlist that keeps only its latest segments, where the first listed one
    /// starts. Null for a snapshot, or a playlist whose first listed segment cannot be read.
    /// </summary>
    public long? FirstFrame { get; internal init; }
    /// <summary>
    /// The frames this file holds, counted in it (a video's or playlist's packets through ffmpeg, without decoding them;
    /// a GIF's images; a PNG folder's frame files; one PNG frame: 1). Fewer than <see cref="Frames"/> where the run
    /// stopped early or was resumed into a segment; more where a sink interpolated. Null for a snapshot, or where ffmpeg
    /// could not count them.
    /// </summary>
    public long? FramesWritten { get; internal init; }
    /// <summary>
    /// The frames a PNG sequence's folder lacks between its first and last (deleted, or never written), as ranges
    /// ("30-39, 120"); <see cref="FramesWritten"/> counts only the frames it holds. Null where none are missing.
    /// </summary>
    public string? MissingFrames { get; internal init; }
    /// <summary>
    /// Why what the file holds does not match what its run planned, where it does not (Get-FifoProvenance warns with it too):
    /// frames missing, frames of another run after the run's own, more frames than the run planned. Null where they match.
    /// </summary>
    public string? Note { get; internal init; }
    /// <summary>For a snapshot, the frames the run had output when it was taken: a resume from it makes frames from this one on. Null for other files.</summary>
    public long? TakenAfter { get; internal init; }

    /// <summary>The file or folder read, as given (a PNG sequence's folder, not one of its frames).</summary>
    public string Path { get; }
    /// <summary>
    /// The file the record was read from: <see cref="Path"/> itself, or for a PNG sequence's folder its first frame (its
    /// last where a longer run carried the sequence on, whose record names that run).
    /// </summary>
    public string RecordPath { get; }
    /// <summary>The run hash: equal for files of one run, and for a run made again from <see cref="Recipe"/>.</summary>
    public string RunHash { get; }
    /// <summary>The settings as the run lists them: plugins (their versions; not in a snapshot's), model.*, sampler.*, prompts[i], negativePrompt, seed, init, fps.</summary>
    public OrderedDictionary Settings { get; }
    /// <summary>
    /// Whether the record of the run is whole, so <see cref="Recipe"/> makes its very frames: false where it was cut
    /// (more than 32 prompt spans, or 32 KiB) or prompts could change while the run went (livePrompt). It says nothing of
    /// the file's frames: <see cref="FramesWritten"/> does.
    /// </summary>
    public bool RecordComplete { get; }
    /// <summary><see cref="RecordComplete"/> under its first name, kept for scripts that read it.</summary>
    public bool Complete => RecordComplete;
    /// <summary>The run as a recipe (YAML, no sinks): New-FifoVideo -Recipe makes its frames again; from a snapshot, the frames after it.</summary>
    public string Recipe { get; }

    public override string ToString() => $"{File}: run {RunHash}";
}
