using System.Collections.Concurrent;
using FifoPipes.Abstractions;
using FifoPipes.Core.Media;

namespace FifoPipes.Sinks.Ffmpeg;

/// <summary>
/// Encodes two black frames with a sink's encoder settings before the run, so a mistyped preset, codec or pixel format
/// is refused before a model computes anything, not when the first frame reaches ffmpeg (about 0.2 s for x264). Extra
/// arguments are tried with them: ffmpeg reads its whole command line before it opens anything, so an option it does
/// not know is refused then; one that fits only the real frames (a crop) is left for the run, as is a last option
/// missing its value (the trial's own output arguments follow it and stand in for the value).
/// </summary>
static class EncoderTrial
{
    public const string RefusedErrorId = "SinkEncoderRefused";

    // Settings that encoded once encode again: a sink checked twice (-WhatIf, paths named by the run) or a sweep's every
    // run asks once per process.
    static readonly ConcurrentDictionary<string, bool> Passed = new(StringComparer.Ordinal);
    // Extra arguments ffmpeg read but the trial's frames did not fit (a crop): asked once per process too.
    static readonly ConcurrentDictionary<string, bool> NeedTheFrames = new(StringComparer.Ordinal);

    /// <summary>What ffmpeg says of a command line it could not read, before it opens any input.</summary>
    const string CommandLineRefused = "Error splitting the argument list";

    public static void Ensure(FfmpegEncodingOptions options, string codec, string? audioCodec, string sink, string defaultPreset = "")
    {
        // Keyed per ffmpeg too: FIFOPIPES_FFMPEG may name another build between commands. Found once, not per key.
        var ffmpeg = FfmpegLocator.Locate();
        var extra = CommandLineWords.Split(options.ExtraArgs);
        if (extra.Count > 0 && Keyed(ffmpeg, FfmpegCommand.Trial(options, codec, audioCodec, defaultPreset, extra)) is var withExtra
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
        var (encodes, refusal) = Run(Keyed(ffmpeg, FfmpegCommand.Trial(options, codec, audioCodec, defaultPreset)));
        if (encodes) return;
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

    static (IReadOnlyList<string> Trial, string Key) Keyed(string ffmpeg, IReadOnlyList<string> trial) => (trial, ffmpeg + "\0" + string.Join('\0', trial));
}
