using System.Collections.Immutable;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;

namespace InlineSigner.Zones;

/// <summary>
/// An immutable RRset: records of one owner, type and class, held in canonical order (RFC 4034 §6.3)
/// without duplicates, with one TTL. The canonical RDATA of every record is kept beside it because
/// signing, ZONEMD and diffs all need it and computing it again is the hot path of a large zone.
/// </summary>
public sealed class RRset
{
    private RRset(DomainName owner, RecordType type, RecordClass recordClass, int ttl,
        ImmutableArray<DnsRecordBase> records, ImmutableArray<byte[]> canonicalRData)
    {
        Owner = owner;
        Type = type;
        Class = recordClass;
        Ttl = ttl;
        Records = records;
        CanonicalRData = canonicalRData;
    }

    public DomainName Owner { get; }
    public RecordType Type { get; }
    public RecordClass Class { get; }
    public int Ttl { get; }

    /// <summary>The records, in canonical order. Each record's own TTL equals <see cref="Ttl"/>, except in the RRSIG
    /// set of a name, where each signature keeps the TTL of the RRset it covers and <see cref="Ttl"/> is the lowest.</summary>
    public ImmutableArray<DnsRecordBase> Records { get; }

    /// <summary>Canonical RDATA of each record, index for index with <see cref="Records"/>.</summary>
    public ImmutableArray<byte[]> CanonicalRData { get; }

    public int Count => Records.Length;

    /// <summary>
    /// Builds an RRset from records that share owner, type and class. The TTL is <paramref name="ttl"/> when
    /// given, otherwise the lowest TTL among the records (the RFC 2181 §5.2 fix-up); callers that want a TTL
    /// mismatch to be an error check it before (see <see cref="ZoneChecks"/>).
    /// </summary>
    public static RRset Create(IEnumerable<DnsRecordBase> records, int? ttl = null)
    {
        // Most RRsets of a zone hold one record; skip the sorting machinery for them (zone loading spends its time here).
        if (records is IReadOnlyList<DnsRecordBase> { Count: 1 } single)
        {
            var record = single[0];
            int setTtl = ttl ?? record.TimeToLive;
            var kept = record.TimeToLive == setTtl || record.RecordType == RecordType.RrSig ? record : WithTtl(record, setTtl);
            return new RRset(record.Name, record.RecordType, record.RecordClass, setTtl, [kept], [RecordWire.CanonicalRData(record)]);
        }
        var sorted = RecordOrder.SortAndDeduplicate(records);
        if (sorted.Count == 0) throw new ArgumentException("an RRset needs at least one record", nameof(records));
        var first = sorted[0].Record;
        // RRSIG records at one name cover different RRsets and keep each its own TTL (RFC 4034 §3, RFC 2181 §5.2 does not apply).
        bool keepTtls = first.RecordType == RecordType.RrSig;
        int effectiveTtl = ttl ?? sorted.Min(r => r.Record.TimeToLive);
        var builder = ImmutableArray.CreateBuilder<DnsRecordBase>(sorted.Count);
        var rdata = ImmutableArray.CreateBuilder<byte[]>(sorted.Count);
        foreach (var (record, canonical) in sorted)
        {
            if (record.RecordType != first.RecordType || record.RecordClass != first.RecordClass ||
                !CanonicalNameComparer.Instance.Equals(record.Name, first.Name))
                throw new ArgumentException($"record {record} does not belong to RRset {first.Name} {first.RecordType}");
            builder.Add(keepTtls || record.TimeToLive == effectiveTtl ? record : WithTtl(record, effectiveTtl));
            rdata.Add(canonical);
        }
        return new RRset(first.Name, first.RecordType, first.RecordClass, effectiveTtl, builder.MoveToImmutable(), rdata.MoveToImmutable());
    }

    /// <summary>A copy of <paramref name="record"/> with another TTL (ARSoft records are immutable).</summary>
    public static DnsRecordBase WithTtl(DnsRecordBase record, int ttl) =>
        RecordWire.FromRData(record.Name, record.RecordType, record.RecordClass, ttl, RecordWire.RData(record));

    /// <summary>True when both hold the same records (canonical RDATA) with the same TTL.</summary>
    public bool ContentEquals(RRset other)
    {
        if (ReferenceEquals(this, other)) return true;
        if (Type != other.Type || Class != other.Class || Ttl != other.Ttl || Count != other.Count) return false;
        if (!CanonicalNameComparer.Instance.Equals(Owner, other.Owner)) return false;
        for (int i = 0; i < Count; i++)
        {
            if (!CanonicalRData[i].AsSpan().SequenceEqual(other.CanonicalRData[i])) return false;
            if (Records[i].TimeToLive != other.Records[i].TimeToLive) return false;
        }
        return true;
    }

    public override string ToString() => $"{Owner} {Type} ({Count} record{(Count == 1 ? "" : "s")}, TTL {Ttl})";
}
