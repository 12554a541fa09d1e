using System.Net;
using System.Net.Sockets;

namespace InlineSigner.Protocol.Tests.Support;

/// <summary>Ports the OS hands out, for tools (named) that must be told a port before they bind it.</summary>
internal static class FreePort
{
    /// <summary>A port that was free on 127.0.0.1 for both TCP and UDP a moment ago (bound to 0, read, closed).</summary>
    public static int Get()
    {
        for (int attempt = 0; attempt < 20; attempt++)
        {
            using var tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            tcp.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            int port = ((IPEndPoint)tcp.LocalEndPoint!).Port;
            using var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            try
            {
                udp.Bind(new IPEndPoint(IPAddress.Loopback, port));
                return port;
            }
            catch (SocketException)
            {
                // taken for UDP: try another
            }
        }
        throw new InvalidOperationException("no port free for both TCP and UDP on 127.0.0.1");
    }
}
