using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Tests.Shared;
using InlineSigner.Tests.Shared.Dns;

namespace InlineSigner.Server.Tests;

/// <summary>
/// The inbound half against a real BIND 9 hidden primary: initial AXFR, then nsupdate changes that reach the signer
/// by NOTIFY and IXFR and come out as small signed deltas that BIND's and ldns's validators accept — for NSEC, NSEC3
/// and NSEC3 with opt-out; TSIG on the transfer; a primary that sends broken transfers; kill -9 while signing; SOA
/// EXPIRE.
/// </summary>
public sealed class PrimaryFollowingTests
{
    private const string Zone = "example.test";

    /// <summary>An unsigned zone with enough names that a delta touching the whole zone would show.</summary>
    /// <summary>REFRESH is an hour by default, so that changes arrive by NOTIFY, not by polling.</summary>
    private static string UnsignedZone(uint serial, int refresh = 3600, int expire = 1209600)
    {
        var text = new StringBuilder($"""
            $ORIGIN {Zone}.
            $TTL 300
            @ SOA ns1 hostmaster {serial} {refresh} 2 {expire} 60
            @ NS ns1
            ns1 A 192.0.2.1
            www A 192.0.2.80
            mail A 192.0.2.25
            @ MX 10 mail
            a.b.c TXT "below an empty non-terminal"
            insecure NS ns.elsewhere.example.

            """);
        for (int i = 0; i < 60; i++) text.Append(CultureInfo.InvariantCulture, $"host{i} A 198.51.100.{i}\n");
        return text.ToString();
    }

    private static async Task<BindServer> StartPrimaryAsync(int signerPort, string zoneText, string keyClause = "", string allowTransfer = "any;")
    {
        return await BindServer.StartAsync($$"""
            {{keyClause}}
            zone "{{Zone}}" {
                type primary;
                file "{{Zone}}.db";
                allow-update { any; };
                allow-transfer { {{allowTransfer}} };
                notify explicit;
                notify-delay 0;
                also-notify { 127.0.0.1 port {{signerPort}}; };
            };
            """, dir => File.WriteAllText(dir.File($"{Zone}.db"), zoneText));
    }

    private static JsonObject ZoneConfig(BindServer primary, string denial) => new()
    {
        ["Name"] = Zone,
        ["Primary"] = $"127.0.0.1:{primary.Port}",
        ["AllowTransfer"] = new JsonArray("127.0.0.0/8"),
        ["Nsec3"] = denial != "nsec",
        ["Nsec3OptOut"] = denial == "nsec3-optout",
    };

    private static async Task AssertSignedZoneValidAsync(SignerProcess signer, string file)
    {
        await signer.AxfrToFileAsync(Zone, file);
        var bind = await ExternalTool.RunAsync("dnssec-verify", "-o", Zone, file);
        Assert.True(bind.ExitCode == 0, bind.All);
        var ldns = await ExternalTool.RunAsync("ldns-verify-zone", file);
        Assert.True(ldns.ExitCode == 0, ldns.All);
    }

    private static async Task<uint> SignedSerialAsync(SignerProcess signer)
    {
        var soa = await signer.Dig(Zone, "SOA", "+short");
        return uint.Parse(soa.Output.Split(' ')[2], CultureInfo.InvariantCulture);
    }

    /// <summary>Records in the signer's IXFR from <paramref name="from"/> (both SOA bookends included).</summary>
    private static async Task<string[]> IxfrAsync(SignerProcess signer, uint from)
    {
        var ixfr = await signer.Dig(Zone, $"IXFR={from}", "+nocmd", "+nostats", "+nocomments");
        return ixfr.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith(';')).ToArray();
    }

    [Theory]
    [InlineData("nsec")]
    [InlineData("nsec3")]
    [InlineData("nsec3-optout")]
    public async Task Changes_by_nsupdate_arrive_by_ixfr_and_leave_a_valid_zone_and_a_small_delta(string denial)
    {
        await using var signer = await SignerProcess.StartAsync(new JsonObject { ["Name"] = Zone }, start: false);
        await using var primary = await StartPrimaryAsync(signer.DnsPort, UnsignedZone(1));
        signer.Config["Signer"]!["Zones"] = new JsonArray(ZoneConfig(primary, denial));
        await signer.StartAsync();
        await signer.WaitForLogAsync(@"serial 1: committed \(full, from unsigned serial 1 via AXFR", TimeSpan.FromSeconds(60));
        await AssertSignedZoneValidAsync(signer, signer.Directory.File("v1.signed"));
        var zoneRecords = (await signer.AxfrToFileAsync(Zone, signer.Directory.File("full.txt"))).Split('\n').Count(l => l.Length > 0 && !l.StartsWith(';'));

        var steps = new (string Script, Func<string[], bool> Check)[]
        {
            ("update add www2.example.test. 300 A 192.0.2.81", d => d.Any(l => l.StartsWith("www2.example.test.", StringComparison.Ordinal))),
            ("update delete mail.example.test. A\nupdate add mail.example.test. 300 A 192.0.2.26", d => d.Any(l => l.Contains("192.0.2.26"))),
            ("update add sub.example.test. 300 NS ns.sub.example.test.\nupdate add ns.sub.example.test. 300 A 192.0.2.53", d => d.Any(l => l.StartsWith("sub.example.test.", StringComparison.Ordinal))),
            ("update delete a.b.c.example.test. TXT", d => d.Any(l => l.StartsWith("a.b.c.example.test.", StringComparison.Ordinal))),
            ("update add *.wild.example.test. 300 TXT \"wildcard\"", d => d.Any(l => l.StartsWith("*.wild.example.test.", StringComparison.Ordinal))),
            ("update add insecure.example.test. 300 DS 12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF", d => d.Any(l => l.Contains("\tDS\t", StringComparison.Ordinal))),
        };
        uint serial = 1;
        foreach (var (script, check) in steps)
        {
            int mark = signer.Log.Length;
            await primary.UpdateAsync($"zone {Zone}\n{script}\nsend");
            serial++;
            await signer.WaitForLogAsync($@"serial {serial}: committed \(incremental, from unsigned serial {serial} via IXFR\)", TimeSpan.FromSeconds(60), mark);
            Assert.Equal(serial, await SignedSerialAsync(signer));
            var delta = await IxfrAsync(signer, serial - 1);
            Assert.True(check(delta), $"step '{script}': the delta misses the change:\n{string.Join('\n', delta)}");
            // Only what must change: the records, their signatures, the denial records around them, the SOA.
            Assert.True(delta.Length <= 36 && delta.Length < zoneRecords / 4, $"step '{script}': {delta.Length} records in the delta of a {zoneRecords}-record zone:\n{string.Join('\n', delta)}");
            await AssertSignedZoneValidAsync(signer, signer.Directory.File($"v{serial}.signed"));
        }
        var metrics = await signer.MetricsAsync();
        Assert.Equal(steps.Length, SignerProcess.Metric(metrics, $"inline_signer_transfers_in_total{{zone=\"{Zone}.\",type=\"IXFR\",result=\"ok\"}}"));
        Assert.Equal(1, SignerProcess.Metric(metrics, $"inline_signer_transfers_in_total{{zone=\"{Zone}.\",type=\"AXFR\",result=\"ok\"}}"));
        Assert.True(SignerProcess.Metric(metrics, $"inline_signer_notify_received_total{{zone=\"{Zone}.\",result=\"accepted\"}}") >= steps.Length,
            string.Join("\n", metrics.Where(m => m.Key.Contains("notify", StringComparison.Ordinal)).Select(m => $"{m.Key} {m.Value}")) + "\n" + signer.Log);
    }

    [Fact]
    public async Task Tsig_protects_the_transfer_and_a_wrong_key_fails_clearly()
    {
        const string secret = "SGVsbG8gVFNJRyB0ZXN0IHNlY3JldCBvZiAzMiBieXRlcyE=";
        await using var signer = await SignerProcess.StartAsync(new JsonObject { ["Name"] = Zone }, start: false);
        await using var primary = await StartPrimaryAsync(signer.DnsPort, UnsignedZone(7),
            $$"""key "xfr" { algorithm hmac-sha256; secret "{{secret}}"; };""", "key xfr;");
        var zone = ZoneConfig(primary, "nsec");
        zone["PrimaryTsigKey"] = "xfr";
        signer.Config["Signer"]!["Zones"] = new JsonArray(zone);
        signer.Config["Signer"]!["TsigKeys"] = new JsonArray(new JsonObject { ["Name"] = "xfr", ["Algorithm"] = "hmac-sha256", ["Secret"] = secret });
        await signer.StartAsync();
        await signer.WaitForLogAsync(@"serial 7: committed \(full", TimeSpan.FromSeconds(60));
        await AssertSignedZoneValidAsync(signer, signer.Directory.File("tsig.signed"));
        await primary.UpdateAsync($"zone {Zone}\nupdate add tsig.example.test. 300 A 192.0.2.99\nsend");
        await signer.WaitForLogAsync(@"serial 8: committed \(incremental, from unsigned serial 8 via IXFR\)", TimeSpan.FromSeconds(60));
        await signer.StopAsync();

        // The same signer with a wrong secret: the primary refuses, the signer says why and keeps serving serial 8.
        var wrong = Convert.ToBase64String(Encoding.ASCII.GetBytes("a different secret of 32 bytes!!"));
        signer.Config["Signer"]!["TsigKeys"]![0]!["Secret"] = wrong;
        int mark = signer.Log.Length;
        await signer.StartAsync();
        await primary.UpdateAsync($"zone {Zone}\nupdate add tsig2.example.test. 300 A 192.0.2.98\nsend");
        var failure = await signer.WaitForLogAsync(@"zone example\.test\.: SOA query to 127\.0\.0\.1:\d+ failed: [^\n]*(BADSIG|BADKEY|TSIG)[^\n]*", TimeSpan.FromSeconds(60), mark);
        Assert.Contains("127.0.0.1", failure);
        Assert.Equal(8u, await SignedSerialAsync(signer));
    }

    [Fact]
    public async Task A_broken_or_inconsistent_transfer_leaves_the_last_good_signed_zone_served()
    {
        var origin = DomainName.Parse(Zone);
        uint serial = 1;
        int mode = 0; // 0: good, 1: truncated AXFR, 2: AXFR whose last SOA differs, 3: records outside the zone
        byte[] Soa(ushort id, uint s) => Messages.Response(id, origin, RecordType.Soa, Messages.Records(origin, UnsignedZone(s, refresh: 1)).Where(r => r.RecordType == RecordType.Soa));
        await using var fake = new FakeServer(async connection =>
        {
            var records = Messages.Records(origin, UnsignedZone(serial, refresh: 1)).ToList();
            var soa = records.First(r => r.RecordType == RecordType.Soa);
            var id = connection.RequestId;
            // IXFR is answered AXFR-style (a full zone), as a primary without a journal does.
            switch (mode)
            {
                case 0:
                    await connection.SendAsync(Messages.Response(id, origin, RecordType.Axfr, [.. records, soa]));
                    break;
                case 1:
                    await connection.SendAsync(Messages.Response(id, origin, RecordType.Axfr, records.Take(records.Count / 2)));
                    break; // and the connection closes: no closing SOA
                case 2:
                    var other = Messages.Records(origin, UnsignedZone(serial + 5, refresh: 1)).First(r => r.RecordType == RecordType.Soa);
                    await connection.SendAsync(Messages.Response(id, origin, RecordType.Axfr, [.. records, other]));
                    break;
                default:
                    var outside = Messages.Records(DomainName.Parse("elsewhere.example"), "$ORIGIN elsewhere.example.\nwww 300 A 192.0.2.7\n");
                    await connection.SendAsync(Messages.Response(id, origin, RecordType.Axfr, [.. records, .. outside, soa]));
                    break;
            }
        }, request => Soa(System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(request), serial));

        await using var signer = await SignerProcess.StartAsync(new JsonObject
        {
            ["Name"] = Zone,
            ["Primary"] = fake.Endpoint.ToString(),
            ["AllowTransfer"] = new JsonArray("127.0.0.0/8"),
        });
        await signer.WaitForLogAsync(@"serial 1: committed \(full", TimeSpan.FromSeconds(60));
        foreach (var broken in new[] { 1, 2, 3 })
        {
            int mark = signer.Log.Length;
            mode = broken;
            serial++;
            await signer.WaitForLogAsync(@"transfer from [^\n]* failed; still serving signed serial 1|not a valid zone[^\n]*still serving signed serial 1", TimeSpan.FromSeconds(30), mark);
            Assert.Equal(1u, await SignedSerialAsync(signer));
            await AssertSignedZoneValidAsync(signer, signer.Directory.File($"after-{broken}.signed"));
        }
        // Once the primary behaves, the newest version arrives.
        mode = 0;
        await signer.WaitForLogAsync($@"serial {serial}: committed", TimeSpan.FromSeconds(30));
        Assert.Equal(serial, await SignedSerialAsync(signer));
        var metrics = await signer.MetricsAsync();
        Assert.True(SignerProcess.Metric(metrics, $"inline_signer_transfers_in_total{{zone=\"{Zone}.\",type=\"AXFR\",result=\"failed\"}}") >= 2);
    }

    [Fact]
    public async Task Kill_9_while_signing_restarts_into_the_last_committed_version_and_catches_up()
    {
        await using var signer = await SignerProcess.StartAsync(new JsonObject { ["Name"] = Zone }, start: false);
        var big = new StringBuilder(UnsignedZone(1));
        for (int i = 0; i < 1500; i++) big.Append(CultureInfo.InvariantCulture, $"bulk{i} A 203.0.113.{i % 250}\nbulk{i} TXT \"bulk record {i}\"\n");
        await using var primary = await StartPrimaryAsync(signer.DnsPort, big.ToString());
        signer.Config["Signer"]!["Zones"] = new JsonArray(ZoneConfig(primary, "nsec3"));
        await signer.StartAsync();
        await signer.WaitForLogAsync(@"serial 1: committed \(full", TimeSpan.FromSeconds(120));

        // A change that takes a while to sign (a thousand new names), killed at different points of transfer and signing.
        var update = new StringBuilder($"zone {Zone}\n");
        for (int i = 0; i < 600; i++) update.Append(CultureInfo.InvariantCulture, $"update add new{i}.example.test. 300 A 192.0.2.{i % 250}\n");
        update.Append("send\n");
        await primary.UpdateAsync(update.ToString());
        var random = new Random(42);
        for (int round = 0; round < 3; round++)
        {
            await Task.Delay(random.Next(50, 600));
            signer.Kill();
            await signer.StartAsync();
            // Whatever was or was not committed, what is served at once is a complete, valid version.
            var served = await SignedSerialAsync(signer);
            Assert.True(served is 1 or 2, $"served serial {served}");
            await AssertSignedZoneValidAsync(signer, signer.Directory.File($"after-kill-{round}.signed"));
        }
        await signer.WaitForLogAsync(@"serial 2: committed", TimeSpan.FromSeconds(120));
        Assert.Equal(2u, await SignedSerialAsync(signer));
        await AssertSignedZoneValidAsync(signer, signer.Directory.File("caught-up.signed"));
    }

    [Fact]
    public async Task Past_soa_expire_without_the_primary_the_zone_answers_servfail_and_recovers_when_it_returns()
    {
        var origin = DomainName.Parse(Zone);
        var records = Messages.Records(origin, UnsignedZone(3, refresh: 1, expire: 6)).ToList();
        var soa = records.First(r => r.RecordType == RecordType.Soa);
        bool down = false;
        await using var fake = new FakeServer(
            async connection => { if (!down) await connection.SendAsync(Messages.Response(connection.RequestId, origin, RecordType.Axfr, [.. records, soa])); },
            request => down ? null : Messages.Response(System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(request), origin, RecordType.Soa, [soa]));
        await using var signer = await SignerProcess.StartAsync(new JsonObject { ["Name"] = Zone, ["Primary"] = fake.Endpoint.ToString() });
        await signer.WaitForLogAsync(@"serial 3: committed \(full", TimeSpan.FromSeconds(60));
        Assert.Contains("NOERROR", (await signer.Dig("www.example.test", "A")).Output);

        down = true;
        await signer.WaitForLogAsync("past SOA EXPIRE", TimeSpan.FromSeconds(90));
        Assert.Contains("SERVFAIL", (await signer.Dig("www.example.test", "A")).Output);
        Assert.Equal(1, SignerProcess.Metric(await signer.MetricsAsync(), $"inline_signer_zone_expired{{zone=\"{Zone}.\"}}"));

        down = false;
        await signer.WaitForLogAsync("refreshed from the primary; serving again", TimeSpan.FromSeconds(90));
        Assert.Contains("NOERROR", (await signer.Dig("www.example.test", "A")).Output);
        Assert.Equal(0, SignerProcess.Metric(await signer.MetricsAsync(), $"inline_signer_zone_expired{{zone=\"{Zone}.\"}}"));
    }

    [Fact]
    public async Task An_expired_zone_serves_again_when_the_primary_returns_with_a_newer_serial()
    {
        // Regression: a newer version arriving while expired was published still marked expired (SERVFAIL), and the
        // flag was cleared only afterwards, so nothing published it again.
        var origin = DomainName.Parse(Zone);
        var versions = new Dictionary<uint, List<DnsRecordBase>>
        {
            [3] = Messages.Records(origin, UnsignedZone(3, refresh: 1, expire: 6)).ToList(),
            [4] = Messages.Records(origin, UnsignedZone(4, refresh: 1, expire: 6)).ToList(),
        };
        uint current = 3;
        bool down = false;
        List<DnsRecordBase> Records() => versions[current];
        DnsRecordBase Soa() => Records().First(r => r.RecordType == RecordType.Soa);
        await using var fake = new FakeServer(
            async connection => { if (!down) await connection.SendAsync(Messages.Response(connection.RequestId, origin, RecordType.Axfr, [.. Records(), Soa()])); },
            request => down ? null : Messages.Response(System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(request), origin, RecordType.Soa, [Soa()]));
        await using var signer = await SignerProcess.StartAsync(new JsonObject { ["Name"] = Zone, ["Primary"] = fake.Endpoint.ToString() });
        await signer.WaitForLogAsync(@"serial 3: committed \(full", TimeSpan.FromSeconds(60));

        down = true;
        await signer.WaitForLogAsync("past SOA EXPIRE", TimeSpan.FromSeconds(90));
        Assert.Contains("SERVFAIL", (await signer.Dig("www.example.test", "A")).Output);

        current = 4;
        down = false;
        await signer.WaitForLogAsync("refreshed from the primary; serving again", TimeSpan.FromSeconds(90));
        await signer.WaitForLogAsync(@"committed \(\w+, from unsigned serial 4", TimeSpan.FromSeconds(60));
        Assert.Contains("NOERROR", (await signer.Dig("www.example.test", "A")).Output);
        Assert.Equal(0, SignerProcess.Metric(await signer.MetricsAsync(), $"inline_signer_zone_expired{{zone=\"{Zone}.\"}}"));
    }
}
