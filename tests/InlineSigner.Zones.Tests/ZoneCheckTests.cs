using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Zones;

namespace InlineSigner.Zones.Tests;

/// <summary>Zone rules beyond syntax: what is refused (see also the corpus) and what is only worth a warning.</summary>
public sealed class ZoneCheckTests
{
    private static readonly DomainName Origin = DomainName.Parse("example.org");
    private const string Head = "$TTL 300\n@ SOA ns admin 1 2 3 4 5\n@ NS ns\n";

    private static (Zone Zone, List<ZoneWarning> Warnings) Load(string text)
    {
        var warnings = new List<ZoneWarning>();
        var zone = ZoneLoader.Load(MasterFileReader.ReadString(text, Origin, "test.zone"), Origin, warnings);
        return (zone, warnings);
    }

    [Fact]
    public void Ttl_mismatch_inside_an_rrset_is_a_warning_with_the_rfc_2181_fix_up()
    {
        var (zone, warnings) = Load(Head + "h 120 A 192.0.2.1\nh 60 A 192.0.2.2\nh 90 A 192.0.2.3\n");
        var warning = Assert.Single(warnings);
        Assert.Equal(5, warning.Line);
        Assert.Contains("differs from TTL 120 at line 4", warning.Problem, StringComparison.Ordinal);
        Assert.Contains("the RRset takes the lowest, 60 (RFC 2181 §5.2)", warning.Problem, StringComparison.Ordinal);
        var set = zone.Find(DomainName.Parse("h.example.org"), RecordType.A)!;
        Assert.Equal(60, set.Ttl);
        Assert.All(set.Records, r => Assert.Equal(60, r.TimeToLive));
        Assert.StartsWith("test.zone:5: warning: ", warning.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Rrsigs_keep_the_ttl_of_the_rrset_they_cover()
    {
        var (zone, warnings) = Load(Head +
            "@ 300 RRSIG SOA 13 2 300 20261207000000 20261123000000 1 example.org. AAEC\n" +
            "@ 60 RRSIG NS 13 2 60 20261207000000 20261123000000 1 example.org. AAEC\n");
        Assert.Empty(warnings);
        Assert.Equal([300, 60], zone.Find(Origin, RecordType.RrSig)!.Records.OrderBy(r => r.TimeToLive == 60 ? 1 : 0).Select(r => r.TimeToLive));
    }

    [Fact]
    public void Occluded_data_below_a_delegation_is_reported_but_glue_is_not()
    {
        var (_, found) = Load(Head + "sub NS ns.sub\nsub NS ns.other.sub\nns.sub A 192.0.2.1\nns.sub AAAA 2001:db8::1\nwww.sub TXT \"hidden\"\nstray.sub A 192.0.2.9\n");
        var warnings = found.OrderBy(w => w.Line).ToList();
        Assert.Equal(2, warnings.Count);
        Assert.Equal(8, warnings[0].Line);
        Assert.Contains("www.sub.example.org. TXT is occluded: it is below the delegation at sub.example.org. and not glue", warnings[0].Problem, StringComparison.Ordinal);
        Assert.Equal(9, warnings[1].Line);
        Assert.Contains("stray.sub.example.org. A is occluded", warnings[1].Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Data_at_a_delegation_point_other_than_ns_ds_and_glue_is_occluded()
    {
        var (_, warnings) = Load(Head + "sub NS ns.example.net.\nsub DS 1 13 2 00\nsub TXT \"parent side\"\nsub2 NS sub2\nsub2 A 192.0.2.2\n");
        var warning = Assert.Single(warnings);
        Assert.Contains("sub.example.org. TXT is occluded: it is at the delegation point", warning.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Names_below_a_dname_are_occluded()
    {
        var (_, warnings) = Load(Head + "old DNAME new.example.net.\nwww.old A 192.0.2.1\n");
        Assert.Contains("below the DNAME at old.example.org.", Assert.Single(warnings).Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void The_loader_reports_the_readers_warnings_too()
    {
        var warnings = new List<ZoneWarning>();
        ZoneLoader.Load(MasterFileReader.ReadString("@ SOA ns admin 1 2 3 4 5\n@ NS ns\n", Origin), Origin, warnings);
        Assert.Contains("MINIMUM", Assert.Single(warnings).Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Rrsig_and_nsec_may_stand_beside_a_cname()
    {
        var (zone, warnings) = Load(Head + "www CNAME @\nwww RRSIG CNAME 13 3 300 20261207000000 20261123000000 1 example.org. AAEC\nwww NSEC z.example.org. CNAME RRSIG NSEC\n");
        Assert.Empty(warnings);
        Assert.Equal(3, zone.Nodes[DomainName.Parse("www.example.org")].Count);
    }

    [Fact]
    public void Structural_problems_are_found_in_zones_that_did_not_come_from_files()
    {
        var zone = ZoneLoader.Load(MasterFileReader.ReadString(Head + "www A 192.0.2.1\n", Origin), Origin);
        Assert.Null(ZoneChecks.FindStructuralProblem(zone));
        var broken = zone.With(RRset.Create([new CNameRecord(DomainName.Parse("www.example.org"), 300, Origin)]));
        Assert.Contains("CNAME beside other data (A)", ZoneChecks.FindStructuralProblem(broken)!.Value.Message, StringComparison.Ordinal);
        var noSoa = zone.Without(Origin, RecordType.Soa);
        Assert.Contains("no SOA", ZoneChecks.FindStructuralProblem(noSoa)!.Value.Message, StringComparison.Ordinal);
        var outside = zone.With(RRset.Create([new ARecord(DomainName.Parse("www.example.net"), 300, System.Net.IPAddress.Loopback)]));
        Assert.Contains("outside the zone", ZoneChecks.FindStructuralProblem(outside)!.Value.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Delegation_points_are_the_names_below_the_apex_with_ns()
    {
        var (zone, _) = Load(Head + "a NS ns.example.net.\nb.c NS ns.example.net.\nd A 192.0.2.1\n");
        Assert.Equal(["a.example.org.", "b.c.example.org."], ZoneChecks.DelegationPoints(zone).Select(n => n.ToString()));
    }

    [Theory]
    [InlineData("www.example.org.", "example.org.", true)]
    [InlineData("WWW.Example.ORG.", "example.org.", true)]
    [InlineData("example.org.", "example.org.", true)]
    [InlineData("badexample.org.", "example.org.", false)]
    [InlineData("org.", "example.org.", false)]
    [InlineData("a.b.", ".", true)]
    public void In_zone_test_compares_whole_labels_case_insensitively(string name, string zone, bool inside) =>
        Assert.Equal(inside, ZoneChecks.IsAtOrBelow(DomainName.Parse(name), DomainName.Parse(zone)));
}
