using System.Text.RegularExpressions;

namespace FifoPipes.Core.Media;

/// <summary>What ffmpeg said on stderr, as a user reads it in an error message.</summary>
static partial class FfmpegMessages
{
    /// <summary>
    /// The first lines, where ffmpeg says the cause before its consequences ("dimensions not set", "Error initializing
    /// output stream"), with each line's "[png @ 0x5639caa2d080]" shortened to "png:": the address is of no use to anyone.
    /// </summary>
    public static string Cause(string stderr, int lines = 2) =>
        string.Join("; ", stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => Component().Replace(line, "$1: ")).Distinct().Take(lines));

    [GeneratedRegex(@"\[([^\]\s@]+) @ 0x[0-9a-fA-F]+\]\s*")]
    private static partial Regex Component();
}
