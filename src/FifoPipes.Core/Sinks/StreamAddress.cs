using System.Text.RegularExpressions;

namespace FifoPipes.Core.Sinks;

/// <summary>
/// A sink target that is a network address (<c>rtmp://host/app/key</c>, <c>srt://host:port</c>) rather than a file:
/// it is kept as written (never made an absolute path) and shown with its secrets masked, since a stream key or an SRT
/// passphrase in a log or an error message hands the channel to whoever reads it.
/// </summary>
public static partial class StreamAddress
{
    /// <summary>The scheme of an address (lower case, without "://"), or null for a file path. A one-letter scheme is a Windows drive.</summary>
    public static string? SchemeOf(string target) =>
        Scheme().Match(target) is { Success: true } m ? m.Groups[1].Value.ToLowerInvariant() : null;

    /// <summary>Whether <paramref name="target"/> is a network address (<see cref="SchemeOf"/> finds a scheme), not a file path.</summary>
    public static bool IsAddress(string target) => SchemeOf(target) is not null;

    /// <summary>
    /// The target as it may be shown: a file path as it is; an address with its password, its path after the first
    /// segment (where RTMP services put the stream key: <c>live2/****</c>; a lone segment too) and every query value but
    /// a few known to be settings (<c>mode</c>, <c>latency</c>, ...) masked: services name their tokens as they please.
    /// </summary>
    public static string Display(string target)
    {
        if (!IsAddress(target)) return target;
        if (!Uri.TryCreate(target, UriKind.Absolute, out var uri)) return SchemeOf(target) + "://" + Mask; // not readable as a URI: nothing of it is safe to show
        var shown = uri.Scheme + "://";
        if (uri.UserInfo.Length > 0) shown += uri.UserInfo.Split(':')[0] + (uri.UserInfo.Contains(':') ? ":" + Mask : "") + "@";
        shown += uri.IsDefaultPort || uri.Port < 0 ? uri.Host : $"{uri.Host}:{uri.Port}";
        var segments = Segments(uri);
        if (segments.Length > 0) shown += "/" + string.Join('/', segments.Select((s, i) => i == 0 && segments.Length > 1 ? s : Mask));
        if (uri.Query.Length > 1)
            shown += "?" + string.Join('&', Query(uri).Select(p => p.Secret ? (p.Value is null ? Mask : p.Key + "=" + Mask) : p.Pair));
        return shown;
    }

    /// <summary>
    /// <paramref name="text"/> (ffmpeg's messages name the address) with <paramref name="target"/> shown as
    /// <see cref="Display"/> does, and each secret part of it masked wherever it appears on its own.
    /// </summary>
    public static string Hide(string text, string target) => HiderOf(target)(text);

    /// <summary>
    /// <see cref="Hide"/> for one target, its parts found once: for a sink that masks every argument and message it
    /// shows. A file path is shown as it is.
    /// </summary>
    public static Func<string, string> HiderOf(string target)
    {
        if (!IsAddress(target)) return text => text;
        var shown = Display(target);
        if (!Uri.TryCreate(target, UriKind.Absolute, out var uri)) return text => text.Replace(target, shown, StringComparison.Ordinal);
        var segments = Segments(uri);
        // Short parts ("live", "1") are words of any message, not secrets worth hiding there.
        var secrets = segments.Skip(segments.Length > 1 ? 1 : 0)
            .Concat(uri.UserInfo.Split(':', 2).Skip(1))
            .Concat(Query(uri).Where(p => p.Secret).Select(p => p.Value ?? p.Key))
            .Where(x => x.Length >= 6)
            .SelectMany(x => new[] { x, Uri.UnescapeDataString(x) })
            .Distinct().OrderByDescending(x => x.Length).ToArray();
        return text =>
        {
            text = text.Replace(target, shown, StringComparison.Ordinal);
            foreach (var secret in secrets) text = text.Replace(secret, Mask, StringComparison.Ordinal);
            return text;
        };
    }

    static string[] Segments(Uri uri) => uri.AbsolutePath.Split('/', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>The address's query settings, key and value (null for a bare key), in order.</summary>
    public static IEnumerable<(string Key, string? Value)> Settings(Uri address) => Query(address).Select(p => (p.Key, p.Value));

    /// <summary>The query's pairs (a bare token has no value); all but ffmpeg's settings are secret.</summary>
    static IEnumerable<(string Pair, string Key, string? Value, bool Secret)> Query(Uri uri) =>
        uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries).Select(pair =>
        {
            var parts = pair.Split('=', 2);
            return (pair, parts[0], parts.Length == 2 ? parts[1] : null, !FfmpegSettings().IsMatch(parts[0]));
        });

    /// <summary>The address with its scheme in lower case, as ffmpeg matches protocol names; a file path as it is.</summary>
    public static string Normalised(string target) => SchemeOf(target) is { } scheme ? scheme + target[scheme.Length..] : target;

    const string Mask = "****";

    [GeneratedRegex("^([A-Za-z][A-Za-z0-9+.-]+)://")]
    private static partial Regex Scheme();

    /// <summary>Query keys of ffmpeg's protocol settings, shown as they are; any other value may be a token.</summary>
    [GeneratedRegex("^(mode|latency|rcvlatency|peerlatency|listen|listen_timeout|timeout|rw_timeout|pkt_size|payload_size|maxbw|transtype|" +
                    "tlpktdrop|nakreport|connect|ttl|localport|localaddr|buffer_size|fifo_size|overrun_nonfatal|reuse|tcp_nodelay|send_buffer_size|recv_buffer_size)$",
        RegexOptions.IgnoreCase)]
    private static partial Regex FfmpegSettings();
}
