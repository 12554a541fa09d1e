using System.Net;
using ARSoft.Tools.Net.Dns;

namespace InlineSigner.Authority;

public enum DnsTransport
{
    Udp,
    Tcp,
}

/// <summary>One request as the listener received it, for the handlers of the pipeline.</summary>
public sealed class DnsRequest
{
    public DnsRequest(DnsMessage message, ReadOnlyMemory<byte> wire, DnsTransport transport, IPEndPoint remoteEndPoint, IPEndPoint localEndPoint)
    {
        Message = message ?? throw new ArgumentNullException(nameof(message));
        Wire = wire;
        Transport = transport;
        RemoteEndPoint = remoteEndPoint ?? throw new ArgumentNullException(nameof(remoteEndPoint));
        LocalEndPoint = localEndPoint ?? throw new ArgumentNullException(nameof(localEndPoint));
    }

    public DnsMessage Message { get; }

    /// <summary>The request's octets exactly as received (TSIG is computed over them, RFC 8945 §4.3). The memory belongs
    /// to the listener and is valid only until the handler's task completes: copy what must outlive it.</summary>
    public ReadOnlyMemory<byte> Wire { get; }

    public DnsTransport Transport { get; }
    public IPEndPoint RemoteEndPoint { get; }
    public IPEndPoint LocalEndPoint { get; }
}

/// <summary>Where a handler writes its response messages: one datagram over UDP, one length-prefixed message each over
/// TCP (a transfer may send many; RFC 5936 §2.2).</summary>
public interface IDnsResponseSink
{
    /// <summary>The largest message this sink carries: the client's UDP limit, or 65535 over TCP.</summary>
    int MaxMessageSize { get; }

    ValueTask SendAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken);
}

/// <summary>Serves zone transfers: AXFR and IXFR requests (opcode QUERY, QTYPE 252/251) go here, not to the responder.
/// The handler sends every message itself (including refusals) and owns the request until its task completes.</summary>
public interface ITransferHandler
{
    Task HandleAsync(DnsRequest request, IDnsResponseSink responses, CancellationToken cancellationToken);
}

/// <summary>Receives NOTIFY requests (opcode 4, RFC 1996) and answers them (or not) through the sink.</summary>
public interface INotifyHandler
{
    Task HandleAsync(DnsRequest request, IDnsResponseSink responses, CancellationToken cancellationToken);
}
