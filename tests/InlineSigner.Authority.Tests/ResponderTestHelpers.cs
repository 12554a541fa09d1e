using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Authority;

namespace InlineSigner.Authority.Tests;

internal static class Queries
{
    public static DnsMessage Make(string name, RecordType type, bool dnssec = true, ushort? udpSize = 4096, ushort id = 4242)
    {
        var query = new DnsMessage { TransactionID = id, IsQuery = true };
        query.Questions.Add(new DnsQuestion(DomainName.Parse(name), type, RecordClass.INet));
        if (udpSize is { } size)
        {
            query.IsEDnsEnabled = true;
            query.EDnsOptions!.UdpPayloadSize = size;
            query.IsDnsSecOk = dnssec;
        }
        return query;
    }

    /// <summary>Answers through the responder and the encoder, and parses the octets back as a client would.</summary>
    public static DnsMessage Ask(QueryResponder responder, string name, RecordType type, bool dnssec = true, int limit = 65535)
    {
        var response = responder.Respond(Make(name, type, dnssec)) ?? throw new InvalidOperationException("no response");
        return DnsMessage.Parse(ResponseEncoder.Encode(response, limit));
    }

    public static IEnumerable<DnsRecordBase> OfType(this IEnumerable<DnsRecordBase> records, RecordType type) =>
        records.Where(r => r.RecordType == type);

    public static IEnumerable<RrSigRecord> SignaturesOf(this IEnumerable<DnsRecordBase> records, RecordType covered) =>
        records.OfType<RrSigRecord>().Where(r => r.TypeCovered == covered);
}
