using System.Net;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Authority;
using InlineSigner.Protocol;
using InlineSigner.Server.Metrics;
using InlineSigner.Zones;
using Microsoft.Extensions.Logging;

namespace InlineSigner.Server.Inbound;

/// <summary>
/// NOTIFY from hidden primaries (RFC 1996): accepted only for a zone we follow and only from its configured primary's
/// address (and, when it is TSIG-signed, only when the signature is good with the zone's key). An accepted NOTIFY is answered
/// at once (same ID, opcode NOTIFY, AA, the question echoed) and starts an SOA check; anything else is REFUSED and
/// counted. The answer never waits for the transfer.
/// </summary>
public sealed class NotifyReceiver(IReadOnlyDictionary<DomainName, PrimaryFollower> followers, IReadOnlyDictionary<DomainName, Configuration.PrimarySource> primaries,
    SignerMetrics metrics, ILogger logger, TimeProvider? time = null) : INotifyHandler
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    public async Task HandleAsync(DnsRequest request, IDnsResponseSink responses, CancellationToken cancellationToken)
    {
        var message = request.Message;
        var question = message.Questions.Count == 1 ? message.Questions[0] : null;
        var zone = question?.Name;
        var code = Decide(request, question, out string result, out var signer);
        metrics.NotifyReceived(zone is null ? "-" : NameOf(zone), result);
        if (code == ReturnCode.NoError)
        {
            logger.LogInformation("zone {Zone}: NOTIFY from {Remote}; checking the primary's SOA", NameOf(zone!), request.RemoteEndPoint);
            followers[zone!].Notified();
        }
        else
        {
            logger.LogWarning("NOTIFY for {Zone} from {Remote} refused: {Reason}", zone is null ? "(no question)" : NameOf(zone), request.RemoteEndPoint, result);
        }
        var response = new DnsResponse
        {
            Id = message.TransactionID,
            OperationCode = OperationCode.Notify,
            IsAuthoritativeAnswer = code == ReturnCode.NoError,
            ReturnCode = code,
            Question = question,
        };
        var buffer = new byte[512 + (signer?.MaxTsigLength ?? 0)];
        int length = ResponseEncoder.Encode(response, buffer, 512);
        if (signer is not null) length = signer.Sign(buffer, length); // a signed NOTIFY gets a signed answer (RFC 8945 §5.3)
        await responses.SendAsync(buffer.AsMemory(0, length), cancellationToken);
    }

    private ReturnCode Decide(DnsRequest request, DnsQuestion? question, out string result, out TsigResponseSigner? signer)
    {
        result = "refused";
        signer = null;
        if (question is null || question.RecordType != RecordType.Soa) { result = "refused_malformed"; return ReturnCode.Refused; }
        if (!followers.ContainsKey(question.Name) || !primaries.TryGetValue(question.Name, out var primary)) { result = "refused_unknown_zone"; return ReturnCode.Refused; }
        if (!SameHost(request.RemoteEndPoint.Address, primary.Endpoint.Address)) { result = "refused_not_primary"; return ReturnCode.Refused; }
        if (primary.Key is { } key)
        {
            var keys = new Dictionary<DomainName, TsigKey>(CanonicalNameComparer.Instance) { [key.Name] = key };
            var wire = request.Wire.ToArray();
            var check = TsigServer.Verify(wire, wire.Length, keys, _time.GetUtcNow(), _time);
            // A signed NOTIFY must verify; an unsigned one from the primary's address is taken, as BIND takes them (it
            // signs NOTIFY only when told to): it only triggers an SOA query, which is itself signed.
            if (check is { Verified: false }) { result = "refused_tsig"; return ReturnCode.Refused; }
            signer = check?.Signer;
        }
        result = "accepted";
        return ReturnCode.NoError;
    }

    private static string NameOf(DomainName name) => Zones.Text.PresentationFormat.FormatName(name);

    /// <summary>The same address, whether or not one of them came in as IPv4-mapped IPv6.</summary>
    private static bool SameHost(IPAddress a, IPAddress b) => (a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a).Equals(b.IsIPv4MappedToIPv6 ? b.MapToIPv4() : b);
}
