using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace InlineSigner.Server.Tests.Support;

/// <summary>The header of a DNS response as the tests look at it.</summary>
public readonly record struct RawResponse(ushort Id, bool Authoritative, bool AuthenticData, int ReturnCode, int Answers)
{
    public static RawResponse Read(ReadOnlySpan<byte> message) => new(
        BinaryPrimitives.ReadUInt16BigEndian(message),
        (message[2] & 0x04) != 0,
        (message[3] & 0x20) != 0,
        message[3] & 0x0F,
        BinaryPrimitives.ReadUInt16BigEndian(message[6..]));
}

/// <summary>
/// DNS queries built octet by octet and sent over one UDP datagram or one TCP connection, so a test knows exactly how many
/// requests reached the daemon (dig retries on its own) and can send what no well-behaved client would.
/// </summary>
public static class RawDns
{
    /// <summary>A query for <paramref name="name"/>/<paramref name="type"/>, class IN, RD clear; with an OPT record
    /// (1232 octets, DO set) when <paramref name="dnssecOk"/>.</summary>
    public static byte[] Query(ushort id, string name, ushort type, bool dnssecOk = false)
    {
        var message = new List<byte>();
        var header = new byte[12];
        BinaryPrimitives.WriteUInt16BigEndian(header, id);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(4), 1);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(10), (ushort)(dnssecOk ? 1 : 0));
        message.AddRange(header);
        message.AddRange(Name(name));
        message.AddRange([(byte)(type >> 8), (byte)type, 0, 1]);
        if (dnssecOk) message.AddRange([0, 0, 41, 0x04, 0xD0, 0, 0, 0x80, 0, 0, 0]);
        return [.. message];
    }

    /// <summary><paramref name="name"/> in wire form, uncompressed.</summary>
    public static byte[] Name(string name)
    {
        var wire = new List<byte>();
        foreach (var label in name.TrimEnd('.').Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            var octets = Encoding.ASCII.GetBytes(label);
            wire.Add((byte)octets.Length);
            wire.AddRange(octets);
        }
        wire.Add(0);
        return [.. wire];
    }

    /// <summary>Sends one datagram and returns the first answer with the same ID, or null after <paramref name="timeout"/>.</summary>
    public static async Task<byte[]?> UdpAsync(IPEndPoint server, byte[] request, TimeSpan timeout)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        await socket.ConnectAsync(server);
        await socket.SendAsync(request, SocketFlags.None);
        using var deadline = new CancellationTokenSource(timeout);
        var buffer = new byte[65535];
        try
        {
            while (true)
            {
                int n = await socket.ReceiveAsync(buffer, SocketFlags.None, deadline.Token);
                if (n >= 12 && request.Length >= 2 && buffer[0] == request[0] && buffer[1] == request[1]) return buffer[..n];
            }
        }
        catch (OperationCanceledException)
        {
            return null;
        }
        catch (SocketException)
        {
            return null; // port unreachable: nobody listens any more
        }
    }

    /// <summary>Sends one length-prefixed message on a new TCP connection and returns the first message back, or null.</summary>
    public static async Task<byte[]?> TcpAsync(IPEndPoint server, byte[] request, TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(server, deadline.Token);
            var framed = new byte[request.Length + 2];
            BinaryPrimitives.WriteUInt16BigEndian(framed, (ushort)request.Length);
            request.CopyTo(framed, 2);
            await socket.SendAsync(framed, SocketFlags.None, deadline.Token);
            var prefix = new byte[2];
            if (!await ReadExactlyAsync(socket, prefix, deadline.Token)) return null;
            var message = new byte[BinaryPrimitives.ReadUInt16BigEndian(prefix)];
            return await ReadExactlyAsync(socket, message, deadline.Token) ? message : null;
        }
        catch (OperationCanceledException)
        {
            return null;
        }
        catch (SocketException)
        {
            return null;
        }
    }

    private static async Task<bool> ReadExactlyAsync(Socket socket, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        int got = 0;
        while (got < buffer.Length)
        {
            int n = await socket.ReceiveAsync(buffer[got..], SocketFlags.None, cancellationToken);
            if (n == 0) return false;
            got += n;
        }
        return true;
    }
}
