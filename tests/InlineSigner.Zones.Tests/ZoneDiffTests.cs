using System.Net;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Zones;

namespace InlineSigner.Zones.Tests;

/// <summary>ZoneDiff: RRset- and record-level changes, Apply, and agreement of the fast (lineage) and full paths.</summary>
public sealed class ZoneDiffTests
{
    private static readonly DomainName Origin = DomainName.Parse("example.net");

    private static Zone Generated(int names)
    {
        var records = new List<DnsRecordBase>
        {
            new SoaRecord(Origin, 300, DomainName.Parse("ns.example.net"), DomainName.Parse("admin.example.net"), 1, 2, 3, 4, 5),
            new NsRecord(Origin, 300, DomainName.Parse("ns.example.net")),
        };
        for (int i = 0; i < names; i++)
        {
            var name = DomainName.Parse($"h{i}.example.net");
            records.Add(new ARecord(name, 300, new IPAddress([192, 0, 2, (byte)(i % 250)])));
            if (i % 3 == 0) records.Add(new ARecord(name, 300, new IPAddress([198, 51, 100, (byte)(i % 250)])));
            if (i % 7 == 0) records.Add(new TxtRecord(name, 600, $"text {i}"));
        }
        return Zone.FromRecords(Origin, records);
    }

    /// <summary>One random edit of the kinds a zone sees: new names, removed RRsets, records added to or removed from
    /// an RRset, TTL changes, a whole name removed, an owner re-spelt in another case.</summary>
    private static Zone RandomEdit(Zone zone, Random random)
    {
        var name = DomainName.Parse($"{(random.Next(4) == 0 ? "H" : "h")}{random.Next(2500)}.example.net");
        var existing = zone.Find(name, RecordType.A);
        switch (random.Next(7))
        {
            case 0:
                return zone.Without(name, RecordType.A);
            case 1:
                return zone.With(RRset.Create([new ARecord(name, 300, new IPAddress([203, 0, 113, (byte)random.Next(250)]))]));
            case 2:
                return existing is null ? zone : zone.With(RRset.Create(existing.Records.Append(new ARecord(name, existing.Ttl, new IPAddress([203, 0, 113, (byte)random.Next(250)])))));
            case 3:
                return existing is null || existing.Count < 2 ? zone : zone.With(RRset.Create(existing.Records.Skip(1)));
            case 4:
                return existing is null ? zone : zone.With(RRset.Create(existing.Records, existing.Ttl + 1));
            case 5:
                return zone.WithChanges([RRset.Create([new TxtRecord(name, 60, $"t{random.Next()}")])],
                    zone.Nodes.TryGetValue(name, out var node) ? node.Keys.Where(t => t != RecordType.Txt).Select(t => (name, t)) : []);
            default:
                return zone.WithChanges([], zone.Nodes.TryGetValue(name, out var all) ? all.Keys.Select(t => (name, t)).ToList() : []);
        }
    }

    [Fact]
    public void Random_edits_diff_and_apply_back_to_the_newer_zone()
    {
        var random = new Random(42);
        var older = Generated(2000);
        for (int round = 0; round < 25; round++)
        {
            var newer = older;
            int edits = random.Next(1, 60);
            for (int edit = 0; edit < edits; edit++) newer = RandomEdit(newer, random);

            var diff = ZoneDiff.Compute(older, newer);
            var applied = older.Apply(diff);
            ZoneAssert.Same(newer, applied, $"round {round}");

            // The path through the zones' lineage and the full side-by-side walk must agree exactly.
            var unrelated = Zone.FromRecords(Origin, newer.Records);
            var full = ZoneDiff.Compute(older, unrelated);
            Assert.Equal(Describe(full), Describe(diff));

            // The record-level view is exactly the record sets' difference (TTL and owner spelling included).
            var before = older.Records.Select(Key).ToHashSet();
            var after = newer.Records.Select(Key).ToHashSet();
            Assert.Equal(before.Except(after).Order(), diff.RemovedRecords.Select(Key).Order());
            Assert.Equal(after.Except(before).Order(), diff.AddedRecords.Select(Key).Order());
            older = newer;
        }
        Assert.True(ZoneDiff.Compute(older, older).IsEmpty);
    }

    private static string Key(DnsRecordBase r) => MasterFileWriter.FormatRecord(r);

    private static List<string> Describe(ZoneDiff diff) => diff.Changes.Select(c =>
        $"{c.Owner} {c.Type} -{string.Join(",", c.RemovedRecords.Select(Key))} +{string.Join(",", c.AddedRecords.Select(Key))}").ToList();

    [Fact]
    public void Changes_are_in_canonical_order_and_sorted_into_kinds()
    {
        var older = Generated(20);
        var h3 = DomainName.Parse("h3.example.net");
        var newer = older
            .Without(DomainName.Parse("h10.example.net"), RecordType.A)
            .With(RRset.Create([new ARecord(DomainName.Parse("a.example.net"), 300, IPAddress.Parse("192.0.2.200"))]))
            .With(RRset.Create([new ARecord(h3, 300, IPAddress.Parse("192.0.2.3")), new ARecord(h3, 300, IPAddress.Parse("192.0.2.33"))]));
        var diff = ZoneDiff.Compute(older, newer);
        Assert.Equal(["a.example.net.", "h10.example.net.", "h3.example.net."], diff.Changes.Select(c => c.Owner.ToString()));
        Assert.Equal("a.example.net.", Assert.Single(diff.AddedRRsets).Owner.ToString());
        Assert.Equal("h10.example.net.", Assert.Single(diff.RemovedRRsets).Owner.ToString());
        var changed = Assert.Single(diff.ChangedRRsets);
        Assert.Equal(["198.51.100.3"], changed.RemovedRecords.Cast<ARecord>().Select(r => r.Address.ToString()));
        Assert.Equal(["192.0.2.33"], changed.AddedRecords.Cast<ARecord>().Select(r => r.Address.ToString()));
    }

    [Fact]
    public void A_ttl_change_replaces_the_whole_rrset_in_the_record_view()
    {
        var older = Generated(5);
        var h0 = older.Find(DomainName.Parse("h0.example.net"), RecordType.A)!;
        var newer = older.With(RRset.Create(h0.Records, 900));
        var change = Assert.Single(ZoneDiff.Compute(older, newer).Changes);
        Assert.Equal(2, change.RemovedRecords.Count);
        Assert.Equal([900, 900], change.AddedRecords.Select(r => r.TimeToLive));
    }

    [Fact]
    public void Applying_a_diff_to_the_wrong_version_is_refused()
    {
        var older = Generated(10);
        var h1 = DomainName.Parse("h1.example.net");
        var newer = older.Without(h1, RecordType.A);
        var diff = ZoneDiff.Compute(older, newer);
        var conflict = Assert.Throws<ZoneDiffConflictException>(() => newer.Apply(diff));
        Assert.Contains("h1.example.net. A", conflict.Message, StringComparison.Ordinal);
        var added = ZoneDiff.Compute(newer, older);
        Assert.Throws<ZoneDiffConflictException>(() => older.Apply(added));
        Assert.Equal(older.RRsetCount, newer.Apply(added).RRsetCount);
    }

    [Fact]
    public void Diffs_built_from_explicit_changes_apply_too()
    {
        var older = Generated(10);
        var set = RRset.Create([new TxtRecord(DomainName.Parse("new.example.net"), 60, "hello")]);
        var old = older.Find(DomainName.Parse("h2.example.net"), RecordType.A)!;
        var diff = ZoneDiff.FromChanges([new RRsetChange(set.Owner, set.Type, null, set), new RRsetChange(old.Owner, old.Type, old, null)]);
        Assert.Equal(["h2.example.net.", "new.example.net."], diff.Changes.Select(c => c.Owner.ToString()));
        var newer = older.Apply(diff);
        Assert.NotNull(newer.Find(set.Owner, RecordType.Txt));
        Assert.Null(newer.Find(old.Owner, RecordType.A));
    }

    [Fact]
    public void A_diff_between_related_versions_visits_only_the_names_edited_on_the_way()
    {
        var older = Generated(1000);
        var h5 = DomainName.Parse("h5.example.net");
        var h77 = DomainName.Parse("h77.example.net");
        var middle = older.Without(h5, RecordType.A);
        var newer = middle.With(RRset.Create([new TxtRecord(h77, 60, "x")])).Without(DomainName.Parse("absent.example.net"), RecordType.A);
        Assert.Equal([h5, h77], newer.Lineage.OwnersChangedSince(older.Lineage)!.OrderBy(n => n.ToString()));
        Assert.Equal([h77], newer.Lineage.OwnersChangedSince(middle.Lineage));
        // Not derived from each other: no shortcut, the full walk is used (and agrees, see Random_edits_…).
        Assert.Null(older.Lineage.OwnersChangedSince(newer.Lineage));
        Assert.Null(Zone.FromRecords(Origin, newer.Records).Lineage.OwnersChangedSince(older.Lineage));
        Assert.Equal(2, ZoneDiff.Compute(older, newer).Changes.Count);
        // Applying a diff derives the result from the zone it was applied to.
        var applied = older.Apply(ZoneDiff.Compute(older, newer));
        Assert.Equal([h5, h77], applied.Lineage.OwnersChangedSince(older.Lineage)!.OrderBy(n => n.ToString()));
    }

    [Fact]
    public void The_lineage_a_zone_keeps_is_bounded()
    {
        var root = Generated(3);
        var zone = root;
        var name = DomainName.Parse("counter.example.net");
        for (int i = 0; i < 5000; i++) zone = zone.With(RRset.Create([new TxtRecord(name, 60, i.ToString(System.Globalization.CultureInfo.InvariantCulture))]));
        // After 4096 steps the chain is cut: the diff falls back to the full walk and is still right.
        Assert.Null(zone.Lineage.OwnersChangedSince(root.Lineage));
        var change = Assert.Single(ZoneDiff.Compute(root, zone).Changes);
        Assert.True(change.IsAdded);
    }
}
