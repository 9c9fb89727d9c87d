using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using FifoPipes.Abstractions;

namespace FifoPipes.Hosting.Engine;

/// <summary>
/// Prompts given while a run goes, through a text file: when the file's text (lines starting with '#' left out, the
/// rest joined by spaces) changes, it takes over the video from the next frame the sampler conditions. Anything that
/// writes a file steers the run: an editor, <c>echo 'green aurora' &gt; prompt.txt</c>, a web hook. The file is read
/// at each frame offered (its first <see cref="MaxBytes"/> bytes; no timestamps, whose grain is seconds on some file
/// systems), and a text is taken once it has read the same for <see cref="Settle"/>, so a write in progress is not
/// (one that stalls longer may be: writing another file and renaming it over this one is safest). The text it holds
/// when the watch starts, and a missing or empty file, are no change; so is a file that is not UTF-8 or is longer than
/// <see cref="MaxBytes"/>, of which the user is warned.
/// </summary>
public sealed partial class LivePromptFile : ILivePrompts
{
    readonly string path;
    readonly IProgressSink log;
    readonly List<PromptChange> taken = new();
    /// <summary>The text in force: the file's at the start, then the last one taken. Written again, it changes nothing.</summary>
    string? current;
    /// <summary>The text the last read found, and since when the reads have found it.</summary>
    string? lastRead;
    long lastReadSince;

    /// <summary>How long a new text must read the same before it is taken.</summary>
    public static readonly TimeSpan Settle = TimeSpan.FromMilliseconds(200);

    static readonly long SettleTicks = (long)(Settle.TotalSeconds * Stopwatch.Frequency);

    /// <summary>How much of the file is read: a prompt, not a book; a runaway file costs no more than this each frame.</summary>
    public const int MaxBytes = 64 * 1024;

    readonly Func<long> clock;
    long offered = long.MinValue;
    bool warned;

    /// <param name="clock">Stopwatch ticks; tests drive it.</param>
    public LivePromptFile(string path, IProgressSink log, Func<long>? clock = null)
    {
        this.path = path;
        this.log = log;
        this.clock = clock ?? Stopwatch.GetTimestamp;
        current = lastRead = Read();
    }

    public IReadOnlyList<PromptChange> Taken => taken;

    public PromptChange? Take(long frame)
    {
        // Frame 0 and the warm-up keep the schedule's first prompt (see ILivePrompts); a sampler restarted from an
        // earlier point offers frames again: they keep the changes they had.
        if (frame < 1 || frame <= offered) return null;
        offered = frame;
        var read = Read();
        long now = clock();
        if (read != lastRead) (lastRead, lastReadSince) = (read, now);
        bool settled = now - lastReadSince >= SettleTicks;
        // Said once the same bytes have read so for a while: a write in progress may cut a character for a moment.
        if (refusal is not null && !refusalWarned && now - refusalSince >= SettleTicks)
        {
            log.Warning($"The live prompt file '{path}' {refusal}; the prompt stays as it is until it changes.");
            refusalWarned = true;
        }
        if (!settled || read is null || read == current) return null;
        current = read;
        var change = new PromptChange(frame, read);
        taken.Add(change);
        log.Verbose($"live prompt from frame {frame}: '{Shown(read)}' (from {path})");
        return change;
    }

    /// <summary>A prompt as a log line shows it: a long one cut, as the text encoder cuts it anyway.</summary>
    static string Shown(string prompt) => prompt.Length <= 200 ? prompt : prompt[..200] + $"… ({prompt.Length} characters)";

    /// <summary>The file's bytes at the last read and the prompt they made: a file read the same again is not parsed again.</summary>
    readonly byte[] buffer = new byte[MaxBytes];
    byte[] lastBytes = Array.Empty<byte>();
    string? lastPrompt;
    /// <summary>Why the file's last bytes are no prompt (not UTF-8, too long), and whether the user was told.</summary>
    string? refusal;
    long refusalSince;
    bool refusalWarned;
    static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    string? Read()
    {
        int length;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 1);
            length = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        }
        // Gone for a moment (an editor saves by renaming) or not there yet: no change.
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException) { return null; }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // A folder reads as access denied, which sends the user looking at permissions.
            string why = Directory.Exists(path) ? "it is a folder; write the prompt into a file of that name" : ex.Message;
            if (!warned) log.Warning($"The live prompt file '{path}' cannot be read ({why}); the prompt stays as it is until it can.");
            warned = true;
            return null;
        }
        warned = false;
        if (buffer.AsSpan(0, length).SequenceEqual(lastBytes)) return lastPrompt;
        lastBytes = buffer.AsSpan(0, length).ToArray();
        (refusal, refusalWarned) = (null, false);
        // A file that fills the buffer goes on past it: a cut prompt is not the one the user wrote.
        if (length == MaxBytes) return Refused($"holds more than {MaxBytes / 1024} KiB, which is no prompt (the text encoder reads its first 77 tokens)");
        string text;
        try { text = StrictUtf8.GetString(lastBytes).TrimStart('\uFEFF'); }
        catch (DecoderFallbackException) { return Refused("is not UTF-8 text; save it as UTF-8"); }
        var prompt = Spaces().Replace(string.Join(' ', text.Split('\n').Where(line => !line.TrimStart().StartsWith('#'))), " ").Trim();
        return lastPrompt = prompt.Length > 0 ? prompt : null;
    }

    string? Refused(string why)
    {
        (refusal, refusalSince) = (why, clock());
        return lastPrompt = null;
    }

    [GeneratedRegex(@"\s+")]
    private static partial Regex Spaces();
}
