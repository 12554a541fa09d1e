using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;

namespace InlineSigner.Authority;

/// <summary>
/// One RRset placed in a response. <see cref="Owner"/> is the name written on the wire, which differs from the records'
/// own owner for wildcard expansion (RFC 4592 §3.3.1: the records of <c>*.example</c> are answered as the query name).
/// <see cref="Ttl"/> overrides the stored TTL (negative answers cap the SOA's TTL, RFC 2308 §3).
/// <see cref="Required"/> marks additional-section data without which the response is incomplete (in-domain glue of a
/// referral, RFC 9471): when it does not fit, the response is truncated rather than sent without it.
/// </summary>
public readonly record struct ResponseRRset(DomainName Owner, SignedRRset Data, bool WithSignatures, int? Ttl = null, bool Required = false)
{
    public RecordType Type => Data.Type;
}

/// <summary>The EDNS(0) part of a response (RFC 6891): what our OPT record says.</summary>
public readonly record struct ResponseEdns(ushort UdpPayloadSize, bool DnssecOk);

/// <summary>
/// A response as the responder builds it: header fields and sections of whole RRsets, not yet encoded. Encoding
/// (name compression, size limits and truncation) is <see cref="ResponseEncoder"/>'s job, because only the transport
/// knows how much room there is.
/// </summary>
public sealed class DnsResponse
{
    public ushort Id { get; set; }
    public OperationCode OperationCode { get; set; }
    public bool IsAuthoritativeAnswer { get; set; }
    public bool RecursionDesired { get; set; }
    public bool CheckingDisabled { get; set; }

    /// <summary>The full 12-bit response code; values above 15 (BADVERS) need <see cref="Edns"/> to carry their upper bits.</summary>
    public ReturnCode ReturnCode { get; set; }

    public DnsQuestion? Question { get; set; }
    public List<ResponseRRset> Answer { get; } = [];
    public List<ResponseRRset> Authority { get; } = [];
    public List<ResponseRRset> Additional { get; } = [];

    /// <summary>Our OPT record, present exactly when the query had a valid one.</summary>
    public ResponseEdns? Edns { get; set; }

    /// <summary>The largest response the client accepts over UDP: its EDNS payload size (never below 512), or 512
    /// without EDNS (RFC 1035 §4.2.1, RFC 6891 §6.2.5), capped by the server's own limit.</summary>
    public int UdpSizeLimit { get; set; } = 512;

    /// <summary>Adds <paramref name="rrset"/> to <paramref name="section"/> unless that very RRset is already there
    /// (one NSEC may prove two things).</summary>
    internal static void AddOnce(List<ResponseRRset> section, ResponseRRset rrset)
    {
        foreach (var existing in section)
            if (ReferenceEquals(existing.Data, rrset.Data) && existing.Owner.Equals(rrset.Owner)) return;
        section.Add(rrset);
    }

    public override string ToString() =>
        $"{ReturnCode} aa={IsAuthoritativeAnswer} an={Answer.Count} ns={Authority.Count} ar={Additional.Count}";
}
