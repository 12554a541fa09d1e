using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Cluster;
using InlineSigner.Dnssec.Signing;
using InlineSigner.Dnssec.Verification;
using InlineSigner.Tests.Shared;
using InlineSigner.Threshold.OpenSsl;
using InlineSigner.Threshold.Rsa;
using InlineSigner.Zones;

namespace InlineSigner.Interop.Tests;

/// <summary>Zones signed with a 3-of-5 threshold RSA key (no party ever held d) pass BIND's and ldns's validators.</summary>
public sealed class ThresholdZoneSigningTests
{
    private static (ThresholdRsaPublicKey, IReadOnlyList<RsaKeyShare>) Deal(int t, int n) => ThresholdTestKeys.DealRsa(1024, t, n);

    [Theory]
    [InlineData(DnsSecAlgorithm.RsaSha256, false)]
    [InlineData(DnsSecAlgorithm.RsaSha512, true)]
    public async Task Threshold_signed_zone_passes_dnssec_verify_and_ldns(DnsSecAlgorithm algorithm, bool nsec3)
    {
        var origin = DomainName.Parse("example.com");
        var (publicKey, shares) = Deal(3, 5);
        // Any three of the five holders: use holders 2, 4 and 5.
        using var signer = new InProcessThresholdRsaSigner(origin, algorithm, ksk: true, publicKey, [shares[1], shares[3], shares[4]]);
        var unsigned = ZoneChecks.LoadFile(RepositoryPaths.Zone("example.com"), origin);
        var policy = new SigningPolicy { Nsec3 = nsec3 ? new Nsec3Settings() : null, ZoneMdAlgorithms = [ZoneMd.Sha384] };
        var (signed, stats) = await ZoneSigner.SignAsync(unsigned, policy, new Dnssec.Keys.ZoneKeys([signer]), DateTimeOffset.UtcNow, null, CancellationToken.None);
        Assert.True(stats.Signatures > 20);

        using var dir = new TempDirectory();
        var file = dir.File("threshold.signed");
        MasterFileWriter.WriteFile(signed, file);
        // One key (a CSK with the SEP flag) signs everything; -z tells dnssec-verify not to demand a separate ZSK.
        var bind = await ExternalTool.RunAsync("dnssec-verify", "-z", "-o", "example.com", file);
        Assert.True(bind.ExitCode == 0, bind.All);
        var ldns = await ExternalTool.RunAsync("ldns-verify-zone", "-Z", "-Z", file);
        Assert.True(ldns.ExitCode == 0, ldns.All);
        Assert.True(ZoneVerifier.Verify(signed, DateTimeOffset.UtcNow).IsValid);
    }

    [Fact]
    public async Task A_lying_share_holder_is_named_and_the_zone_is_still_signed_correctly()
    {
        var origin = DomainName.Parse("example.com");
        var (publicKey, shares) = Deal(3, 5);
        // Holder 1's share is replaced by a wrong one (a different secret): its shares fail their proofs.
        var liar = new RsaKeyShare(1, [.. shares[0].Encode()[4..^1], 0x01]);
        using var signer = new InProcessThresholdRsaSigner(origin, DnsSecAlgorithm.RsaSha256, ksk: true, publicKey, [liar, shares[1], shares[2], shares[3]]);
        var unsigned = ZoneChecks.LoadFile(RepositoryPaths.Zone("example.com"), origin);
        var (signed, _) = await ZoneSigner.SignAsync(unsigned, new SigningPolicy(), new Dnssec.Keys.ZoneKeys([signer]), DateTimeOffset.UtcNow, null, CancellationToken.None);
        Assert.Equal([1], signer.BadHolders);
        Assert.True(ZoneVerifier.Verify(signed, DateTimeOffset.UtcNow).IsValid);
    }
}

/// <summary>Zones signed with a FROST key made by distributed key generation (algorithm 15) pass the real validators.</summary>
public sealed class FrostZoneSigningTests
{
    [Fact]
    public async Task Dkg_frost_signed_zone_passes_dnssec_verify_ldns_and_kzonecheck()
    {
        var origin = DomainName.Parse("example.com");
        var parties = Enumerable.Range(1, 5).Select(i => new InlineSigner.Threshold.Frost.PedersenDkgParticipant(i, 3, 5, "example.com. KSK"u8)).ToList();
        var round1 = parties.Select(p => p.Round1()).ToList();
        var outgoing = parties.ToDictionary(p => p.Identifier, p => p.Round2(round1));
        var results = parties.Select(p => p.Finish(outgoing.ToDictionary(kv => kv.Key, kv => kv.Value[p.Identifier]))).ToList();
        // Participants 1, 3 and 4 sign.
        var signer = new InProcessFrostSigner(origin, ksk: true, results[0].PublicKey, [results[0].Share, results[2].Share, results[3].Share]);

        var unsigned = ZoneChecks.LoadFile(RepositoryPaths.Zone("example.com"), origin);
        var policy = new SigningPolicy { Nsec3 = new Nsec3Settings(OptOut: true), ZoneMdAlgorithms = [ZoneMd.Sha512] };
        var (signed, _) = await ZoneSigner.SignAsync(unsigned, policy, new Dnssec.Keys.ZoneKeys([signer]), DateTimeOffset.UtcNow, null, CancellationToken.None);
        using var dir = new TempDirectory();
        var file = dir.File("frost.signed");
        MasterFileWriter.WriteFile(signed, file);
        var bind = await ExternalTool.RunAsync("dnssec-verify", "-z", "-o", "example.com", file);
        Assert.True(bind.ExitCode == 0, bind.All);
        Assert.Contains("ED25519", bind.All);
        var ldns = await ExternalTool.RunAsync("ldns-verify-zone", "-Z", "-Z", file);
        Assert.True(ldns.ExitCode == 0, ldns.All);
        var knot = await ExternalTool.RunAsync("kzonecheck", "-o", "example.com", "-d", "on", file);
        Assert.True(knot.ExitCode == 0, knot.All);
    }
}
