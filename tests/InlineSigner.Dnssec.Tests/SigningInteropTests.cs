using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Dnssec.Keys;
using InlineSigner.Dnssec.Signing;
using InlineSigner.Dnssec.Verification;
using InlineSigner.Tests.Shared;
using InlineSigner.Zones;

namespace InlineSigner.Dnssec.Tests;

/// <summary>Zones we sign must pass BIND's, ldns's and Knot's validators, and ours.</summary>
public sealed class SigningInteropTests
{
    private static readonly DomainName Origin = DomainName.Parse("example.com");

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var algorithm in new[] { "RSASHA256", "RSASHA512", "ECDSAP256SHA256", "ECDSAP384SHA384", "ED25519" })
            foreach (var denial in new[] { "nsec", "nsec3", "nsec3-optout" })
                data.Add(algorithm, denial);
        return data;
    }

    internal static (LocalKey Zsk, LocalKey Ksk) Keys(string algorithm) =>
        (LocalKey.Generate(Origin, DnssecAlgorithms.Parse(algorithm), ksk: false, rsaBits: 1024),
         LocalKey.Generate(Origin, DnssecAlgorithms.Parse(algorithm), ksk: true, rsaBits: 2048));

    internal static SigningPolicy Policy(string denial) => new()
    {
        Nsec3 = denial switch
        {
            "nsec3" => new Nsec3Settings(),
            "nsec3-optout" => new Nsec3Settings(Iterations: 1, Salt: [0xAB, 0xCD], OptOut: true),
            _ => null,
        },
        ZoneMdAlgorithms = [ZoneMd.Sha384, ZoneMd.Sha512],
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Signed_sample_zone_passes_bind_ldns_knot_and_our_verifier(string algorithm, string denial)
    {
        using var dir = new TempDirectory();
        var (zsk, ksk) = Keys(algorithm);
        using var _ = zsk;
        using var __ = ksk;
        var unsigned = ZoneChecks.LoadFile(RepositoryPaths.Zone("example.com"), Origin);
        var (signed, stats) = await ZoneSigner.SignAsync(unsigned, Policy(denial), new ZoneKeys([zsk, ksk]), DateTimeOffset.UtcNow, null, CancellationToken.None);
        Assert.True(stats.Signatures > 20);
        var file = dir.File("signed.zone");
        MasterFileWriter.WriteFile(signed, file);

        var ours = ZoneVerifier.Verify(ZoneChecks.LoadFile(file, Origin), DateTimeOffset.UtcNow);
        Assert.True(ours.IsValid, string.Join("\n", ours.Problems));

        var bind = await ExternalTool.RunAsync("dnssec-verify", "-o", "example.com", file);
        Assert.True(bind.ExitCode == 0, "dnssec-verify: " + bind.All);
        var ldns = await ExternalTool.RunAsync("ldns-verify-zone", "-Z", "-Z", file);
        Assert.True(ldns.ExitCode == 0, "ldns-verify-zone: " + ldns.All);
        var knot = await ExternalTool.RunAsync("kzonecheck", "-o", "example.com", "-d", "on", file);
        Assert.True(knot.ExitCode == 0, "kzonecheck: " + knot.All);
    }

    [Fact]
    public async Task Zones_signed_by_dnssec_signzone_and_ldns_signzone_pass_our_verifier()
    {
        using var dir = new TempDirectory();
        File.Copy(RepositoryPaths.Zone("example.com"), dir.File("zone.db"));
        Assert.Equal(0, (await ExternalTool.RunAsync("dnssec-keygen", ["-q", "-a", "ECDSAP256SHA256", "-K", dir.Path, "example.com"])).ExitCode);
        Assert.Equal(0, (await ExternalTool.RunAsync("dnssec-keygen", ["-q", "-a", "ECDSAP256SHA256", "-f", "KSK", "-K", dir.Path, "example.com"])).ExitCode);
        var bindNsec = await ExternalTool.RunAsync("dnssec-signzone", ["-S", "-K", dir.Path, "-o", "example.com", "-f", dir.File("bind.signed"), dir.File("zone.db")], dir.Path);
        Assert.True(bindNsec.ExitCode == 0, bindNsec.All);
        var bindNsec3 = await ExternalTool.RunAsync("dnssec-signzone", ["-S", "-3", "-", "-A", "-K", dir.Path, "-o", "example.com", "-f", dir.File("bind3.signed"), dir.File("zone.db")], dir.Path);
        Assert.True(bindNsec3.ExitCode == 0, bindNsec3.All);

        var keygen = await ExternalTool.RunAsync("ldns-keygen", ["-a", "ECDSAP256SHA256", "example.com"], dir.Path);
        Assert.Equal(0, keygen.ExitCode);
        var ldnsKey = Path.Combine(dir.Path, keygen.Output.Trim());
        var ldnsNsec = await ExternalTool.RunAsync("ldns-signzone", ["-f", dir.File("ldns.signed"), dir.File("zone.db"), ldnsKey], dir.Path);
        Assert.True(ldnsNsec.ExitCode == 0, ldnsNsec.All);
        var ldnsNsec3 = await ExternalTool.RunAsync("ldns-signzone", ["-n", "-f", dir.File("ldns3.signed"), dir.File("zone.db"), ldnsKey], dir.Path);
        Assert.True(ldnsNsec3.ExitCode == 0, ldnsNsec3.All);

        foreach (var (file, denial) in new[] { ("bind.signed", "NSEC"), ("bind3.signed", "NSEC3"), ("ldns.signed", "NSEC"), ("ldns3.signed", "NSEC3") })
        {
            var report = ZoneVerifier.Verify(ZoneChecks.LoadFile(dir.File(file), Origin), DateTimeOffset.UtcNow);
            Assert.True(report.IsValid, file + ": " + string.Join("\n", report.Problems));
            Assert.Equal(denial, report.DenialKind);
            Assert.True(report.SignaturesChecked > 20, file);
        }
    }

    [Fact]
    public async Task Key_files_move_between_bind_and_us_in_both_directions()
    {
        using var dir = new TempDirectory();
        // BIND's key signs through us.
        var generated = await ExternalTool.RunAsync("dnssec-keygen", ["-q", "-a", "ED25519", "-K", dir.Path, "example.com"]);
        Assert.Equal(0, generated.ExitCode);
        using var bindKey = BindKeyFile.Read(Path.Combine(dir.Path, generated.Output.Trim()));
        var unsigned = ZoneChecks.LoadFile(RepositoryPaths.Zone("example.com"), Origin);
        var (signed, _) = await ZoneSigner.SignAsync(unsigned, new SigningPolicy(), new ZoneKeys([bindKey]), DateTimeOffset.UtcNow, null, CancellationToken.None);
        MasterFileWriter.WriteFile(signed, dir.File("ours.signed"));
        var check = await ExternalTool.RunAsync("dnssec-verify", "-z", "-o", "example.com", dir.File("ours.signed"));
        Assert.True(check.ExitCode == 0, check.All);

        // Our keys (a ZSK and a KSK per algorithm) sign through BIND.
        foreach (var algorithm in new[] { "RSASHA256", "ECDSAP384SHA384", "ED25519" })
        {
            using var ourDir = new TempDirectory();
            foreach (var ksk in new[] { false, true })
            {
                using var key = LocalKey.Generate(Origin, DnssecAlgorithms.Parse(algorithm), ksk);
                BindKeyFile.Write(key, ourDir.Path);
                using var back = BindKeyFile.Read(Path.Combine(ourDir.Path, BindKeyFile.BaseName(Origin, key.Algorithm, key.KeyTag)));
                Assert.Equal(key.DnsKey.PublicKey, back.DnsKey.PublicKey);
                Assert.Equal(key.KeyTag, back.KeyTag);
            }
            File.Copy(RepositoryPaths.Zone("example.com"), ourDir.File("zone.db"));
            var bindSign = await ExternalTool.RunAsync("dnssec-signzone", ["-S", "-K", ourDir.Path, "-o", "example.com", "-f", ourDir.File("bind.signed"), ourDir.File("zone.db")], ourDir.Path);
            Assert.True(bindSign.ExitCode == 0, algorithm + ": " + bindSign.All);
            var verify = await ExternalTool.RunAsync("dnssec-verify", "-o", "example.com", ourDir.File("bind.signed"));
            Assert.True(verify.ExitCode == 0, algorithm + ": " + verify.All);
            Assert.Contains(algorithm, verify.All);
        }
    }
}
