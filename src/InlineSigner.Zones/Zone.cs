using System.Collections.Immutable;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;

namespace InlineSigner.Zones;

/// <summary>
/// One immutable version of a zone: its RRsets by owner name in canonical order (RFC 4034 §6.1) and,
/// per name, by type. New versions share structure with old ones (immutable AVL trees), so a one-record
/// change costs O(log n); each version also remembers which names it changed relative to the version it was made
/// from, so the diff of two related versions visits only those names (see <see cref="ZoneDiff"/>).
/// The model holds what it is given: zone rules (one SOA, CNAME alone, in-zone data…) are checked by
/// <see cref="ZoneChecks"/>.
/// </summary>
public sealed class Zone
{
    private static readonly ImmutableSortedDictionary<DomainName, ImmutableSortedDictionary<RecordType, RRset>> EmptyNodes =
        ImmutableSortedDictionary.Create<DomainName, ImmutableSortedDictionary<RecordType, RRset>>(CanonicalNameComparer.Instance);

    private static readonly ImmutableSortedDictionary<RecordType, RRset> EmptyNode =
        ImmutableSortedDictionary.Create<RecordType, RRset>(Comparer<RecordType>.Create((a, b) => ((ushort)a).CompareTo((ushort)b)));

    private Zone(DomainName origin, ImmutableSortedDictionary<DomainName, ImmutableSortedDictionary<RecordType, RRset>> nodes, ZoneLineage lineage)
    {
        Origin = origin;
        Nodes = nodes;
        Lineage = lineage;
    }

    /// <summary>How this version was derived from earlier ones (the names each step touched), so that
    /// <see cref="ZoneDiff.Compute"/> can visit only those names instead of the whole zone.</summary>
    internal ZoneLineage Lineage { get; }

    public DomainName Origin { get; }

    /// <summary>Owner names in canonical order, each with its RRsets ordered by type number.</summary>
    public ImmutableSortedDictionary<DomainName, ImmutableSortedDictionary<RecordType, RRset>> Nodes { get; }

    public static Zone Empty(DomainName origin) => new(origin, EmptyNodes, ZoneLineage.Root());

    /// <summary>Groups records into RRsets (RFC 2181 TTL fix-up: lowest TTL wins; see <see cref="ZoneChecks"/>).</summary>
    public static Zone FromRecords(DomainName origin, IEnumerable<DnsRecordBase> records)
    {
        // Group by owner, type and class; most groups hold one record, so the first is kept apart from the rest.
        var groups = new Dictionary<(DomainName Name, RecordType Type, RecordClass Class), (DnsRecordBase First, List<DnsRecordBase>? All)>(new KeyComparer());
        foreach (var record in records)
        {
            ref var group = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(
                groups, (record.Name, record.RecordType, record.RecordClass), out bool exists);
            if (!exists) group = (record, null);
            else (group.All ??= [group.First]).Add(record);
        }
        var nodes = EmptyNodes.ToBuilder();
        foreach (var (first, all) in groups.Values)
        {
            var set = RRset.Create(all ?? [first]);
            var node = nodes.TryGetValue(set.Owner, out var existing) ? existing : EmptyNode;
            nodes[set.Owner] = node.SetItem(set.Type, set);
        }
        return new Zone(origin, nodes.ToImmutable(), ZoneLineage.Root());
    }

    /// <summary>The apex SOA, or null while the zone has none.</summary>
    public SoaRecord? Soa => Find(Origin, RecordType.Soa)?.Records[0] as SoaRecord;

    /// <summary>The SOA serial; throws when the zone has no SOA.</summary>
    public uint Serial => Soa?.SerialNumber ?? throw new InvalidOperationException($"zone {Origin} has no SOA");

    public RRset? Find(DomainName owner, RecordType type) =>
        Nodes.TryGetValue(owner, out var node) && node.TryGetValue(type, out var set) ? set : null;

    public bool HasName(DomainName owner) => Nodes.ContainsKey(owner);

    /// <summary>Every RRset in canonical order.</summary>
    public IEnumerable<RRset> RRsets => Nodes.Values.SelectMany(n => n.Values);

    /// <summary>Every record in canonical order.</summary>
    public IEnumerable<DnsRecordBase> Records => RRsets.SelectMany(s => s.Records);

    public int RRsetCount => Nodes.Values.Sum(n => n.Count);

    /// <summary>Replaces (or adds) one RRset.</summary>
    public Zone With(RRset set)
    {
        var node = Nodes.TryGetValue(set.Owner, out var existing) ? existing : EmptyNode;
        return new Zone(Origin, Nodes.SetItem(set.Owner, node.SetItem(set.Type, set)), Lineage.Child([set.Owner]));
    }

    /// <summary>Removes one RRset (and the name, when it was its last).</summary>
    public Zone Without(DomainName owner, RecordType type)
    {
        if (!Nodes.TryGetValue(owner, out var node) || !node.ContainsKey(type)) return this;
        var remaining = node.Remove(type);
        return new Zone(Origin, remaining.IsEmpty ? Nodes.Remove(owner) : Nodes.SetItem(owner, remaining), Lineage.Child([owner]));
    }

    /// <summary>Applies many RRset replacements and removals in one go.</summary>
    public Zone WithChanges(IEnumerable<RRset> upserts, IEnumerable<(DomainName Owner, RecordType Type)> removals)
    {
        var nodes = Nodes.ToBuilder();
        var touched = new List<DomainName>();
        foreach (var (owner, type) in removals)
        {
            touched.Add(owner);
            if (!nodes.TryGetValue(owner, out var node)) continue;
            var remaining = node.Remove(type);
            if (remaining.IsEmpty) nodes.Remove(owner); else nodes[owner] = remaining;
        }
        foreach (var set in upserts)
        {
            touched.Add(set.Owner);
            var node = nodes.TryGetValue(set.Owner, out var existing) ? existing : EmptyNode;
            nodes[set.Owner] = node.SetItem(set.Type, set);
        }
        return new Zone(Origin, nodes.ToImmutable(), Lineage.Child(touched.ToArray()));
    }

    private sealed class KeyComparer : IEqualityComparer<(DomainName Name, RecordType Type, RecordClass Class)>
    {
        public bool Equals((DomainName Name, RecordType Type, RecordClass Class) x, (DomainName Name, RecordType Type, RecordClass Class) y) =>
            x.Type == y.Type && x.Class == y.Class && CanonicalNameComparer.Instance.Equals(x.Name, y.Name);

        public int GetHashCode((DomainName Name, RecordType Type, RecordClass Class) obj) =>
            HashCode.Combine(CanonicalNameComparer.Instance.GetHashCode(obj.Name), obj.Type, obj.Class);
    }
}
