using ARSoft.Tools.Net.Dns;

namespace InlineSigner.Protocol;

/// <summary>One change between two versions as IXFR sends it (RFC 1995 §4): the old SOA, the records deleted, the new
/// SOA, the records added.</summary>
public sealed record IxfrDelta(SoaRecord From, IReadOnlyList<DnsRecordBase> Deleted, SoaRecord To, IReadOnlyList<DnsRecordBase> Added);

/// <summary>What an IXFR brought: nothing new, a chain of deltas, or the whole zone.</summary>
public abstract record IxfrResult
{
    private IxfrResult(SoaRecord soa) => Soa = soa;

    /// <summary>The primary's current SOA (the first record of its answer).</summary>
    public SoaRecord Soa { get; }

    /// <summary>The primary's serial is not newer than ours (RFC 1995 §2: the answer is its SOA alone).</summary>
    public sealed record UpToDate(SoaRecord Soa) : IxfrResult(Soa);

    /// <summary>Deltas, oldest first, taking our serial to <see cref="IxfrResult.Soa"/>'s; each starts where the previous ended.</summary>
    public sealed record Incremental(SoaRecord Soa, IReadOnlyList<IxfrDelta> Deltas) : IxfrResult(Soa);

    /// <summary>The primary answered AXFR-style (RFC 1995 §4): the whole zone, its SOA first, without the closing SOA.</summary>
    public sealed record Full(SoaRecord Soa, IReadOnlyList<DnsRecordBase> Records) : IxfrResult(Soa);
}
