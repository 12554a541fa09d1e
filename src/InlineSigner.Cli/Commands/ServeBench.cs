using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Dnssec.Keys;
using InlineSigner.Protocol;
using static InlineSigner.Cli.Commands.BenchServers;

namespace InlineSigner.Cli.Commands;

/// <summary>
/// `bench serve` (issue 6): the daemon as an authoritative server against BIND serving the very same signed zone, in one
/// run. The daemon signs a generated zone from its zone file with a local Ed25519 key; its AXFR output becomes BIND's
/// primary zone file, so both answer from identical data. Measured: AXFR time from each (one counting client for both),
/// an IXFR of a one-record change from us, queries per second with dnsperf for a mixed query set (existing names, wrong
/// types, NXDOMAIN, referrals; DO bit on every query) against each, and the daemon's peak resident set.
/// </summary>
internal static class ServeBench
{
    private const string ZoneName = "bench.example";

    public static Command Create(TextWriter output)
    {
        var records = new Option<int>("--records") { Description = "Names in the generated zone (default 100000; every tenth a delegation with glue)", DefaultValueFactory = _ => 100_000 };
        var seconds = new Option<double>("--seconds") { Description = "Seconds of dnsperf per server and round (default 10)", DefaultValueFactory = _ => 10 };
        var rounds = new Option<int>("--rounds") { Description = "Alternating rounds of AXFR and dnsperf per server; the median counts (default 3)", DefaultValueFactory = _ => 3 };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var keep = new Option<DirectoryInfo?>("--work-dir") { Description = "Keep zones, configuration and logs here (default: a temporary directory, deleted)" };
        var command = new Command("serve", "inline-signer serve vs BIND named on the same signed zone: AXFR, IXFR, queries per second, memory.")
        {
            records, seconds, rounds, json, keep,
        };
        command.SetAction(async (parse, ct) =>
        {
            int count = parse.GetValue(records);
            if (count < 10) throw new CliException("--records must be at least 10");
            int roundCount = Math.Max(1, parse.GetValue(rounds));
            var workDir = parse.GetValue(keep)?.FullName ?? Directory.CreateTempSubdirectory("inline-signer-bench-serve-").FullName;
            bool cleanup = parse.GetValue(keep) is null;
            Directory.CreateDirectory(workDir);
            try
            {
                var result = await RunAsync(workDir, count, Math.Max(0.5, parse.GetValue(seconds)), roundCount, parse.GetValue(json) ? null : output, ct);
                if (parse.GetValue(json)) output.WriteLine(JsonSerializer.Serialize(result));
                return 0;
            }
            finally
            {
                if (cleanup) Directory.Delete(workDir, recursive: true);
            }
        });
        return command;
    }

    private static async Task<Dictionary<string, object>> RunAsync(string workDir, int count, double seconds, int rounds, TextWriter? progress, CancellationToken ct)
    {
        var origin = DomainName.Parse(ZoneName);
        var unsignedPath = Path.Combine(workDir, "bench.example.zone");
        BenchCommands.WriteGeneratedZone(unsignedPath, count);
        var keyDir = Path.Combine(workDir, "keys");
        using (var key = LocalKey.Generate(origin, DnsSecAlgorithm.Ed25519, ksk: true)) BindKeyFile.Write(key, keyDir);

        var free = new LoopbackPorts();
        int dnsPort = free.One(), metricsPort = free.One(), bindPort = free.One();
        var signerConfig = Path.Combine(workDir, "signer.json");
        await File.WriteAllTextAsync(signerConfig, JsonSerializer.Serialize(new
        {
            Signer = new
            {
                DataDirectory = Path.Combine(workDir, "data"),
                Listen = new[] { $"127.0.0.1:{dnsPort}" },
                Metrics = $"127.0.0.1:{metricsPort}",
                KeyDirectory = keyDir,
                Zones = new[] { new { Name = ZoneName, ZoneFile = unsignedPath, AllowTransfer = new[] { "127.0.0.0/8" } } },
            },
        }), ct);

        progress?.WriteLine($"zone: {count} names (every tenth a delegation with glue), one local Ed25519 key, NSEC, {Environment.ProcessorCount} cores");
        var startClock = Stopwatch.StartNew();
        await using var daemon = await StartSelfAsync("inline-signer serve", ["serve", "--config", signerConfig], "Application started", TimeSpan.FromMinutes(30), ct,
            Path.Combine(workDir, "serve.log"));
        var committed = await daemon.WaitForLogAsync(@"committed \(full.*?: (\d+) signature\(s\) over (\d+) RRset\(s\).*?(\d+) ms", 0, TimeSpan.FromMinutes(30), ct);
        double startSeconds = startClock.Elapsed.TotalSeconds;
        long signatures = long.Parse(committed.Groups[1].Value, CultureInfo.InvariantCulture);
        long rrsets = long.Parse(committed.Groups[2].Value, CultureInfo.InvariantCulture);
        progress?.WriteLine($"daemon: signed {rrsets} RRsets ({signatures} signatures) and serving after {F(startSeconds, "F1")} s");

        // BIND serves our signed output: the two answer from the same records, signatures included.
        var ours = new IPEndPoint(IPAddress.Loopback, dnsPort);
        var signedPath = Path.Combine(workDir, "signed.zone");
        await DigAxfrToFileAsync(dnsPort, signedPath, ct);
        await using var named = await StartNamedAsync(Path.Combine(workDir, "named"), bindPort,
            $"zone \"{ZoneName}\" {{ type primary; file \"{signedPath}\"; notify no; }};", ct);
        var bind = new IPEndPoint(IPAddress.Loopback, bindPort);

        // AXFR: a warm-up each, then alternating rounds; the median of each side counts.
        var first = await AxfrAsync(ours, origin, ct);
        var firstBind = await AxfrAsync(bind, origin, ct);
        if (first.Records != firstBind.Records)
            throw new CliException($"BIND serves {firstBind.Records} records, we serve {first.Records}: not the same zone");
        var oursAxfr = new List<double>();
        var bindAxfr = new List<double>();
        for (int r = 0; r < rounds; r++)
        {
            oursAxfr.Add((await AxfrAsync(ours, origin, ct)).Elapsed.TotalSeconds);
            bindAxfr.Add((await AxfrAsync(bind, origin, ct)).Elapsed.TotalSeconds);
        }
        double axfrOurs = Median(oursAxfr), axfrBind = Median(bindAxfr);
        progress?.WriteLine($"AXFR ({first.Records} records, {first.Bytes / 1024} KiB in {first.Messages} messages): ours {F(axfrOurs, "F3")} s, BIND {F(axfrBind, "F3")} s, ours at {F(100 * axfrBind / axfrOurs, "F0")} % of BIND's speed");

        // IXFR of a one-record change: edit the unsigned file (serial + 1, one new name), wait for the commit, transfer.
        var client = new ZoneTransferClient();
        var before = await client.SoaQueryAsync(ours, origin, null, TimeSpan.FromSeconds(10), ct);
        await client.IxfrAsync(ours, origin, before.SerialNumber, null, TimeSpan.FromSeconds(30), ct); // warm-up: "up to date", the client's code compiled
        var editClock = Stopwatch.StartNew();
        await AddRecordAsync(unsignedPath, ct);
        var after = await WaitForSerialAsync(client, ours, origin, before.SerialNumber, TimeSpan.FromMinutes(5), ct);
        double editToServedMs = editClock.Elapsed.TotalMilliseconds;
        var ixfrClock = Stopwatch.StartNew();
        var ixfr = await client.IxfrAsync(ours, origin, before.SerialNumber, null, TimeSpan.FromSeconds(30), ct);
        double ixfrMs = ixfrClock.Elapsed.TotalMilliseconds;
        if (ixfr is not IxfrResult.Incremental incremental) throw new CliException($"IXFR from {before.SerialNumber} was answered with {ixfr.GetType().Name}, not a delta");
        int ixfrRecords = incremental.Deltas.Sum(d => d.Added.Count + d.Deleted.Count + 2);
        progress?.WriteLine($"IXFR {before.SerialNumber} -> {after} of a one-record change: {F(ixfrMs, "F1")} ms ({ixfrRecords} records); file edit to serving it: {F(editToServedMs, "F0")} ms");

        // Queries per second: the same query file against each server, alternating rounds.
        var queries = Path.Combine(workDir, "queries.txt");
        int queryCount = WriteQueries(queries, count);
        var oursQps = new List<BenchServers.DnsperfResult>();
        var bindQps = new List<BenchServers.DnsperfResult>();
        for (int r = 0; r < rounds; r++)
        {
            oursQps.Add(await DnsperfAsync(dnsPort, queries, seconds, ct));
            bindQps.Add(await DnsperfAsync(bindPort, queries, seconds, ct));
        }
        double qpsOurs = Median(oursQps.Select(q => q.QueriesPerSecond).ToList()), qpsBind = Median(bindQps.Select(q => q.QueriesPerSecond).ToList());
        progress?.WriteLine($"queries per second (dnsperf -D, {queryCount} distinct queries: existing, wrong type, NXDOMAIN, referral): ours {F(qpsOurs, "F0")}, BIND {F(qpsBind, "F0")}, ratio {F(qpsOurs / qpsBind)}");
        progress?.WriteLine($"  ours: {oursQps[^1].ResponseCodes}; lost {oursQps.Sum(q => q.Lost)}");
        progress?.WriteLine($"  BIND: {bindQps[^1].ResponseCodes}; lost {bindQps.Sum(q => q.Lost)}");

        long peak = daemon.PeakRssMiB, bindPeak = named.PeakRssMiB;
        progress?.WriteLine($"peak RSS: inline-signer serve {peak} MiB (goal <= 1536), named {bindPeak} MiB");
        await daemon.StopAsync();
        await named.StopAsync();
        double axfrRatio = axfrBind / axfrOurs, qpsRatio = qpsOurs / qpsBind;
        progress?.WriteLine($"goals: AXFR >= 50 % of BIND's speed {(axfrRatio >= 0.5 ? "met" : "NOT met")}, QPS >= 50 % {(qpsRatio >= 0.5 ? "met" : "NOT met")}, memory <= 1.5 GiB {(peak <= 1536 ? "met" : "NOT met")}");
        return new Dictionary<string, object>
        {
            ["cores"] = Environment.ProcessorCount,
            ["records"] = count,
            ["rrsets"] = rrsets,
            ["signatures"] = signatures,
            ["zone_records"] = first.Records,
            ["daemon_start_to_serving_seconds"] = Math.Round(startSeconds, 3),
            ["axfr_ours_seconds"] = Math.Round(axfrOurs, 4),
            ["axfr_bind_seconds"] = Math.Round(axfrBind, 4),
            ["axfr_speed_ours_over_bind"] = Math.Round(axfrRatio, 3),
            ["ixfr_one_change_ms"] = Math.Round(ixfrMs, 2),
            ["ixfr_records"] = ixfrRecords,
            ["edit_to_served_ms"] = Math.Round(editToServedMs, 1),
            ["qps_ours"] = Math.Round(qpsOurs, 0),
            ["qps_bind"] = Math.Round(qpsBind, 0),
            ["qps_ours_over_bind"] = Math.Round(qpsRatio, 3),
            ["queries_lost_ours"] = oursQps.Sum(q => q.Lost),
            ["queries_lost_bind"] = bindQps.Sum(q => q.Lost),
            ["peak_rss_mib"] = peak,
            ["bind_peak_rss_mib"] = bindPeak,
        };
    }

    private static async Task DigAxfrToFileAsync(int port, string path, CancellationToken ct)
    {
        var start = new ProcessStartInfo(BenchCommands.FindTool("dig")) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { "@127.0.0.1", "-p", port.ToString(CultureInfo.InvariantCulture), ZoneName, "AXFR", "+onesoa", "+nocmd", "+nostats", "+nocomments" })
            start.ArgumentList.Add(argument);
        using var process = Process.Start(start) ?? throw new CliException("could not start dig");
        var error = process.StandardError.ReadToEndAsync(ct);
        await using (var file = File.Create(path)) await process.StandardOutput.BaseStream.CopyToAsync(file, ct);
        await process.WaitForExitAsync(ct);
        if (process.ExitCode != 0) throw new CliException($"dig AXFR from the daemon failed: {await error}");
    }

    /// <summary>The edit an operator makes: one more name and the serial raised, written to a new file and renamed over the old.</summary>
    private static async Task AddRecordAsync(string path, CancellationToken ct)
    {
        var text = await File.ReadAllTextAsync(path, ct);
        var soa = Regex.Match(text, @"^@ SOA (\S+) (\S+) (\d+) ", RegexOptions.Multiline);
        if (!soa.Success) throw new CliException("the generated zone has no SOA line where expected");
        uint serial = uint.Parse(soa.Groups[3].Value, CultureInfo.InvariantCulture) + 1;
        text = string.Concat(text.AsSpan(0, soa.Groups[3].Index), serial.ToString(CultureInfo.InvariantCulture), text.AsSpan(soa.Groups[3].Index + soa.Groups[3].Length))
            + $"added{serial.ToString(CultureInfo.InvariantCulture)} A 192.0.2.200\n";
        var temporary = path + ".new";
        await File.WriteAllTextAsync(temporary, text, new UTF8Encoding(false), ct);
        File.Move(temporary, path, overwrite: true);
    }

    private static async Task<uint> WaitForSerialAsync(ZoneTransferClient client, IPEndPoint server, DomainName zone, uint before, TimeSpan timeout, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            var soa = await client.SoaQueryAsync(server, zone, null, TimeSpan.FromSeconds(5), ct);
            if (SerialNumber.IsNewer(soa.SerialNumber, before)) return soa.SerialNumber;
            await Task.Delay(5, ct);
        }
        throw new CliException($"the daemon did not serve a serial after {before} within {timeout.TotalSeconds:F0} s");
    }

    /// <summary>
    /// The query mix, one "name type" per line for dnsperf: 60 % existing names with their type, 10 % existing names
    /// with a type they lack (NODATA: NSEC proof), 20 % names that do not exist (NXDOMAIN: NSEC proofs), 10 % names under
    /// a delegation (referral). Names follow <see cref="BenchCommands.WriteGeneratedZone"/>.
    /// </summary>
    private static int WriteQueries(string path, int count)
    {
        var random = new Random(20240601);
        using var writer = new StreamWriter(path, false, new UTF8Encoding(false));
        int lines = Math.Clamp(count, 1000, 50_000);
        int tens = Math.Max(1, count / 10);
        for (int n = 0; n < lines; n++)
        {
            int delegation = random.Next(tens) * 10; // d{delegation} is a zone cut
            int host = Math.Min(count - 1, delegation + random.Next(1, 10));
            string name = host % 10 == 0 ? $"ns.d{host}" : $"h{host}";
            string type = (host % 10) switch { 0 => "A", 1 => "AAAA", 2 => "TXT", _ => "A" };
            string line = random.Next(10) switch
            {
                < 6 => $"{name}.{ZoneName} {type}",
                6 => $"{name}.{ZoneName} MX",
                < 9 => $"nx{random.Next(count)}.{ZoneName} A",
                _ => $"www.d{delegation}.{ZoneName} A",
            };
            writer.Write(line);
            writer.Write('\n');
        }
        return lines;
    }
}
