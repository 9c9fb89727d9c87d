namespace FifoPipes.Sinks.Ffmpeg;

/// <summary>
/// What extraArgs may tell the hls muxer. ffmpeg lets a second <c>-hls_flags</c> replace the sink's own unless its value
/// starts with + or -, so a plain value (<c>-hls_flags program_date_time</c>) is made an addition; a value with a sign is
/// the user's to give (<c>-temp_file</c> takes one of the sink's away). Flags that write segments the sink cannot carry
/// on, and the options the sink sets itself from its own (segment, keep) or needs as they are, are refused by name.
/// </summary>
public static class HlsExtraArguments
{
    const string FlagsOption = "-hls_flags";

    static readonly Dictionary<string, string> RefusedFlags = new(StringComparer.Ordinal)
    {
        ["single_file"] = "it writes every segment into one file, which a resumed run cannot carry on",
        ["iframes_only"] = "it lists keyframes as byte ranges of the segments, which a resumed run cannot carry on",
        ["append_list"] = "the sink carries an interrupted run's playlist on itself when the run resumes from a snapshot",
        ["second_level_segment_index"] = "the sink names the segments after the playlist",
        ["second_level_segment_size"] = "the sink names the segments after the playlist",
        ["second_level_segment_duration"] = "the sink names the segments after the playlist",
    };

    static readonly Dictionary<string, string> OwnOptions = new(StringComparer.Ordinal)
    {
        ["-hls_time"] = "the sink's segment option sets it",
        ["-hls_list_size"] = "the sink's keep option sets it",
        ["-hls_playlist_type"] = "the sink's keep option sets it (0: an EVENT playlist, more: a live window)",
        ["-hls_segment_type"] = "the sink writes fragmented MP4, whose init segment keeps the run's provenance",
        ["-hls_segment_filename"] = "the sink names the segments after the playlist",
        ["-hls_fmp4_init_filename"] = "the sink names the init segment after the playlist",
        ["-strftime"] = "the sink's segment names are numbered (%06d), which strftime would read as a date",
        ["-start_number"] = "the sink numbers the segments from 0, and a resumed run's part from its own 0",
    };

    /// <summary><paramref name="extra"/> with every unsigned <c>-hls_flags</c> value made an addition to the sink's own flags.</summary>
    public static IReadOnlyList<string> AddedToOwn(IReadOnlyList<string> extra) =>
        extra.Select((word, i) => i > 0 && extra[i - 1] == FlagsOption && !word.StartsWith('+') && !word.StartsWith('-') ? "+" + word : word).ToList();

    /// <summary>Why <paramref name="extra"/> cannot go to the hls muxer, naming the first refused flag or option; null where it can.</summary>
    public static string? Problem(IReadOnlyList<string> extra)
    {
        for (int i = 0; i < extra.Count; i++)
        {
            if (OwnOptions.TryGetValue(extra[i], out var own))
                return $"extraArgs sets {extra[i]}, which this sink sets itself: {own}. Leave it out.";
            if (i == 0 || extra[i - 1] != FlagsOption) continue;
            // "a+b", "+a-b", "-a": the names after a + (or none) are added, those after a - taken away.
            var added = extra[i].Split('+').Select(f => f.Split('-')[0]).Where(f => f.Length > 0);
            if (added.FirstOrDefault(RefusedFlags.ContainsKey) is { } flag)
                return $"extraArgs asks for the hls flag {flag}, which this sink cannot use: {RefusedFlags[flag]}. Leave it out.";
        }
        return null;
    }
}
