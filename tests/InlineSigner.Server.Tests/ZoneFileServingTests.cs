using System.Text.Json.Nodes;
using InlineSigner.Tests.Shared;

namespace InlineSigner.Server.Tests;

/// <summary>
/// The daemon on a watched zone file: signs it, serves it by AXFR and IXFR to allowed clients only, picks up edits,
/// keeps the last good version when an edit breaks the file, and refuses to start on a damaged database.
/// </summary>
public sealed class ZoneFileServingTests
{
    private static async Task AssertValidAsync(string signed)
    {
        var bind = await ExternalTool.RunAsync("dnssec-verify", "-o", "example.com", signed);
        Assert.True(bind.ExitCode == 0, bind.All);
        var ldns = await ExternalTool.RunAsync("ldns-verify-zone", signed);
        Assert.True(ldns.ExitCode == 0, ldns.All);
    }

    private static string Serial(SignerProcess signer, string zone) => signer.Dig(zone, "SOA", "+short").Result.Output.Split(' ')[2];

    [Fact]
    public async Task Zone_file_is_signed_served_and_its_edits_arrive_as_ixfr_while_a_broken_edit_changes_nothing()
    {
        using var dir = new TempDirectory();
        var zoneFile = dir.File("example.com");
        File.Copy(RepositoryPaths.Zone("example.com"), zoneFile);
        await using var signer = await SignerProcess.StartAsync(new JsonObject
        {
            ["Name"] = "example.com",
            ["ZoneFile"] = zoneFile,
            ["AllowTransfer"] = new JsonArray("127.0.0.0/8"),
        });
        await signer.WaitForLogAsync(@"serial 2026112401: committed \(full", TimeSpan.FromSeconds(60));
        await signer.AxfrToFileAsync("example.com", dir.File("v1.signed"));
        await AssertValidAsync(dir.File("v1.signed"));

        // An edit with a new serial: a small signed delta, served by IXFR.
        var text = File.ReadAllText(zoneFile).Replace("2026112401 ; serial", "2026112402 ; serial") + "newhost IN A 192.0.2.99\n";
        File.WriteAllText(zoneFile, text);
        await signer.WaitForLogAsync(@"serial 2026112402: committed \(incremental", TimeSpan.FromSeconds(30));
        var ixfr = await signer.Dig("example.com", "IXFR=2026112401", "+nocmd", "+nostats", "+nocomments");
        var lines = ixfr.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(lines, l => l.StartsWith("newhost.example.com.", StringComparison.Ordinal) && l.Contains("192.0.2.99"));
        Assert.InRange(lines.Length, 6, 20); // SOAs, the new A and its RRSIG, NSEC edits: not the zone
        await signer.AxfrToFileAsync("example.com", dir.File("v2.signed"));
        await AssertValidAsync(dir.File("v2.signed"));

        // A broken edit: reported with file and line, nothing served changes.
        int mark = signer.Log.Length;
        File.WriteAllText(zoneFile, text.Replace("2026112402 ; serial", "2026112403 ; serial") + "broken IN A not-an-address\n");
        await signer.WaitForLogAsync(@"example\.com:\d+", TimeSpan.FromSeconds(30), mark);
        Assert.Equal("2026112402", Serial(signer, "example.com"));

        // Transfers for others are refused.
        signer.Config["Signer"]!["Zones"]![0]!["AllowTransfer"] = new JsonArray("192.0.2.0/24");
        signer.WriteConfig();
        signer.Signal("HUP");
        await signer.WaitForLogAsync("configuration reloaded", TimeSpan.FromSeconds(30));
        var refused = await signer.Dig("example.com", "AXFR");
        Assert.True(refused.Output.Contains("Transfer failed", StringComparison.Ordinal), refused.Output + signer.Log);
        Assert.Equal("2026112402", Serial(signer, "example.com")); // still served after the reload
        var metrics = await signer.MetricsAsync();
        Assert.True(SignerProcess.Metric(metrics, "inline_signer_transfers_refused_total{zone=\"example.com.\"}") >= 1);
        Assert.Equal(0, await signer.StopAsync());
    }

    [Fact]
    public async Task Dnssec_records_in_the_unsigned_input_are_dropped_counted_and_replaced_by_ours()
    {
        using var dir = new TempDirectory();
        // Someone else's signed zone as our "unsigned" input: their DNSKEYs, RRSIGs, NSEC3 chain and ZONEMD must all go.
        var theirKeys = dir.File("their-keys");
        Assert.Equal(0, (await SignerProcess.RunCliAsync(["keys", "generate", "--zone", "example.com", "--algorithm", "ecdsap256sha256", "--dir", theirKeys])).ExitCode);
        var input = dir.File("example.com");
        var sign = await SignerProcess.RunCliAsync(["sign", "--zone", "example.com", "--in", RepositoryPaths.Zone("example.com"), "--out", input,
            "--key-dir", theirKeys, "--nsec3", "--zonemd", "sha384", "-q"]);
        Assert.True(sign.ExitCode == 0, sign.All);
        int upstream = File.ReadAllLines(input).Count(l => System.Text.RegularExpressions.Regex.IsMatch(l, @"\t(RRSIG|NSEC3|NSEC3PARAM|DNSKEY|ZONEMD)\t"));
        await using var signer = await SignerProcess.StartAsync(new JsonObject { ["Name"] = "example.com", ["ZoneFile"] = input, ["AllowTransfer"] = new JsonArray("127.0.0.0/8") });
        await signer.WaitForLogAsync(@"committed \(full", TimeSpan.FromSeconds(60));
        var served = await signer.AxfrToFileAsync("example.com", dir.File("ours.signed"));
        await AssertValidAsync(dir.File("ours.signed"));
        var dnskeys = served.Split('\n').Where(l => l.Contains("\tDNSKEY\t", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, dnskeys.Count);
        Assert.All(dnskeys, k => Assert.Contains(" 3 15 ", k)); // ours are Ed25519; theirs were ECDSA (13)
        Assert.DoesNotContain("\tNSEC3\t", served);
        Assert.DoesNotContain("\tZONEMD\t", served);
        Assert.DoesNotContain(" 13 ", string.Join('\n', served.Split('\n').Where(l => l.Contains("\tRRSIG\t", StringComparison.Ordinal))));
        var metrics = await signer.MetricsAsync();
        Assert.Equal(upstream, SignerProcess.Metric(metrics, "inline_signer_upstream_dnssec_records_stripped_total{zone=\"example.com.\"}"));
    }

    [Fact]
    public async Task A_damaged_database_is_a_clear_startup_error_and_is_left_alone()
    {
        using var dir = new TempDirectory();
        var zoneFile = dir.File("example.com");
        File.Copy(RepositoryPaths.Zone("example.com"), zoneFile);
        await using var signer = await SignerProcess.StartAsync(new JsonObject { ["Name"] = "example.com", ["ZoneFile"] = zoneFile }, start: false);
        var data = signer.Directory.File("data");
        Directory.CreateDirectory(data);
        var database = Path.Combine(data, "signer.db");
        var garbage = new byte[8192];
        new Random(3).NextBytes(garbage);
        File.WriteAllBytes(database, garbage);
        var result = await signer.StartExpectingFailureAsync();
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains(database, result.Error);
        Assert.Equal(garbage, File.ReadAllBytes(database));
    }
}

/// <summary>Signature refresh in the running daemon, on a schedule shrunk to seconds.</summary>
public sealed class SignatureRefreshTests
{
    [Fact]
    public async Task Signatures_are_refreshed_in_bounded_batches_and_never_served_with_less_than_expire_plus_ttl_left()
    {
        using var dir = new TempDirectory();
        var zoneFile = dir.File("refresh.test");
        var text = new System.Text.StringBuilder("$ORIGIN refresh.test.\n$TTL 5\n@ SOA ns1 hostmaster 1 3600 600 5 5\n@ NS ns1\nns1 A 192.0.2.1\n");
        for (int i = 0; i < 40; i++) text.Append(System.Globalization.CultureInfo.InvariantCulture, $"h{i} A 198.51.100.{i}\n");
        File.WriteAllText(zoneFile, text.ToString());
        await using var signer = await SignerProcess.StartAsync(new JsonObject
        {
            ["Name"] = "refresh.test",
            ["ZoneFile"] = zoneFile,
            ["AllowTransfer"] = new JsonArray("127.0.0.0/8"),
            ["SignatureValidity"] = "40",
            ["SignatureRefresh"] = "16",
            ["SignatureJitter"] = "4",
            ["RefreshBatch"] = 10,
        });
        await signer.WaitForLogAsync(@"serial 1: committed \(full", TimeSpan.FromSeconds(60));

        // SOA EXPIRE (5 s) + the largest TTL (5 s): the least validity any served signature may have.
        const long floor = 10;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(45))
        {
            // The time before the transfer: the daemon served these signatures no earlier, so what they had left then is at
            // most this. Taken after it, a transfer slowed by a loaded machine would count against the daemon.
            long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            var zone = await signer.AxfrToFileAsync("refresh.test", dir.File("sample.txt"));
            foreach (var line in zone.Split('\n').Where(l => l.Contains("\tRRSIG\t", StringComparison.Ordinal)))
            {
                var expiration = line.Split('\t')[^1].Split(' ')[4];
                long expires = DateTimeOffset.ParseExact(expiration, "yyyyMMddHHmmss", System.Globalization.CultureInfo.InvariantCulture,
                    System.Globalization.DateTimeStyles.AssumeUniversal).ToUnixTimeSeconds();
                Assert.True(expires - now >= floor, $"served a signature with {expires - now} s left: {line}");
            }
            await Task.Delay(1500);
        }
        var batches = System.Text.RegularExpressions.Regex.Matches(signer.Log, @"signature refresh committed: (\d+) signature\(s\) over (\d+) RRset\(s\)");
        Assert.True(batches.Count >= 3, signer.Log);
        // Bounded: each batch re-signs at most 10 RRsets besides the SOA.
        Assert.All(batches, b => Assert.InRange(int.Parse(b.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture), 1, 11));
        await signer.AxfrToFileAsync("refresh.test", dir.File("final.signed"));
        var verify = await ExternalTool.RunAsync("dnssec-verify", "-o", "refresh.test", dir.File("final.signed"));
        Assert.True(verify.ExitCode == 0, verify.All);
        var metrics = await signer.MetricsAsync();
        // Read after the log: refreshing goes on meanwhile, so the counter is at least what the log showed.
        Assert.True(SignerProcess.Metric(metrics, "inline_signer_zone_versions_total{zone=\"refresh.test.\",cause=\"refresh\"}") >= batches.Count);

        // `inline-signer status` reads the running daemon.
        var status = await SignerProcess.RunCliAsync(["status", "--control", $"127.0.0.1:{signer.ControlPort}"]);
        Assert.True(status.ExitCode == 0, status.All);
        Assert.Contains("zone refresh.test.", status.Output);
        Assert.Matches(@"signed serial \d+", status.Output);
        Assert.Contains("/ED25519/KSK", status.Output);
    }
}
