using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;

namespace InlineSigner.Zones;

/// <summary>
/// The rules a zone must satisfy before we sign or serve it: exactly one SOA, at the apex; no CNAME beside other
/// data (RRSIG/NSEC/NSEC3 excepted, RFC 2181 §10.1, RFC 4035 §2.5); every name inside the zone; one class;
/// apex NS present. A TTL mismatch inside an RRset is accepted with a warning and the RFC 2181 §5.2 fix-up
/// (every record takes the lowest TTL of its RRset), as BIND does; data below a delegation other than glue
/// is occluded and reported as a warning.
/// </summary>
public static class ZoneChecks
{
    private static readonly HashSet<RecordType> AllowedBesideCName = [RecordType.CName, RecordType.RrSig, RecordType.NSec, RecordType.NSec3];

    /// <summary>Builds a <see cref="Zone"/> from a parsed master file, enforcing the zone rules.</summary>
    public static Zone Load(MasterFile file, DomainName origin, List<ZoneWarning>? warnings = null)
    {
        var records = file.Records;
        var sourceName = file.Origins.Count > 0 ? file.Origins[0].File : "<zone>";
        RecordClass? zoneClass = null;
        for (int i = 0; i < records.Count; i++)
        {
            var record = records[i];
            var (where, line) = file.Origins[i];
            if (!record.Name.IsEqualOrSubDomainOf(origin))
                throw new ZoneFileException(where, line, $"{record.Name} is outside the zone {origin}");
            zoneClass ??= record.RecordClass;
            if (record.RecordClass != zoneClass)
                throw new ZoneFileException(where, line, $"record class {record.RecordClass} differs from the zone's class {zoneClass}");
            if (record.RecordType == RecordType.Soa && !CanonicalNameComparer.Instance.Equals(record.Name, origin))
                throw new ZoneFileException(where, line, $"SOA at {record.Name}, but the zone apex is {origin}");
        }

        var soaIndexes = Enumerable.Range(0, records.Count).Where(i => records[i].RecordType == RecordType.Soa).ToList();
        if (soaIndexes.Count == 0) throw new ZoneFileException(sourceName, 0, $"zone {origin} has no SOA record");
        if (soaIndexes.Count > 1)
        {
            var (where, line) = file.Origins[soaIndexes[1]];
            throw new ZoneFileException(where, line, $"zone {origin} has a second SOA record (first at line {file.Origins[soaIndexes[0]].Line})");
        }

        // TTL mismatches inside an RRset: warn once per RRset; Zone.FromRecords applies the lowest TTL.
        var firstByKey = new Dictionary<(DomainName, RecordType), int>(new NameTypeComparer());
        var warned = new HashSet<(DomainName, RecordType)>(new NameTypeComparer());
        for (int i = 0; i < records.Count; i++)
        {
            var key = (records[i].Name, records[i].RecordType);
            if (records[i].RecordType == RecordType.RrSig) continue;
            if (!firstByKey.TryGetValue(key, out var first)) { firstByKey[key] = i; continue; }
            if (records[first].TimeToLive != records[i].TimeToLive && warned.Add(key))
            {
                var (where, line) = file.Origins[i];
                warnings?.Add(new ZoneWarning(where, line,
                    $"TTL {records[i].TimeToLive} of {records[i].Name} {records[i].RecordType} differs from TTL {records[first].TimeToLive} at line {file.Origins[first].Line}; the RRset takes the lowest (RFC 2181 §5.2)"));
            }
        }

        var zone = Zone.FromRecords(origin, records);
        var problem = FindStructuralProblem(zone);
        if (problem is { } p)
        {
            int index = IndexOf(records, p.Owner, p.Type);
            var (where, line) = index >= 0 ? file.Origins[index] : (sourceName, 0);
            throw new ZoneFileException(where, line, p.Message);
        }
        if (warnings is not null)
        {
            foreach (var (owner, type) in OccludedData(zone))
            {
                int index = IndexOf(records, owner, type);
                var (where, line) = index >= 0 ? file.Origins[index] : (sourceName, 0);
                warnings.Add(new ZoneWarning(where, line, $"{owner} {type} is below a delegation and not glue; it is occluded and will not be signed or served"));
            }
        }
        return zone;
    }

    /// <summary>Reads and checks a zone file in one step.</summary>
    public static Zone LoadFile(string path, DomainName origin, List<ZoneWarning>? warnings = null)
    {
        var file = MasterFileReader.ReadFile(path, origin);
        warnings?.AddRange(file.Warnings);
        return Load(file, origin, warnings);
    }

    /// <summary>The first rule a zone breaks, or null. Used for zones that did not come from a file too (transfers).</summary>
    public static (DomainName Owner, RecordType Type, string Message)? FindStructuralProblem(Zone zone)
    {
        var soa = zone.Find(zone.Origin, RecordType.Soa);
        if (soa is null) return (zone.Origin, RecordType.Soa, $"zone {zone.Origin} has no SOA record at its apex");
        if (soa.Count != 1) return (zone.Origin, RecordType.Soa, $"zone {zone.Origin} has {soa.Count} SOA records");
        if (zone.Find(zone.Origin, RecordType.Ns) is null) return (zone.Origin, RecordType.Ns, $"zone {zone.Origin} has no NS records at its apex");
        foreach (var (name, node) in zone.Nodes)
        {
            if (!name.IsEqualOrSubDomainOf(zone.Origin)) return (name, node.Keys.First(), $"{name} is outside the zone {zone.Origin}");
            if (node.ContainsKey(RecordType.Soa) && !CanonicalNameComparer.Instance.Equals(name, zone.Origin))
                return (name, RecordType.Soa, $"SOA at {name}, but the zone apex is {zone.Origin}");
            if (node.TryGetValue(RecordType.CName, out var cname))
            {
                if (cname.Count > 1) return (name, RecordType.CName, $"{name} has {cname.Count} CNAME records; only one is allowed");
                var other = node.Keys.FirstOrDefault(t => !AllowedBesideCName.Contains(t));
                if (node.Keys.Any(t => !AllowedBesideCName.Contains(t)))
                    return (name, RecordType.CName, $"{name} has a CNAME beside other data ({other})");
                if (CanonicalNameComparer.Instance.Equals(name, zone.Origin))
                    return (name, RecordType.CName, $"CNAME at the zone apex {name}");
            }
            if (node.TryGetValue(RecordType.DName, out var dname) && dname.Count > 1)
                return (name, RecordType.DName, $"{name} has {dname.Count} DNAME records; only one is allowed");
        }
        return null;
    }

    /// <summary>Names strictly below a delegation (zone cut other than the apex) holding data other than glue addresses.</summary>
    public static IEnumerable<(DomainName Owner, RecordType Type)> OccludedData(Zone zone)
    {
        // Canonical order puts every name below a cut right after the cut, so one pass with the current cut suffices.
        DomainName? cut = null;
        foreach (var (name, node) in zone.Nodes)
        {
            if (cut is not null && name.IsSubDomainOf(cut))
            {
                foreach (var type in node.Keys)
                    if (type is not (RecordType.A or RecordType.Aaaa)) yield return (name, type);
                continue;
            }
            cut = !CanonicalNameComparer.Instance.Equals(name, zone.Origin) && node.ContainsKey(RecordType.Ns) ? name : null;
        }
    }

    /// <summary>Names other than the apex that hold NS records: the zone cuts.</summary>
    public static IEnumerable<DomainName> DelegationPoints(Zone zone) =>
        zone.Nodes.Where(n => n.Value.ContainsKey(RecordType.Ns) && !CanonicalNameComparer.Instance.Equals(n.Key, zone.Origin)).Select(n => n.Key);

    private static int IndexOf(IReadOnlyList<DnsRecordBase> records, DomainName owner, RecordType type)
    {
        for (int i = 0; i < records.Count; i++)
            if (records[i].RecordType == type && CanonicalNameComparer.Instance.Equals(records[i].Name, owner)) return i;
        return -1;
    }

    private sealed class NameTypeComparer : IEqualityComparer<(DomainName, RecordType)>
    {
        public bool Equals((DomainName, RecordType) x, (DomainName, RecordType) y) =>
            x.Item2 == y.Item2 && CanonicalNameComparer.Instance.Equals(x.Item1, y.Item1);

        public int GetHashCode((DomainName, RecordType) obj) => HashCode.Combine(CanonicalNameComparer.Instance.GetHashCode(obj.Item1), obj.Item2);
    }
}
