using System.Text.RegularExpressions;
using FifoPipes.Abstractions;

namespace FifoPipes.Hosting.Engine;

/// <summary>
/// Prompts given while a run goes, through a text file: when the file's text (lines starting with '#' left out, the
/// rest joined by spaces) changes, it takes over the video from the next frame the sampler conditions. Anything that
/// writes a file steers the run: an editor, <c>echo 'green aurora' &gt; prompt.txt</c>, a web hook. The file is read
/// at each frame offered (a few microseconds for a prompt's bytes; no timestamps, whose grain is seconds on some file
/// systems), and a text is taken once two reads in a row agree, so a file caught half-written is not. The text it
/// holds when the watch starts, and a missing or empty file, are no change.
/// </summary>
public sealed partial class LivePromptFile : ILivePrompts
{
    readonly string path;
    readonly IProgressSink log;
    readonly List<PromptChange> taken = new();
    /// <summary>The text in force: the file's at the start, then the last one taken. Written again, it changes nothing.</summary>
    string? current;
    /// <summary>The text the last read found, which the next read must find again to be taken.</summary>
    string? lastRead;
    long offered = long.MinValue;
    bool warned;

    public LivePromptFile(string path, IProgressSink log)
    {
        this.path = path;
        this.log = log;
        current = lastRead = Read();
    }

    public IReadOnlyList<PromptChange> Taken => taken;

    public PromptChange? Take(long frame)
    {
        // A sampler restarted from an earlier point offers frames again: they keep the changes they had.
        if (frame <= offered) return null;
        offered = frame;
        var read = Read();
        bool settled = read == lastRead;
        lastRead = read;
        if (!settled || read is null || read == current) return null;
        current = read;
        var change = new PromptChange(frame, read);
        taken.Add(change);
        log.Verbose($"live prompt from frame {frame}: '{read}' (from {path})");
        return change;
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
        // Gone for a moment (an editor saves by renaming) or not there yet: no change.
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException) { return null; }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            if (!warned) log.Warning($"The live prompt file '{path}' cannot be read ({ex.Message}); the prompt stays as it is until it can.");
            warned = true;
            return null;
        }
        warned = false;
        var prompt = Spaces().Replace(string.Join(' ', text.Split('\n').Where(line => !line.TrimStart().StartsWith('#'))), " ").Trim();
        return prompt.Length > 0 ? prompt : null;
    }

    [GeneratedRegex(@"\s+")]
    private static partial Regex Spaces();
}
