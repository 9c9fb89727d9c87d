using System.Text.RegularExpressions;
using FifoPipes.Abstractions;

namespace FifoPipes.Hosting.Engine;

/// <summary>
/// Prompts given while a run goes, through a text file: whenever the file changes, its text (lines starting with '#'
/// left out, the rest joined by spaces) takes over the video from the next frame the sampler conditions. Anything that
/// writes a file steers the run: an editor, <c>echo 'green aurora' &gt; prompt.txt</c>, a web hook. What the file holds when
/// the run starts is not a change; a missing, empty or unreadable file is none either (a half-written one is read
/// again at its next change).
/// </summary>
public sealed partial class LivePromptFile : ILivePrompts
{
    readonly string path;
    readonly IProgressSink log;
    readonly List<PromptChange> taken = new();
    (DateTime Written, long Length)? seen;
    /// <summary>The last prompt taken: the same text written again changes nothing.</summary>
    string? current;
    long offered = long.MinValue;

    public LivePromptFile(string path, IProgressSink log)
    {
        this.path = path;
        this.log = log;
        seen = Stamp();
    }

    public IReadOnlyList<PromptChange> Taken => taken;

    public PromptChange? Take(long frame)
    {
        // A sampler restarted from an earlier point offers frames again: they keep the changes they had.
        if (frame <= offered) return null;
        offered = frame;
        var stamp = Stamp();
        if (stamp == seen) return null;
        seen = stamp;
        if (Read() is not { } prompt || prompt == current) return null;
        current = prompt;
        var change = new PromptChange(frame, prompt);
        taken.Add(change);
        log.Verbose($"live prompt from frame {frame}: '{prompt}' (from {path})");
        return change;
    }

    (DateTime, long)? Stamp()
    {
        var file = new FileInfo(path);
        return file.Exists ? (file.LastWriteTimeUtc, file.Length) : null;
    }

    string? Read()
    {
        string text;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream);
            text = reader.ReadToEnd();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            log.Warning($"The live prompt file '{path}' changed but cannot be read ({ex.Message}); the prompt stays as it was.");
            return null;
        }
        var prompt = Spaces().Replace(string.Join(' ', text.Split('\n').Where(line => !line.TrimStart().StartsWith('#'))), " ").Trim();
        return prompt.Length > 0 ? prompt : null;
    }

    [GeneratedRegex(@"\s+")]
    private static partial Regex Spaces();
}
