using System.Net;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Authority;
using InlineSigner.Zones;

namespace InlineSigner.Authority.Tests;

/// <summary>
/// A served zone patched from the previous version (only the changed owners and their ancestors indexed again) answers
/// every question exactly as one indexed from scratch: names added below empty non-terminals, names removed (their
/// empty non-terminals with them, or kept while names remain below), glue added under a cut, data changed at the apex,
/// and the changes the patch must not take (a new cut, a removed DNAME), which fall back to a full index.
/// </summary>
[Collection("signed zones")]
public sealed class ServedZonePatchTests(SignedZonesFixture zones)
{
    private static RRset A(string name, string address) => RRset.Create([new ARecord(DomainName.Parse(name), 3600, IPAddress.Parse(address))]);

    private static IEnumerable<(string Name, RecordType Type)> Questions(Zone a, Zone b)
    {
        var names = a.Nodes.Keys.Concat(b.Nodes.Keys).Select(n => n.ToString()).Distinct().ToList();
        // Empty non-terminals, names that never existed, names below the changed ones and below the cuts.
        names.AddRange(["b.c.ent.nsec.test.", "c.ent.nsec.test.", "ent.nsec.test.", "nothere.nsec.test.", "deep.x.y.new.nsec.test.", "x.y.new.nsec.test.",
            "y.new.nsec.test.", "new.nsec.test.", "zzz.nsec.test.", "a.insecure.nsec.test.", "glue.insecure.nsec.test.", "other.dname.nsec.test.",
            "q.newcut.nsec.test.", "newcut.nsec.test."]);
        foreach (var name in names.Distinct())
            foreach (var type in new[] { RecordType.A, RecordType.Txt, RecordType.Ns, RecordType.Ds, RecordType.NSec, RecordType.Any })
                yield return (name, type);
    }

    private static string Render(DnsMessage message) =>
        $"{message.ReturnCode} aa={message.IsAuthoritiveAnswer} | {string.Join(" ; ", message.AnswerRecords)} | {string.Join(" ; ", message.AuthorityRecords)} | {string.Join(" ; ", message.AdditionalRecords.Where(r => r.RecordType != RecordType.Opt))}";

    private static void AssertSameAnswers(ServedZone patched, ServedZone full, Zone before)
    {
        Assert.Equal(full.NameCount, patched.NameCount);
        Assert.Equal(full.Serial, patched.Serial);
        var withPatch = new QueryResponder(new ZoneCatalog(patched));
        var withFull = new QueryResponder(new ZoneCatalog(full));
        foreach (var (name, type) in Questions(before, full.Zone))
            Assert.Equal(Render(Queries.Ask(withFull, name, type)), Render(Queries.Ask(withPatch, name, type)));
    }

    [Fact]
    public void Patched_versions_answer_as_versions_indexed_from_scratch()
    {
        var served = zones.NsecZone;
        var zone = served.Zone;
        var origin = zone.Origin;
        var soa = (SoaRecord)zone.Find(origin, RecordType.Soa)!.Records[0];
        var edits = new List<Func<Zone, Zone>>
        {
            z => z.With(A("deep.x.y.new.nsec.test", "192.0.2.201")),            // three new empty non-terminals
            z => z.With(A("y.new.nsec.test", "192.0.2.202")),                   // an empty non-terminal gets data
            z => z.Without(DomainName.Parse("deep.x.y.new.nsec.test"), RecordType.A), // x.y… goes, y.new… stays (it has data)
            z => z.Without(DomainName.Parse("y.new.nsec.test"), RecordType.A),  // and now the whole branch is gone
            z => z.With(A("glue.insecure.nsec.test", "192.0.2.203")),           // glue below a cut: occluded
            z => z.With(A("www.nsec.test", "192.0.2.204")),                     // data changed in place
            z => z.Without(DomainName.Parse("a.b.c.ent.nsec.test"), RecordType.A), // a branch of empty non-terminals disappears
            z => z.With(RRset.Create([new SoaRecord(origin, soa.TimeToLive, soa.MasterName, soa.ResponsibleName, soa.SerialNumber + 7, soa.RefreshInterval,
                soa.RetryInterval, soa.ExpireInterval, soa.NegativeCachingTTL)])),
            z => z.With(RRset.Create([new NsRecord(DomainName.Parse("newcut.nsec.test"), 3600, DomainName.Parse("ns.elsewhere.example"))])), // a new cut: full index
            z => z.Without(DomainName.Parse("dname.nsec.test"), RecordType.DName), // a DNAME goes: full index
        };
        for (int i = 0; i < edits.Count; i++)
        {
            var next = edits[i](zone);
            var owners = ZoneDiff.Compute(zone, next).Changes.Select(c => c.Owner).ToList();
            Assert.NotEmpty(owners);
            var patched = ServedZone.Create(next, null, served, owners);
            Assert.Equal(i < edits.Count - 2, patched.WasPatched); // the last two move occlusion: indexed whole
            var full = ServedZone.Create(next);
            AssertSameAnswers(patched, full, zone);
            zone = next;
            served = patched;
        }
    }
}
