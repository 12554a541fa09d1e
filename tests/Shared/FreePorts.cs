using System.Net;
using System.Net.Sockets;

namespace InlineSigner.Tests.Shared;

/// <summary>
/// Ports for the servers a test starts (BIND, NSD, Knot, nodes, our daemon). Never hard-coded: other processes on the
/// machine hold common ones. A port is handed out only when both TCP and UDP can bind it on 127.0.0.1 right now, and
/// never twice in one test run, so parallel tests do not collide with each other. Ranges are taken below Linux's ephemeral ports (32768+), which outgoing connections grab at any moment.
/// </summary>
public static class FreePorts
{
    private static readonly HashSet<int> Given = [];
    private static readonly object Gate = new();

    /// <summary>One free port (TCP and UDP).</summary>
    public static int Get() => GetRange(1)[0];

    /// <summary><paramref name="count"/> consecutive free ports, lowest first (for configurations that number ports from a base).</summary>
    public static int[] GetRange(int count)
    {
        lock (Gate)
        {
            for (int attempt = 0; attempt < 500; attempt++)
            {
                int first = Random.Shared.Next(10_000, 32_000 - count);
                var ports = Enumerable.Range(first, count).ToArray();
                if (ports.Any(Given.Contains) || !ports.All(IsFree)) continue;
                foreach (var port in ports) Given.Add(port);
                return ports;
            }
        }
        throw new InvalidOperationException($"no {count} consecutive free ports found on 127.0.0.1");
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
