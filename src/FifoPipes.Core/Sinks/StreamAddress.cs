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

    public static bool IsAddress(string target) => SchemeOf(target) is not null;

    /// <summary>
    /// The target as it may be shown: a file path as it is; an address with its password, every path segment after the
    /// first (where RTMP services put the stream key: <c>live2/****</c>) and secret query values masked.
    /// </summary>
    public static string Display(string target)
    {
        if (!IsAddress(target)) return target;
        if (!Uri.TryCreate(target, UriKind.Absolute, out var uri)) return SchemeOf(target) + "://" + Mask; // not readable as a URI: nothing of it is safe to show
        var shown = uri.Scheme + "://";
        if (uri.UserInfo.Length > 0) shown += uri.UserInfo.Split(':')[0] + (uri.UserInfo.Contains(':') ? ":" + Mask : "") + "@";
        shown += uri.IsDefaultPort || uri.Port < 0 ? uri.Host : $"{uri.Host}:{uri.Port}";
        var segments = uri.AbsolutePath.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (segments.Length > 0) shown += "/" + string.Join('/', segments.Select((s, i) => i == 0 ? s : Mask));
        if (uri.Query.Length > 1)
            shown += "?" + string.Join('&', uri.Query[1..].Split('&').Select(pair =>
                pair.Split('=', 2) is [var key, _] && SecretKeys().IsMatch(key) ? key + "=" + Mask : pair));
        return shown;
    }

    /// <summary>Replaces every occurrence of <paramref name="target"/> in <paramref name="text"/> (ffmpeg's messages name it) by <see cref="Display"/>.</summary>
    public static string Hide(string text, string target) =>
        IsAddress(target) ? text.Replace(target, Display(target), StringComparison.Ordinal) : text;

    const string Mask = "****";

    [GeneratedRegex("^([A-Za-z][A-Za-z0-9+.-]+)://")]
    private static partial Regex Scheme();

    [GeneratedRegex("^(passphrase|streamid|key|token|pass(word)?|secret|auth.*)$", RegexOptions.IgnoreCase)]
    private static partial Regex SecretKeys();
}
