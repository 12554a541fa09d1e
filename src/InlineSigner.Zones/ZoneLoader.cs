using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;

namespace InlineSigner.Zones;

/// <summary>
/// Turns master files into checked <see cref="Zone"/>s. Every rule of <see cref="ZoneChecks"/> that a file breaks
/// becomes a <see cref="ZoneFileException"/> naming the file and line of the offending record (line 0 when no one
/// record is to blame, e.g. a missing SOA); RRset TTL fix-ups and occluded data become <see cref="ZoneWarning"/>s.
/// </summary>
public static class ZoneLoader
{
    /// <summary>Reads <paramref name="path"/> (relative names against <paramref name="origin"/>) and checks it.
    /// <paramref name="warnings"/> receives the reader's warnings and the zone's.</summary>
    public static Zone LoadFile(string path, DomainName origin, ICollection<ZoneWarning>? warnings = null)
    {
        var file = MasterFileReader.ReadFile(path, origin);
        return Load(file, origin, warnings);
    }

    /// <summary>Checks a parsed master file and builds the zone. <paramref name="warnings"/> receives the file's
    /// warnings (<see cref="MasterFile.Warnings"/>) and the zone's.</summary>
    public static Zone Load(MasterFile file, DomainName origin, ICollection<ZoneWarning>? warnings = null)
    {
        if (warnings is not null) foreach (var warning in file.Warnings) warnings.Add(warning);
        return Check(file, origin, warnings);
    }

    /// <summary>The checks alone; the file's own warnings are left to the caller.</summary>
    internal static Zone Check(MasterFile file, DomainName origin, ICollection<ZoneWarning>? warnings)
    {
        var records = file.Records;
        var sourceName = file.Origins.Count > 0 ? file.Origins[0].File : "<zone>";

        int firstSoa = -1;
        for (int i = 0; i < records.Count; i++)
        {
            var record = records[i];
            var (where, line) = file.Origins[i];
            if (!ZoneChecks.IsAtOrBelow(record.Name, origin))
                throw new ZoneFileException(where, line, $"{record.Name} is outside the zone {origin}");
            if (record.RecordType != RecordType.Soa) continue;
            if (!CanonicalNameComparer.Instance.Equals(record.Name, origin))
                throw new ZoneFileException(where, line, $"SOA at {record.Name}, but the zone apex is {origin}");
            if (firstSoa >= 0)
                throw new ZoneFileException(where, line, $"zone {origin} has a second SOA record (the first is at {Place(file, firstSoa)})");
            firstSoa = i;
        }
        if (firstSoa < 0) throw new ZoneFileException(sourceName, 0, $"zone {origin} has no SOA record");

        // One class per zone, the SOA's (RFC 1035 §5.2).
        var zoneClass = records[firstSoa].RecordClass;
        for (int i = 0; i < records.Count; i++)
        {
            if (records[i].RecordClass == zoneClass) continue;
            var (where, line) = file.Origins[i];
            throw new ZoneFileException(where, line,
                $"record class {Text.PresentationFormat.FormatClass(records[i].RecordClass)} differs from the zone's class {Text.PresentationFormat.FormatClass(zoneClass)} (SOA at {Place(file, firstSoa)})");
        }

        WarnAboutTtlMismatches(file, warnings);

        var zone = Zone.FromRecords(origin, records);
        var index = new Lazy<Dictionary<(DomainName, RecordType), int>>(() => FirstIndexByRRset(records));
        (string File, int Line) PlaceOf(DomainName owner, RecordType type) =>
            index.Value.TryGetValue((owner, type), out var i) ? file.Origins[i] : (sourceName, 0);

        if (ZoneChecks.FindStructuralProblem(zone) is { } problem)
        {
            // A second CNAME or a CNAME beside data: point at the later of the two records, the one that broke the rule.
            var (where, line) = problem.Type == RecordType.CName ? LastPlace(file, records, problem.Owner) : PlaceOf(problem.Owner, problem.Type);
            throw new ZoneFileException(where, line, problem.Message);
        }
        if (warnings is not null)
        {
            foreach (var occluded in ZoneChecks.FindOccluded(zone))
            {
                var (where, line) = PlaceOf(occluded.Owner, occluded.Type);
                warnings.Add(new ZoneWarning(where, line,
                    $"{occluded.Owner} {Text.PresentationFormat.FormatType(occluded.Type)} is occluded: {occluded.Reason}; it will be neither signed nor served"));
            }
        }
        return zone;
    }

    /// <summary>Warns once per RRset whose records disagree on the TTL; <see cref="Zone.FromRecords"/> applies the lowest.
    /// RRSIGs are exempt: each keeps the TTL of the RRset it covers (RFC 4034 §3).</summary>
    private static void WarnAboutTtlMismatches(MasterFile file, ICollection<ZoneWarning>? warnings)
    {
        if (warnings is null) return;
        var records = file.Records;
        // Per RRset: the first record, the lowest TTL, and the first record whose TTL differs from the first's.
        var sets = new Dictionary<(DomainName, RecordType), (int First, int Lowest, int FirstMismatch)>(new NameTypeComparer());
        for (int i = 0; i < records.Count; i++)
        {
            var record = records[i];
            if (record.RecordType == RecordType.RrSig) continue;
            var key = (record.Name, record.RecordType);
            if (!sets.TryGetValue(key, out var set))
            {
                sets[key] = (i, record.TimeToLive, -1);
                continue;
            }
            int mismatch = set.FirstMismatch < 0 && record.TimeToLive != records[set.First].TimeToLive ? i : set.FirstMismatch;
            sets[key] = (set.First, Math.Min(set.Lowest, record.TimeToLive), mismatch);
        }
        foreach (var (first, lowest, mismatch) in sets.Values.Where(s => s.FirstMismatch >= 0).OrderBy(s => s.FirstMismatch))
        {
            var record = records[mismatch];
            var (where, line) = file.Origins[mismatch];
            warnings.Add(new ZoneWarning(where, line,
                $"TTL {record.TimeToLive} of {record.Name} {Text.PresentationFormat.FormatType(record.RecordType)} differs from TTL {records[first].TimeToLive} at {Place(file, first)}; " +
                $"the RRset takes the lowest, {lowest} (RFC 2181 §5.2)"));
        }
    }

    private static string Place(MasterFile file, int index)
    {
        var (where, line) = file.Origins[index];
        return where == file.Origins[0].File ? $"line {line}" : $"{where}:{line}";
    }

    private static (string File, int Line) LastPlace(MasterFile file, IReadOnlyList<DnsRecordBase> records, DomainName owner)
    {
        for (int i = records.Count - 1; i >= 0; i--)
            if (CanonicalNameComparer.Instance.Equals(records[i].Name, owner)) return file.Origins[i];
        return (file.Origins.Count > 0 ? file.Origins[0].File : "<zone>", 0);
    }

    private static Dictionary<(DomainName, RecordType), int> FirstIndexByRRset(IReadOnlyList<DnsRecordBase> records)
    {
        var index = new Dictionary<(DomainName, RecordType), int>(new NameTypeComparer());
        for (int i = 0; i < records.Count; i++) index.TryAdd((records[i].Name, records[i].RecordType), i);
        return index;
    }

    private sealed class NameTypeComparer : IEqualityComparer<(DomainName, RecordType)>
    {
        public bool Equals((DomainName, RecordType) x, (DomainName, RecordType) y) =>
            x.Item2 == y.Item2 && CanonicalNameComparer.Instance.Equals(x.Item1, y.Item1);

        public int GetHashCode((DomainName, RecordType) obj) => HashCode.Combine(CanonicalNameComparer.Instance.GetHashCode(obj.Item1), obj.Item2);
    }
}
