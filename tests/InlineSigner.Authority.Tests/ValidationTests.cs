using ARSoft.Tools.Net;
using InlineSigner.Authority;

namespace InlineSigner.Authority.Tests;

/// <summary>Real clients against our listener: dig reads the answers, delv validates them with our KSKs as trust anchors.</summary>
[Collection("signed zones")]
public sealed class ValidationTests(SignedZonesFixture zones)
{
    [Theory]
    [InlineData("nsec.test", "www.nsec.test", "A")]            // positive
    [InlineData("nsec.test", "nothere.nsec.test", "A")]        // NXDOMAIN
    [InlineData("nsec.test", "www.nsec.test", "MX")]           // NODATA
    [InlineData("nsec.test", "c.ent.nsec.test", "A")]          // empty non-terminal
    [InlineData("nsec.test", "foo.wild.nsec.test", "A")]       // wildcard
    [InlineData("nsec.test", "foo.wild.nsec.test", "MX")]      // wildcard NODATA
    [InlineData("nsec.test", "chain1.nsec.test", "A")]         // CNAME chain
    [InlineData("nsec.test", "x.wildcname.nsec.test", "A")]    // wildcard CNAME
    [InlineData("nsec.test", "host.dname.nsec.test", "A")]     // DNAME
    [InlineData("nsec.test", "dangling.nsec.test", "A")]       // CNAME to NXDOMAIN
    [InlineData("nsec.test", "secure.nsec.test", "DS")]        // DS from the parent, child served too
    [InlineData("nsec.test", "www.secure.nsec.test", "A")]     // chain of trust through our DS into the child
    [InlineData("nsec.test", "insecure.nsec.test", "DS")]      // no DS at an insecure delegation
    [InlineData("nsec3.test", "www.nsec3.test", "A")]
    [InlineData("nsec3.test", "a.nothere.nsec3.test", "A")]
    [InlineData("nsec3.test", "www.nsec3.test", "MX")]
    [InlineData("nsec3.test", "c.ent.nsec3.test", "A")]
    [InlineData("nsec3.test", "foo.wild.nsec3.test", "TXT")]
    [InlineData("nsec3.test", "foo.wild.nsec3.test", "MX")]
    [InlineData("nsec3.test", "chain1.nsec3.test", "A")]
    [InlineData("nsec3.test", "secure.nsec3.test", "DS")]
    [InlineData("nsec3.test", "insecure.nsec3.test", "DS")]
    [InlineData("nsec3.test", "x.wildcname.nsec3.test", "A")]
    [InlineData("optout.test", "www.optout.test", "A")]
    [InlineData("optout.test", "a.nothere.optout.test", "TXT")]
    [InlineData("optout.test", "www.optout.test", "MX")]
    [InlineData("optout.test", "secure.optout.test", "DS")]
    public async Task Delv_validates_the_answer(string root, string name, string type)
    {
        var result = await zones.Delv(DomainName.Parse(root), name, type);
        Assert.True(result.All.Contains("fully validated", StringComparison.Ordinal), $"delv {name} {type}:\n{result.All}");
        Assert.DoesNotMatch("resolution failed: (?!ncache)", result.All); // negative answers end with "ncache nxdomain/nxrrset"
    }

    [Fact]
    public async Task Dig_sees_an_authoritative_signed_answer()
    {
        var result = await zones.Dig("+dnssec", "www.nsec.test", "A");
        Assert.Contains("status: NOERROR", result.Output, StringComparison.Ordinal);
        Assert.Matches(@"flags: qr aa;", result.Output);
        Assert.Contains("RRSIG\tA 13 3 3600", result.Output, StringComparison.Ordinal);
        Assert.Contains("EDNS: version: 0, flags: do; udp: 1232", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Dig_sees_a_referral_with_glue_and_no_AA()
    {
        var result = await zones.Dig("+dnssec", "host.insecure.nsec.test", "A");
        Assert.Contains("status: NOERROR", result.Output, StringComparison.Ordinal);
        Assert.Matches(@"flags: qr;", result.Output);
        Assert.Contains("AUTHORITY: 4", result.Output, StringComparison.Ordinal); // 2 NS, NSEC, RRSIG(NSEC)
        Assert.Matches(@"ns\.insecure\.nsec\.test\.\s+3600\s+IN\s+A\s+192\.0\.2\.71", result.Output);
    }

    [Fact]
    public async Task Truncated_UDP_answers_are_retried_over_TCP_and_arrive_whole()
    {
        foreach (var size in new[] { "512", "1232" })
        {
            var truncated = await zones.Dig("+dnssec", "+ignore", "+bufsize=" + size, "big.nsec.test", "TXT");
            Assert.Matches(@"flags: qr aa tc;", truncated.Output);
            var retried = await zones.Dig("+dnssec", "+bufsize=" + size, "big.nsec.test", "TXT");
            Assert.Contains("Truncated, retrying in TCP mode", retried.All, StringComparison.Ordinal);
            Assert.Contains("ANSWER: 41", retried.Output, StringComparison.Ordinal); // 40 TXT + RRSIG
        }
        var fits = await zones.Dig("+dnssec", "+ignore", "+bufsize=1232", "medium.nsec.test", "TXT");
        Assert.Matches(@"flags: qr aa;", fits.Output);
        var noEdns = await zones.Dig("+noedns", "+ignore", "medium.nsec.test", "TXT");
        Assert.Matches(@"flags: qr aa tc;", noEdns.Output);
    }

    [Fact]
    public async Task Other_zones_are_refused_and_counted()
    {
        long before = zones.Counters.AnsweredWith(ARSoft.Tools.Net.Dns.ReturnCode.Refused);
        var result = await zones.Dig("www.example.org", "A");
        Assert.Contains("status: REFUSED", result.Output, StringComparison.Ordinal);
        Assert.True(zones.Counters.AnsweredWith(ARSoft.Tools.Net.Dns.ReturnCode.Refused) > before);
    }

    [Fact]
    public async Task Tcp_queries_are_answered()
    {
        var result = await zones.Dig("+tcp", "+dnssec", "nothere.nsec3.test", "A");
        Assert.Contains("status: NXDOMAIN", result.Output, StringComparison.Ordinal);
        Assert.Contains("NSEC3", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unknown_opcode_and_bad_EDNS_version()
    {
        var badvers = await zones.Dig("+edns=1", "+noednsnegotiation", "www.nsec.test", "A");
        Assert.Contains("status: BADVERS", badvers.Output, StringComparison.Ordinal);
        var status = await zones.Dig("+opcode=status", "www.nsec.test", "A");
        Assert.Contains("status: NOTIMP", status.Output, StringComparison.Ordinal);
    }
}
