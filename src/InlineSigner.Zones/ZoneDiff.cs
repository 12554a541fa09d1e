using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;

namespace InlineSigner.Zones;

/// <summary>One RRset-level change between two zone versions: Old is null for an added RRset, New for a removed one.</summary>
public sealed record RRsetChange(DomainName Owner, RecordType Type, RRset? Old, RRset? New)
{
    public bool IsAdded => Old is null;

    public bool IsRemoved => New is null;

    /// <summary>Records of the older RRset that the newer one lacks, in canonical order. The whole RRset when its TTL
    /// or the spelling of its owner changed (an IXFR delta deletes and re-adds such records). The RRSIG set of a name is
    /// the exception to the TTL rule: each signature keeps the TTL of the RRset it covers and the set's TTL is only
    /// the lowest of them, so its records are compared one by one, TTL included, and a signature nobody touched is
    /// never deleted and re-added.</summary>
    public IReadOnlyList<DnsRecordBase> RemovedRecords => Old is null ? [] : New is null || Replaced ? Old.Records : ZoneDiff.Difference(Old, New);

    /// <summary>Records of the newer RRset that the older one lacks, in canonical order.</summary>
    public IReadOnlyList<DnsRecordBase> AddedRecords => New is null ? [] : Old is null || Replaced ? New.Records : ZoneDiff.Difference(New, Old);

    private bool Replaced => (Old!.Ttl != New!.Ttl && Type != RecordType.RrSig) || !ZoneDiff.SameSpelling(Old.Owner, New!.Owner);
}

/// <summary>Thrown when a diff is applied to a zone that is not the version it was computed from.</summary>
public sealed class ZoneDiffConflictException(string message) : InvalidOperationException(message);

/// <summary>
/// The difference between two versions of a zone, RRset by RRset in canonical order (owner names per RFC 4034 §6.1,
/// then type numbers). When the newer version was derived from the older one (With, Without, WithChanges, Apply),
/// only the names touched on the way are compared, so diffing a 100,000-name zone after a few edits costs a few
/// lookups; otherwise both versions are walked side by side, skipping shared nodes by reference.
/// The record-level view (<see cref="RemovedRecords"/>, <see cref="AddedRecords"/>) is what an IXFR delta carries.
/// </summary>
public sealed class ZoneDiff
{
    private ZoneDiff(IReadOnlyList<RRsetChange> changes) => Changes = changes;

    /// <summary>Every changed RRset, in canonical order.</summary>
    public IReadOnlyList<RRsetChange> Changes { get; }

    public bool IsEmpty => Changes.Count == 0;

    /// <summary>RRsets present only in the older version.</summary>
    public IEnumerable<RRset> RemovedRRsets => Changes.Where(c => c.IsRemoved).Select(c => c.Old!);

    /// <summary>RRsets present only in the newer version.</summary>
    public IEnumerable<RRset> AddedRRsets => Changes.Where(c => c.IsAdded).Select(c => c.New!);

    /// <summary>RRsets present in both with different content; each change lists its removed and added records.</summary>
    public IEnumerable<RRsetChange> ChangedRRsets => Changes.Where(c => c is { Old: not null, New: not null });

    /// <summary>Every record the older version has and the newer lacks, in canonical order.</summary>
    public IEnumerable<DnsRecordBase> RemovedRecords => Changes.SelectMany(c => c.RemovedRecords);

    /// <summary>Every record the newer version has and the older lacks, in canonical order.</summary>
    public IEnumerable<DnsRecordBase> AddedRecords => Changes.SelectMany(c => c.AddedRecords);

    public static ZoneDiff Compute(Zone older, Zone newer)
    {
        var changes = new List<RRsetChange>();
        if (ReferenceEquals(older.Nodes, newer.Nodes)) return new ZoneDiff(changes);
        var touched = newer.Lineage.OwnersChangedSince(older.Lineage);
        // Beyond a quarter of the zone, one side-by-side walk is cheaper than that many tree lookups.
        if (touched is not null && touched.Count <= Math.Max(16, newer.Nodes.Count / 4))
        {
            touched.Sort(CanonicalNameComparer.Instance);
            DomainName? previous = null;
            foreach (var owner in touched)
            {
                if (previous is not null && CanonicalNameComparer.Instance.Equals(previous, owner)) continue;
                previous = owner;
                older.Nodes.TryGetValue(owner, out var oldNode);
                newer.Nodes.TryGetValue(owner, out var newNode);
                DiffNode(oldNode, newNode, changes);
            }
            return new ZoneDiff(changes);
        }

        using var a = older.Nodes.GetEnumerator();
        using var b = newer.Nodes.GetEnumerator();
        bool hasA = a.MoveNext(), hasB = b.MoveNext();
        var comparer = CanonicalNameComparer.Instance;
        while (hasA || hasB)
        {
            int c = !hasA ? 1 : !hasB ? -1 : comparer.Compare(a.Current.Key, b.Current.Key);
            if (c < 0)
            {
                DiffNode(a.Current.Value, null, changes);
                hasA = a.MoveNext();
            }
            else if (c > 0)
            {
                DiffNode(null, b.Current.Value, changes);
                hasB = b.MoveNext();
            }
            else
            {
                DiffNode(a.Current.Value, b.Current.Value, changes);
                hasA = a.MoveNext();
                hasB = b.MoveNext();
            }
        }
        return new ZoneDiff(changes);
    }

    private static void DiffNode(IReadOnlyDictionary<RecordType, RRset>? oldNode, IReadOnlyDictionary<RecordType, RRset>? newNode, List<RRsetChange> changes)
    {
        if (ReferenceEquals(oldNode, newNode)) return;
        // Both nodes are ordered by type number; merge them.
        using var a = (oldNode ?? Empty).GetEnumerator();
        using var b = (newNode ?? Empty).GetEnumerator();
        bool hasA = a.MoveNext(), hasB = b.MoveNext();
        while (hasA || hasB)
        {
            int c = !hasA ? 1 : !hasB ? -1 : ((ushort)a.Current.Key).CompareTo((ushort)b.Current.Key);
            if (c < 0)
            {
                changes.Add(new RRsetChange(a.Current.Value.Owner, a.Current.Key, a.Current.Value, null));
                hasA = a.MoveNext();
            }
            else if (c > 0)
            {
                changes.Add(new RRsetChange(b.Current.Value.Owner, b.Current.Key, null, b.Current.Value));
                hasB = b.MoveNext();
            }
            else
            {
                var (oldSet, newSet) = (a.Current.Value, b.Current.Value);
                if (!oldSet.ContentEquals(newSet) || !SameSpelling(oldSet.Owner, newSet.Owner))
                    changes.Add(new RRsetChange(newSet.Owner, newSet.Type, oldSet, newSet));
                hasA = a.MoveNext();
                hasB = b.MoveNext();
            }
        }
    }

    private static readonly SortedDictionary<RecordType, RRset> Empty = new();

    /// <summary>Builds a diff from explicit changes (e.g. an IXFR delta turned into RRsets); they are put in canonical order.</summary>
    public static ZoneDiff FromChanges(IEnumerable<RRsetChange> changes)
    {
        var list = changes.ToList();
        list.Sort((x, y) =>
        {
            int c = CanonicalNameComparer.Instance.Compare(x.Owner, y.Owner);
            return c != 0 ? c : ((ushort)x.Type).CompareTo((ushort)y.Type);
        });
        return new ZoneDiff(list);
    }

    /// <summary>Records of <paramref name="a"/> that <paramref name="b"/> lacks: both are in canonical RDATA order, so one
    /// merge finds them. A record whose RDATA is in both but whose TTL differs (RRSIGs keep their own) counts as lacking.</summary>
    internal static IReadOnlyList<DnsRecordBase> Difference(RRset a, RRset b)
    {
        var result = new List<DnsRecordBase>();
        int j = 0;
        for (int i = 0; i < a.Count; i++)
        {
            var rdata = a.CanonicalRData[i];
            while (j < b.Count && RecordOrder.CompareRData(b.CanonicalRData[j], rdata) < 0) j++;
            bool present = j < b.Count && b.CanonicalRData[j].AsSpan().SequenceEqual(rdata) && b.Records[j].TimeToLive == a.Records[i].TimeToLive;
            if (!present) result.Add(a.Records[i]);
        }
        return result;
    }

    /// <summary>Same octets, case included (names compare case-insensitively, but a zone keeps the spelling it was given).</summary>
    internal static bool SameSpelling(DomainName x, DomainName y)
    {
        if (ReferenceEquals(x, y)) return true;
        var xl = x.Labels;
        var yl = y.Labels;
        if (xl.Length != yl.Length) return false;
        for (int i = 0; i < xl.Length; i++)
            if (!string.Equals(xl[i], yl[i], StringComparison.Ordinal)) return false;
        return true;
    }
}

public static class ZoneDiffExtensions
{
    /// <summary>
    /// Applies <paramref name="diff"/> to <paramref name="zone"/>: when <paramref name="zone"/> is the diff's older
    /// version, the result equals its newer version. Every change is checked against the zone first (an RRset to be
    /// removed or changed must be there as the diff saw it, one to be added must be absent), so a diff applied to the
    /// wrong version throws <see cref="ZoneDiffConflictException"/> instead of producing a zone nobody had.
    /// </summary>
    public static Zone Apply(this Zone zone, ZoneDiff diff)
    {
        foreach (var change in diff.Changes)
        {
            var current = zone.Find(change.Owner, change.Type);
            bool matches = change.Old is null ? current is null : current is not null && current.ContentEquals(change.Old);
            if (!matches)
            {
                var type = Text.PresentationFormat.FormatType(change.Type);
                throw new ZoneDiffConflictException(change.Old is null
                    ? $"the diff adds {change.Owner} {type}, but the zone already has it"
                    : current is null
                        ? $"the diff changes {change.Owner} {type}, but the zone does not have it"
                        : $"the diff changes {change.Owner} {type}, but the zone's RRset differs from the one the diff was computed from");
            }
        }
        return zone.WithChanges(diff.Changes.Where(c => c.New is not null).Select(c => c.New!),
            diff.Changes.Where(c => c.New is null).Select(c => (c.Owner, c.Type)));
    }
}

/// <summary>
/// The derivation history of a zone version: which owner names each step changed, back to a root (a zone built from
/// records). Versions made from one another share the chain, and a diff between two of them only needs the names on
/// the path. The chain holds names only (never zones), and is cut after <see cref="MaxDepth"/> steps or
/// <see cref="MaxOwners"/> names, so a long-running server keeps a bounded amount of it.
/// </summary>
internal sealed class ZoneLineage
{
    private const int MaxDepth = 4096;
    private const int MaxOwners = 1 << 16;

    private readonly ZoneLineage? _parent;
    private readonly DomainName[] _owners;
    private readonly int _depth;
    private readonly int _ownerCount;

    private ZoneLineage(ZoneLineage? parent, DomainName[] owners, int depth, int ownerCount)
    {
        _parent = parent;
        _owners = owners;
        _depth = depth;
        _ownerCount = ownerCount;
    }

    public static ZoneLineage Root() => new(null, [], 0, 0);

    public ZoneLineage Child(DomainName[] owners) =>
        _depth + 1 > MaxDepth || _ownerCount + owners.Length > MaxOwners
            ? Root()
            : new ZoneLineage(this, owners, _depth + 1, _ownerCount + owners.Length);

    /// <summary>The names changed on the way from <paramref name="ancestor"/> to this version, or null when this
    /// version does not descend from it (as far as the chain reaches).</summary>
    public List<DomainName>? OwnersChangedSince(ZoneLineage ancestor)
    {
        var owners = new List<DomainName>();
        for (var step = this; step is not null; step = step._parent)
        {
            if (ReferenceEquals(step, ancestor)) return owners;
            owners.AddRange(step._owners);
        }
        return null;
    }
}
