using System.Net;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Zones;

namespace InlineSigner.Zones.Tests;

/// <summary>Zone.Names / Zone.OwnersOf: the sorted owner sets carried through edits, and the neighbour lookups on them.</summary>
public sealed class ZoneIndexTests
{
    private static readonly DomainName Origin = DomainName.Parse("example.net");

    private static DomainName RandomName(Random random) => random.Next(5) switch
    {
        0 => DomainName.Parse($"h{random.Next(300)}.example.net"),
        1 => DomainName.Parse($"x{random.Next(20)}.h{random.Next(300)}.example.net"),
        2 => DomainName.Parse($"H{random.Next(300)}.example.net"), // another spelling of the same names
        3 => DomainName.Parse($"a.b{random.Next(10)}.c{random.Next(5)}.example.net"),
        _ => DomainName.Parse($"*.w{random.Next(5)}.example.net"),
    };

    [Fact]
    public void Sets_carried_through_random_edits_equal_sets_built_from_scratch()
    {
        var random = new Random(7);
        var zone = Zone.FromRecords(Origin, [new SoaRecord(Origin, 300, DomainName.Parse("ns.example.net"), DomainName.Parse("admin.example.net"), 1, 2, 3, 4, 5)]);
        // Build the indexes early so that every later version inherits and updates them.
        Assert.Single(zone.Names);
        Assert.Empty(zone.OwnersOf(RecordType.Txt));
        for (int step = 0; step < 400; step++)
        {
            var name = RandomName(random);
            zone = random.Next(4) switch
            {
                0 => zone.Without(name, RecordType.A),
                1 => zone.WithChanges([RRset.Create([new TxtRecord(name, 60, "t")])], [(RandomName(random), RecordType.A)]),
                2 => zone.WithChanges([], zone.Nodes.TryGetValue(name, out var node) ? node.Keys.Select(t => (name, t)).ToList() : []),
                _ => zone.With(RRset.Create([new ARecord(name, 60, IPAddress.Parse("192.0.2.1"))])),
            };
            if (step % 50 != 0) continue;
            var comparer = CanonicalNameComparer.Instance;
            Assert.Equal(zone.Nodes.Keys, zone.Names.ToList(), comparer);
            Assert.Equal(zone.Nodes.Where(n => n.Value.ContainsKey(RecordType.Txt)).Select(n => n.Key), zone.OwnersOf(RecordType.Txt).ToList(), comparer);
            // A set built now, on a fresh copy, is the same.
            var fresh = Zone.FromRecords(Origin, zone.Records);
            Assert.Equal(fresh.Names.ToList(), zone.Names.ToList(), comparer);
            Assert.Equal(fresh.OwnersOf(RecordType.A).ToList(), zone.OwnersOf(RecordType.A).ToList(), comparer);
        }
        // Sets built late, on a derived zone, are carried from there on as well.
        var later = zone.With(RRset.Create([new MxRecord(DomainName.Parse("mx.example.net"), 60, 10, Origin)]));
        Assert.Single(later.OwnersOf(RecordType.Mx));
        var dropped = later.Without(DomainName.Parse("mx.example.net"), RecordType.Mx);
        Assert.Empty(dropped.OwnersOf(RecordType.Mx));
        Assert.Single(later.OwnersOf(RecordType.Mx)); // the older version is untouched
    }

    private static string? Text(DomainName? name) => name?.ToString().ToLowerInvariant();

    [Fact]
    public void Before_after_and_below_agree_with_a_linear_scan()
    {
        var random = new Random(11);
        var records = Enumerable.Range(0, 500).Select(_ => (DnsRecordBase)new ARecord(RandomName(random), 60, IPAddress.Parse("192.0.2.1"))).ToList();
        var zone = Zone.FromRecords(Origin, records);
        var sorted = zone.Nodes.Keys.ToList();
        var comparer = CanonicalNameComparer.Instance;
        for (int probe = 0; probe < 300; probe++)
        {
            var name = probe % 3 == 0 ? sorted[random.Next(sorted.Count)] : RandomName(random);
            var before = sorted.LastOrDefault(n => comparer.Compare(n, name) < 0);
            var after = sorted.FirstOrDefault(n => comparer.Compare(n, name) > 0);
            Assert.Equal(Text(before), Text(zone.Names.Before(name)));
            Assert.Equal(Text(after), Text(zone.Names.After(name)));
            Assert.Equal(Text(before ?? sorted[^1]), Text(zone.Names.BeforeCyclic(name)));
            Assert.Equal(Text(after ?? sorted[0]), Text(zone.Names.AfterCyclic(name)));
            var below = sorted.Where(n => ZoneChecks.IsAtOrBelow(n, name) && !comparer.Equals(n, name)).ToList();
            Assert.Equal(below, zone.Names.Below(name), comparer);
        }
        var apexBelow = zone.Names.Below(Origin).ToList();
        Assert.Equal(sorted.Count, apexBelow.Count + (zone.HasName(Origin) ? 1 : 0));
        Assert.Null(Zone.Empty(Origin).Names.BeforeCyclic(Origin));
    }

    [Fact]
    public void A_signature_that_nobody_touched_stays_out_of_the_record_diff_when_the_rrsig_sets_lowest_ttl_changes()
    {
        // Two RRSIGs at one name with their own TTLs: dropping the one with the lower TTL raises the set's TTL, but
        // the other signature is the same record and must not be deleted and re-added in an IXFR delta.
        var name = DomainName.Parse("h.example.net");
        byte[] Sig(RecordType covered) => [(byte)((ushort)covered >> 8), (byte)covered, 15, 3, 0, 0, 0, 60, 0, 0, 0, 2, 0, 0, 0, 1, 0, 7,
            7, (byte)'e', (byte)'x', (byte)'a', (byte)'m', (byte)'p', (byte)'l', (byte)'e', 3, (byte)'n', (byte)'e', (byte)'t', 0, 1, 2, 3];
        var a = RecordWire.FromRData(name, RecordType.RrSig, RecordClass.INet, 60, Sig(RecordType.A));
        var txt = RecordWire.FromRData(name, RecordType.RrSig, RecordClass.INet, 3600, Sig(RecordType.Txt));
        var older = Zone.FromRecords(Origin, [a, txt]);
        var newer = older.With(RRset.Create([txt]));
        var change = Assert.Single(ZoneDiff.Compute(older, newer).Changes);
        Assert.Equal(60, change.Old!.Ttl);
        Assert.Equal(3600, change.New!.Ttl);
        Assert.Equal([a], change.RemovedRecords);
        Assert.Empty(change.AddedRecords);
        ZoneAssert.Same(newer, older.Apply(ZoneDiff.Compute(older, newer)), "applied");
    }
}
