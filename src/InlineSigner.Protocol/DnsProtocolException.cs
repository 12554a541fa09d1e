using System.Net;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;

namespace InlineSigner.Protocol;

/// <summary>What went wrong in an exchange with another name server, so that callers can react without parsing messages.</summary>
public enum DnsFailure
{
    /// <summary>The server answered REFUSED (an ACL, or a key it wants and we did not send).</summary>
    Refused,

    /// <summary>The server answered NOTAUTH without a TSIG error: it is not authoritative for the zone.</summary>
    NotAuthoritative,

    /// <summary>The server answered with another error RCODE (SERVFAIL, NOTIMP, FORMERR…).</summary>
    ServerError,

    /// <summary>TSIG failed: the server rejected our signature (BADKEY, BADSIG, BADTIME) or its answer did not verify.</summary>
    Tsig,

    /// <summary>The server did not answer (or stopped sending) within the timeout.</summary>
    Timeout,

    /// <summary>The connection could not be made or broke (refused, reset, unreachable).</summary>
    Network,

    /// <summary>The server closed the connection before the transfer was complete.</summary>
    ConnectionClosed,

    /// <summary>The answer breaks the protocol: unreadable octets, wrong ID, records out of order, serials not chaining…</summary>
    Malformed,

    /// <summary>An AXFR's closing SOA differs from its opening SOA.</summary>
    SoaMismatch,

    /// <summary>The answer carries a record whose owner is outside the zone.</summary>
    OutOfZone,

    /// <summary>The answer exceeds the configured number of records or octets.</summary>
    LimitExceeded,

    /// <summary>IXFR over TCP was answered with only the primary's newer SOA: it offers no increment, ask with AXFR.</summary>
    IxfrUnavailable,
}

/// <summary>An exchange with another name server failed. The message names the server, the zone and what is wrong.</summary>
public abstract class DnsProtocolException : Exception
{
    protected DnsProtocolException(string message, IPEndPoint server, DomainName zone, DnsFailure failure, ReturnCode? returnCode, Exception? inner)
        : base(message, inner)
    {
        Server = server;
        Zone = zone;
        Failure = failure;
        ReturnCode = returnCode;
    }

    public IPEndPoint Server { get; }
    public DomainName Zone { get; }
    public DnsFailure Failure { get; }

    /// <summary>The RCODE (or TSIG error) the server sent, when the failure is one it reported.</summary>
    public ReturnCode? ReturnCode { get; }
}

/// <summary>A zone transfer (AXFR, IXFR) or the SOA query that precedes it failed.</summary>
public sealed class ZoneTransferException : DnsProtocolException
{
    public ZoneTransferException(string message, IPEndPoint server, DomainName zone, DnsFailure failure, ReturnCode? returnCode = null, Exception? inner = null)
        : base(message, server, zone, failure, returnCode, inner)
    {
    }
}

/// <summary>A NOTIFY got no usable answer.</summary>
public sealed class NotifyException : DnsProtocolException
{
    public NotifyException(string message, IPEndPoint server, DomainName zone, DnsFailure failure, ReturnCode? returnCode = null, Exception? inner = null)
        : base(message, server, zone, failure, returnCode, inner)
    {
    }
}
