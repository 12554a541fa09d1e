using System.Net;
using System.Text;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Tests.Shared;
using InlineSigner.Zones;
using InlineSigner.Zones.Text;

namespace InlineSigner.Zones.Tests;

/// <summary>The master-file reader, one feature at a time (RFC 1035 §5, RFC 2308 §4, RFC 3597 §5).</summary>
public sealed class ParserTests
{
    private static readonly DomainName Origin = DomainName.Parse("example.org");

    private static IReadOnlyList<DnsRecordBase> Read(string text) => MasterFileReader.ReadString(text, Origin, "test.zone").Records;

    private static string Hex(DnsRecordBase record) => Convert.ToHexString(RecordWire.RData(record)).ToLowerInvariant();

    [Fact]
    public void At_sign_is_the_origin_as_owner_and_in_rdata_not_a_label()
    {
        var records = Read("$TTL 300\nwww CNAME @\n@ MX 10 @\n");
        Assert.Equal("example.org.", ((CNameRecord)records[0]).CanonicalName.ToString());
        Assert.Equal("example.org.", ((MxRecord)records[1]).ExchangeDomainName.ToString());
        Assert.Equal("example.org.", records[1].Name.ToString());
    }

    [Fact]
    public void Relative_names_take_the_origin_and_absolute_names_do_not()
    {
        var records = Read("$TTL 1\nhost MX 10 mail\nhost.example.org. MX 20 mail.example.net.\n");
        Assert.Equal(["host.example.org.", "host.example.org."], records.Select(r => r.Name.ToString()));
        Assert.Equal(["mail.example.org.", "mail.example.net."], records.Cast<MxRecord>().Select(r => r.ExchangeDomainName.ToString()));
    }

    [Fact]
    public void Dollar_origin_changes_the_origin_and_may_itself_be_relative()
    {
        var records = Read("$TTL 1\n$ORIGIN sub.example.org.\na A 192.0.2.1\n$ORIGIN deeper\nb A 192.0.2.2\n$ORIGIN example.net.\n@ NS ns\n");
        Assert.Equal(["a.sub.example.org.", "b.deeper.sub.example.org.", "example.net."], records.Select(r => r.Name.ToString()));
        Assert.Equal("ns.example.net.", ((NsRecord)records[2]).NameServer.ToString());
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
    public void A_soa_without_any_ttl_takes_its_minimum_and_says_so()
    {
        var file = MasterFileReader.ReadString("@ SOA ns admin 1 2 3 4 1h\nns A 192.0.2.1\n", Origin, "test.zone");
        Assert.Equal([3600, 3600], file.Records.Select(r => r.TimeToLive));
        var warning = Assert.Single(file.Warnings);
        Assert.Equal(1, warning.Line);
        Assert.Contains("MINIMUM 3600", warning.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_default_ttl_can_be_given_by_the_caller()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("z"), "a A 192.0.2.1\n");
        Assert.Equal(86400, MasterFileReader.ReadFile(dir.File("z"), Origin, defaultTtl: 86400).Records[0].TimeToLive);
    }

    [Theory]
    [InlineData("1h30m", 5400)]
    [InlineData("1w", 604800)]
    [InlineData("2D", 172800)]
    [InlineData("1w2d3h4m5s", 788645)]
    [InlineData("90s", 90)]
    [InlineData("0", 0)]
    [InlineData("2147483647", 2147483647)]
    public void Ttls_take_bind_units(string ttl, int seconds)
    {
        Assert.Equal(seconds, Read($"a {ttl} A 192.0.2.1\n")[0].TimeToLive);
        Assert.Equal(seconds, Read($"$TTL {ttl}\na A 192.0.2.1\n")[0].TimeToLive);
    }

    [Fact]
    public void Soa_timers_take_units_but_the_serial_does_not()
    {
        var soa = (SoaRecord)Read("$TTL 1\n@ SOA ns admin 2026112401 2h 30m 2w 5m\n")[0];
        Assert.Equal(2026112401u, soa.SerialNumber);
        Assert.Equal([7200, 1800, 1209600, 300], new[] { soa.RefreshInterval, soa.RetryInterval, soa.ExpireInterval, soa.NegativeCachingTTL });
        Assert.Throws<ZoneFileException>(() => Read("$TTL 1\n@ SOA ns admin 1h 2h 30m 2w 5m\n"));
    }

    [Fact]
    public void Parentheses_on_one_line_and_across_lines_with_comments_are_accepted()
    {
        var records = Read("$TTL 1\n@ DNSKEY 256 3 13 ( AQID BAUG )\n@ SOA ns admin ( ; opening comment\n 1 ; serial\n 2h 1h ; two timers (with a paren in the comment\n 1w 5m )\n");
        Assert.Equal(Convert.FromBase64String("AQIDBAUG"), ((DnsKeyRecord)records[0]).PublicKey);
        var soa = (SoaRecord)records[1];
        Assert.Equal(7200, soa.RefreshInterval);
        Assert.Equal(604800, soa.ExpireInterval);
        Assert.Equal(300, soa.NegativeCachingTTL);
    }

    [Fact]
    public void Omitted_owner_repeats_the_previous_owner_and_ttl_and_class_come_in_either_order()
    {
        var records = Read("host 300 IN A 192.0.2.1\n IN 600 AAAA 2001:db8::1\n\tTXT \"x\"\n 700 A 192.0.2.2\n");
        Assert.All(records, r => Assert.Equal("host.example.org.", r.Name.ToString()));
        Assert.Equal([300, 600, 600, 700], records.Select(r => r.TimeToLive));
        Assert.All(records, r => Assert.Equal(RecordClass.INet, r.RecordClass));
    }

    [Fact]
    public void Owner_inherited_after_an_include_is_the_including_files_last_owner()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("inner.zone"), "inner A 192.0.2.7\n");
        File.WriteAllText(dir.File("main.zone"), "$TTL 60\nouter A 192.0.2.1\n$INCLUDE inner.zone\n  AAAA 2001:db8::1\n");
        var records = MasterFileReader.ReadFile(dir.File("main.zone"), Origin).Records;
        Assert.Equal("outer.example.org.", records[2].Name.ToString());
    }

    [Fact]
    public void Comments_end_at_the_line_but_not_inside_quotes()
    {
        var records = Read("$TTL 1 ; default TTL\n; a whole-line comment\nt TXT \"a;b\" \"(c)\" ; trailing\n");
        Assert.Equal(["a;b", "(c)"], ((TxtRecord)Assert.Single(records)).TextParts);
    }

    [Fact]
    public void Adjacent_quoted_strings_are_separate_and_empty_ones_count()
    {
        var records = Read("$TTL 1\nt TXT \"a\"\"b\" \"\" c\n");
        Assert.Equal("0161" + "0162" + "00" + "0163", Hex(Assert.Single(records)));
    }

    [Fact]
    public void Escapes_in_names_and_strings_are_decoded()
    {
        var records = Read("$TTL 1\na\\.b TXT \"say \\\"hi\\\"\" semi\\;colon \\065\nx\\032y\\(z A 192.0.2.1\n");
        Assert.Equal(3, records[0].Name.LabelCount);
        Assert.Equal("a.b", records[0].Name.Labels[0]);
        Assert.Equal(["say \"hi\"", "semi;colon", "A"], ((TxtRecord)records[0]).TextParts);
        Assert.Equal("x y(z", records[1].Name.Labels[0]);
        Assert.Equal("x\\032y\\(z.example.org.", PresentationFormat.FormatName(records[1].Name));
    }

    [Fact]
    public void Name_octets_above_127_are_refused_because_arsoft_would_turn_them_into_question_marks()
    {
        var error = Assert.Throws<ZoneFileException>(() => Read("$TTL 1\ncaf\\233 A 192.0.2.1\n"));
        Assert.Contains("octet \\233 (above 127)", error.Message, StringComparison.Ordinal);
        Assert.Throws<ZoneFileException>(() => Read("$TTL 1\ncafé A 192.0.2.1\n"));
        // The same octet hidden in RFC 3597 data of a name-bearing type is refused too.
        error = Assert.Throws<ZoneFileException>(() => Read("$TTL 1\nx NS \\# 5 03c3a96100\n"));
        Assert.Contains("above 127", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Text_keeps_every_octet_where_arsoft_would_lose_them()
    {
        // ARSoft decodes text as ASCII; such records are kept as RFC 3597 data of their own type.
        var records = Read("$TTL 1\nt TXT \"caf\\195\\169\" \"\\255\\000\"\nc CAA 0 issue \"\\233\"\nutf TXT \"café\"\n");
        Assert.Equal("05636166c3a9" + "02ff00", Hex(records[0]));
        Assert.Equal(RecordType.Txt, records[0].RecordType);
        Assert.Equal("0005697373756" + "5e9", Hex(records[1]));
        Assert.Equal("05636166c3a9", Hex(records[2])); // text given as a .NET string is UTF-8
        Assert.Equal("t.example.org.\t1\tIN\tTXT\t\"caf\\195\\169\" \"\\255\\000\"", MasterFileWriter.FormatRecord(records[0]));
    }

    [Fact]
    public void Files_are_read_as_octets_so_any_encoding_survives()
    {
        using var dir = new TempDirectory();
        // A UTF-8 byte order mark, CRLF line ends, a raw ISO-8859-1 é (0xE9) and a UTF-8 é (0xC3 0xA9).
        var bytes = new List<byte> { 0xEF, 0xBB, 0xBF };
        bytes.AddRange(Encoding.ASCII.GetBytes("$TTL 60\r\nl TXT \"caf"));
        bytes.Add(0xE9);
        bytes.AddRange(Encoding.ASCII.GetBytes("\"\r\nu TXT \"caf"));
        bytes.AddRange([0xC3, 0xA9]);
        bytes.AddRange(Encoding.ASCII.GetBytes("\"\r\n"));
        File.WriteAllBytes(dir.File("z"), bytes.ToArray());
        var records = MasterFileReader.ReadFile(dir.File("z"), Origin).Records;
        Assert.Equal("04636166e9", Hex(records[0]));
        Assert.Equal("05636166c3a9", Hex(records[1]));
        Assert.Equal([60, 60], records.Select(r => r.TimeToLive));
    }

    [Fact]
    public void Generic_rfc3597_syntax_works_for_unknown_and_known_types()
    {
        var records = Read("$TTL 1\nx TYPE65534 \\# 4 0a000001\ny A \\# 4 C0000201\nz TYPE1 192.0.2.9\ne TYPE65533 \\# 0\nm MX \\# ( 6 000a 02 6d78 00 )\n");
        Assert.Equal((RecordType)65534, records[0].RecordType);
        Assert.Equal("0a000001", Hex(records[0]));
        Assert.Equal(IPAddress.Parse("192.0.2.1"), ((ARecord)records[1]).Address);
        Assert.Equal(IPAddress.Parse("192.0.2.9"), ((ARecord)records[2]).Address);
        Assert.Empty(RecordWire.RData(records[3]));
        Assert.Equal("mx.", ((MxRecord)records[4]).ExchangeDomainName.ToString());
    }

    [Fact]
    public void Generic_data_for_a_known_type_must_fit_the_type()
    {
        var error = Assert.Throws<ZoneFileException>(() => Read("$TTL 1\ny A \\# 5 C000020101\n"));
        Assert.Contains("not valid A RDATA", error.Message, StringComparison.Ordinal);
        error = Assert.Throws<ZoneFileException>(() => Read("$TTL 1\n@ NSEC \\# 6 000003400000\n"));
        Assert.Contains("zero octet", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Type_and_class_numbers_and_mnemonics_in_any_case()
    {
        var records = Read("$TTL 1\na CLASS1 TYPE1 192.0.2.1\nb in a 192.0.2.2\nc Mx 10 a\nd 5 CLASS1 aaaa ::1\n");
        Assert.All(records, r => Assert.Equal(RecordClass.INet, r.RecordClass));
        Assert.Equal([RecordType.A, RecordType.A, RecordType.Mx, RecordType.Aaaa], records.Select(r => r.RecordType));
        Assert.Throws<ZoneFileException>(() => Read("$TTL 1\na A,NS 192.0.2.1\n"));
        Assert.Throws<ZoneFileException>(() => Read("$TTL 1\na AXFR 192.0.2.1\n"));
    }

    [Fact]
    public void Dnssec_algorithms_may_be_written_as_mnemonics()
    {
        var records = Read("$TTL 1\n@ DNSKEY 257 3 ECDSAP256SHA256 AQID\n@ DS 1 RSASHA256 2 00\n@ RRSIG A ED25519 2 1 20261207000000 20261123000000 1 example.org. AQID\n");
        Assert.Equal("0101030d010203", Hex(records[0]));
        Assert.Equal("0001080200", Hex(records[1]));
        Assert.Equal(15, RecordWire.RData(records[2])[2]);
    }

    [Fact]
    public void Include_reads_relative_to_the_including_file_with_its_own_origin()
    {
        using var dir = new TempDirectory();
        Directory.CreateDirectory(dir.File("parts"));
        File.WriteAllText(dir.File("parts/inner.zone"), "host A 192.0.2.7\n$ORIGIN other.example.org.\nx A 192.0.2.8\n$INCLUDE deeper.zone\n");
        File.WriteAllText(dir.File("parts/deeper.zone"), "y A 192.0.2.10\n");
        File.WriteAllText(dir.File("main.zone"), "$TTL 60\n$INCLUDE parts/inner.zone sub.example.org.\nafter A 192.0.2.9\n$INCLUDE parts/deeper.zone\n");
        var records = MasterFileReader.ReadFile(dir.File("main.zone"), Origin).Records;
        Assert.Equal(["host.sub.example.org.", "x.other.example.org.", "y.other.example.org.", "after.example.org.", "y.example.org."],
            records.Select(r => r.Name.ToString()));
    }

    [Fact]
    public void Every_signed_zone_type_parses_and_prints_back_identically()
    {
        var zone = ZoneLoader.LoadFile(ZoneAssert.FixturePath("types.example"), DomainName.Parse("types.example"));
        var printed = zone.Records.Select(MasterFileWriter.FormatRecord).ToList();
        var again = MasterFileReader.ReadString(string.Join('\n', printed), DomainName.Parse("types.example"), "printed").Records;
        Assert.Equal(zone.Records.Select(r => (r.RecordType, Hex(r))), again.Select(r => (r.RecordType, Hex(r))));
        // Printing is the format BIND writes, not ARSoft's (NSEC3 uses base32hex, NSEC keeps the case of its next name).
        Assert.Contains(printed, l => l.EndsWith("NSEC3\t1 1 12 AABBCCDD 2t7b4g4vsa5smi47k61mv5bv1a22bojr NS SOA MX RRSIG DNSKEY NSEC3PARAM", StringComparison.Ordinal));
        Assert.Contains(printed, l => l.Contains("NSEC\tAlpha.types.example. NS SOA MX TXT RRSIG NSEC DNSKEY SPF CAA TYPE65000", StringComparison.Ordinal));
        Assert.Contains(printed, l => l.Contains("RRSIG\tSOA 13 2 3600 20261207000000 20261123000000 2371 types.example. 8jmF", StringComparison.Ordinal));
        Assert.Contains(printed, l => l.Contains("SVCB\t1 svc-backend.types.example. mandatory=alpn,port alpn=\"h2\" port=8443 ipv6hint=2001:db8::7 key65000=\"opaque \\\"x\\\"\"", StringComparison.Ordinal));
        Assert.Contains(printed, l => l.Contains("LOC\t42 21 43.528 N 71 5 6.284 W -25.00m 1m 3000m 10m", StringComparison.Ordinal));
        Assert.Contains(printed, l => l.Contains("TYPE65534\t\\# 4 0A000001", StringComparison.Ordinal));
    }

    [Fact]
    public void Svcb_value_lists_follow_rfc_9460_appendix_a()
    {
        // "f\\\\oo\\,bar,h2" is a char-string holding f\\oo\,bar,h2: the ids "f\oo,bar" and "h2" (RFC 9460 Appendix D.2).
        var records = Read("$TTL 1\ns SVCB 16 foo.example.org. alpn=\"f\\\\\\\\oo\\\\,bar,h2\"\nt SVCB 16 foo.example.org. alpn=f\\\\\\092oo\\092,bar,h2\n");
        Assert.Equal("0010" + "03666f6f076578616d706c65036f726700" + "0001000c" + "08665c6f6f2c626172" + "026832", Hex(records[0]));
        Assert.Equal(Hex(records[0]), Hex(records[1]));
        Assert.EndsWith("alpn=\"f\\\\\\\\oo\\\\,bar,h2\"", MasterFileWriter.FormatRecord(records[0]), StringComparison.Ordinal);
        // Keys come out sorted, and mandatory's list sorted too (RFC 9460 §2.2, §8).
        var sorted = Read("$TTL 1\ns SVCB 1 . port=53 mandatory=port,alpn alpn=dot\n")[0];
        Assert.Equal("0001" + "00" + "000000040001" + "0003" + "00010004" + "03646f74" + "00030002" + "0035", Hex(sorted));
    }

    [Fact]
    public void Rfc_1876_loc_examples_encode_as_bind_does()
    {
        var loc = Read("$TTL 1\nl LOC 42 21 54 N 71 06 18 W -24m 30m\n")[0];
        // version 0, size 30m (0x33), default precisions 10000m (0x16) and 10m (0x13); 2^31 ± thousandths of arc seconds.
        Assert.Equal("00331613" + (0x80000000u + 152514000u).ToString("x8") + (0x80000000u - 255978000u).ToString("x8") + (10000000u - 2400u).ToString("x8"), Hex(loc));
        Assert.EndsWith("LOC\t42 21 54.000 N 71 6 18.000 W -24.00m 30m 10000m 10m", MasterFileWriter.FormatRecord(loc), StringComparison.Ordinal);
    }
}
