using System.Collections.Concurrent;
using FifoPipes.Abstractions;
using FifoPipes.Core.Media;

namespace FifoPipes.Sinks.Ffmpeg;

/// <summary>
/// Encodes two black frames with a sink's encoder settings before the run, so a mistyped preset, codec or pixel format
/// is refused before a model computes anything, not when the first frame reaches ffmpeg (about 0.2 s for x264).
/// </summary>
static class EncoderTrial
{
    public const string RefusedErrorId = "SinkEncoderRefused";

    // Settings that encoded once encode again: a sink checked twice (-WhatIf, paths named by the run) or a sweep's every
    // run asks once per process.
    static readonly ConcurrentDictionary<string, bool> Passed = new(StringComparer.Ordinal);

    public static void Ensure(IReadOnlyList<string> trial, FfmpegEncodingOptions options, string codec, string sink)
    {
        // Per ffmpeg too: FIFOPIPES_FFMPEG may name another build between commands.
        var key = FfmpegLocator.Locate() + "\0" + string.Join('\0', trial);
        if (Passed.ContainsKey(key)) return;
        var (finished, exitCode, errors) = FfmpegRun.ToEnd(trial.ToArray());
        if (exitCode == 0) Passed.TryAdd(key, true);
        // A machine too busy to finish in time says nothing about the settings.
        if (!finished || exitCode == 0) return;
        throw new FifoInputException(RefusedErrorId,
            $"The {sink} sink's encoder settings do not work: ffmpeg says \"{FfmpegRun.FirstLine(errors) ?? $"exit code {exitCode}"}\". " +
            $"Check codec ({codec}), preset ({(options.Preset.Length > 0 ? options.Preset : "default")}) and pixelFormat ({options.PixelFormat}) " +
            $"(`ffmpeg -h encoder={codec}` lists the encoder's options).");
    }
}
