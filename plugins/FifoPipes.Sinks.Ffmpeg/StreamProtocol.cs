using System.Net;
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
    /// Refuses, before a run computes anything, a stream that nothing takes: one found dead at the first frame has cost
    /// the run's warm-up for nothing. An RTMP server is tried with a connection. A TCP or SRT address of this machine is
    /// looked up in its table of listening sockets first (<see cref="LocalListeners"/>): a player listening there takes
    /// one connection, which a try would use up; only where nothing is listed is the address tried, to be sure. On
    /// another machine neither is tried: a TCP player there would lose its one connection just the same, and only an SRT
    /// handshake (a library of its own) tells an SRT listener from nothing. UDP has no one to refuse it, and an address
    /// where ffmpeg listens (or meets its peer half way, SRT's rendezvous) waits for the other side.
    /// </summary>
    /// <param name="extra">The sink's extra arguments: -listen 1 or -mode listener there make ffmpeg listen, as the address's settings do.</param>
    public void EnsureReachable(Uri address, string shown, IReadOnlyList<string> extra)
    {
        if (Listens(address) || ListensBy(extra) || Rendezvous(address, extra)) return;
        int port = address.IsDefaultPort ? DefaultPort : address.Port;
        var why = Scheme switch
        {
            "rtmp" or "rtmps" => TcpRefusal(address.DnsSafeHost, port),
            "tcp" when LocalListeners.OwnAddress(address.DnsSafeHost) is { } own && LocalListeners.AnyAt(port, udp: false) == false => TcpRefusal(own.ToString(), port),
            "srt" when LocalListeners.OwnAddress(address.DnsSafeHost) is { } own && LocalListeners.AnyAt(port, udp: true) == false => UdpRefusal(own, port),
            _ => null,
        };
        if (why is not null)
            throw new FifoInputException(UnreachableErrorId,
                $"Nothing accepts the stream at {address.Host}:{port} ('{shown}'): {why}. Start the server{(Scheme is "tcp" or "srt" ? " or player" : "")}, " +
                "or correct the address, before the run: its frames would be made for no one.");
    }

    /// <summary>Whether extra arguments make ffmpeg wait for the other side: protocol options, as the address's settings are.</summary>
    static bool ListensBy(IReadOnlyList<string> extra) =>
        extra.Zip(extra.Skip(1)).Any(option => option is ("-listen", not "0") or ("-mode", "listener"));

    /// <summary>An SRT rendezvous: both sides call each other, and the other may come later.</summary>
    static bool Rendezvous(Uri address, IReadOnlyList<string> extra) =>
        StreamAddress.Settings(address).Any(s => s is ("mode", "rendezvous")) || extra.Zip(extra.Skip(1)).Any(option => option is ("-mode", "rendezvous"));

    /// <summary>Why a TCP connection to <paramref name="host"/> cannot be made; null where it was.</summary>
    static string? TcpRefusal(string host, int port)
    {
        using var client = new TcpClient();
        try { return client.ConnectAsync(host, port).Wait(ReachTimeout) ? null : $"no answer in {ReachTimeout.TotalSeconds:0} s"; }
        catch (AggregateException ex) when (ex.InnerException is SocketException socket) { return socket.Message; }
    }

    /// <summary>How long an empty datagram waits for this machine to say that no socket takes it.</summary>
    static readonly TimeSpan RefusalWait = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// Why this machine takes no datagram at <paramref name="port"/> (it answers one with "port unreachable"); null where
    /// it said nothing: something took the datagram, which, empty, an SRT listener drops as no handshake of its.
    /// </summary>
    static string? UdpRefusal(IPAddress own, int port)
    {
        using var socket = new Socket(own.AddressFamily, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = (int)RefusalWait.TotalMilliseconds };
        try
        {
            socket.Connect(own, port);
            socket.Send(Array.Empty<byte>());
            socket.Receive(new byte[1]);
            return null;
        }
        // Windows reports the answer as a reset.
        catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionRefused or SocketError.ConnectionReset) { return ex.Message; }
        catch (SocketException) { return null; }
    }
}
