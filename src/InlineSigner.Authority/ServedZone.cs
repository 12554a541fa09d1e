using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Zones;
using InlineSigner.Zones.Text;

namespace InlineSigner.Authority;

/// <summary>
/// One immutable version of a zone as it is served: the <see cref="Zones.Zone"/> plus a lookup index built once per
/// version, so that every query is a few binary searches and allocates nothing for the zone's sake.
/// <list type="bullet">
/// <item>Every existing name in canonical order (RFC 4034 §6.1), empty non-terminals included and NSEC3 owner names
/// excluded (they are not names of the zone's tree, RFC 5155 §7.2.8), each with its RRsets paired with the RRSIGs that
/// cover them and flags for delegations, DNAMEs and occluded data.</item>
/// <item>The NSEC owners in canonical order, for finding the NSEC that covers a missing name.</item>
/// <item>The NSEC3 chain in hash order, and the NSEC3 hash of every authoritative name (reused from the previous
/// version for names that did not change), for closest-encloser proofs (RFC 5155 §7.2).</item>
/// </list>
/// Building the index is O(n) in the zone's names (plus one hash per new name in an NSEC3 zone).
/// </summary>
public sealed class ServedZone
{
    private readonly ZoneNode[] _nodes;
    private readonly ZoneNode[] _nsecNodes;
    private readonly Nsec3Entry[] _nsec3Chain;

    private ServedZone(Zone zone, Nsec3Parameters? nsec3, ZoneNode[] nodes, ZoneNode[] nsecNodes, Nsec3Entry[] nsec3Chain,
        SignedRRset soa, bool expired = false)
    {
        Expired = expired;
        Zone = zone;
        Nsec3 = nsec3;
        _nodes = nodes;
        _nsecNodes = nsecNodes;
        _nsec3Chain = nsec3Chain;
        SoaSet = soa;
        Soa = (SoaRecord)soa.Set.Records[0];
    }

    public Zone Zone { get; }

    /// <summary>
    /// The zone's data is past its SOA EXPIRE without a successful refresh from the primary: queries get SERVFAIL and
    /// transfers are refused, as a secondary must (RFC 1034 §4.3.5), until fresh data arrives.
    /// </summary>
    public bool Expired { get; }

    /// <summary>This version, marked as expired (or not): the index is shared, nothing is rebuilt.</summary>
    public ServedZone WithExpired(bool expired) =>
        expired == Expired ? this : new ServedZone(Zone, Nsec3, _nodes, _nsecNodes, _nsec3Chain, SoaSet, expired);
    public DomainName Origin => Zone.Origin;
    public SoaRecord Soa { get; }
    public uint Serial => Soa.SerialNumber;

    /// <summary>The NSEC3 parameters denial of existence uses, or null when the zone is served with NSEC (or unsigned).</summary>
    public Nsec3Parameters? Nsec3 { get; }

    /// <summary>True when the zone carries denial-of-existence records (NSEC, or NSEC3 of <see cref="Nsec3"/>).</summary>
    public bool IsSigned => _nsecNodes.Length > 0 || _nsec3Chain.Length > 0;

    /// <summary>Existing names (empty non-terminals included).</summary>
    public int NameCount => _nodes.Length;

    internal SignedRRset SoaSet { get; }
    internal ZoneNode Apex => _nodes[0];

    /// <summary>
    /// Indexes <paramref name="zone"/> for serving. <paramref name="nsec3"/> names the NSEC3 chain to deny with; when null,
    /// the apex NSEC3PARAM decides (NSEC when there is none). <paramref name="previous"/>, an earlier version of the same
    /// zone, lends the NSEC3 hashes of names it shares with this one.
    /// </summary>
    /// <exception cref="ArgumentException">The zone has no SOA at its apex.</exception>
    public static ServedZone Create(Zone zone, Nsec3Parameters? nsec3 = null, ServedZone? previous = null) => Create(zone, nsec3, previous, null);

    /// <summary>
    /// As <see cref="Create(Zone, Nsec3Parameters?, ServedZone?)"/>, where <paramref name="changedOwners"/> lists every
    /// owner whose RRsets differ between <paramref name="previous"/>'s zone and <paramref name="zone"/> (a signed
    /// delta's owners). For an NSEC zone whose zone cuts and DNAMEs stay where they were, only those names and their
    /// ancestors are indexed again and the rest of the index is copied: O(changes · log n) comparisons instead of a
    /// walk of every name, which at 100,000 names was most of the time from a one-record change to serving it. Any
    /// other change (NSEC3, a cut added or removed, names outside the zone) indexes the whole zone.
    /// </summary>
    public static ServedZone Create(Zone zone, Nsec3Parameters? nsec3, ServedZone? previous, IReadOnlyCollection<DomainName>? changedOwners)
    {
        ArgumentNullException.ThrowIfNull(zone);
        if (previous is not null && changedOwners is not null && nsec3 is null && TryPatch(zone, previous, changedOwners) is { } patched) return patched;
        var origin = zone.Origin;
        var soaSet = zone.Find(origin, RecordType.Soa) ?? throw new ArgumentException($"zone {origin} has no SOA at its apex and cannot be served", nameof(zone));
        if (nsec3 is null && zone.Find(origin, RecordType.NSec3Param) is { } param && param.Records.OfType<NSec3ParamRecord>().FirstOrDefault() is { } record)
            nsec3 = Nsec3Parameters.From(record);

        // A new version shares almost every name with the one before: walking the previous nodes in step (both are in
        // canonical order) reuses each node whose RRsets did not change, instead of rebuilding the whole index; that
        // was most of the time from a one-record change to serving it at 100,000 names, and it keeps the wire forms
        // cached in the nodes.
        var before = previous?._nodes;
        int at = 0;
        ZoneNode? Reusable(DomainName name, System.Collections.Immutable.ImmutableSortedDictionary<RecordType, RRset> rrsets, bool occluded)
        {
            if (before is null) return null;
            while (at < before.Length && !ReferenceEquals(before[at].Name, name) && CanonicalNameComparer.Instance.Compare(before[at].Name, name) < 0) at++;
            if (at >= before.Length) return null;
            var candidate = before[at];
            if (!ReferenceEquals(candidate.Source, rrsets) || candidate.IsOccluded != occluded) return null;
            // In an NSEC3 zone the node's links to the chain are set per version; the old version keeps its own.
            return nsec3 is null ? candidate : candidate.ForNextVersion();
        }
        var nodes = new List<ZoneNode>(zone.Nodes.Count);
        var nsecNodes = new List<ZoneNode>();
        var chain = new List<Nsec3Entry>();
        var path = new List<ZoneNode>(); // the existing ancestors of the current name, apex first
        DomainName? occluder = null;     // the zone cut or DNAME owner whose subtree we are in
        foreach (var (name, rrsets) in zone.Nodes)
        {
            if (!IsAtOrBelow(name, origin)) continue; // the zone checks keep such data out; it could never be answered
            if (IsNsec3Only(rrsets))
            {
                if (nsec3 is not null) AddChainEntries(chain, name, origin, rrsets, nsec3);
                continue;
            }
            while (path.Count > 0 && !IsBelow(name, path[^1].Name)) path.RemoveAt(path.Count - 1);
            if (occluder is not null && !IsBelow(name, occluder)) occluder = null;
            // Ancestors between the deepest existing one and this name exist too, as empty non-terminals.
            int depth = path.Count > 0 ? path[^1].Name.LabelCount + 1 : origin.LabelCount;
            for (; depth < name.LabelCount; depth++)
            {
                var ent = ZoneNode.EmptyNonTerminal(name.GetParentName(name.LabelCount - depth), occluder is not null);
                nodes.Add(ent);
                path.Add(ent);
            }
            bool isApex = name.LabelCount == origin.LabelCount;
            var node = Reusable(name, rrsets, occluder is not null) ?? ZoneNode.Create(name, rrsets, isApex, occluder is not null);
            nodes.Add(node);
            path.Add(node);
            if (node.IsOccluded) continue;
            if (node.Find(RecordType.NSec) is not null) nsecNodes.Add(node);
            if (node.IsDelegation || node.HasDName) occluder = name;
        }
        if (nodes.Count == 0 || nodes[0].Name.LabelCount != origin.LabelCount)
            throw new ArgumentException($"zone {origin} has no apex node", nameof(zone));

        var nsec3Chain = chain.ToArray();
        Array.Sort(nsec3Chain, (a, b) => a.Hash.AsSpan().SequenceCompareTo(b.Hash));
        var nodeArray = nodes.ToArray();
        if (nsec3 is not null) HashNames(nodeArray, nsec3Chain, nsec3, previous?.Nsec3 == nsec3 ? previous._nodes : null);
        var soa = nodeArray[0].Find(RecordType.Soa)!;
        return new ServedZone(zone, nsec3, nodeArray, nsecNodes.ToArray(), nsec3Chain, soa);
    }

    private static ServedZone? TryPatch(Zone zone, ServedZone previous, IReadOnlyCollection<DomainName> changedOwners)
    {
        var origin = zone.Origin;
        if (previous.Nsec3 is not null || previous._nsec3Chain.Length > 0 || zone.Find(origin, RecordType.NSec3Param) is not null) return null;
        if (!CanonicalNameComparer.Instance.Equals(origin, previous.Origin) || previous.Expired) return null;

        // Dirty: every changed owner and its ancestors up to the apex (whether an ancestor is an empty non-terminal
        // may change). Everything else is the same node in both versions, with the same flags.
        var dirty = new SortedSet<DomainName>(CanonicalNameComparer.Instance);
        foreach (var owner in changedOwners)
        {
            if (!IsAtOrBelow(owner, origin)) return null;
            var old = previous.Find(owner);
            zone.Nodes.TryGetValue(owner, out var sets);
            bool isApex = owner.LabelCount == origin.LabelCount;
            bool wasCut = old is { IsEmptyNonTerminal: false } && (old.IsDelegation || old.HasDName);
            bool isCut = sets is not null && ((!isApex && sets.ContainsKey(RecordType.Ns)) || sets.ContainsKey(RecordType.DName));
            if (wasCut != isCut) return null; // the occlusion of a whole subtree changes
            if (sets is not null && IsNsec3Only(sets)) return null;
            for (var name = owner; dirty.Add(name) && name.LabelCount > origin.LabelCount; name = name.GetParentName()) { }
        }
        if (!zone.Nodes.TryGetValue(origin, out var apexSets) || !apexSets.ContainsKey(RecordType.Soa)) return null;

        // New nodes for the dirty names, deepest first, so a name without data knows whether names below it remain.
        var rebuilt = new Dictionary<DomainName, ZoneNode?>(CanonicalNameComparer.Instance);
        foreach (var name in dirty.Reverse())
        {
            bool occluded = IsOccludedIn(zone, name);
            ZoneNode? node;
            if (zone.Nodes.TryGetValue(name, out var sets))
            {
                var old = previous.Find(name);
                node = old is not null && ReferenceEquals(old.Source, sets) && old.IsOccluded == occluded
                    ? old
                    : ZoneNode.Create(name, sets, name.LabelCount == origin.LabelCount, occluded);
            }
            else
            {
                node = HasNamesBelow(previous, name, dirty, rebuilt) ? ZoneNode.EmptyNonTerminal(name, occluded) : null;
            }
            rebuilt[name] = node;
        }

        var nodes = Splice(previous._nodes, dirty, rebuilt, _ => true);
        var nsecNodes = Splice(previous._nsecNodes, dirty, rebuilt, n => !n.IsOccluded && n.Find(RecordType.NSec) is not null);
        if (nodes.Length == 0 || nodes[0].Name.LabelCount != origin.LabelCount) return null;
        return new ServedZone(zone, null, nodes, nsecNodes, [], nodes[0].Find(RecordType.Soa)!) { WasPatched = true };
    }

    /// <summary>True when this version's index was patched from the previous one rather than built whole (tests).</summary>
    internal bool WasPatched { get; private init; }

    /// <summary>Below a zone cut or a DNAME of <paramref name="zone"/> (a DNAME at the apex occludes too, NS there does not).</summary>
    private static bool IsOccludedIn(Zone zone, DomainName name)
    {
        var origin = zone.Origin;
        for (int up = 1; name.LabelCount - up >= origin.LabelCount; up++)
        {
            var ancestor = name.GetParentName(up);
            if (!zone.Nodes.TryGetValue(ancestor, out var sets)) continue;
            if (sets.ContainsKey(RecordType.DName)) return true;
            if (ancestor.LabelCount > origin.LabelCount && sets.ContainsKey(RecordType.Ns)) return true;
        }
        return false;
    }

    /// <summary>
    /// Whether a name still has names below it: a dirty one already rebuilt (deeper names come first), or a clean one of
    /// the previous version (clean names did not change, so they are still there).
    /// </summary>
    private static bool HasNamesBelow(ServedZone previous, DomainName name, SortedSet<DomainName> dirty, Dictionary<DomainName, ZoneNode?> rebuilt)
    {
        foreach (var (other, node) in rebuilt)
            if (node is not null && IsBelow(other, name)) return true;
        int index = Search(previous._nodes, name.Labels, name.LabelCount);
        for (int i = index >= 0 ? index + 1 : ~index; i < previous._nodes.Length && IsBelow(previous._nodes[i].Name, name); i++)
            if (!dirty.Contains(previous._nodes[i].Name)) return true;
        return false;
    }

    /// <summary>The previous array with every dirty name's entry taken out and its rebuilt node (when <paramref name="keep"/>
    /// wants it) put in its place: copies between the dirty positions, found by binary search.</summary>
    private static ZoneNode[] Splice(ZoneNode[] before, SortedSet<DomainName> dirty, Dictionary<DomainName, ZoneNode?> rebuilt, Func<ZoneNode, bool> keep)
    {
        var result = new List<ZoneNode>(before.Length + dirty.Count);
        int from = 0;
        foreach (var name in dirty)
        {
            int index = Search(before, name.Labels, name.LabelCount);
            int at = index >= 0 ? index : ~index;
            if (at > from) result.AddRange(new ArraySegment<ZoneNode>(before, from, at - from));
            from = index >= 0 ? index + 1 : at;
            if (rebuilt[name] is { } node && keep(node)) result.Add(node);
        }
        if (from < before.Length) result.AddRange(new ArraySegment<ZoneNode>(before, from, before.Length - from));
        return result.ToArray();
    }

    private static bool IsNsec3Only(System.Collections.Immutable.ImmutableSortedDictionary<RecordType, RRset> rrsets)
    {
        if (!rrsets.ContainsKey(RecordType.NSec3)) return false;
        foreach (var type in rrsets.Keys)
            if (type is not (RecordType.NSec3 or RecordType.RrSig)) return false;
        return true;
    }

    private static void AddChainEntries(List<Nsec3Entry> chain, DomainName name, DomainName origin,
        System.Collections.Immutable.ImmutableSortedDictionary<RecordType, RRset> rrsets, Nsec3Parameters nsec3)
    {
        // An NSEC3 owner is exactly one base32hex label above the apex; anything else is not part of a chain.
        if (name.LabelCount != origin.LabelCount + 1) return;
        byte[] hash;
        try
        {
            hash = Base32Hex.Decode(name.Labels[0]);
        }
        catch (FormatException)
        {
            return;
        }
        if (hash.Length != Nsec3Parameters.HashLength) return;
        var node = ZoneNode.Create(name, rrsets, isApex: false, occluded: false);
        var set = node.Find(RecordType.NSec3)!;
        foreach (var record in set.Set.Records)
        {
            if (record is NSec3Record nsec3Record && nsec3.Matches(nsec3Record))
            {
                // Several chains may share an owner during a parameter change; serve the one record of ours.
                var own = set.Set.Count == 1 ? set : new SignedRRset(RRset.Create([record]), set.Signatures);
                chain.Add(new Nsec3Entry(hash, own, nsec3Record));
                return;
            }
        }
    }

    /// <summary>Hashes every authoritative name (reusing <paramref name="previous"/>'s hashes by a merge walk, both being in
    /// canonical order) and links each to its NSEC3 record.</summary>
    private static void HashNames(ZoneNode[] nodes, Nsec3Entry[] chain, Nsec3Parameters nsec3, ZoneNode[]? previous)
    {
        int j = 0;
        foreach (var node in nodes)
        {
            if (node.IsOccluded) continue;
            byte[]? hash = null;
            if (previous is not null)
            {
                while (j < previous.Length && CanonicalNameComparer.Instance.Compare(previous[j].Name, node.Name) < 0) j++;
                if (j < previous.Length && previous[j].Nsec3Hash is { } known && CanonicalNameComparer.Instance.Equals(previous[j].Name, node.Name))
                    hash = known;
            }
            node.Nsec3Hash = hash ?? nsec3.Hash(node.Name);
            int index = FindNsec3(chain, node.Nsec3Hash);
            if (index >= 0) node.MatchingNsec3 = chain[index];
        }
    }

    private static bool IsBelow(DomainName name, DomainName ancestor) =>
        name.LabelCount > ancestor.LabelCount && EndsWith(name, ancestor);

    private static bool IsAtOrBelow(DomainName name, DomainName ancestor) =>
        name.LabelCount >= ancestor.LabelCount && EndsWith(name, ancestor);

    private static bool EndsWith(DomainName name, DomainName suffix)
    {
        var a = name.Labels;
        var b = suffix.Labels;
        for (int i = 1; i <= b.Length; i++)
            if (CanonicalNameComparer.CompareLabel(a[^i], b[^i]) != 0) return false;
        return true;
    }

    // ---- lookups (all O(log n), allocation-free) ----

    /// <summary>Compares <paramref name="name"/> with the name made of the last <paramref name="count"/> labels of
    /// <paramref name="labels"/>, in canonical order.</summary>
    internal static int CompareToSuffix(DomainName name, string[] labels, int count)
    {
        var own = name.Labels;
        int i = own.Length - 1, j = labels.Length - 1, end = labels.Length - count;
        while (i >= 0 && j >= end)
        {
            int c = CanonicalNameComparer.CompareLabel(own[i], labels[j]);
            if (c != 0) return c;
            i--;
            j--;
        }
        return own.Length.CompareTo(count);
    }

    /// <summary>Binary search for the name made of the last <paramref name="count"/> labels of <paramref name="labels"/>:
    /// its index, or the complement of the index of the first greater name.</summary>
    private static int Search(ZoneNode[] array, string[] labels, int count)
    {
        int lo = 0, hi = array.Length - 1;
        while (lo <= hi)
        {
            int mid = lo + ((hi - lo) >> 1);
            int c = CompareToSuffix(array[mid].Name, labels, count);
            if (c == 0) return mid;
            if (c < 0) lo = mid + 1; else hi = mid - 1;
        }
        return ~lo;
    }

    /// <summary>The node of the name made of the last <paramref name="count"/> labels of <paramref name="labels"/>.</summary>
    internal ZoneNode? Find(string[] labels, int count)
    {
        int index = Search(_nodes, labels, count);
        return index >= 0 ? _nodes[index] : null;
    }

    internal ZoneNode? Find(DomainName name) => Find(name.Labels, name.LabelCount);

    /// <summary>The NSEC-owning node whose NSEC covers (or matches) the given name: the last NSEC owner at or before it in
    /// canonical order. Every name in the zone sorts after the apex, which owns an NSEC, so there always is one.</summary>
    internal ZoneNode? NsecAtOrBefore(string[] labels, int count)
    {
        if (_nsecNodes.Length == 0) return null;
        int index = Search(_nsecNodes, labels, count);
        if (index < 0) index = ~index - 1;
        return _nsecNodes[index < 0 ? _nsecNodes.Length - 1 : index];
    }

    internal ZoneNode? NsecAtOrBefore(DomainName name) => NsecAtOrBefore(name.Labels, name.LabelCount);

    /// <summary>The NSEC3 record whose hash is the greatest at or below <paramref name="hash"/> (the last one when the hash
    /// sorts before them all: the chain wraps around), or null in a zone without a chain of <see cref="Nsec3"/>.</summary>
    internal Nsec3Entry? Nsec3AtOrBefore(ReadOnlySpan<byte> hash)
    {
        if (_nsec3Chain.Length == 0) return null;
        int index = FindNsec3(_nsec3Chain, hash);
        if (index < 0) index = ~index - 1;
        return _nsec3Chain[index < 0 ? _nsec3Chain.Length - 1 : index];
    }

    private static int FindNsec3(Nsec3Entry[] chain, ReadOnlySpan<byte> hash)
    {
        int lo = 0, hi = chain.Length - 1;
        while (lo <= hi)
        {
            int mid = lo + ((hi - lo) >> 1);
            int c = chain[mid].Hash.AsSpan().SequenceCompareTo(hash);
            if (c == 0) return mid;
            if (c < 0) lo = mid + 1; else hi = mid - 1;
        }
        return ~lo;
    }

    internal bool HasNsec3Chain => _nsec3Chain.Length > 0;

    public override string ToString() => $"{Origin} serial {Serial} ({_nodes.Length} names, {(Nsec3 is null ? "NSEC" : Nsec3.ToString())})";
}
