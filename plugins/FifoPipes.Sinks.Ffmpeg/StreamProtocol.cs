using System.Net.Sockets;
using FifoPipes.Abstractions;
using FifoPipes.Core.Sinks;

namespace FifoPipes.Sinks.Ffmpeg;

/// <summary>How a stream reaches its address: the container its scheme carries, and how ffmpeg connects.</summary>
/// <param name="DefaultPort">The port where the address names none; 0 where it must name one.</param>
/// <param name="Connects">Whether the protocol makes a connection (all but UDP), which can drop, and which a check can try.</param>
public sealed record StreamProtocol(string Scheme, string Muxer, int DefaultPort, bool Connects)
{
    public const string AddressErrorId = "StreamAddressInvalid";
    public const string UnreachableErrorId = "StreamUnreachable";

    /// <summary>The schemes the stream sink sends to, as its plugin metadata lists them.</summary>
    public const string Schemes = "rtmp,rtmps,srt,udp,tcp";

    static readonly StreamProtocol[] All =
    {
        new("rtmp", "flv", 1935, true),
        new("rtmps", "flv", 443, true),
        new("srt", "mpegts", 0, true),
        new("udp", "mpegts", 0, false),
        new("tcp", "mpegts", 0, true),
    };

    /// <summary>How long the check before a run waits for a server to accept a connection.</summary>
    static readonly TimeSpan ReachTimeout = TimeSpan.FromSeconds(5);

    // ffmpeg gives up on a connection that takes no data for this long (a stalled server), rather than wait forever.
    const string StalledAfterMicroseconds = "15000000";

    /// <summary>The protocol of <paramref name="address"/> and its parts, or an error naming what is wrong with it and the form it takes.</summary>
    public static (StreamProtocol Protocol, Uri Address) Of(string address)
    {
        var shown = StreamAddress.Display(address);
        var scheme = StreamAddress.SchemeOf(address)
            ?? throw new FifoInputException(AddressErrorId, $"The stream sink sends to an address ({Listed}), not to a file ('{shown}'). Give one, e.g. {All[0].Example}.");
        var protocol = All.FirstOrDefault(p => p.Scheme == scheme)
            ?? throw new FifoInputException(AddressErrorId, $"The stream sink does not send to '{scheme}://' addresses ('{shown}'); it sends to {Listed}.");
        if (!Uri.TryCreate(address, UriKind.Absolute, out var uri) || uri.Host.Length == 0)
            throw new FifoInputException(AddressErrorId, $"'{shown}' is not an address ffmpeg can send to. Give {scheme}://host{(protocol.DefaultPort == 0 ? ":port" : "")}/..., e.g. {protocol.Example}.");
        if (uri.IsDefaultPort && protocol.DefaultPort == 0)
            throw new FifoInputException(AddressErrorId, $"'{shown}' names no port, and {scheme}:// has none of its own. Add one, e.g. {protocol.Example}.");
        return (protocol, uri);
    }

    static string Listed => string.Join(", ", All.Select(p => p.Scheme + "://"));

    string Example => Scheme switch
    {
        "rtmp" => "rtmp://a.rtmp.youtube.com/live2/<stream key>",
        "rtmps" => "rtmps://live-api-s.facebook.com:443/rtmp/<stream key>",
        "srt" => "srt://example.net:9000?streamid=<key>",
        _ => $"{Scheme}://192.168.1.20:5000",
    };

    /// <summary>Whether ffmpeg waits at the address for a player to connect (an SRT listener, a TCP or RTMP listen), instead of connecting itself.</summary>
    public static bool Listens(Uri address) =>
        StreamAddress.Settings(address).Any(s => s is ("listen", null or "1" or "2") or ("mode", "listener"));

    public IEnumerable<string> OutputArguments =>
        (Muxer == "flv" ? new[] { "-flvflags", "no_duration_filesize" } : Array.Empty<string>())
        .Concat(Connects ? new[] { "-rw_timeout", StalledAfterMicroseconds } : Array.Empty<string>())
        // A live-mode SRT socket drops what it has not sent when it closes: the stream's last frames.
        .Concat(Scheme == "srt" ? new[] { "-linger", "2" } : Array.Empty<string>());

    /// <summary>The latency an SRT connection runs with where its address sets none (libsrt's default).</summary>
    static readonly TimeSpan SrtDefaultLatency = TimeSpan.FromMilliseconds(120);

    /// <summary>
    /// How long the connection must stay up after ffmpeg has sent the last frame. An SRT receiver holds what arrives back
    /// for its latency and drops it when the sender hangs up: the stream's last frames (measured with ffmpeg 5.1: the last
    /// 120 ms at the default latency, a whole second at 1 s). The receiver may run a longer latency than the address
    /// says, so the hold is at least a second. Other protocols deliver what was sent before the connection closes.
    /// </summary>
    public TimeSpan HoldAfterLastFrame(Uri address)
    {
        if (Scheme != "srt") return TimeSpan.Zero;
        // ffmpeg's srt latencies are in microseconds.
        var latency = StreamAddress.Settings(address)
            .Select(s => s.Key is "latency" or "rcvlatency" or "peerlatency" && long.TryParse(s.Value, out var us) ? us : (long?)null)
            .OfType<long>()
            // ffmpeg takes no more than an int's microseconds (about 36 minutes).
            .Select(us => TimeSpan.FromMicroseconds(Math.Clamp(us, 0, int.MaxValue)))
            .DefaultIfEmpty(SrtDefaultLatency).Max();
        return TimeSpan.FromTicks(Math.Max(TimeSpan.FromSeconds(1).Ticks, 2 * latency.Ticks));
    }

    /// <summary>
    /// Refuses, before a run computes anything, an RTMP server that accepts no connection: a stream found dead at the
    /// first frame has cost the run's warm-up for nothing. SRT (UDP underneath) and UDP cannot be tried without sending,
    /// a listening address waits for its player, and a TCP address is most often a player listening for one connection
    /// (ffplay tcp://...?listen), which a try would use up.
    /// </summary>
    public void EnsureReachable(Uri address, string shown)
    {
        if (Scheme is not ("rtmp" or "rtmps") || Listens(address)) return;
        int port = address.IsDefaultPort ? DefaultPort : address.Port;
        string? why;
        using (var client = new TcpClient())
        {
            // DnsSafeHost: an IPv6 address without its brackets, with its zone.
            try { why = client.ConnectAsync(address.DnsSafeHost, port).Wait(ReachTimeout) ? null : $"no answer in {ReachTimeout.TotalSeconds:0} s"; }
            catch (AggregateException ex) when (ex.InnerException is SocketException socket) { why = socket.Message; }
        }
        if (why is not null)
            throw new FifoInputException(UnreachableErrorId,
                $"Nothing accepts the stream at {address.Host}:{port} ('{shown}'): {why}. Start the server, or correct the address, before the run: " +
                "its frames would be made for no one.");
    }
}
