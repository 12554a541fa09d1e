using ARSoft.Tools.Net.Dns;
using InlineSigner.Protocol;
using InlineSigner.Zones;

namespace InlineSigner.Server.Inbound;

/// <summary>An IXFR whose deltas do not fit the zone we hold; the caller falls back to AXFR.</summary>
public sealed class IxfrNotApplicableException(string message) : Exception(message);

/// <summary>
/// Applies RFC 1995 deltas to the unsigned zone, strictly: each delta must start at the serial we hold, and every
/// record it deletes must exist (compared by owner, type, class and canonical RDATA). Anything else means the primary's
/// history and ours differ, so the result would be wrong: the caller drops it and asks for the whole zone.
/// </summary>
public static class IxfrApplier
{
    public static Zone Apply(Zone zone, IReadOnlyList<IxfrDelta> deltas)
    {
        foreach (var delta in deltas)
        {
            if (delta.From.SerialNumber != zone.Serial)
                throw new IxfrNotApplicableException($"IXFR delta starts at serial {delta.From.SerialNumber}, but we hold {zone.Serial}");
            if (!SerialNumber.IsNewer(delta.To.SerialNumber, delta.From.SerialNumber))
                throw new IxfrNotApplicableException($"IXFR delta goes from serial {delta.From.SerialNumber} to {delta.To.SerialNumber}, which is not newer");
            zone = ApplyOne(zone, delta);
        }
        return zone;
    }

    private static Zone ApplyOne(Zone zone, IxfrDelta delta)
    {
        var sets = new Dictionary<(ARSoft.Tools.Net.DomainName Owner, RecordType Type), List<DnsRecordBase>>(OwnerTypeComparer.Instance);
        List<DnsRecordBase> Current(DnsRecordBase record)
        {
            var key = (record.Name, record.RecordType);
            if (!sets.TryGetValue(key, out var list))
                sets[key] = list = zone.Find(record.Name, record.RecordType)?.Records.ToList() ?? [];
            return list;
        }
        foreach (var record in delta.Deleted)
        {
            if (record.RecordType == RecordType.Soa) continue; // the SOA is replaced by the delta's new one
            var list = Current(record);
            var rdata = RecordWire.CanonicalRData(record);
            int index = list.FindIndex(r => r.RecordClass == record.RecordClass && RecordWire.CanonicalRData(r).AsSpan().SequenceEqual(rdata));
            if (index < 0)
                throw new IxfrNotApplicableException($"IXFR delta {delta.From.SerialNumber}->{delta.To.SerialNumber} deletes {record.Name} {record.RecordType}, which we do not hold");
            list.RemoveAt(index);
        }
        foreach (var record in delta.Added)
        {
            if (record.RecordType == RecordType.Soa) continue;
            var list = Current(record);
            var rdata = RecordWire.CanonicalRData(record);
            // Adding a record that exists changes nothing but its TTL (RFC 2136 §3.4.2.2 reads the same way).
            list.RemoveAll(r => RecordWire.CanonicalRData(r).AsSpan().SequenceEqual(rdata));
            list.Add(record);
        }
        var upserts = new List<RRset>();
        var removals = new List<(ARSoft.Tools.Net.DomainName, RecordType)>();
        foreach (var ((owner, type), records) in sets)
        {
            if (records.Count == 0) removals.Add((owner, type));
            // A new record's TTL wins over the old ones of its RRset, as a primary's dynamic update makes them.
            else upserts.Add(RRset.Create(records, delta.Added.FirstOrDefault(r => r.RecordType == type && CanonicalNameComparer.Instance.Equals(r.Name, owner))?.TimeToLive));
        }
        upserts.Add(RRset.Create([delta.To]));
        return zone.WithChanges(upserts, removals);
    }

    private sealed class OwnerTypeComparer : IEqualityComparer<(ARSoft.Tools.Net.DomainName Owner, RecordType Type)>
    {
        public static OwnerTypeComparer Instance { get; } = new();

        public bool Equals((ARSoft.Tools.Net.DomainName Owner, RecordType Type) x, (ARSoft.Tools.Net.DomainName Owner, RecordType Type) y) =>
            x.Type == y.Type && CanonicalNameComparer.Instance.Equals(x.Owner, y.Owner);

        public int GetHashCode((ARSoft.Tools.Net.DomainName Owner, RecordType Type) obj) =>
            HashCode.Combine(CanonicalNameComparer.Instance.GetHashCode(obj.Owner), obj.Type);
    }
}
