using System.Buffers;
using System.Net;
using ARSoft.Tools.Net.Dns;

namespace InlineSigner.Authority;

/// <summary>
/// The request pipeline behind the listener: reads a packet, and hands it to the one component that answers it —
/// ordinary queries to the <see cref="QueryResponder"/>, AXFR/IXFR to the <see cref="ITransferHandler"/>, NOTIFY to the
/// <see cref="INotifyHandler"/>. Packets that cannot be parsed get FORMERR when their header is readable and are
/// dropped otherwise; nothing a client sends makes it throw.
/// </summary>
public sealed class DnsRequestDispatcher
{
    private readonly QueryResponder _responder;
    private readonly ITransferHandler? _transfers;
    private readonly INotifyHandler? _notifies;
    private readonly IDnsMetrics _metrics;
    private readonly ITsigVerifier? _tsig;

    /// <param name="tsig">Checks TSIG on ordinary queries and signs their answers; without it a signed query is
    /// answered unsigned, which a secondary with a key for us rejects (BIND: "expected a TSIG or SIG(0)").</param>
    public DnsRequestDispatcher(QueryResponder responder, ITransferHandler? transfers = null, INotifyHandler? notifies = null, IDnsMetrics? metrics = null,
        ITsigVerifier? tsig = null)
    {
        _responder = responder ?? throw new ArgumentNullException(nameof(responder));
        _transfers = transfers;
        _notifies = notifies;
        _metrics = metrics ?? NoMetrics.Instance;
        _tsig = tsig;
    }

    public IDnsMetrics Metrics => _metrics;

    /// <summary>Handles one request packet; responses go to <paramref name="responses"/>. Exceptions of handlers propagate
    /// (the listener reports them); malformed input never throws.</summary>
    public async ValueTask DispatchAsync(ArraySegment<byte> packet, DnsTransport transport, IPEndPoint remote, IPEndPoint local,
        IDnsResponseSink responses, CancellationToken cancellationToken)
    {
        if (packet.Count < 12 || (packet[2] & 0x80) != 0)
        {
            _metrics.Dropped(DropReason.Unreadable, transport); // no header, or a response: answering could start a loop
            return;
        }
        DnsMessage message;
        try
        {
            message = DnsMessage.Parse(packet);
        }
#pragma warning disable CA1031 // untrusted octets: whatever the parser throws means "malformed", and the client gets FORMERR
        catch (Exception)
#pragma warning restore CA1031
        {
            await SendAsync(QueryResponder.FormatErrorFor(packet)!, null, transport, responses, null, cancellationToken).ConfigureAwait(false);
            return;
        }

        var opcode = message.OperationCode;
        var qtype = message.Questions.Count == 1 ? message.Questions[0].RecordType : (RecordType?)null;
        if (opcode == OperationCode.Notify)
        {
            if (_notifies is not null)
            {
                await _notifies.HandleAsync(new DnsRequest(message, packet, transport, remote, local), responses, cancellationToken).ConfigureAwait(false);
                return;
            }
            await SendAsync(Refusal(message, ReturnCode.Refused), qtype, transport, responses, null, cancellationToken).ConfigureAwait(false);
            return;
        }
        if (opcode == OperationCode.Query && qtype is RecordType.Axfr or RecordType.Ixfr && message.IsQuery)
        {
            if (_transfers is not null)
            {
                await _transfers.HandleAsync(new DnsRequest(message, packet, transport, remote, local), responses, cancellationToken).ConfigureAwait(false);
                return;
            }
            await SendAsync(Refusal(message, ReturnCode.Refused), qtype, transport, responses, null, cancellationToken).ConfigureAwait(false);
            return;
        }
        // RFC 8945 §5.3: a signed query gets a signed answer (secondaries sign the SOA query of every refresh and check
        // the answer's signature before they transfer); a signature that fails gets the TSIG error instead of data
        // (§5.2). Only a request with additional records can carry TSIG, so unsigned queries cost nothing more.
        TsigCheck? tsig = _tsig is not null && (packet[10] | packet[11]) != 0
            ? _tsig.Check(new DnsRequest(message, packet, transport, remote, local))
            : null;
        if (tsig is { Verified: false })
        {
            var code = tsig.Error == ReturnCode.FormatError ? ReturnCode.FormatError : ReturnCode.NotAuthoritive;
            await SendAsync(Refusal(message, code), qtype, transport, responses, tsig.Signer, cancellationToken).ConfigureAwait(false);
            return;
        }
        var response = _responder.Respond(message);
        if (response is null)
        {
            _metrics.Dropped(DropReason.Unreadable, transport);
            return;
        }
        await SendAsync(response, qtype, transport, responses, tsig?.Signer, cancellationToken).ConfigureAwait(false);
    }

    private static DnsResponse Refusal(DnsMessage message, ReturnCode code) => new()
    {
        Id = message.TransactionID,
        OperationCode = message.OperationCode,
        RecursionDesired = message.IsRecursionDesired,
        Question = message.Questions.Count == 1 ? message.Questions[0] : null,
        ReturnCode = code,
    };

    private async ValueTask SendAsync(DnsResponse response, RecordType? qtype, DnsTransport transport, IDnsResponseSink responses, ITsigResponseSigner? signer,
        CancellationToken cancellationToken)
    {
        int limit = transport == DnsTransport.Udp ? Math.Min(response.UdpSizeLimit, responses.MaxMessageSize) : responses.MaxMessageSize;
        // Room for the TSIG record is kept out of the limit, so a signed answer is truncated before it overflows
        // (RFC 8945 §5.3); the encoder never goes below 512 octets, as the transfer server's signed errors do not either.
        int room = signer?.MaxTsigLength ?? 0;
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(512, limit) + room);
        try
        {
            int length = ResponseEncoder.Encode(response, buffer, Math.Max(512, limit - room));
            if (signer is not null) length = signer.Sign(buffer, length);
            _metrics.Answered(qtype, response.ReturnCode, transport, truncated: (buffer[2] & 0x02) != 0);
            await responses.SendAsync(buffer.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
