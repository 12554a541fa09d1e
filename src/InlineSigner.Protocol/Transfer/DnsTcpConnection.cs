using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace InlineSigner.Protocol.Transfer;

/// <summary>The ways a stream read can end without a message.</summary>
internal enum ReadFailure
{
    Timeout,
    ClosedBetweenMessages,
    ClosedInsideMessage,
    Network,
}

/// <summary>A stream read or connect failed; the transfer client turns it into its typed error with context.</summary>
internal sealed class StreamFailureException(ReadFailure failure, string message, Exception? inner = null) : Exception(message, inner)
{
    public ReadFailure Failure { get; } = failure;
}

/// <summary>
/// One TCP connection carrying DNS messages with 2-octet length prefixes (RFC 1035 §4.2.2, RFC 7766 §8). Each wait is
/// bounded by a timeout, told apart from the caller's cancellation.
/// </summary>
internal sealed class DnsTcpConnection : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly byte[] _prefix = new byte[2];

    private DnsTcpConnection(Socket socket) => _socket = socket;

    public static async Task<DnsTcpConnection> ConnectAsync(IPEndPoint endpoint, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(timeout);
            try
            {
                await socket.ConnectAsync(endpoint, deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new StreamFailureException(ReadFailure.Timeout, $"no TCP connection within {timeout.TotalSeconds:0.#} s");
            }
            catch (SocketException e)
            {
                throw new StreamFailureException(ReadFailure.Network, $"TCP connection failed: {e.SocketErrorCode} ({e.Message})", e);
            }
            return new DnsTcpConnection(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public async Task SendAsync(byte[] message, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var framed = new byte[message.Length + 2];
        BinaryPrimitives.WriteUInt16BigEndian(framed, (ushort)message.Length);
        message.CopyTo(framed, 2);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            int sent = 0;
            while (sent < framed.Length)
                sent += await _socket.SendAsync(framed.AsMemory(sent), SocketFlags.None, deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new StreamFailureException(ReadFailure.Timeout, $"the request could not be sent within {timeout.TotalSeconds:0.#} s");
        }
        catch (SocketException e)
        {
            throw new StreamFailureException(ReadFailure.Network, $"sending the request failed: {e.SocketErrorCode} ({e.Message})", e);
        }
    }

    /// <summary>Reads the next message into <paramref name="buffer"/> (65535 octets); returns its length.</summary>
    public async Task<int> ReceiveAsync(byte[] buffer, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            int got = await FillAsync(_prefix, 2, deadline.Token).ConfigureAwait(false);
            if (got == 0) throw new StreamFailureException(ReadFailure.ClosedBetweenMessages, "the connection was closed");
            if (got < 2) throw new StreamFailureException(ReadFailure.ClosedInsideMessage, "the connection was closed inside a length prefix");
            int length = BinaryPrimitives.ReadUInt16BigEndian(_prefix);
            got = await FillAsync(buffer, length, deadline.Token).ConfigureAwait(false);
            if (got < length)
                throw new StreamFailureException(ReadFailure.ClosedInsideMessage, $"the connection was closed after {got} of the {length} octets its length prefix announced");
            return length;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new StreamFailureException(ReadFailure.Timeout, $"no complete message arrived within {timeout.TotalSeconds:0.#} s");
        }
        catch (SocketException e)
        {
            throw new StreamFailureException(ReadFailure.Network, $"receiving failed: {e.SocketErrorCode} ({e.Message})", e);
        }
    }

    /// <summary>Reads until <paramref name="count"/> octets or the end of the stream; returns how many arrived.</summary>
    private async Task<int> FillAsync(byte[] buffer, int count, CancellationToken cancellationToken)
    {
        int got = 0;
        while (got < count)
        {
            int n = await _socket.ReceiveAsync(buffer.AsMemory(got, count - got), SocketFlags.None, cancellationToken).ConfigureAwait(false);
            if (n == 0) break;
            got += n;
        }
        return got;
    }

    public ValueTask DisposeAsync()
    {
        _socket.Dispose();
        return ValueTask.CompletedTask;
    }
}
