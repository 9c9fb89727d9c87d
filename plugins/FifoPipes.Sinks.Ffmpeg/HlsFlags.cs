namespace FifoPipes.Sinks.Ffmpeg;

/// <summary>
/// The hls muxer's flags a user adds through extraArgs (<c>-hls_flags program_date_time</c>). ffmpeg lets a second
/// <c>-hls_flags</c> replace the sink's own unless its value starts with + or -, so a plain value is made an addition:
/// the sink still needs temp_file and omit_endlist. Flags that would write segments the sink cannot manage are refused.
/// </summary>
public static class HlsFlags
{
    const string Option = "-hls_flags";

    static readonly Dictionary<string, string> Refused = new(StringComparer.Ordinal)
    {
        ["single_file"] = "it writes every segment into one file, which a resumed run cannot carry on",
        ["append_list"] = "the sink carries an interrupted run's playlist on itself when the run resumes from a snapshot",
        ["second_level_segment_index"] = "the sink names the segments after the playlist",
        ["second_level_segment_size"] = "the sink names the segments after the playlist",
        ["second_level_segment_duration"] = "the sink names the segments after the playlist",
    };

    /// <summary><paramref name="extra"/> with every <c>-hls_flags</c> value made an addition to the sink's own flags.</summary>
    public static IReadOnlyList<string> AddedToOwn(IReadOnlyList<string> extra) =>
        extra.Select((word, i) => i > 0 && extra[i - 1] == Option && !word.StartsWith('+') && !word.StartsWith('-') ? "+" + word : word).ToList();

    /// <summary>Why the flags in <paramref name="extra"/> cannot be used, naming the first refused one; null where they can.</summary>
    public static string? Problem(IReadOnlyList<string> extra)
    {
        for (int i = 1; i < extra.Count; i++)
        {
            if (extra[i - 1] != Option) continue;
            var added = extra[i].Split('+').Select(f => f.Split('-')[0]).Where(f => f.Length > 0);
            if (added.FirstOrDefault(Refused.ContainsKey) is { } flag)
                return $"extraArgs asks for the hls flag {flag}, which this sink cannot use: {Refused[flag]}. Leave it out.";
        }
        return null;
    }
}
