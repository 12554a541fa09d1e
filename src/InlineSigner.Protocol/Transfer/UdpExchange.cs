using System.Net;
using System.Net.Sockets;

namespace InlineSigner.Protocol.Transfer;

/// <summary>One request over UDP and the first datagram that answers it.</summary>
internal static class UdpExchange
{
    public const int MaxDatagram = 65535;

    /// <summary>
    /// Sends <paramref name="request"/> to <paramref name="server"/> from a connected socket (so only the server's datagrams
    /// arrive) and returns the first datagram <paramref name="accepts"/> takes; others (stale IDs, stray packets) are
    /// dropped while the timeout runs.
    /// </summary>
    public static async Task<(byte[] Buffer, int Length)> ExchangeAsync(IPEndPoint server, byte[] request, Func<byte[], int, bool> accepts,
        TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var socket = new Socket(server.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        var buffer = new byte[MaxDatagram];
        try
        {
            await socket.ConnectAsync(server, deadline.Token).ConfigureAwait(false);
            await socket.SendAsync(request, SocketFlags.None, deadline.Token).ConfigureAwait(false);
            while (true)
            {
                int length = await socket.ReceiveAsync(buffer, SocketFlags.None, deadline.Token).ConfigureAwait(false);
                if (accepts(buffer, length)) return (buffer, length);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new StreamFailureException(ReadFailure.Timeout, $"no answer over UDP within {timeout.TotalSeconds:0.#} s");
        }
        catch (SocketException e)
        {
            string why = e.SocketErrorCode == SocketError.ConnectionRefused ? "nothing listens there (ICMP port unreachable)" : $"{e.SocketErrorCode} ({e.Message})";
            throw new StreamFailureException(ReadFailure.Network, $"UDP exchange failed: {why}", e);
        }
    }
}
