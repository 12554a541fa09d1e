using System.Net;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Zones;
using InlineSigner.Zones.Text;

namespace InlineSigner.Zones.Tests;

public sealed class ParserTests
{
    private static readonly DomainName Origin = DomainName.Parse("example.org");

    private static IReadOnlyList<DnsRecordBase> Read(string text) => MasterFileReader.ReadString(text, Origin, "test.zone").Records;

    [Fact]
    public void At_sign_in_rdata_is_the_origin_not_a_label()
    {
        var records = Read("$TTL 300\nwww CNAME @\n@ MX 10 @\n");
        Assert.Equal("example.org.", ((CNameRecord)records[0]).CanonicalName.ToString());
        Assert.Equal("example.org.", ((MxRecord)records[1]).ExchangeDomainName.ToString());
        Assert.Equal("example.org.", records[1].Name.ToString());
    }

    [Fact]
    public void Records_without_ttl_take_dollar_ttl_not_the_previous_record_ttl()
    {
        var records = Read("$TTL 300\na 60 A 192.0.2.1\nb A 192.0.2.2\n$TTL 1h\nc A 192.0.2.3\n");
        Assert.Equal([60, 300, 3600], records.Select(r => r.TimeToLive));
    }

    [Fact]
    public void Without_dollar_ttl_the_last_explicit_ttl_applies_as_in_rfc_1035()
    {
        var records = Read("a 60 A 192.0.2.1\nb A 192.0.2.2\n");
        Assert.Equal([60, 60], records.Select(r => r.TimeToLive));
    }

    [Fact]
    public void Parentheses_on_one_line_and_across_lines_are_accepted()
    {
        var records = Read("$TTL 1\n@ DNSKEY 256 3 13 ( AQID BAUG )\n@ SOA ns admin (\n 1 ; serial\n 2h 1h\n 1w 5m )\n");
        Assert.Equal(Convert.FromBase64String("AQIDBAUG"), ((DnsKeyRecord)records[0]).PublicKey);
        var soa = (SoaRecord)records[1];
        Assert.Equal(7200, soa.RefreshInterval);
        Assert.Equal(604800, soa.ExpireInterval);
        Assert.Equal(300u, (uint)soa.NegativeCachingTTL);
    }

    [Fact]
    public void Omitted_owner_repeats_the_previous_owner_and_class_ttl_order_is_free()
    {
        var records = Read("host 300 IN A 192.0.2.1\n IN 600 AAAA 2001:db8::1\n\tTXT \"x\"\n");
        Assert.All(records, r => Assert.Equal("host.example.org.", r.Name.ToString()));
        Assert.Equal(600, records[1].TimeToLive);
        Assert.Equal(600, records[2].TimeToLive);
    }

    [Fact]
    public void Escapes_in_names_and_strings_are_decoded()
    {
        var records = Read("$TTL 1\na\\.b TXT \"say \\\"hi\\\"\" semi\\;colon \\065\n");
        Assert.Equal(3, records[0].Name.LabelCount);
        Assert.Equal("a.b", records[0].Name.Labels[0]);
        Assert.Equal(["say \"hi\"", "semi;colon", "A"], ((TxtRecord)records[0]).TextParts);
    }

    [Fact]
    public void Generic_rfc3597_syntax_works_for_unknown_and_known_types()
    {
        var records = Read("$TTL 1\nx TYPE65534 \\# 4 0a000001\ny A \\# 4 C0000201\nz TYPE1 192.0.2.9\n");
        Assert.Equal((RecordType)65534, records[0].RecordType);
        Assert.Equal(Convert.FromHexString("0a000001"), RecordWire.RData(records[0]));
        Assert.Equal(IPAddress.Parse("192.0.2.1"), ((ARecord)records[1]).Address);
        Assert.Equal(IPAddress.Parse("192.0.2.9"), ((ARecord)records[2]).Address);
    }

    [Fact]
    public void Include_reads_relative_to_the_including_file_with_its_own_origin()
    {
        using var dir = new InlineSigner.Tests.Shared.TempDirectory();
        File.WriteAllText(dir.File("inner.zone"), "host A 192.0.2.7\n$ORIGIN other.example.org.\nx A 192.0.2.8\n");
        File.WriteAllText(dir.File("main.zone"), "$TTL 60\n$INCLUDE inner.zone sub.example.org.\nafter A 192.0.2.9\n");
        var records = MasterFileReader.ReadFile(dir.File("main.zone"), Origin).Records;
        Assert.Equal(["host.sub.example.org.", "x.other.example.org.", "after.example.org."], records.Select(r => r.Name.ToString()));
    }

    [Fact]
    public void Every_signed_zone_type_parses_and_prints_back_identically()
    {
        const string text = """
            $TTL 3600
            @ SOA ns admin 1 7200 3600 1209600 300
            @ NS ns
            @ DS 60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118
            @ CDS 60485 5 2 D4B7D520E7BB5F0F67674A0CCEB1E3E0614B93C4F9E99B8383F6A1E4469DA50A
            @ DNSKEY 257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==
            @ CDNSKEY 257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==
            @ RRSIG SOA 13 2 3600 20261207000000 20261123000000 12345 example.org. ( AAEC AwQF )
            @ NSEC Host.example.org. NS SOA RRSIG NSEC DNSKEY TYPE65000
            @ NSEC3PARAM 1 0 0 -
            0p9mhaveqvm6t7vbl5lop2u3t2rp3tom NSEC3 1 1 12 aabbccdd 2t7b4g4vsa5smi47k61mv5bv1a22bojr NS SOA MX RRSIG DNSKEY NSEC3PARAM
            @ ZONEMD 2018031900 1 1 c68090d90a7aed716bc459f9340e3d7c1370d4d24b7e2fc3a1ddc0b9a87153b9a9713b3c9ae5cc27777f98b8e730044c
            @ CAA 128 tbs "Unknown"
            @ TXT "v=spf1 -all"
            ns A 192.0.2.1
            ns AAAA 2001:db8::1
            mx MX 10 ns
            c CNAME ns
            d DNAME example.net.
            _s._tcp SRV 0 5 5060 ns
            p PTR ns
            n NAPTR 100 10 "S" "SIP+D2T" "" _sip._tcp
            s SSHFP 2 1 123456789ABCDEF67890123456789ABCDEF67890
            _25._tcp TLSA 3 1 1 0C72AC70B745AC19998811B131D662C9AC69DBDBE7CB23E5B514B56664C5D3D6
            svc SVCB 1 . alpn="h2,h3" no-default-alpn port=853 ipv4hint=192.0.2.1,192.0.2.2 ech=AEP+DQA= ipv6hint=2001:db8::1 mandatory=alpn,port
            @ HTTPS 0 svc
            """;
        var records = Read(text);
        var printed = records.Select(MasterFileWriter.FormatRecord).ToList();
        var again = MasterFileReader.ReadString(string.Join('\n', printed), Origin, "printed").Records;
        Assert.Equal(records.Count, again.Count);
        for (int i = 0; i < records.Count; i++)
        {
            Assert.Equal(records[i].RecordType, again[i].RecordType);
            Assert.Equal(RecordWire.RData(records[i]), RecordWire.RData(again[i]));
        }
        // Printing is the format BIND writes, not ARSoft's (NSEC3 uses base32hex, NSEC keeps the case of its next name).
        Assert.Contains(printed, l => l.EndsWith("NSEC3\t1 1 12 AABBCCDD 2t7b4g4vsa5smi47k61mv5bv1a22bojr NS SOA MX RRSIG DNSKEY NSEC3PARAM", StringComparison.Ordinal));
        Assert.Contains(printed, l => l.Contains("NSEC\tHost.example.org. NS SOA RRSIG NSEC DNSKEY TYPE65000", StringComparison.Ordinal));
        Assert.Contains(printed, l => l.Contains("SVCB\t1 . mandatory=alpn,port alpn=\"h2,h3\" no-default-alpn port=853 ipv4hint=192.0.2.1,192.0.2.2 ech=AEP+DQA= ipv6hint=2001:db8::1", StringComparison.Ordinal));
    }

    [Fact]
    public void Canonical_name_order_matches_rfc_4034_section_6_1()
    {
        string[] ordered = ["example", "a.example", "yljkjljk.a.example", "Z.a.example", "zABC.a.EXAMPLE", "z.example", "\\001.z.example", "*.z.example", "\\200.z.example"];
        var names = ordered.Select(n => n == "\\200.z.example"
            ? new DomainName(["\u00c8", "z", "example"])
            : PresentationFormat.ParseName(n + ".", null)).ToList();
        var shuffled = names.OrderBy(_ => Guid.NewGuid()).ToList();
        shuffled.Sort(CanonicalNameComparer.Instance);
        Assert.Equal(names.Select(n => n.ToString()), shuffled.Select(n => n.ToString()));
    }

    [Fact]
    public void Canonical_rdata_lowercases_only_the_types_rfc_4034_and_6840_name()
    {
        var owner = DomainName.Parse("example.org");
        var nsec = new NSecRecord(owner, RecordClass.INet, 300, DomainName.Parse("Host.Example.org"), [RecordType.A]);
        var srv = new SrvRecord(owner, 300, 1, 2, 3, DomainName.Parse("Target.Example.org"));
        Assert.Equal("04486f7374074578616d706c65036f726700" + "000140", Convert.ToHexString(RecordWire.CanonicalRData(nsec)).ToLowerInvariant());
        Assert.Equal("00010002000306746172676574076578616d706c65036f726700", Convert.ToHexString(RecordWire.CanonicalRData(srv)).ToLowerInvariant());
        var svcb = MasterFileReader.ReadString("$TTL 1\ns SVCB 1 Target.Example.org.\n", owner).Records[0];
        Assert.Equal("0001" + "06546172676574" + "074578616d706c65" + "036f726700", Convert.ToHexString(RecordWire.CanonicalRData(svcb)).ToLowerInvariant());
    }
}
