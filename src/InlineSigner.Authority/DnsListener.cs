using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace InlineSigner.Authority;

/// <summary>Settings of <see cref="DnsListener"/>.</summary>
public sealed class DnsListenerOptions
{
    /// <summary>Addresses to serve on, each over UDP and TCP. Port 0 asks the OS for a free port (the same one is then
    /// taken for UDP and TCP, see <see cref="DnsListener.BoundEndpoints"/>).</summary>
    public IList<IPEndPoint> Endpoints { get; init; } = [new IPEndPoint(IPAddress.Loopback, 5353)];

    /// <summary>A TCP connection with no request in flight is closed after this long without a new request (RFC 7766 §6.2.3).</summary>
    public TimeSpan TcpIdleTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Open TCP connections beyond this are closed at once.</summary>
    public int MaxTcpConnections { get; init; } = 256;

    /// <summary>Requests of one TCP connection handled at the same time (RFC 7766 §6.2.1.1 pipelining).</summary>
    public int MaxRequestsInFlightPerConnection { get; init; } = 16;

    /// <summary>Concurrent receive loops per UDP socket; each handles its datagram before taking the next.</summary>
    public int UdpReceiveLoops { get; init; } = Math.Max(2, Environment.ProcessorCount * 2);

    /// <summary>Called for unexpected failures of a handler (the request is dropped, the listener goes on).</summary>
    public Action<string, Exception>? OnError { get; init; }
}

/// <summary>
/// Serves DNS over UDP and TCP (RFC 1035 §4.2, RFC 7766) on the configured endpoints, passing every request to a
/// <see cref="DnsRequestDispatcher"/>. Start and stop it like a hosted service (<see cref="StartAsync"/> binds the
/// sockets, so bound ports are known when it returns; <see cref="StopAsync"/> lets requests in flight finish until its
/// token is cancelled). Malformed input never stops it.
/// </summary>
public sealed class DnsListener : IAsyncDisposable
{
    private const int MaxUdpDatagram = 65535;

    private readonly DnsRequestDispatcher _dispatcher;
    private readonly DnsListenerOptions _options;
    private readonly List<Socket> _sockets = [];
    private readonly List<Task> _loops = [];
    private readonly List<IPEndPoint> _bound = [];
    private readonly HashSet<Task> _connections = [];
    private readonly object _gate = new();
    private CancellationTokenSource? _stopping; // aborts everything
    private readonly CancellationTokenSource _draining = new(); // stops taking new requests
    private int _openConnections;

    public DnsListener(DnsRequestDispatcher dispatcher, DnsListenerOptions? options = null)
    {
        _dispatcher = dispatcher ?? throw new ArgumentNullException(nameof(dispatcher));
        _options = options ?? new DnsListenerOptions();
        if (_options.Endpoints.Count == 0) throw new ArgumentException("at least one endpoint is needed", nameof(options));
    }

    /// <summary>The endpoints actually bound (ports resolved), one per configured endpoint, each serving UDP and TCP.</summary>
    public IReadOnlyList<IPEndPoint> BoundEndpoints
    {
        get
        {
            lock (_gate) return _bound.ToArray();
        }
    }

    /// <summary>Open TCP connections right now.</summary>
    public int OpenTcpConnections => Volatile.Read(ref _openConnections);

    /// <summary>Binds every endpoint (UDP and TCP on the same port) and starts serving.</summary>
    /// <exception cref="SocketException">An endpoint cannot be bound (in use, not an address of this host…).</exception>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (_stopping is not null) throw new InvalidOperationException("the listener was already started");
        _stopping = new CancellationTokenSource();
        try
        {
            foreach (var endpoint in _options.Endpoints)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var (tcp, udp) = Bind(endpoint);
                lock (_gate) _bound.Add((IPEndPoint)tcp.LocalEndPoint!);
                var udpLocal = (IPEndPoint)udp.LocalEndPoint!;
                var token = _stopping.Token;
                _loops.Add(Task.Run(() => AcceptLoopAsync(tcp, token), CancellationToken.None));
                for (int i = 0; i < Math.Max(1, _options.UdpReceiveLoops); i++)
                    _loops.Add(Task.Run(() => UdpLoopAsync(udp, udpLocal, token), CancellationToken.None));
            }
        }
        catch
        {
            CloseSockets();
            throw;
        }
        return Task.CompletedTask;
    }

    private (Socket Tcp, Socket Udp) Bind(IPEndPoint endpoint)
    {
        // With port 0, TCP picks the port and UDP takes the same one; another process may hold it for UDP, so retry.
        for (int attempt = 0; ; attempt++)
        {
            var tcp = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            Socket? udp = null;
            try
            {
                if (endpoint.AddressFamily == AddressFamily.InterNetworkV6) tcp.DualMode = false;
                tcp.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
                tcp.Bind(endpoint);
                var port = ((IPEndPoint)tcp.LocalEndPoint!).Port;
                udp = new Socket(endpoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
                if (endpoint.AddressFamily == AddressFamily.InterNetworkV6) udp.DualMode = false;
                udp.Bind(new IPEndPoint(endpoint.Address, port));
                tcp.Listen(512);
                lock (_gate)
                {
                    _sockets.Add(tcp);
                    _sockets.Add(udp);
                }
                return (tcp, udp);
            }
            catch (SocketException) when (endpoint.Port == 0 && attempt < 20)
            {
                tcp.Dispose();
                udp?.Dispose();
            }
            catch
            {
                tcp.Dispose();
                udp?.Dispose();
                throw;
            }
        }
    }

    // ---- UDP ----

    private async Task UdpLoopAsync(Socket socket, IPEndPoint local, CancellationToken stopping)
    {
        var buffer = GC.AllocateUninitializedArray<byte>(MaxUdpDatagram, pinned: true);
        var address = new SocketAddress(local.AddressFamily);
        var sink = new UdpSink(socket);
        while (!stopping.IsCancellationRequested)
        {
            int received;
            try
            {
                received = await socket.ReceiveFromAsync(buffer, SocketFlags.None, address, stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e) when (_draining.IsCancellationRequested || e.SocketErrorCode is SocketError.OperationAborted or SocketError.Shutdown or SocketError.NotSocket)
            {
                return; // the socket was closed: we are stopping
            }
            catch (SocketException)
            {
                continue; // ICMP errors from earlier sends, oversized datagrams: they concern one client only
            }
            var remote = (IPEndPoint)local.Create(address);
            sink.Remote = remote;
            try
            {
                await _dispatcher.DispatchAsync(new ArraySegment<byte>(buffer, 0, received), DnsTransport.Udp, remote, local, sink, stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // one bad request must not stop the loop; the failure is reported
            catch (Exception e)
#pragma warning restore CA1031
            {
                Report($"UDP request from {remote}", e, DnsTransport.Udp);
            }
        }
    }

    private sealed class UdpSink(Socket socket) : IDnsResponseSink
    {
        // An EndPoint, not the receive loop's SocketAddress: SendToAsync with a SocketAddress was seen to throw
        // "Null is not a valid value for e.RemoteEndPoint" under many concurrent sends on one socket.
        public EndPoint Remote { get; set; } = null!;

        public int MaxMessageSize => MaxUdpDatagram;

        public async ValueTask SendAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken)
        {
            try
            {
                await socket.SendToAsync(message, SocketFlags.None, Remote, cancellationToken).ConfigureAwait(false);
            }
            catch (SocketException)
            {
                // The client went away or its address is unreachable: UDP has nobody to tell.
            }
        }
    }

    // ---- TCP ----

    private async Task AcceptLoopAsync(Socket listener, CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException) when (!stopping.IsCancellationRequested)
            {
                continue; // a connection reset before we took it
            }
            catch (SocketException)
            {
                return;
            }
            if (Interlocked.Increment(ref _openConnections) > _options.MaxTcpConnections)
            {
                Interlocked.Decrement(ref _openConnections);
                _dispatcher.Metrics.Dropped(DropReason.ConnectionLimit, DnsTransport.Tcp);
                client.Dispose();
                continue;
            }
            client.NoDelay = true;
            var connection = Task.Run(() => ServeConnectionAsync(client, stopping), CancellationToken.None);
            lock (_gate) _connections.Add(connection);
            _ = connection.ContinueWith(t =>
            {
                lock (_gate) _connections.Remove(t);
            }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    private async Task ServeConnectionAsync(Socket client, CancellationToken stopping)
    {
        IPEndPoint remote, local;
        try
        {
            remote = (IPEndPoint)client.RemoteEndPoint!;
            local = (IPEndPoint)client.LocalEndPoint!;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            client.Dispose(); // gone before we looked at it
            Interlocked.Decrement(ref _openConnections);
            return;
        }
        using var connectionClosed = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        using var reading = CancellationTokenSource.CreateLinkedTokenSource(connectionClosed.Token, _draining.Token);
        var sink = new TcpSink(client);
        using var slots = new SemaphoreSlim(_options.MaxRequestsInFlightPerConnection);
        var inFlight = new List<Task>();
        var lengthPrefix = new byte[2];
        try
        {
            while (!reading.IsCancellationRequested)
            {
                // Wait for the next request; a connection idle with nothing in flight is closed.
                int got = 0;
                while (got < 2)
                {
                    int n = await ReceiveWithIdleTimeoutAsync(client, lengthPrefix.AsMemory(got), () => slots.CurrentCount < _options.MaxRequestsInFlightPerConnection, reading.Token).ConfigureAwait(false);
                    if (n == 0) return; // closed by the client, or idle
                    got += n;
                }
                int length = BinaryPrimitives.ReadUInt16BigEndian(lengthPrefix);
                if (length == 0) return; // not a DNS message: the framing is lost
                var message = ArrayPool<byte>.Shared.Rent(length);
                if (!await ReceiveExactlyAsync(client, message.AsMemory(0, length), reading.Token).ConfigureAwait(false))
                {
                    ArrayPool<byte>.Shared.Return(message);
                    return;
                }
                try
                {
                    await slots.WaitAsync(reading.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    ArrayPool<byte>.Shared.Return(message);
                    throw;
                }
                inFlight.RemoveAll(t => t.IsCompleted);
                inFlight.Add(HandleTcpRequestAsync(message, length, remote, local, sink, slots, connectionClosed));
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
        finally
        {
            try
            {
                await Task.WhenAll(inFlight).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // each request reported its own failure
            catch (Exception)
#pragma warning restore CA1031
            {
            }
            try { client.Shutdown(SocketShutdown.Both); } catch (SocketException) { } catch (ObjectDisposedException) { }
            client.Dispose();
            sink.Dispose();
            Interlocked.Decrement(ref _openConnections);
        }
    }

    private async Task HandleTcpRequestAsync(byte[] message, int length, IPEndPoint remote, IPEndPoint local, TcpSink sink,
        SemaphoreSlim slots, CancellationTokenSource connection)
    {
        await Task.Yield(); // let the reader go on to the next pipelined request
        try
        {
            await _dispatcher.DispatchAsync(new ArraySegment<byte>(message, 0, length), DnsTransport.Tcp, remote, local, sink, connection.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (connection.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or IOException)
        {
            await connection.CancelAsync().ConfigureAwait(false); // the client went away mid-answer
        }
#pragma warning disable CA1031 // a failing handler closes this connection only; the failure is reported
        catch (Exception e)
#pragma warning restore CA1031
        {
            Report($"TCP request from {remote}", e, DnsTransport.Tcp);
            await connection.CancelAsync().ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(message);
            slots.Release();
        }
    }

    /// <summary>Receives into <paramref name="buffer"/>; returns 0 when the peer closed, or when the idle timeout passed
    /// while <paramref name="busy"/> says nothing is in flight (a timeout with requests in flight just waits on).</summary>
    private async Task<int> ReceiveWithIdleTimeoutAsync(Socket client, Memory<byte> buffer, Func<bool> busy, CancellationToken cancellationToken)
    {
        while (true)
        {
            using var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            idle.CancelAfter(_options.TcpIdleTimeout);
            try
            {
                return await client.ReceiveAsync(buffer, SocketFlags.None, idle.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                if (!busy()) return 0;
            }
        }
    }

    private async Task<bool> ReceiveExactlyAsync(Socket client, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        // A request that started must arrive whole within the idle timeout too (slow-loris defence).
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.TcpIdleTimeout);
        int got = 0;
        try
        {
            while (got < buffer.Length)
            {
                int n = await client.ReceiveAsync(buffer[got..], SocketFlags.None, timeout.Token).ConfigureAwait(false);
                if (n == 0) return false;
                got += n;
            }
            return true;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    private sealed class TcpSink(Socket socket) : IDnsResponseSink, IDisposable
    {
        private readonly SemaphoreSlim _writeLock = new(1, 1);

        public int MaxMessageSize => 65535;

        public async ValueTask SendAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken)
        {
            if (message.Length > 65535) throw new ArgumentException("a DNS message over TCP has at most 65535 octets", nameof(message));
            var framed = ArrayPool<byte>.Shared.Rent(message.Length + 2);
            try
            {
                BinaryPrimitives.WriteUInt16BigEndian(framed, (ushort)message.Length);
                message.CopyTo(framed.AsMemory(2));
                await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
                try
                {
                    int sent = 0;
                    while (sent < message.Length + 2)
                        sent += await socket.SendAsync(framed.AsMemory(sent, message.Length + 2 - sent), SocketFlags.None, cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    _writeLock.Release();
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(framed);
            }
        }

        public void Dispose() => _writeLock.Dispose();
    }

    // ---- lifecycle ----

    private void Report(string what, Exception e, DnsTransport transport)
    {
        _dispatcher.Metrics.Dropped(DropReason.HandlerFailure, transport);
        _options.OnError?.Invoke(what, e);
    }

    /// <summary>Stops accepting, lets requests in flight finish until <paramref name="cancellationToken"/> is cancelled,
    /// then aborts what is left.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_stopping is null) return;
        // Stop taking new work: close the listening and UDP sockets, end the receive loops, stop reading requests.
        await _draining.CancelAsync().ConfigureAwait(false);
        CloseSockets();
        Task[] connections;
        lock (_gate) connections = _connections.ToArray();
        try
        {
            await Task.WhenAll(connections).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        await _stopping.CancelAsync().ConfigureAwait(false);
        // The accept loops first: one may still register a connection it accepted as the socket closed, and that
        // connection must be in the snapshot awaited next.
        await Task.WhenAll(_loops).ConfigureAwait(false);
        lock (_gate) connections = _connections.ToArray();
        await Task.WhenAll(connections).ConfigureAwait(false);
    }

    private void CloseSockets()
    {
        lock (_gate)
        {
            foreach (var socket in _sockets) socket.Dispose();
            _sockets.Clear();
        }
    }

    private int _disposed;

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        await StopAsync(new CancellationToken(canceled: true)).ConfigureAwait(false);
        _stopping?.Dispose();
        _draining.Dispose();
    }
}
