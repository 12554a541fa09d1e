using System.Net;
using System.Net.Sockets;

namespace InlineSigner.Cli.Commands;

/// <summary>
/// The search for free ports on 127.0.0.1 that the benchmarks (<see cref="LoopbackPorts"/>) and the tests
/// (tests/Shared/FreePorts.cs, which compiles this file in) share. A port counts as free when both TCP and UDP can
/// bind it right now and it is not in <c>given</c> (a port handed out but not yet bound still looks free). Ports are
/// taken at random from <c>low</c> up to 32000, below Linux's ephemeral range (32768 and up), where any outgoing
/// connection could take a port the OS called free before the server binds it.
/// </summary>
internal static class LoopbackPortSearch
{
    /// <summary>
    /// <paramref name="count"/> consecutive free ports, lowest first, added to <paramref name="given"/>; null after 500
    /// tries. The caller holds whatever lock guards <paramref name="given"/>.
    /// </summary>
    public static int[]? Find(int count, HashSet<int> given, int low)
    {
        for (int attempt = 0; attempt < 500; attempt++)
        {
            int first = Random.Shared.Next(low, 32_000 - count);
            var ports = Enumerable.Range(first, count).ToArray();
            if (ports.Any(given.Contains) || !ports.All(IsFree)) continue;
            given.UnionWith(ports);
            return ports;
        }
        return null;
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            tcp.Bind(new IPEndPoint(IPAddress.Loopback, port));
            using var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            udp.Bind(new IPEndPoint(IPAddress.Loopback, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
