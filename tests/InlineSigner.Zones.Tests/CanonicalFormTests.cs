using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Zones;
using InlineSigner.Zones.Text;

namespace InlineSigner.Zones.Tests;

/// <summary>Canonical order and form (RFC 4034 §6, RFC 6840 §5.1), against hand-assembled octets.</summary>
public sealed class CanonicalFormTests
{
    private static readonly DomainName Owner = DomainName.Parse("example.org");

    private static DnsRecordBase Read(string line) => MasterFileReader.ReadString("$TTL 300\n" + line + "\n", Owner).Records[0];

    private static string CanonicalHex(DnsRecordBase record) => Convert.ToHexString(RecordWire.CanonicalRData(record)).ToLowerInvariant();

    private const string ExampleOrg = "076578616d706c65" + "036f7267" + "00";

    [Fact]
    public void Canonical_name_order_matches_rfc_4034_section_6_1()
    {
        // The RFC's own list, in its order. \200 cannot come from a master file (ARSoft names hold ASCII only), so it is built directly.
        string[] ordered = ["example", "a.example", "yljkjljk.a.example", "Z.a.example", "zABC.a.EXAMPLE", "z.example", "\\001.z.example", "*.z.example", "\\200.z.example"];
        var names = ordered.Select(n => n == "\\200.z.example"
            ? new DomainName(["\u00c8", "z", "example"])
            : PresentationFormat.ParseName(n + ".", null)).ToList();
        var random = new Random(6);
        for (int round = 0; round < 20; round++)
        {
            var shuffled = names.OrderBy(_ => random.Next()).ToList();
            shuffled.Sort(CanonicalNameComparer.Instance);
            Assert.Equal(names.Select(n => n.ToString()), shuffled.Select(n => n.ToString()));
        }
        Assert.True(CanonicalNameComparer.Instance.Equals(DomainName.Parse("zABC.a.EXAMPLE"), DomainName.Parse("zabc.A.example")));
        Assert.Equal(CanonicalNameComparer.Instance.GetHashCode(DomainName.Parse("zABC.a.EXAMPLE")), CanonicalNameComparer.Instance.GetHashCode(DomainName.Parse("zabc.A.example")));
    }

    [Fact]
    public void Zone_and_writer_keep_names_in_canonical_order()
    {
        var text = "$TTL 1\n@ SOA ns admin 1 2 3 4 5\n@ NS ns\nz A 192.0.2.1\n\\001.z A 192.0.2.2\n*.z TXT \"w\"\nZ.a A 192.0.2.3\nyljkjljk.a A 192.0.2.4\na A 192.0.2.5\nzABC.a A 192.0.2.6\n";
        var zone = ZoneLoader.Load(MasterFileReader.ReadString(text, Owner), Owner);
        Assert.Equal(["example.org.", "a.example.org.", "yljkjljk.a.example.org.", "Z.a.example.org.", "zABC.a.example.org.", "z.example.org.", "\\001.z.example.org.", "*.z.example.org."],
            zone.Nodes.Keys.Select(PresentationFormat.FormatName));
    }

    [Fact]
    public void Records_inside_an_rrset_are_in_canonical_rdata_order_without_duplicates()
    {
        var records = MasterFileReader.ReadString("$TTL 1\nh A 192.0.2.10\nh A 192.0.2.9\nh A 192.0.2.10\nh A 10.0.0.1\n", Owner).Records;
        var set = RRset.Create(records);
        Assert.Equal(["10.0.0.1", "192.0.2.9", "192.0.2.10"], set.Records.Cast<ARecord>().Select(r => r.Address.ToString()));
        // RFC 4034 §6.3: a shorter string sorts first when it is a prefix of a longer one.
        var txt = RRset.Create(MasterFileReader.ReadString("$TTL 1\nt TXT \"ab\"\nt TXT \"a\"\n", Owner).Records);
        Assert.Equal(["0161", "026162"], txt.CanonicalRData.Select(b => Convert.ToHexString(b).ToLowerInvariant()));
    }

    [Fact]
    public void Nsec_next_name_keeps_its_case_rfc_6840_section_5_1()
    {
        var nsec = Read("@ NSEC Host.Example.org. A RRSIG NSEC");
        // next name as written, then window 0 with A (1), RRSIG (46) and NSEC (47): octets 0x40 … 0x03.
        Assert.Equal("04486f7374" + "074578616d706c65" + "036f726700" + "0006" + "400000000003", CanonicalHex(nsec));
    }

    [Fact]
    public void Srv_mx_soa_rrsig_and_other_rfc_4034_names_are_lower_cased()
    {
        Assert.Equal("0001" + "0002" + "0003" + "06746172676574" + ExampleOrg, CanonicalHex(Read("s SRV 1 2 3 Target.Example.ORG.")));
        Assert.Equal("000a" + "046d61696c" + ExampleOrg, CanonicalHex(Read("@ MX 10 Mail.Example.ORG.")));
        Assert.Equal("026e73" + ExampleOrg + "0561646d696e" + ExampleOrg + "00000001" + "00000002" + "00000003" + "00000004" + "00000005",
            CanonicalHex(Read("@ SOA NS.Example.org. Admin.EXAMPLE.org. 1 2 3 4 5")));
        // type covered A, algorithm 13, 2 labels, original TTL 300, expiration 2026-12-07, inception 2026-11-23, tag 12345.
        Assert.Equal("0001" + "0d" + "02" + "0000012c" + "6b15f700" + "6b038200" + "3039" + ExampleOrg + "000102",
            CanonicalHex(Read("@ RRSIG A 13 2 300 20261207000000 20261123000000 12345 Example.ORG. AAEC")));
        Assert.Equal("03777777" + ExampleOrg, CanonicalHex(Read("c CNAME WWW.Example.org.")));
        Assert.Equal("036e6577" + ExampleOrg, CanonicalHex(Read("d DNAME NEW.example.org.")));
        Assert.Equal("03777777" + ExampleOrg, CanonicalHex(Read("p PTR WwW.example.org.")));
        Assert.Equal("026e73" + ExampleOrg, CanonicalHex(Read("@ NS Ns.example.org.")));
    }

    [Fact]
    public void Rdata_keeps_the_case_it_was_written_with_outside_the_canonical_form()
    {
        var mx = Read("@ MX 10 Mail.Example.ORG.");
        Assert.Equal("000a" + "044d61696c" + "074578616d706c65" + "034f524700", Convert.ToHexString(RecordWire.RData(mx)).ToLowerInvariant());
    }

    [Fact]
    public void Svcb_https_and_other_later_types_keep_the_case_of_their_names()
    {
        Assert.Equal("0001" + "06546172676574" + "074578616d706c65" + "036f726700", CanonicalHex(Read("s SVCB 1 Target.Example.org.")));
        Assert.Equal("0001" + "06546172676574" + "074578616d706c65" + "036f726700", CanonicalHex(Read("s HTTPS 1 Target.Example.org.")));
        Assert.Equal("000a" + "044d61696c" + ExampleOrg, CanonicalHex(Read("l LP 10 Mail.example.org.")));
    }

    [Fact]
    public void A_record_kept_as_octets_still_gets_its_names_lower_cased()
    {
        // ARSoft would print the UTF-8 é of this NAPTR as '?', so it is held as RFC 3597 data; its replacement
        // name must still be lower-cased in canonical form (NAPTR is on RFC 4034's list).
        var naptr = Read("n NAPTR 100 10 \"u\" \"E2U+sip\" \"!^.*$!sip:caf\\195\\169@x!\" Repl.Example.org.");
        Assert.IsType<UnknownRecord>(naptr);
        var hex = CanonicalHex(naptr);
        Assert.StartsWith("0064" + "000a" + "0175" + "074532552b736970", hex, StringComparison.Ordinal);
        Assert.Contains("636166c3a9", hex, StringComparison.Ordinal);
        Assert.EndsWith("047265706c" + ExampleOrg, hex, StringComparison.Ordinal);
        Assert.EndsWith("045265706c" + "074578616d706c65" + "036f726700", Convert.ToHexString(RecordWire.RData(naptr)).ToLowerInvariant(), StringComparison.Ordinal);
    }

    [Fact]
    public void Canonical_record_for_signing_has_a_lower_case_owner_or_the_wildcard_form()
    {
        var a = MasterFileReader.ReadString("$TTL 60\nHost A 192.0.2.1\n", Owner).Records[0];
        Assert.Equal("04686f7374" + ExampleOrg + "0001" + "0001" + "0000012c" + "0004" + "c0000201",
            Convert.ToHexString(RecordWire.CanonicalRecord(a, 300)).ToLowerInvariant());
        Assert.Equal("012a" + ExampleOrg + "0001" + "0001" + "0000012c" + "0004" + "c0000201",
            Convert.ToHexString(RecordWire.CanonicalRecord(a, 300, DomainName.Parse("*.example.org"))).ToLowerInvariant());
    }

    [Fact]
    public void Name_wire_form_is_uncompressed_and_optionally_lower_cased()
    {
        var name = DomainName.Parse("WwW.Example.org");
        Assert.Equal("03577757" + "074578616d706c65" + "036f726700", Convert.ToHexString(RecordWire.Name(name, lowercase: false)).ToLowerInvariant());
        Assert.Equal("03777777" + ExampleOrg, Convert.ToHexString(RecordWire.Name(name, lowercase: true)).ToLowerInvariant());
        Assert.Equal("00", Convert.ToHexString(RecordWire.Name(DomainName.Root, lowercase: true)));
    }

    [Fact]
    public void From_rdata_refuses_what_arsoft_would_silently_truncate()
    {
        // ARSoft reads 4 octets of an A and ignores a fifth; we refuse it instead of dropping data.
        var error = Assert.Throws<FormatException>(() => RecordWire.FromRData(Owner, RecordType.A, RecordClass.INet, 60, [192, 0, 2, 1, 7]));
        Assert.Contains("left over", error.Message, StringComparison.Ordinal);
        Assert.IsType<ARecord>(RecordWire.FromRData(Owner, RecordType.A, RecordClass.INet, 60, [192, 0, 2, 1]));
    }
}
