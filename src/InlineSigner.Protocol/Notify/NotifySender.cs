using System.Net;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Protocol.Transfer;
using InlineSigner.Protocol.Wire;
using InlineSigner.Zones;

namespace InlineSigner.Protocol;

/// <summary>
/// Sends NOTIFY (RFC 1996) to a secondary over UDP: opcode 4, AA set, the zone's SOA in the answer section (as BIND sends
/// it, so secondaries may skip their SOA query), optionally signed with TSIG. One attempt per call: retries and their
/// spacing are the caller's policy.
/// </summary>
public sealed class NotifySender
{
    private readonly TimeProvider _clock;

    public NotifySender(TimeProvider? clock = null) => _clock = clock ?? TimeProvider.System;

    /// <summary>Sends one NOTIFY and waits for the response with the same ID and opcode.</summary>
    /// <returns>The response's RCODE (NOERROR when the secondary took it; NOTAUTH or REFUSED when it does not serve the zone
    /// from us).</returns>
    /// <exception cref="NotifyException">No response within <paramref name="timeout"/>, a malformed one, or TSIG failure
    /// (our signature rejected, or the response not verifying).</exception>
    public async Task<ReturnCode> SendNotifyAsync(IPEndPoint target, DomainName zone, SoaRecord soa, TsigKey? key, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(zone);
        ArgumentNullException.ThrowIfNull(soa);
        if (timeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "the timeout must be positive");
        if (!CanonicalNameComparer.Instance.Equals(soa.Name, zone))
            throw new ArgumentException($"the SOA of {soa.Name} is not the SOA of zone {zone}", nameof(soa));

        ushort id = QueryBuilder.NewId();
        var message = QueryBuilder.Build(id, OperationCode.Notify, authoritative: true, zone, RecordType.Soa, answer: soa);
        TsigSignedRequest? signed = key is null ? null : TsigClient.SignRequest(message, key, _clock.GetUtcNow());
        using var verifier = signed?.CreateResponseVerifier();
        byte[] buffer;
        int length;
        try
        {
            (buffer, length) = await UdpExchange.ExchangeAsync(target, signed?.Message ?? message, (b, n) => IsResponse(b, n, id), timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (StreamFailureException e)
        {
            throw Fail(target, zone, e.Failure == ReadFailure.Timeout ? DnsFailure.Timeout : DnsFailure.Network, e.Message, null, e);
        }
        var code = MessageHeader.Read(buffer.AsSpan(0, length)).ReturnCode;
        try
        {
            if (verifier is not null)
            {
                length = verifier.Verify(buffer, length, _clock.GetUtcNow());
                verifier.Complete();
            }
            var reader = new MessageReader(buffer, length);
            if (reader.Header.QuestionCount > 1) throw Fail(target, zone, DnsFailure.Malformed, $"the response has {reader.Header.QuestionCount} questions", code);
            if (reader.Header.QuestionCount == 1)
            {
                var (name, type, _) = reader.ReadQuestion();
                if (!CanonicalNameComparer.Instance.Equals(name, zone) || type != RecordType.Soa)
                    throw Fail(target, zone, DnsFailure.Malformed, $"the response's question is {name} {type}, not {zone} SOA", code);
            }
        }
        catch (TsigException e)
        {
            string what = e.ReportedByServer || code == ReturnCode.NoError
                ? $"TSIG: {e.Message}"
                : $"the secondary answered {ZoneTransferClient.RcodeText(code)} without a verifiable TSIG signature ({e.Message})";
            throw Fail(target, zone, DnsFailure.Tsig, what, e.ReportedByServer ? e.Error : code, e);
        }
        catch (DnsFormatException e)
        {
            throw Fail(target, zone, DnsFailure.Malformed, $"unreadable response: {e.Message}", code, e);
        }
        return code;
    }

    private static bool IsResponse(byte[] buffer, int length, ushort id)
    {
        if (length < MessageHeader.Length) return false;
        var header = MessageHeader.Read(buffer.AsSpan(0, length));
        return header.Id == id && header.IsResponse && header.OperationCode == OperationCode.Notify;
    }

    private static NotifyException Fail(IPEndPoint target, DomainName zone, DnsFailure failure, string what, ReturnCode? code, Exception? inner = null) =>
        new($"NOTIFY for {zone} to {target}: {what}", target, zone, failure, code, inner);
}
