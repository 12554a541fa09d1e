using System.Net;
using System.Net.Sockets;

namespace InlineSigner.Cli.Commands;

/// <summary>
/// Free ports on 127.0.0.1 for the processes one benchmark run starts (our daemon, nodes, BIND). One instance per run:
/// it never hands out a port twice, since a port given but not yet bound still looks free. Ports are taken below
/// Linux's ephemeral range (32768 and up), where any outgoing connection could take a port the OS called free before
/// the server binds it, and at random so parallel runs rarely collide.
/// </summary>
internal sealed class LoopbackPorts
{
    private readonly HashSet<int> _given = [];

    /// <summary>A port free for both TCP and UDP.</summary>
    public int One() => Consecutive(1)[0];

    /// <summary><paramref name="count"/> consecutive ports free for TCP and UDP (node configurations number ports from a base).</summary>
    public int[] Consecutive(int count)
    {
        lock (_given)
        {
            for (int attempt = 0; attempt < 500; attempt++)
            {
                int first = Random.Shared.Next(12_000, 32_000 - count);
                var ports = Enumerable.Range(first, count).ToArray();
                if (ports.Any(_given.Contains) || !ports.All(IsFree)) continue;
                _given.UnionWith(ports);
                return ports;
            }
        }
        throw new CliException($"no {count} free consecutive ports on 127.0.0.1 below 32000");
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
