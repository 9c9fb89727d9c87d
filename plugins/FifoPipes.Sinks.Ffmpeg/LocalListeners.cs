using System.Net;
using System.Net.NetworkInformation;

namespace FifoPipes.Sinks.Ffmpeg;

/// <summary>
/// This machine's table of listening sockets: whether something waits at a port of its own, found without connecting.
/// A player listening there (ffplay 'tcp://...?listen', an SRT listener) takes one connection, which a try would use up.
/// </summary>
static class LocalListeners
{
    /// <summary>The address of <paramref name="host"/> where it names this machine (localhost, loopback, 0.0.0.0); null for another machine.</summary>
    public static IPAddress? OwnAddress(string host)
    {
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase)) return IPAddress.Loopback;
        if (!IPAddress.TryParse(host, out var address)) return null;
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        return IPAddress.IsLoopback(address) || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any) ? address : null;
    }

    /// <summary>
    /// Whether a socket here takes what is sent to this machine's <paramref name="port"/> (TCP, or UDP for SRT); null
    /// where the table cannot be read (not every system gives it). A socket bound to the port on another of the
    /// machine's addresses counts too: a wrong "nothing listens" refuses a stream that works, a wrong "something does" only
    /// leaves the run to find out.
    /// </summary>
    public static bool? AnyAt(int port, bool udp)
    {
        try
        {
            var properties = IPGlobalProperties.GetIPGlobalProperties();
            return (udp ? properties.GetActiveUdpListeners() : properties.GetActiveTcpListeners()).Any(listener => listener.Port == port);
        }
        catch (Exception ex) when (ex is NetworkInformationException or PlatformNotSupportedException or UnauthorizedAccessException or IOException)
        {
            return null;
        }
    }
}
