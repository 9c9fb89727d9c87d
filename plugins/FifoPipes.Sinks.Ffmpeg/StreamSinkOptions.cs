using System.Globalization;
using System.Text.RegularExpressions;
using FifoPipes.Abstractions;

namespace FifoPipes.Sinks.Ffmpeg;

/// <summary>The stream sink's options: the encoding, and what a live server expects of what it is sent.</summary>
public sealed partial class StreamSinkOptions : FfmpegEncodingOptions
{
    [Option("Cap on the video bitrate, e.g. 4M or 2500k, as a streaming service asks for (the encoder's buffer holds two seconds of it). " +
            "Empty: the quality (crf) alone sets it.")]
    public string Bitrate { get; set; } = "";

    [Option("Seconds between keyframes: where a player that joins can start (services ask for 2 to 4).", Min = 0.5, Max = 10)]
    public double Keyframes { get; set; } = 2;

    [Option("Send frames at the rate the stream plays them, as a live server expects: a run that is ahead waits. " +
            "false sends them as fast as they are made (to a recorder, or a relay that paces them itself).")]
    public bool Realtime { get; set; } = true;

    [Option("Send a silent audio track beside the video (AAC) when no audio file is given: many services (YouTube, Facebook) expect audio and warn or refuse without it.")]
    public bool SilentAudio { get; set; } = true;

    [Option("How many times in a row to reconnect when the connection drops (the run waits 1, 2, 4, 8, then 10 s between tries, so the " +
            "default 30 rides out about 5 minutes of outage); a connection that then carries 10 s of video starts the count again. " +
            "0 ends the run at the first drop.", Min = 0, Max = 1000000)]
    public int Reconnect { get; set; } = 30;

    public override IEnumerable<OptionProblem> Validate()
    {
        foreach (var problem in base.Validate()) yield return problem;
        if (Bitrate.Length > 0 && !BitrateText().IsMatch(Bitrate))
            yield return new OptionProblem("bitrate", $"bitrate '{Bitrate}' is not a bitrate; use bits per second with an optional k or M, e.g. 4M or 2500k.");
        if (!(Keyframes is >= 0.5 and <= 10))
            yield return new OptionProblem("keyframes", string.Create(CultureInfo.InvariantCulture, $"keyframes is {Keyframes} s; use 0.5 to 10 seconds, e.g. 2."));
        if (Reconnect < 0)
            yield return new OptionProblem("reconnect", $"reconnect is {Reconnect}; use 0 (no reconnecting) or how many tries in a row, e.g. 5.");
    }

    /// <summary>The bitrate in bits per second; 0 when unset.</summary>
    public double BitsPerSecond => Bitrate.Length == 0 ? 0
        : double.Parse(Bitrate.TrimEnd('k', 'K', 'm', 'M'), CultureInfo.InvariantCulture) * char.ToLowerInvariant(Bitrate[^1]) switch { 'k' => 1e3, 'm' => 1e6, _ => 1 };

    [GeneratedRegex("^[0-9]+(\\.[0-9]+)?[kKmM]?$")]
    private static partial Regex BitrateText();
}
