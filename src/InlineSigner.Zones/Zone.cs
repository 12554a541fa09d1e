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

    // Sorted owner sets for neighbour lookups, built on first use and then carried into every version derived from
    // this one (updated for the touched names only), so a long series of edits never pays for a rebuild. A cache, not
    // state: any thread may build it, and every build gives the same sets.
    private OwnerIndexes? _indexes;

    private Zone(DomainName origin, ImmutableSortedDictionary<DomainName, ImmutableSortedDictionary<RecordType, RRset>> nodes, ZoneLineage lineage,
        OwnerIndexes? indexes = null)
    {
        Origin = origin;
        Nodes = nodes;
        Lineage = lineage;
        _indexes = indexes;
    }

    /// <summary>A version derived from this one by changes at <paramref name="touched"/>.</summary>
    private Zone Derive(ImmutableSortedDictionary<DomainName, ImmutableSortedDictionary<RecordType, RRset>> nodes, DomainName[] touched) =>
        new(Origin, nodes, Lineage.Child(touched), Volatile.Read(ref _indexes)?.Update(nodes, touched));

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

    /// <summary>
    /// Every owner name in canonical order as a sorted set, for what <see cref="Nodes"/> cannot do: the names before
    /// or after a name that is not in the zone, and the names below one (see <see cref="SortedNameSet"/>), in
    /// O(log n). Built on first use (O(n log n)), then maintained in every version derived from this zone. Names
    /// keep the spelling they had when they entered the set; <see cref="Nodes"/>' keys have the current one.
    /// </summary>
    public ImmutableSortedSet<DomainName> Names => GetIndex(null);

    /// <summary>The owner names that hold an RRset of <paramref name="type"/>, in canonical order (for instance the NSEC
    /// chain of a signed zone); built and maintained like <see cref="Names"/>.</summary>
    public ImmutableSortedSet<DomainName> OwnersOf(RecordType type) => GetIndex(type);

    private ImmutableSortedSet<DomainName> GetIndex(RecordType? type)
    {
        while (true)
        {
            var current = Volatile.Read(ref _indexes);
            if (current?.Find(type) is { } found) return found;
            var names = type is { } t ? Nodes.Where(n => n.Value.ContainsKey(t)).Select(n => n.Key) : Nodes.Keys;
            var built = ImmutableSortedSet.CreateRange(CanonicalNameComparer.Instance, names);
            var updated = (current ?? OwnerIndexes.None).With(type, built);
            if (Interlocked.CompareExchange(ref _indexes, updated, current) == current) return built;
        }
    }

    /// <summary>Replaces (or adds) one RRset.</summary>
    public Zone With(RRset set)
    {
        var node = Nodes.TryGetValue(set.Owner, out var existing) ? existing : EmptyNode;
        return Derive(Nodes.SetItem(set.Owner, node.SetItem(set.Type, set)), [set.Owner]);
    }

    /// <summary>Removes one RRset (and the name, when it was its last).</summary>
    public Zone Without(DomainName owner, RecordType type)
    {
        if (!Nodes.TryGetValue(owner, out var node) || !node.ContainsKey(type)) return this;
        var remaining = node.Remove(type);
        return Derive(remaining.IsEmpty ? Nodes.Remove(owner) : Nodes.SetItem(owner, remaining), [owner]);
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
        return Derive(nodes.ToImmutable(), touched.ToArray());
    }

    /// <summary>The sorted owner sets a zone has built so far: all names, and owners per type.</summary>
    private sealed class OwnerIndexes(ImmutableSortedSet<DomainName>? all, ImmutableArray<(RecordType Type, ImmutableSortedSet<DomainName> Owners)> byType)
    {
        public static OwnerIndexes None { get; } = new(null, []);

        public ImmutableSortedSet<DomainName>? Find(RecordType? type)
        {
            if (type is not { } t) return all;
            foreach (var (indexed, owners) in byType)
                if (indexed == t) return owners;
            return null;
        }

        public OwnerIndexes With(RecordType? type, ImmutableSortedSet<DomainName> owners) =>
            type is { } t ? new(all, byType.Add((t, owners))) : new(owners, byType);

        /// <summary>The sets for a version whose nodes are <paramref name="nodes"/>, where only <paramref name="touched"/> changed.</summary>
        public OwnerIndexes Update(ImmutableSortedDictionary<DomainName, ImmutableSortedDictionary<RecordType, RRset>> nodes, DomainName[] touched)
        {
            var names = all;
            var perType = byType.IsEmpty ? null : byType.ToArray();
            foreach (var owner in touched)
            {
                bool present = nodes.TryGetValue(owner, out var node);
                if (names is not null) names = present ? names.Add(owner) : names.Remove(owner);
                if (perType is null) continue;
                for (int i = 0; i < perType.Length; i++)
                {
                    var (type, owners) = perType[i];
                    perType[i] = (type, present && node!.ContainsKey(type) ? owners.Add(owner) : owners.Remove(owner));
                }
            }
            return new OwnerIndexes(names, perType is null ? byType : ImmutableArray.Create(perType));
        }
    }

    private sealed class KeyComparer : IEqualityComparer<(DomainName Name, RecordType Type, RecordClass Class)>
    {
        public bool Equals((DomainName Name, RecordType Type, RecordClass Class) x, (DomainName Name, RecordType Type, RecordClass Class) y) =>
            x.Type == y.Type && x.Class == y.Class && CanonicalNameComparer.Instance.Equals(x.Name, y.Name);

        public int GetHashCode((DomainName Name, RecordType Type, RecordClass Class) obj) =>
            HashCode.Combine(CanonicalNameComparer.Instance.GetHashCode(obj.Name), obj.Type, obj.Class);
    }
}
