using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Zones;

namespace InlineSigner.Storage;

/// <summary>RRset-level changes to one stored zone version (unsigned or signed).</summary>
public sealed record RRsetChanges(
    IReadOnlyList<RRset> Upserts,
    IReadOnlyList<(DomainName Owner, RecordType Type)> Removals,
    bool ReplaceAll = false)
{
    public static RRsetChanges None { get; } = new([], []);

    /// <summary>Replaces everything stored with the RRsets of <paramref name="zone"/> (initial load, AXFR).</summary>
    public static RRsetChanges Replace(Zone zone) => new(zone.RRsets.ToList(), [], ReplaceAll: true);

    public bool IsEmpty => !ReplaceAll && Upserts.Count == 0 && Removals.Count == 0;
}

/// <summary>One IXFR step of the signed zone: exactly the records removed and added, SOAs included (RFC 1995).</summary>
public sealed record JournalDelta(uint FromSerial, uint ToSerial, IReadOnlyList<DnsRecordBase> Removed, IReadOnlyList<DnsRecordBase> Added);

/// <summary>Bounds on the IXFR journal of one zone; the oldest entries go first.</summary>
public sealed record JournalLimits(long MaxBytes, TimeSpan MaxAge)
{
    public static JournalLimits Default { get; } = new(64L * 1024 * 1024, TimeSpan.FromDays(14));
}

/// <summary>Everything one new version of a zone changes, committed as one transaction.</summary>
public sealed record ZoneCommit(
    DomainName Zone,
    uint UnsignedSerial,
    uint SignedSerial,
    RRsetChanges Unsigned,
    RRsetChanges Signed,
    JournalDelta? Delta,
    DateTimeOffset At,
    JournalLimits? Limits = null);

/// <summary>The last committed state of a zone.</summary>
public sealed record StoredZone(DomainName Name, uint UnsignedSerial, uint SignedSerial, DateTimeOffset LastCommit, Zone Unsigned, Zone Signed);

/// <summary>A journal entry as stored.</summary>
public sealed record StoredJournalEntry(long Sequence, JournalDelta Delta, DateTimeOffset At, long Size);
