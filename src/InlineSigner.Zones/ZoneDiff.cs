using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;

namespace InlineSigner.Zones;

/// <summary>One RRset-level change between two zone versions: Old is null for an added RRset, New for a removed one.</summary>
public sealed record RRsetChange(DomainName Owner, RecordType Type, RRset? Old, RRset? New);

/// <summary>
/// The difference between two versions of a zone, RRset by RRset in canonical order. Unchanged RRsets are skipped
/// by reference first (versions share structure), so diffing a large zone after a small change is cheap.
/// The record-level view (<see cref="RemovedRecords"/>, <see cref="AddedRecords"/>) is what an IXFR delta carries.
/// </summary>
public sealed class ZoneDiff
{
    private ZoneDiff(IReadOnlyList<RRsetChange> changes) => Changes = changes;

    public IReadOnlyList<RRsetChange> Changes { get; }

    public bool IsEmpty => Changes.Count == 0;

    public static ZoneDiff Compute(Zone older, Zone newer)
    {
        var changes = new List<RRsetChange>();
        if (ReferenceEquals(older.Nodes, newer.Nodes)) return new ZoneDiff(changes);
        using var a = older.Nodes.GetEnumerator();
        using var b = newer.Nodes.GetEnumerator();
        bool hasA = a.MoveNext(), hasB = b.MoveNext();
        var comparer = CanonicalNameComparer.Instance;
        while (hasA || hasB)
        {
            int c = !hasA ? 1 : !hasB ? -1 : comparer.Compare(a.Current.Key, b.Current.Key);
            if (c < 0)
            {
                foreach (var set in a.Current.Value.Values) changes.Add(new RRsetChange(set.Owner, set.Type, set, null));
                hasA = a.MoveNext();
            }
            else if (c > 0)
            {
                foreach (var set in b.Current.Value.Values) changes.Add(new RRsetChange(set.Owner, set.Type, null, set));
                hasB = b.MoveNext();
            }
            else
            {
                var oldNode = a.Current.Value;
                var newNode = b.Current.Value;
                if (!ReferenceEquals(oldNode, newNode))
                {
                    foreach (var (type, oldSet) in oldNode)
                    {
                        if (!newNode.TryGetValue(type, out var newSet)) changes.Add(new RRsetChange(oldSet.Owner, type, oldSet, null));
                        else if (!oldSet.ContentEquals(newSet) || oldSet.Owner.ToString() != newSet.Owner.ToString())
                            changes.Add(new RRsetChange(oldSet.Owner, type, oldSet, newSet));
                    }
                    foreach (var (type, newSet) in newNode)
                        if (!oldNode.ContainsKey(type)) changes.Add(new RRsetChange(newSet.Owner, type, null, newSet));
                }
                hasA = a.MoveNext();
                hasB = b.MoveNext();
            }
        }
        return new ZoneDiff(changes);
    }

    /// <summary>Builds a diff from explicit changes (e.g. an IXFR delta turned into RRsets).</summary>
    public static ZoneDiff FromChanges(IEnumerable<RRsetChange> changes) => new(changes.ToList());

    /// <summary>Records present in the older version and not in the newer (whole RRsets when TTL changed).</summary>
    public IEnumerable<DnsRecordBase> RemovedRecords => Changes.SelectMany(RemovedOf);

    /// <summary>Records present in the newer version and not in the older.</summary>
    public IEnumerable<DnsRecordBase> AddedRecords => Changes.SelectMany(AddedOf);

    private static IEnumerable<DnsRecordBase> RemovedOf(RRsetChange change)
    {
        if (change.Old is null) return [];
        if (change.New is null || change.New.Ttl != change.Old.Ttl || change.Old.Owner.ToString() != change.New.Owner.ToString())
            return change.Old.Records;
        return Difference(change.Old, change.New);
    }

    private static IEnumerable<DnsRecordBase> AddedOf(RRsetChange change)
    {
        if (change.New is null) return [];
        if (change.Old is null || change.New.Ttl != change.Old.Ttl || change.Old.Owner.ToString() != change.New.Owner.ToString())
            return change.New.Records;
        return Difference(change.New, change.Old);
    }

    /// <summary>Records of <paramref name="a"/> whose canonical RDATA is not in <paramref name="b"/>.</summary>
    private static IEnumerable<DnsRecordBase> Difference(RRset a, RRset b)
    {
        var present = new HashSet<string>(b.CanonicalRData.Select(Convert.ToBase64String));
        for (int i = 0; i < a.Count; i++)
            if (!present.Contains(Convert.ToBase64String(a.CanonicalRData[i]))) yield return a.Records[i];
    }
}

public static class ZoneDiffExtensions
{
    /// <summary>Applies <paramref name="diff"/> to <paramref name="zone"/>: the result equals the diff's newer version.</summary>
    public static Zone Apply(this Zone zone, ZoneDiff diff) =>
        zone.WithChanges(diff.Changes.Where(c => c.New is not null).Select(c => c.New!),
            diff.Changes.Where(c => c.New is null).Select(c => (c.Owner, c.Type)));
}
