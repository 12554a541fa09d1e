using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;

namespace InlineSigner.Zones;

/// <summary>An RRset that is in the zone but hidden by a zone cut or a DNAME, and why.</summary>
public sealed record OccludedRRset(DomainName Owner, RecordType Type, DomainName HiddenBy, string Reason);

/// <summary>
/// The rules a zone must satisfy before we sign or serve it: exactly one SOA, at the apex; NS at the apex; no CNAME
/// beside other data (RRSIG/NSEC/NSEC3 excepted, RFC 2181 §10.1, RFC 4035 §2.5) and no CNAME beside a DNAME
/// (RFC 6672 §2.4); one CNAME and one DNAME per name; every name inside the zone; one class.
/// <para>
/// TTL mismatch inside an RRset is accepted with a warning and the RFC 2181 §5.2 fix-up (every record takes the
/// lowest TTL of its RRset), as BIND and NSD do. We chose a warning over an error because such zones are common in the
/// wild, the fix-up is what resolvers apply anyway, and refusing them would stop a hidden primary's whole zone from
/// being signed over a cosmetic mistake; the warning names both lines so the operator can fix the source.
/// </para>
/// <para>
/// Data hidden by a delegation or a DNAME is reported as a warning (<see cref="FindOccluded"/>), except glue: address
/// records at names that some NS record of the zone names.
/// </para>
/// </summary>
public static class ZoneChecks
{
    private static readonly HashSet<RecordType> AllowedBesideCName = [RecordType.CName, RecordType.RrSig, RecordType.NSec, RecordType.NSec3];

    /// <summary>Types that belong at a delegation point: the parent's NS and DS and the DNSSEC records over them.</summary>
    private static readonly HashSet<RecordType> AllowedAtCut = [RecordType.Ns, RecordType.Ds, RecordType.RrSig, RecordType.NSec];

    /// <summary>Builds a <see cref="Zone"/> from a parsed master file, enforcing the zone rules. Reports the zone's
    /// warnings (TTL fix-ups, occluded data) to <paramref name="warnings"/>; the file's own are in <see cref="MasterFile.Warnings"/>.
    /// Kept for existing callers; <see cref="ZoneLoader"/> is the entry point that reports both.</summary>
    public static Zone Load(MasterFile file, DomainName origin, List<ZoneWarning>? warnings = null) => ZoneLoader.Check(file, origin, warnings);

    /// <summary>Reads and checks a zone file in one step (the file's warnings and the zone's).</summary>
    public static Zone LoadFile(string path, DomainName origin, List<ZoneWarning>? warnings = null) => ZoneLoader.LoadFile(path, origin, warnings);

    /// <summary>The first rule a zone breaks, or null. Used for zones that did not come from a file too (transfers).</summary>
    public static (DomainName Owner, RecordType Type, string Message)? FindStructuralProblem(Zone zone)
    {
        var soa = zone.Find(zone.Origin, RecordType.Soa);
        if (soa is null) return (zone.Origin, RecordType.Soa, $"zone {zone.Origin} has no SOA record at its apex");
        if (soa.Count != 1) return (zone.Origin, RecordType.Soa, $"zone {zone.Origin} has {soa.Count} SOA records");
        if (zone.Find(zone.Origin, RecordType.Ns) is null) return (zone.Origin, RecordType.Ns, $"zone {zone.Origin} has no NS records at its apex");
        var zoneClass = soa.Class;
        foreach (var (name, node) in zone.Nodes)
        {
            if (!IsAtOrBelow(name, zone.Origin)) return (name, node.Keys.First(), $"{name} is outside the zone {zone.Origin}");
            foreach (var (type, set) in node)
            {
                if (set.Class != zoneClass)
                    return (name, type, $"{name} {PresentationFormat(type)} has class {set.Class}, but the zone's class is {zoneClass}");
            }
            if (node.ContainsKey(RecordType.Soa) && !IsSameName(name, zone.Origin))
                return (name, RecordType.Soa, $"SOA at {name}, but the zone apex is {zone.Origin}");
            if (node.TryGetValue(RecordType.CName, out var cname))
            {
                if (IsSameName(name, zone.Origin)) return (name, RecordType.CName, $"CNAME at the zone apex {name}");
                if (cname.Count > 1) return (name, RecordType.CName, $"{name} has {cname.Count} CNAME records; only one is allowed (RFC 2181 §10.1)");
                foreach (var other in node.Keys)
                {
                    if (!AllowedBesideCName.Contains(other))
                        return (name, RecordType.CName, $"{name} has a CNAME beside other data ({PresentationFormat(other)}); RFC 1034 §3.6.2 allows none");
                }
            }
            if (node.TryGetValue(RecordType.DName, out var dname) && dname.Count > 1)
                return (name, RecordType.DName, $"{name} has {dname.Count} DNAME records; only one is allowed (RFC 6672 §2.4)");
        }
        return null;
    }

    private static string PresentationFormat(RecordType type) => Text.PresentationFormat.FormatType(type);

    /// <summary>Names strictly below a delegation holding data other than glue, and data at a delegation point other
    /// than NS/DS/RRSIG/NSEC/glue: the owners and types (see <see cref="FindOccluded"/> for the reasons).</summary>
    public static IEnumerable<(DomainName Owner, RecordType Type)> OccludedData(Zone zone) =>
        FindOccluded(zone).Select(o => (o.Owner, o.Type));

    /// <summary>
    /// RRsets a resolver can never see: below a zone cut (RFC 2181 §6, glue excepted), at a zone cut other than
    /// NS/DS/RRSIG/NSEC (and glue), or below a DNAME (RFC 6672 §2.3). Glue means A/AAAA at a name some NS record of the
    /// zone points to. One pass in canonical order: every name below X sorts right after X.
    /// </summary>
    public static IEnumerable<OccludedRRset> FindOccluded(Zone zone)
    {
        HashSet<DomainName>? nsTargets = null;
        bool IsGlue(DomainName name, RecordType type)
        {
            if (type is not (RecordType.A or RecordType.Aaaa)) return false;
            nsTargets ??= NsTargets(zone);
            return nsTargets.Contains(name);
        }

        DomainName? hider = null;
        bool hiderIsDName = false;
        foreach (var (name, node) in zone.Nodes)
        {
            if (hider is not null && IsAtOrBelow(name, hider) && !IsSameName(name, hider))
            {
                foreach (var type in node.Keys)
                {
                    if (hiderIsDName)
                        yield return new OccludedRRset(name, type, hider, $"it is below the DNAME at {hider} (RFC 6672 §2.3)");
                    else if (!IsGlue(name, type))
                        yield return new OccludedRRset(name, type, hider, $"it is below the delegation at {hider} and not glue");
                }
                continue;
            }
            hider = null;
            if (IsSameName(name, zone.Origin))
            {
                if (node.ContainsKey(RecordType.DName)) (hider, hiderIsDName) = (name, true);
                continue;
            }
            if (node.ContainsKey(RecordType.Ns))
            {
                (hider, hiderIsDName) = (name, false);
                foreach (var type in node.Keys)
                {
                    if (!AllowedAtCut.Contains(type) && !IsGlue(name, type))
                        yield return new OccludedRRset(name, type, name, $"it is at the delegation point {name}, where only NS, DS and glue belong");
                }
            }
            else if (node.ContainsKey(RecordType.DName))
            {
                (hider, hiderIsDName) = (name, true);
            }
        }
    }

    private static HashSet<DomainName> NsTargets(Zone zone)
    {
        var targets = new HashSet<DomainName>(CanonicalNameComparer.Instance);
        foreach (var node in zone.Nodes.Values)
        {
            if (!node.TryGetValue(RecordType.Ns, out var ns)) continue;
            foreach (var record in ns.Records)
                if (record is NsRecord nsRecord) targets.Add(nsRecord.NameServer);
        }
        return targets;
    }

    /// <summary>Names other than the apex that hold NS records: the zone cuts.</summary>
    public static IEnumerable<DomainName> DelegationPoints(Zone zone) =>
        zone.Nodes.Where(n => n.Value.ContainsKey(RecordType.Ns) && !IsSameName(n.Key, zone.Origin)).Select(n => n.Key);

    /// <summary>True when <paramref name="name"/> equals <paramref name="ancestor"/> or lies below it (ASCII case-insensitive),
    /// without the allocations of ARSoft's IsEqualOrSubDomainOf.</summary>
    public static bool IsAtOrBelow(DomainName name, DomainName ancestor)
    {
        var n = name.Labels;
        var a = ancestor.Labels;
        if (a.Length > n.Length) return false;
        for (int i = 1; i <= a.Length; i++)
            if (CanonicalNameComparer.CompareLabel(n[^i], a[^i]) != 0) return false;
        return true;
    }

    private static bool IsSameName(DomainName x, DomainName y) => CanonicalNameComparer.Instance.Equals(x, y);
}
