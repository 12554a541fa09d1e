using System.Collections.Concurrent;
using ARSoft.Tools.Net.Dns;

namespace InlineSigner.Authority;

/// <summary>Why a request got no answer at all.</summary>
public enum DropReason
{
    /// <summary>Shorter than a DNS header, or its header says it is a response.</summary>
    Unreadable,
    /// <summary>A TCP connection refused because too many were open.</summary>
    ConnectionLimit,
    /// <summary>A handler failed; the failure was reported to <see cref="DnsListenerOptions.OnError"/>.</summary>
    HandlerFailure,
}

/// <summary>What the DNS service counts. Implementations must be thread-safe and cheap: they are called per query.
/// The daemon bridges these to Prometheus; <see cref="DnsCounters"/> is the in-process implementation.</summary>
public interface IDnsMetrics
{
    /// <summary>A request answered: its QTYPE (null when it had no readable question) and the response code sent.</summary>
    void Answered(RecordType? queryType, ReturnCode returnCode, DnsTransport transport, bool truncated);

    void Dropped(DropReason reason, DnsTransport transport);

    /// <summary>A transfer request refused by the zone's ACL (or for a zone we do not serve).</summary>
    void TransferRefused(string zone);

    /// <summary>A transfer served to the end: its kind (AXFR, IXFR, or SOA-only IXFR) and the octets sent.</summary>
    void TransferServed(string zone, string kind, long octets);
}

/// <summary>Thread-safe counters implementing <see cref="IDnsMetrics"/>, readable as snapshots.</summary>
public sealed class DnsCounters : IDnsMetrics
{
    private readonly ConcurrentDictionary<(RecordType? Type, ReturnCode Code), long> _answered = new();
    private readonly ConcurrentDictionary<DropReason, long> _dropped = new();
    private readonly ConcurrentDictionary<string, long> _transfersRefused = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<(string Zone, string Kind), long> _transfersServed = new();
    private long _truncated;
    private long _transferOctets;

    public void Answered(RecordType? queryType, ReturnCode returnCode, DnsTransport transport, bool truncated)
    {
        _answered.AddOrUpdate((queryType, returnCode), 1, static (_, n) => n + 1);
        if (truncated) Interlocked.Increment(ref _truncated);
    }

    public void Dropped(DropReason reason, DnsTransport transport) => _dropped.AddOrUpdate(reason, 1, static (_, n) => n + 1);

    public void TransferRefused(string zone) => _transfersRefused.AddOrUpdate(zone, 1, static (_, n) => n + 1);

    public void TransferServed(string zone, string kind, long octets)
    {
        _transfersServed.AddOrUpdate((zone, kind), 1, static (_, n) => n + 1);
        Interlocked.Add(ref _transferOctets, octets);
    }

    /// <summary>Responses sent, by QTYPE and response code.</summary>
    public IReadOnlyDictionary<(RecordType? Type, ReturnCode Code), long> AnsweredByTypeAndCode => new Dictionary<(RecordType?, ReturnCode), long>(_answered);

    public long AnsweredWith(ReturnCode code) => _answered.Where(p => p.Key.Code == code).Sum(p => p.Value);

    public long AnsweredTotal => _answered.Values.Sum();

    public long Truncated => Interlocked.Read(ref _truncated);

    public long DroppedFor(DropReason reason) => _dropped.GetValueOrDefault(reason);

    public long TransfersRefused(string zone) => _transfersRefused.GetValueOrDefault(zone);

    public long TransfersRefusedTotal => _transfersRefused.Values.Sum();

    public long TransfersServed(string zone, string kind) => _transfersServed.GetValueOrDefault((zone, kind));

    public long TransferOctets => Interlocked.Read(ref _transferOctets);
}

/// <summary>Counts nothing.</summary>
internal sealed class NoMetrics : IDnsMetrics
{
    public static readonly NoMetrics Instance = new();

    public void Answered(RecordType? queryType, ReturnCode returnCode, DnsTransport transport, bool truncated) { }
    public void Dropped(DropReason reason, DnsTransport transport) { }
    public void TransferRefused(string zone) { }
    public void TransferServed(string zone, string kind, long octets) { }
}
