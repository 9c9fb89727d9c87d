using System.Collections.Concurrent;
using FifoPipes.Abstractions;
using FifoPipes.Core.Media;

namespace FifoPipes.Sinks.Ffmpeg;

/// <summary>
/// Encodes two black frames with a sink's encoder settings into its container before the run, so a mistyped preset,
/// codec or pixel format, or a codec the container cannot hold (H.264 in WebM), is refused before a model computes
/// anything, not when the first frame reaches ffmpeg (about 0.2 s for x264). Extra
/// arguments are tried with them: ffmpeg reads its whole command line before it opens anything, so an option it does
/// not know is refused then; one that fits only the real frames (a crop) is left for the run, as is a last option
/// missing its value (the trial's own output arguments follow it and stand in for the value).
/// </summary>
static class EncoderTrial
{
    public const string RefusedErrorId = "SinkEncoderRefused";

    // Settings that encoded once encode again: a sink checked twice (-WhatIf, paths named by the run) or a sweep's every
    // run asks once per process. Keyed by the whole trial, its muxer included: libx264 that went into an .mkv may not go into a .webm.
    static readonly ConcurrentDictionary<string, bool> Passed = new(StringComparer.Ordinal);
    // Extra arguments ffmpeg read but the trial's frames did not fit (a crop): asked once per process too.
    static readonly ConcurrentDictionary<string, bool> NeedTheFrames = new(StringComparer.Ordinal);

    /// <summary>What ffmpeg says of a command line it could not read, before it opens any input.</summary>
    const string CommandLineRefused = "Error splitting the argument list";

    public static void Ensure(FfmpegEncodingOptions options, string codec, string? audioCodec, string sink, TrialMuxer muxer, string defaultPreset = "")
    {
        // Keyed per ffmpeg too: FIFOPIPES_FFMPEG may name another build between commands. Found once, not per key.
        var ffmpeg = FfmpegLocator.Locate();
        var extra = CommandLineWords.Split(options.ExtraArgs);
        if (extra.Count > 0 && Keyed(ffmpeg, FfmpegCommand.Trial(options, codec, audioCodec, muxer, defaultPreset, extra)) is var withExtra
            && !NeedTheFrames.ContainsKey(withExtra.Key))
        {
            var (passed, errors) = Run(withExtra);
            if (passed) return;
            if (errors.Contains(CommandLineRefused, StringComparison.Ordinal))
                throw new FifoInputException(RefusedErrorId,
                    $"The {sink} sink's extraArgs ('{options.ExtraArgs}') are not an ffmpeg command line: ffmpeg says \"{FfmpegRun.FirstLine(errors)}\". " +
                    "Fix or remove extraArgs (`ffmpeg -h full` lists the options).");
            NeedTheFrames.TryAdd(withExtra.Key, true);
        }
        var (muxes, containerRefusal) = Run(Keyed(ffmpeg, FfmpegCommand.Trial(options, codec, audioCodec, muxer, defaultPreset)));
        if (muxes) return;
        // Only on a refusal: the encoder alone tells whether it or the container refused, which the fix depends on.
        var (encodes, refusal) = Run(Keyed(ffmpeg, FfmpegCommand.Trial(options, codec, audioCodec, TrialMuxer.None, defaultPreset)));
        if (encodes)
            throw new FifoInputException(RefusedErrorId,
                $"The {sink} sink's codec {codec} cannot go in {muxer.Destination}; {muxer.Fix} " +
                $"(ffmpeg says \"{WithoutContext(FfmpegRun.FirstLine(containerRefusal)) ?? "nothing"}\").");
        throw new FifoInputException(RefusedErrorId,
            $"The {sink} sink's encoder settings do not work: ffmpeg says \"{FfmpegRun.FirstLine(refusal) ?? "nothing"}\". " +
            $"Check codec ({codec}), preset ({(options.Preset.Length > 0 ? options.Preset : "default")}) and pixelFormat ({options.PixelFormat}) " +
            $"(`ffmpeg -h encoder={codec}` lists the encoder's options).");
    }

    /// <summary>Whether the trial passed (or could not tell: a machine too busy to finish in time says nothing of the settings), and what ffmpeg said.</summary>
    static (bool Passed, string Errors) Run((IReadOnlyList<string> Trial, string Key) trial)
    {
        if (Passed.ContainsKey(trial.Key)) return (true, "");
        var (finished, exitCode, errors) = FfmpegRun.ToEnd(trial.Trial.ToArray());
        if (exitCode == 0) Passed.TryAdd(trial.Key, true);
        return (!finished || exitCode == 0, errors.Length > 0 ? errors : $"exit code {exitCode}");
    }

    /// <summary>An ffmpeg line without the "[webm @ 0x55d0c0a8e680] " that names its source: an address means nothing to a user.</summary>
    static string? WithoutContext(string? line) => line is not null && line.StartsWith('[') && line.IndexOf("] ", StringComparison.Ordinal) is var end and > 0
        ? line[(end + 2)..] : line;

    static (IReadOnlyList<string> Trial, string Key) Keyed(string ffmpeg, IReadOnlyList<string> trial) => (trial, ffmpeg + "\0" + string.Join('\0', trial));
}
