using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace InlineSigner.Tests.Shared.Dns;

/// <summary>One TCP connection of the fake server: the request it read, and ways to answer (well or badly).</summary>
internal sealed class FakeConnection(NetworkStream stream, byte[] request, CancellationToken stopping)
{
    public byte[] Request { get; } = request;
    public ushort RequestId => BinaryPrimitives.ReadUInt16BigEndian(Request);
    public CancellationToken Stopping { get; } = stopping;

    /// <summary>Sends one message with its 2-octet length prefix.</summary>
    public async Task SendAsync(byte[] message)
    {
        var prefix = new byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(prefix, (ushort)message.Length);
        await stream.WriteAsync(prefix, Stopping);
        await stream.WriteAsync(message, Stopping);
    }

    /// <summary>Sends octets as they are, no framing.</summary>
    public Task SendRawAsync(byte[] octets) => stream.WriteAsync(octets, Stopping).AsTask();

    /// <summary>Keeps the connection open and silent until the server stops.</summary>
    public Task HangAsync() => Task.Delay(Timeout.Infinite, Stopping);
}

/// <summary>
/// A scripted name server on 127.0.0.1 (port from the OS, TCP and UDP on the same port) for the cases no real server
/// produces: it reads one request per connection (or datagram) and lets the test answer. Disposal stops it and closes
/// every connection.
/// </summary>
internal sealed class FakeServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly UdpClient _udp;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _tcpLoop;
    private readonly Task _udpLoop;
    private readonly List<Task> _connections = [];

    public FakeServer(Func<FakeConnection, Task> onTcp, Func<byte[], byte[]?>? onUdp = null)
    {
        (_listener, _udp) = BindBoth();
        _tcpLoop = AcceptLoopAsync(onTcp);
        _udpLoop = UdpLoopAsync(onUdp);
    }

    public IPEndPoint Endpoint => (IPEndPoint)_listener.LocalEndpoint;
    public int Connections { get; private set; }

    private static (TcpListener, UdpClient) BindBoth()
    {
        for (int attempt = 0; attempt < 20; attempt++)
        {
            var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            int port = ((IPEndPoint)listener.LocalEndpoint).Port;
            try
            {
                return (listener, new UdpClient(new IPEndPoint(IPAddress.Loopback, port)));
            }
            catch (SocketException)
            {
                listener.Stop();
            }
        }
        throw new InvalidOperationException("no port free for both TCP and UDP");
    }

    private async Task AcceptLoopAsync(Func<FakeConnection, Task> onTcp)
    {
        while (!_stopping.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stopping.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            Connections++;
            lock (_connections) _connections.Add(ServeAsync(client, onTcp));
        }
    }

    private async Task ServeAsync(TcpClient client, Func<FakeConnection, Task> onTcp)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                var prefix = new byte[2];
                await stream.ReadExactlyAsync(prefix, _stopping.Token);
                var request = new byte[BinaryPrimitives.ReadUInt16BigEndian(prefix)];
                await stream.ReadExactlyAsync(request, _stopping.Token);
                await onTcp(new FakeConnection(stream, request, _stopping.Token));
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or EndOfStreamException)
            {
                // the client went away or the server is stopping: the test looks at what the client saw
            }
        }
    }

    private async Task UdpLoopAsync(Func<byte[], byte[]?>? onUdp)
    {
        while (!_stopping.IsCancellationRequested)
        {
            UdpReceiveResult received;
            try
            {
                received = await _udp.ReceiveAsync(_stopping.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            var answer = onUdp?.Invoke(received.Buffer);
            if (answer is not null) await _udp.SendAsync(answer, received.RemoteEndPoint, _stopping.Token);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        _listener.Stop();
        _udp.Dispose();
        await Task.WhenAll(_tcpLoop, _udpLoop);
        Task[] connections;
        lock (_connections) connections = [.. _connections];
        await Task.WhenAll(connections);
        _stopping.Dispose();
    }
}
