using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Dnssec.Keys;
using InlineSigner.Dnssec.Signing;
using InlineSigner.Dnssec.Verification;
using InlineSigner.Tests.Shared;
using InlineSigner.Zones;
using InlineSigner.Zones.Text;

namespace InlineSigner.Dnssec.Tests;

public sealed class VerifierAndEngineTests
{
    private static readonly DomainName Origin = DomainName.Parse("example.com");

    private static async Task<Zone> SignSample(LocalKey key, SigningPolicy? policy = null, DateTimeOffset? now = null)
    {
        var unsigned = ZoneChecks.LoadFile(RepositoryPaths.Zone("example.com"), Origin);
        var (signed, _) = await ZoneSigner.SignAsync(unsigned, policy ?? new SigningPolicy(), new ZoneKeys([key]), now ?? DateTimeOffset.UtcNow, null, CancellationToken.None);
        return signed;
    }

    private static Zone Reparse(Zone zone) =>
        ZoneChecks.Load(MasterFileReader.ReadString(MasterFileWriter.WriteToString(zone), zone.Origin, "reparsed"), zone.Origin);

    [Fact]
    public async Task A_flipped_signature_byte_is_reported_for_its_rrset()
    {
        using var key = LocalKey.Generate(Origin, DnsSecAlgorithm.EcDsaP256Sha256, ksk: false);
        var signed = await SignSample(key);
        var text = MasterFileWriter.WriteToString(signed);
        var line = text.Split('\n').First(l => l.StartsWith("mail.example.com.", StringComparison.Ordinal) && l.Contains("RRSIG\tA ", StringComparison.Ordinal));
        var base64 = line[(line.LastIndexOf(' ') + 1)..];
        var bytes = Convert.FromBase64String(base64);
        bytes[10] ^= 0x01;
        var tampered = MasterFileReader.ReadString(text.Replace(base64, Convert.ToBase64String(bytes), StringComparison.Ordinal), Origin, "t");
        var report = ZoneVerifier.Verify(ZoneChecks.Load(tampered, Origin), DateTimeOffset.UtcNow);
        Assert.False(report.IsValid);
        Assert.Contains(report.Problems, p => p.Owner.ToString() == "mail.example.com." && p.Type == RecordType.A && p.Reason.Contains("does not verify", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_removed_nsec_breaks_the_chain_and_is_reported()
    {
        using var key = LocalKey.Generate(Origin, DnsSecAlgorithm.Ed25519, ksk: false);
        var signed = await SignSample(key);
        var broken = signed.Without(DomainName.Parse("ftp.example.com"), RecordType.NSec);
        var report = ZoneVerifier.Verify(broken, DateTimeOffset.UtcNow);
        Assert.Contains(report.Problems, p => p.Owner.ToString() == "ftp.example.com." && p.Type == RecordType.NSec && p.Reason.Contains("no NSEC", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_stale_zonemd_is_reported()
    {
        using var key = LocalKey.Generate(Origin, DnsSecAlgorithm.Ed25519, ksk: false);
        var signed = await SignSample(key, new SigningPolicy { ZoneMdAlgorithms = [ZoneMd.Sha384] });
        Assert.True(ZoneVerifier.Verify(signed, DateTimeOffset.UtcNow).IsValid);
        var changed = signed.With(RRset.Create([new TxtRecord(DomainName.Parse("txt.example.com"), 3600, "changed after the digest")]));
        var report = ZoneVerifier.Verify(changed, DateTimeOffset.UtcNow);
        Assert.Contains(report.Problems, p => p.Type == RecordType.ZoneMD && p.Reason.Contains("does not match", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Expired_and_not_yet_valid_signatures_are_reported()
    {
        using var key = LocalKey.Generate(Origin, DnsSecAlgorithm.Ed25519, ksk: false);
        var signed = await SignSample(key, now: DateTimeOffset.UtcNow.AddDays(-40));
        Assert.Contains(ZoneVerifier.Verify(signed, DateTimeOffset.UtcNow).Problems, p => p.Reason.Contains("expired", StringComparison.Ordinal));
        var future = await SignSample(key, now: DateTimeOffset.UtcNow.AddDays(3));
        Assert.Contains(ZoneVerifier.Verify(future, DateTimeOffset.UtcNow).Problems, p => p.Reason.Contains("not yet valid", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Rsa_signing_is_deterministic_so_two_signers_agree_byte_for_byte()
    {
        using var key = LocalKey.Generate(Origin, DnsSecAlgorithm.RsaSha256, ksk: false, rsaBits: 1024);
        var now = DateTimeOffset.UtcNow;
        var first = MasterFileWriter.WriteToString(await SignSample(key, new SigningPolicy { Nsec3 = new Nsec3Settings() }, now));
        var second = MasterFileWriter.WriteToString(await SignSample(key, new SigningPolicy { Nsec3 = new Nsec3Settings() }, now.AddSeconds(5)));
        Assert.Equal(first, second);
    }

    [Fact]
    public void Schedule_jitter_spreads_expirations_but_stays_within_bounds()
    {
        var schedule = new SignatureSchedule();
        var now = DateTimeOffset.UtcNow;
        var expirations = Enumerable.Range(0, 200).Select(i => schedule.TimesFor(DomainName.Parse($"h{i}.example.com"), RecordType.A, now).Expiration).ToList();
        Assert.True(expirations.Distinct().Count() > 150, "jitter does not spread expirations");
        long nowSeconds = now.ToUnixTimeSeconds();
        Assert.All(expirations, e => Assert.InRange((long)e - nowSeconds, (long)(schedule.Validity - schedule.Refresh).TotalSeconds, (long)(schedule.Validity + schedule.Jitter).TotalSeconds));
    }

    [Fact]
    public async Task Wildcards_get_the_right_labels_count_and_nsec_keeps_the_case_of_names()
    {
        using var key = LocalKey.Generate(Origin, DnsSecAlgorithm.EcDsaP256Sha256, ksk: false);
        var unsigned = ZoneChecks.LoadFile(RepositoryPaths.Zone("example.com"), Origin)
            .With(RRset.Create([new ARecord(DomainName.Parse("MiXeD.example.com"), 300, System.Net.IPAddress.Parse("192.0.2.200"))]));
        var (signed, _) = await ZoneSigner.SignAsync(unsigned, new SigningPolicy(), new ZoneKeys([key]), DateTimeOffset.UtcNow, null, CancellationToken.None);
        var wildcardSig = signed.Find(DomainName.Parse("*.wild.example.com"), RecordType.RrSig)!.Records.Select(RrsigFields.Of).First(f => f.TypeCovered == RecordType.A);
        Assert.Equal(3, wildcardSig.Labels);
        var nsecBefore = signed.Nodes.Where(n => n.Value.TryGetValue(RecordType.NSec, out var s) && !n.Key.Equals(DomainName.Parse("mixed.example.com"))
            && PresentationFormat.FormatRData(RecordType.NSec, RecordWire.RData(s.Records[0])).StartsWith("MiXeD.example.com.", StringComparison.Ordinal));
        Assert.Single(nsecBefore);
        using var dir = new TempDirectory();
        MasterFileWriter.WriteFile(signed, dir.File("mixed.signed"));
        var ldns = await ExternalTool.RunAsync("ldns-verify-zone", dir.File("mixed.signed"));
        Assert.True(ldns.ExitCode == 0, ldns.All);
        // A lone ZSK (flags 256) signs everything here, so tell dnssec-verify not to insist on a SEP key.
        var bind = await ExternalTool.RunAsync("dnssec-verify", "-z", "-o", "example.com", dir.File("mixed.signed"));
        Assert.True(bind.ExitCode == 0, bind.All);
    }

    [Fact]
    public void Nsec3_hashes_match_rfc_5155_appendix_a()
    {
        byte[] salt = [0xAA, 0xBB, 0xCC, 0xDD];
        var expected = new Dictionary<string, string>
        {
            ["example."] = "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom",
            ["a.example."] = "35mthgpgcu1qg68fab165klnsnk3dpvl",
            ["ai.example."] = "gjeqe526plbf1g8mklp59enfd789njgi",
            ["ns1.example."] = "2t7b4g4vsa5smi47k61mv5bv1a22bojr",
            ["ns2.example."] = "q04jkcevqvmu85r014c7dkba38o0ji5r",
            ["w.example."] = "k8udemvp1j2f7eg6jebps17vp3n8i58h",
            ["*.w.example."] = "r53bq7cc2uvmubfu5ocmm6pers9tk9en",
            ["x.w.example."] = "b4um86eghhds6nea196smvmlo4ors995",
            ["y.w.example."] = "ji6neoaepv8b5o6k4ev33abha8ht9fgc",
            ["x.y.w.example."] = "2vptu5timamqttgl4luu9kg21e0aor3s",
            ["xx.example."] = "t644ebqk9bibcna874givr6joj62mlhv",
        };
        foreach (var (name, hash) in expected)
            Assert.Equal(hash, Base32Hex.Encode(DenialOfExistence.Nsec3Hash(PresentationFormat.ParseName(name, null), salt, 12)));
    }

    [Fact]
    public void Zonemd_matches_rfc_8976_appendix_a_1()
    {
        const string zone = """
            example.      86400  IN  SOA     ns1 admin 2018031900 ( 1800 900 604800 86400 )
                          86400  IN  NS      ns1
                          86400  IN  NS      ns2
                          86400  IN  ZONEMD  2018031900 1 1 (
                                             c68090d90a7aed716bc459f9340e3d7c
                                             1370d4d24b7e2fc3a1ddc0b9a87153b9
                                             a9713b3c9ae5cc27777f98b8e730044c )
            ns1           3600   IN  A       203.0.113.63
            ns2           3600   IN  AAAA    2001:db8::63
            """;
        var parsed = ZoneChecks.Load(MasterFileReader.ReadString(zone, DomainName.Parse("example"), "rfc8976"), DomainName.Parse("example"));
        var check = Assert.Single(ZoneMd.Verify(parsed));
        Assert.True(check.Matches, check.Problem);
        Assert.Equal("c68090d90a7aed716bc459f9340e3d7c1370d4d24b7e2fc3a1ddc0b9a87153b9a9713b3c9ae5cc27777f98b8e730044c",
            Convert.ToHexString(ZoneMd.Compute(parsed, ZoneMd.Sha384)).ToLowerInvariant());
    }

    [Fact]
    public async Task A_signer_returning_a_bad_signature_publishes_nothing()
    {
        using var key = LocalKey.Generate(Origin, DnsSecAlgorithm.Ed25519, ksk: false);
        var unsigned = ZoneChecks.LoadFile(RepositoryPaths.Zone("example.com"), Origin);
        var lying = new CorruptingSigner(key);
        await Assert.ThrowsAsync<SignatureVerificationException>(() =>
            ZoneSigner.SignAsync(unsigned, new SigningPolicy(), new ZoneKeys([lying]), DateTimeOffset.UtcNow, null, CancellationToken.None));
    }

    [Fact]
    public async Task Ksk_signs_the_key_set_and_zsk_signs_the_rest()
    {
        using var zsk = LocalKey.Generate(Origin, DnsSecAlgorithm.EcDsaP256Sha256, ksk: false);
        using var ksk = LocalKey.Generate(Origin, DnsSecAlgorithm.EcDsaP256Sha256, ksk: true);
        var unsigned = ZoneChecks.LoadFile(RepositoryPaths.Zone("example.com"), Origin);
        var (signed, _) = await ZoneSigner.SignAsync(unsigned, new SigningPolicy(), new ZoneKeys([zsk, ksk]), DateTimeOffset.UtcNow, null, CancellationToken.None);
        var apexSigs = signed.Find(Origin, RecordType.RrSig)!.Records.Select(RrsigFields.Of).ToList();
        Assert.All(apexSigs.Where(s => s.TypeCovered == RecordType.DnsKey), s => Assert.Equal(ksk.KeyTag, s.KeyTag));
        Assert.All(apexSigs.Where(s => s.TypeCovered != RecordType.DnsKey), s => Assert.Equal(zsk.KeyTag, s.KeyTag));
        // No signatures on the delegation NS or on glue.
        Assert.DoesNotContain(signed.Find(DomainName.Parse("sub.example.com"), RecordType.RrSig)?.Records.Select(RrsigFields.Of) ?? [], s => s.TypeCovered == RecordType.Ns);
        Assert.Null(signed.Find(DomainName.Parse("ns1.sub.example.com"), RecordType.RrSig));
        Assert.True(Reparse(signed).RRsetCount == signed.RRsetCount);
    }

    private sealed class CorruptingSigner(ISigner inner) : ISigner
    {
        public DnsKeyRecord DnsKey => inner.DnsKey;
        public DnsSecAlgorithm Algorithm => inner.Algorithm;
        public ushort KeyTag => inner.KeyTag;

        public async Task<IReadOnlyList<byte[]>> SignAsync(IReadOnlyList<ReadOnlyMemory<byte>> signingInputs, CancellationToken cancellationToken)
        {
            var signatures = await inner.SignAsync(signingInputs, cancellationToken);
            signatures[signatures.Count / 2][5] ^= 0x80;
            return signatures;
        }
    }
}
