using InlineSigner.Server.Tests.Support;
using InlineSigner.Tests.Shared;
using static InlineSigner.Server.Tests.Support.SecondariesFixture;

namespace InlineSigner.Server.Tests;

/// <summary>
/// The outbound half against real secondaries: BIND 9, NSD and Knot bootstrap the signed zone by AXFR, follow an
/// upstream edit by IXFR after our NOTIFY, and each ends with a copy that BIND's and ldns' verifiers accept and that
/// equals ours record for record; a TSIG-only zone reaches BIND with its key and nobody else.
/// </summary>
[Collection(SecondariesCollection.Name)]
public sealed class SecondariesTests(SecondariesFixture fixture)
{
    private static double Delta(IReadOnlyDictionary<string, double> before, IReadOnlyDictionary<string, double> after, string key) =>
        DnsTools.Metric(after, key) - DnsTools.Metric(before, key);

    /// <summary>Each secondary's copy (read back from it by AXFR) validates and holds exactly the records we serve.</summary>
    private async Task AssertCopiesEqualOursAsync()
    {
        var ours = await fixture.VerifiedCopyAsync(fixture.Signer.DnsPort, MainZone, "signer");
        foreach (var secondary in fixture.Secondaries)
        {
            var theirs = await fixture.VerifiedCopyAsync(secondary.Port, MainZone, secondary.Name);
            var missing = ours.Except(theirs, StringComparer.Ordinal).ToList();
            var extra = theirs.Except(ours, StringComparer.Ordinal).ToList();
            Assert.True(missing.Count == 0 && extra.Count == 0 && ours.Count == theirs.Count,
                $"{secondary}'s copy of {MainZone} differs from ours:\nmissing:\n{string.Join('\n', missing)}\nextra:\n{string.Join('\n', extra)}");
        }
    }

    [Fact]
    public async Task Bind_nsd_and_knot_bootstrap_by_axfr_and_hold_a_valid_copy_equal_to_ours()
    {
        // The fixture waited until each served our serial; all three got there by one AXFR each, nothing else. A served
        // transfer is counted after its last message left, which can be after the secondary already serves the copy:
        // waited for (at least three), then held to exactly three.
        var synced = DnsTools.Metric(fixture.MetricsAfterSync, TransfersOut(MainZone, "AXFR")) >= 3 ? fixture.MetricsAfterSync
            : await fixture.WaitForMetricsAsync(m => DnsTools.Metric(m, TransfersOut(MainZone, "AXFR")) >= 3, "three AXFRs of the main zone counted as served");
        Assert.Equal(3, DnsTools.Metric(synced, TransfersOut(MainZone, "AXFR")));
        Assert.Equal(0, DnsTools.Metric(synced, TransfersOut(MainZone, "IXFR-AXFR")));
        await Eventually.AssertAsync(() => fixture.Knot.Log.Contains("AXFR, incoming, remote 127.0.0.1@", StringComparison.Ordinal),
            "Knot logged its incoming AXFR", () => fixture.Knot.Log);
        uint serial = await fixture.SignerSerialAsync(MainZone);
        foreach (var secondary in fixture.Secondaries) await WaitForSerialAsync(secondary, MainZone, serial);
        await AssertCopiesEqualOursAsync();
    }

    [Fact]
    public async Task An_upstream_edit_reaches_all_three_by_ixfr_after_our_notify()
    {
        var before = await fixture.Signer.MetricsAsync();
        int knotMark = fixture.Knot.Log.Length;
        uint serial = await fixture.EditAsync(fixture.ZoneFile, MainZone, s => $"ixfr-{s} IN A 192.0.2.{s % 200 + 1}\nixfr-{s} IN TXT \"added by the IXFR test\"\n");
        foreach (var secondary in fixture.Secondaries) await WaitForSerialAsync(secondary, MainZone, serial);
        // Both counted asynchronously to what the secondaries serve (a NOTIFY answer when it arrives, a served transfer
        // after its last message left): waited for, never raced.
        var after = await fixture.WaitForMetricsAsync(
            m => fixture.Secondaries.All(s => DnsTools.Metric(m, NotifyKey("acknowledged", MainZone, s)) > DnsTools.Metric(before, NotifyKey("acknowledged", MainZone, s)))
                 && Delta(before, m, TransfersOut(MainZone, "IXFR")) >= 3,
            "every secondary acknowledged the NOTIFY of the edit and three IXFRs were counted as served");

        // No AXFR and no IXFR answered with the whole zone, yet all three hold the new serial: each asked IXFR and got the delta.
        Assert.True(Delta(before, after, TransfersOut(MainZone, "IXFR")) >= 3, $"IXFRs served: {Delta(before, after, TransfersOut(MainZone, "IXFR"))}");
        Assert.Equal(0, Delta(before, after, TransfersOut(MainZone, "AXFR")));
        Assert.Equal(0, Delta(before, after, TransfersOut(MainZone, "IXFR-AXFR")));
        await Eventually.AssertAsync(() => fixture.Knot.Log[knotMark..].Contains("IXFR, incoming, remote 127.0.0.1@", StringComparison.Ordinal),
            "Knot logged its incoming IXFR", () => fixture.Knot.Log[knotMark..]);
        var knotLog = fixture.Knot.Log[knotMark..];
        Assert.DoesNotContain("AXFR, incoming", knotLog, StringComparison.Ordinal);
        foreach (var secondary in fixture.Secondaries)
            Assert.True(Delta(before, after, NotifyKey("sent", MainZone, secondary)) >= 1, $"no NOTIFY counted as sent to {secondary}");

        // The edit was signed with the ZSK only: the new RRsets and the NSEC records around them, not the DNSKEY set.
        string zsk = $"inline_signer_signatures_total{{zone=\"{MainZone}.\",algorithm=\"ED25519\",key_tag=\"{fixture.KeyTag(MainZone, ksk: false)}\"}}";
        string ksk = $"inline_signer_signatures_total{{zone=\"{MainZone}.\",algorithm=\"ED25519\",key_tag=\"{fixture.KeyTag(MainZone, ksk: true)}\"}}";
        Assert.True(Delta(before, after, zsk) >= 3, $"ZSK signatures for the edit: {Delta(before, after, zsk)}"); // A, TXT, SOA at least
        Assert.Equal(0, Delta(before, after, ksk));

        await AssertCopiesEqualOursAsync();
        Assert.Contains(await fixture.VerifiedCopyAsync(fixture.Nsd.Port, MainZone, "NSD"), l => l.StartsWith($"ixfr-{serial}.{MainZone}. ", StringComparison.Ordinal) && l.EndsWith(" IN A 192.0.2." + (serial % 200 + 1), StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_tsig_only_zone_reaches_bind_with_its_key_by_axfr_then_ixfr_and_is_refused_without_it()
    {
        string key = $"hmac-sha256:{KeyName}:{fixture.TsigSecret}";
        string wrong = $"hmac-sha256:{KeyName}:{Convert.ToBase64String(new byte[32])}";

        // The first AXFR, made with the key from BIND's primaries clause (after a signed SOA query whose answer BIND checks
        // first: unsigned, it failed every refresh with "expected a TSIG or SIG(0)", see TsigQueryTests).
        await WaitForSerialAsync(fixture.BindSecondary, TsigZone, await fixture.SignerSerialAsync(TsigZone));
        // Counted after its last message left, so possibly after BIND serves the copy: waited for.
        var before = await fixture.WaitForMetricsAsync(m => DnsTools.Metric(m, TransfersOut(TsigZone, "AXFR")) >= 1, "BIND's first transfer of the TSIG zone counted as an AXFR");

        // An edit arrives by IXFR, signed, after a signed NOTIFY that BIND answered with a signature we checked.
        uint serial = await fixture.EditAsync(fixture.TsigZoneFile, TsigZone, s => $"host{s} IN A 192.0.2.{s % 200 + 10}\n");
        await WaitForSerialAsync(fixture.BindSecondary, TsigZone, serial);
        var after = await fixture.WaitForMetricsAsync(
            m => DnsTools.Metric(m, NotifyKey("acknowledged", TsigZone, fixture.BindSecondary)) > DnsTools.Metric(before, NotifyKey("acknowledged", TsigZone, fixture.BindSecondary))
                 && DnsTools.Metric(m, TransfersOut(TsigZone, "IXFR")) > DnsTools.Metric(before, TransfersOut(TsigZone, "IXFR")),
            "BIND acknowledged the signed NOTIFY and transferred the edit by IXFR");
        Assert.Equal(0, Delta(before, after, TransfersOut(TsigZone, "AXFR")));
        Assert.Equal(0, Delta(before, after, TransfersOut(TsigZone, "IXFR-AXFR")));
        Assert.DoesNotContain("expected a TSIG", fixture.Bind.Log, StringComparison.Ordinal);

        var ours = await fixture.VerifiedCopyAsync(fixture.Signer.DnsPort, TsigZone, "signer", "-y", key);
        var bindCopy = await fixture.VerifiedCopyAsync(fixture.Bind.Port, TsigZone, "BIND");
        Assert.Equal(ours, bindCopy);
        Assert.Contains(ours, l => l.Contains(" IN NSEC3PARAM ", StringComparison.Ordinal));

        // Nobody else: 127.0.0.1 is in no address list of this zone, so without the key it is REFUSED; with a wrong
        // secret the signature fails (NOTAUTH, BADSIG). Both are counted as refused.
        var beforeRefusals = await fixture.Signer.MetricsAsync();
        var refusedBefore = DnsTools.Metric(beforeRefusals, TransfersRefused(TsigZone));
        var plain = await RawDns.TcpAsync(fixture.Signer.DnsEndpoint, RawDns.Query(0x5151, TsigZone, 252), TimeSpan.FromSeconds(10));
        Assert.NotNull(plain);
        Assert.Equal(5, RawResponse.Read(plain).ReturnCode); // REFUSED
        var noKey = await fixture.Signer.Dig(TsigZone, "AXFR");
        Assert.Contains("Transfer failed", noKey.Output, StringComparison.Ordinal);
        var badKey = await fixture.Signer.Dig("-y", wrong, TsigZone, "AXFR");
        Assert.Contains("BADSIG", badKey.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(badKey.Output.Split('\n'), l => l.Contains("\tIN\tA\t", StringComparison.Ordinal));
        var refused = await fixture.Signer.MetricsAsync();
        Assert.True(DnsTools.Metric(refused, TransfersRefused(TsigZone)) - refusedBefore >= 3,
            $"refused transfers counted: {DnsTools.Metric(refused, TransfersRefused(TsigZone)) - refusedBefore}");
        Assert.Equal(0, Delta(beforeRefusals, refused, TransfersOut(TsigZone, "AXFR")));
    }
}
