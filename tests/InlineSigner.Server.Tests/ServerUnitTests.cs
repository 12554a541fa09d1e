using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Protocol;
using InlineSigner.Server.Configuration;
using InlineSigner.Server.Inbound;
using InlineSigner.Server.Signing;
using InlineSigner.Tests.Shared;
using InlineSigner.Zones;

namespace InlineSigner.Server.Tests;

/// <summary>The daemon's pure parts, in process: serial policies, strict IXFR application, configuration checks.</summary>
public sealed class ServerUnitTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData(SerialPolicyKind.Increment, 10u, null, 10u, true)]
    [InlineData(SerialPolicyKind.Increment, 10u, 5u, 10u, true)]
    [InlineData(SerialPolicyKind.Increment, 10u, 10u, 11u, true)]   // a re-sign without upstream change steps the serial
    [InlineData(SerialPolicyKind.Increment, 10u, 20u, 21u, true)]   // upstream behind us: max(unsigned, last + 1)
    [InlineData(SerialPolicyKind.Increment, 5u, 4294967295u, 5u, true)] // RFC 1982: 5 is after 2^32-1
    [InlineData(SerialPolicyKind.Increment, 4294967295u, 4294967295u, 0u, true)] // and 0 follows it
    [InlineData(SerialPolicyKind.Keep, 10u, 9u, 10u, true)]
    [InlineData(SerialPolicyKind.Keep, 10u, 10u, 11u, false)]       // keep cannot hold: stepped, and said so
    [InlineData(SerialPolicyKind.UnixTime, 1u, null, 1796126400u, true)]
    [InlineData(SerialPolicyKind.UnixTime, 1u, 1796126400u, 1796126401u, true)]
    [InlineData(SerialPolicyKind.DateSerial, 1u, null, 2026120100u, true)]
    [InlineData(SerialPolicyKind.DateSerial, 1u, 2026120100u, 2026120101u, true)]
    [InlineData(SerialPolicyKind.DateSerial, 1u, 2026120199u, 2026120200u, true)]
    public void Serial_policies_always_move_forward(SerialPolicyKind kind, uint unsigned, uint? last, uint expected, bool kept)
    {
        Assert.Equal(expected, SerialPolicy.Next(kind, unsigned, last, Now, out bool wasKept));
        Assert.Equal(kept, wasKept);
        if (last is { } l) Assert.True(SerialNumber.IsNewer(expected, l));
    }

    private static readonly DomainName Origin = DomainName.Parse("example.test");

    private static Zone ZoneOf(string text) => ZoneLoader.Load(MasterFileReader.ReadString(text, Origin), Origin);

    private static IReadOnlyList<DnsRecordBase> Records(string text) => MasterFileReader.ReadString(text, Origin).Records;

    private const string Base = "$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 60\n@ NS ns1\nns1 A 192.0.2.1\nwww A 192.0.2.80\nwww A 192.0.2.81\n";

    private static SoaRecord Soa(uint serial) => (SoaRecord)Records($"@ 300 SOA ns1 hostmaster {serial} 3600 600 86400 60\n")[0];

    [Fact]
    public void Ixfr_deltas_apply_in_order_and_must_delete_what_exists()
    {
        var zone = ZoneOf(Base);
        var deltas = new List<IxfrDelta>
        {
            new(Soa(1), Records("www 300 A 192.0.2.80\n"), Soa(2), Records("www 300 A 192.0.2.82\nnew 300 TXT \"hello\"\n")),
            new(Soa(2), Records("ns1 300 A 192.0.2.1\n"), Soa(3), Records("ns1 300 A 192.0.2.2\n")),
        };
        var result = IxfrApplier.Apply(zone, deltas);
        Assert.Equal(3u, result.Serial);
        Assert.Equal(["192.0.2.81", "192.0.2.82"], result.Find(DomainName.Parse("www.example.test"), RecordType.A)!.Records.Cast<ARecord>().Select(r => r.Address.ToString()).Order());
        Assert.NotNull(result.Find(DomainName.Parse("new.example.test"), RecordType.Txt));
        Assert.Equal("192.0.2.2", ((ARecord)result.Find(DomainName.Parse("ns1.example.test"), RecordType.A)!.Records.Single()).Address.ToString());

        // Deleting what we do not hold, a delta from another serial, or one that does not move forward: not applied.
        Assert.Throws<IxfrNotApplicableException>(() => IxfrApplier.Apply(zone, [new(Soa(1), Records("www 300 A 192.0.2.99\n"), Soa(2), [])]));
        Assert.Throws<IxfrNotApplicableException>(() => IxfrApplier.Apply(zone, [new(Soa(7), [], Soa(8), [])]));
        Assert.Throws<IxfrNotApplicableException>(() => IxfrApplier.Apply(zone, [new(Soa(1), [], Soa(1), [])]));
        // Removing the last record of an RRset removes the RRset.
        var emptied = IxfrApplier.Apply(zone, [new(Soa(1), Records("www 300 A 192.0.2.80\nwww 300 A 192.0.2.81\n"), Soa(2), [])]);
        Assert.Null(emptied.Find(DomainName.Parse("www.example.test"), RecordType.A));
    }

    private static SignerOptions Valid() => new()
    {
        Listen = ["127.0.0.1:5353"],
        KeyDirectory = "keys",
        Zones = [new ZoneOptions { Name = "example.com", Primary = "127.0.0.1:53" }],
    };

    [Theory]
    [InlineData("listen", "Signer:Listen is empty")]
    [InlineData("both-keys", "exactly one of Signer:Cluster")]
    [InlineData("no-zones", "Signer:Zones is empty")]
    [InlineData("no-source", "exactly one of Primary")]
    [InlineData("bad-primary", "is not address:port")]
    [InlineData("serial", "SerialPolicy 'sometimes'")]
    [InlineData("validity", "SignatureValidity 'forever'")]
    [InlineData("acl", "AllowTransfer")]
    [InlineData("tsig-ref", "no TSIG key missing")]
    [InlineData("control", "must be on a loopback address")]
    [InlineData("duplicate", "configured twice")]
    [InlineData("generate", "GenerateKeys")]
    public void Bad_configuration_is_one_clear_error_naming_the_setting(string problem, string expected)
    {
        var options = Valid();
        var zone = options.Zones[0];
        switch (problem)
        {
            case "listen": options.Listen = []; break;
            case "both-keys": options.Cluster = "cluster.json"; break;
            case "no-zones": options.Zones = []; break;
            case "no-source": zone.Primary = null; break;
            case "bad-primary": zone.Primary = "127.0.0.1"; break;
            case "serial": zone.SerialPolicy = "sometimes"; break;
            case "validity": zone.SignatureValidity = "forever"; break;
            case "acl": zone.AllowTransfer = ["not-a-prefix"]; break;
            case "tsig-ref": zone.PrimaryTsigKey = "missing"; break;
            case "control": options.Control = "192.0.2.1:9154"; break;
            case "duplicate": options.Zones.Add(new ZoneOptions { Name = "EXAMPLE.com.", Primary = "127.0.0.1:53" }); break;
            case "generate": zone.GenerateKeys = "ecdsap256sha256"; break;
        }
        var e = Assert.Throws<SignerConfigurationException>(() => SignerSettings.From(options, Path.GetTempPath()));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void A_valid_configuration_resolves_endpoints_paths_and_policies()
    {
        var options = Valid();
        options.Zones[0].Nsec3 = true;
        options.Zones[0].Nsec3OptOut = true;
        options.Zones[0].Notify = ["[::1]:5301", "127.0.0.1:5302"];
        options.Zones[0].AllowTransfer = ["127.0.0.0/8", "::1"];
        options.Zones[0].SerialPolicy = "DateSerial";
        options.Zones[0].SignatureValidity = "21d";
        var settings = SignerSettings.From(options, "/srv/signer");
        Assert.Equal("/srv/signer/keys", settings.KeyDirectory);
        Assert.Equal("/srv/signer/data/signer.db", settings.DatabasePath);
        var zone = settings.Zones.Single();
        Assert.Equal("example.com.", zone.Name);
        Assert.Equal(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 53), ((PrimarySource)zone.Source).Endpoint);
        Assert.Equal(2, zone.Notify.Count);
        Assert.True(zone.Policy.Nsec3!.OptOut);
        Assert.Equal(SerialPolicyKind.DateSerial, zone.SerialPolicy);
        Assert.Equal(TimeSpan.FromDays(21), zone.Policy.Schedule.Validity);
        Assert.True(zone.TransferAcl.Allows(System.Net.IPAddress.Parse("127.0.0.9"), null));
        Assert.False(zone.TransferAcl.Allows(System.Net.IPAddress.Parse("192.0.2.1"), null));
    }
}
