using InlineSigner.Server.Tests.Support;
using static InlineSigner.Server.Tests.Support.SecondariesFixture;

namespace InlineSigner.Server.Tests;

/// <summary>
/// TSIG on ordinary queries (RFC 8945 §5.2, §5.3): a signed query gets a signed answer, a bad signature gets the TSIG
/// error and no data. Secondaries with a key for their primary sign the SOA query of every refresh and refuse an
/// unsigned answer, so without this a TSIG-keyed secondary never transferred anything.
/// </summary>
[Collection(SecondariesCollection.Name)]
public sealed class TsigQueryTests(SecondariesFixture fixture)
{
    private string Key => $"hmac-sha256:{KeyName}:{fixture.TsigSecret}";

    [Theory]
    [InlineData("+notcp")]
    [InlineData("+tcp")]
    public async Task A_signed_soa_query_gets_a_signed_answer(string transport)
    {
        var soa = await fixture.Signer.Dig("-y", Key, transport, TsigZone, "SOA");
        Assert.Contains("status: NOERROR", soa.Output, StringComparison.Ordinal);
        Assert.Matches(@"flags: qr aa; QUERY: 1, ANSWER: 1,", soa.Output);
        Assert.Contains("TSIG PSEUDOSECTION", soa.Output, StringComparison.Ordinal);
        // dig checks the answer's MAC with the key and says so when it cannot.
        Assert.DoesNotContain("Couldn't verify", soa.All, StringComparison.Ordinal);
        Assert.DoesNotContain("could not be validated", soa.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_signed_dnssec_query_gets_its_signatures_and_a_tsig_after_the_opt_record()
    {
        var answer = await fixture.Signer.Dig("-y", Key, "+dnssec", "www.tsig.example", "AAAA");
        Assert.Contains("status: NOERROR", answer.Output, StringComparison.Ordinal);
        Assert.Matches(@"www\.tsig\.example\.\s+3600\s+IN\s+RRSIG\s+AAAA 15 ", answer.Output);
        Assert.Contains("EDNS: version: 0, flags: do;", answer.Output, StringComparison.Ordinal);
        Assert.Contains("TSIG PSEUDOSECTION", answer.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Couldn't verify", answer.All, StringComparison.Ordinal);
        Assert.DoesNotContain("could not be validated", answer.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bad_signature_or_an_unknown_key_gets_notauth_and_no_data()
    {
        var badSig = await fixture.Signer.Dig("-y", $"hmac-sha256:{KeyName}:{Convert.ToBase64String(new byte[32])}", TsigZone, "SOA");
        Assert.Contains("status: NOTAUTH", badSig.Output, StringComparison.Ordinal);
        Assert.Contains("BADSIG", badSig.Output, StringComparison.Ordinal);
        Assert.Contains("ANSWER: 0,", badSig.Output, StringComparison.Ordinal);
        var badKey = await fixture.Signer.Dig("-y", $"hmac-sha256:stranger-key:{fixture.TsigSecret}", MainZone, "SOA");
        Assert.Contains("status: NOTAUTH", badKey.Output, StringComparison.Ordinal);
        Assert.Contains("BADKEY", badKey.Output, StringComparison.Ordinal);
        Assert.Contains("ANSWER: 0,", badKey.Output, StringComparison.Ordinal);
    }
}
