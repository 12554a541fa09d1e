using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Cluster;
using InlineSigner.Cluster.Client;
using InlineSigner.Cluster.Keys;
using InlineSigner.Dnssec.Keys;
using static InlineSigner.Cli.Commands.BenchServers;

namespace InlineSigner.Cli.Commands;

/// <summary>
/// `bench pipeline` (issue 5): the whole inline-signing path against a real hidden primary. BIND serves a generated
/// unsigned zone and sends NOTIFY to the daemon, which signs with a 3-of-5 cluster of local node processes (its
/// LocalNodes option starts them). Per algorithm, in one run: the cluster's raw signature rate (a ClusterSigner on the
/// same nodes, the engine's batch size and parallelism, before the daemon starts), the daemon's initial full sign as a
/// fraction of what that rate allows, the time from the primary's NOTIFY to a committed signed version for one-record
/// changes made with nsupdate (the daemon's own inline_signer_notify_to_commit_seconds, per change), and peak memory.
/// </summary>
internal static class PipelineBench
{
    private const string ZoneName = "bench.example";

    public static Command Create(TextWriter output)
    {
        var records = new Option<int>("--records") { Description = "Names in the generated zone (default 100000; every tenth a delegation with glue)", DefaultValueFactory = _ => 100_000 };
        var algorithms = new Option<string[]>("--algorithms") { Description = "Key algorithms to run, comma-separated (default ed25519,rsasha256)", AllowMultipleArgumentsPerToken = true };
        var changes = new Option<int>("--changes") { Description = "One-record changes made with nsupdate (default 20)", DefaultValueFactory = _ => 20 };
        var rawSeconds = new Option<double>("--raw-seconds") { Description = "Seconds of raw cluster signing before the daemon starts (default 20)", DefaultValueFactory = _ => 20 };
        var rawBatch = new Option<int>("--raw-batch") { Description = "Signing inputs per call while measuring the raw rate (default 2048, the signing engine's batch)", DefaultValueFactory = _ => 2048 };
        var rsaBits = new Option<int>("--rsa-bits") { Description = "RSA modulus size (default 2048)", DefaultValueFactory = _ => 2048 };
        var keys = new Option<string>("--keys")
        {
            Description = "cluster (default): threshold keys on the 3-of-5 local cluster; local: key files in the daemon (to see the pipeline's own cost without the cluster's)",
            DefaultValueFactory = _ => "cluster",
        };
        keys.AcceptOnlyFromAmong("cluster", "local");
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var keep = new Option<DirectoryInfo?>("--work-dir") { Description = "Keep zones, cluster, configuration and logs here (default: a temporary directory, deleted)" };
        var command = new Command("pipeline", "Hidden BIND primary -> inline-signer serve with a 3-of-5 local cluster: full sign vs raw cluster rate, NOTIFY to commit, memory.")
        {
            records, algorithms, changes, rawSeconds, rawBatch, rsaBits, keys, json, keep,
        };
        command.SetAction(async (parse, ct) =>
        {
            int count = parse.GetValue(records);
            if (count < 10) throw new CliException("--records must be at least 10");
            var names = (parse.GetValue(algorithms) is { Length: > 0 } given ? given : ["ed25519,rsasha256"])
                .SelectMany(a => a.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList();
            var chosen = new List<DnsSecAlgorithm>();
            foreach (var name in names)
            {
                DnsSecAlgorithm algorithm;
                try { algorithm = DnssecAlgorithms.Parse(name); }
                catch (ArgumentException e) { throw new CliException($"--algorithms: {e.Message}"); }
                if (algorithm is not (DnsSecAlgorithm.Ed25519 or DnsSecAlgorithm.RsaSha256 or DnsSecAlgorithm.RsaSha512))
                    throw new CliException($"--algorithms: the cluster signs ED25519, RSASHA256 or RSASHA512, not {name}");
                chosen.Add(algorithm);
            }
            var workDir = parse.GetValue(keep)?.FullName ?? Directory.CreateTempSubdirectory("inline-signer-bench-pipeline-").FullName;
            bool cleanup = parse.GetValue(keep) is null;
            Directory.CreateDirectory(workDir);
            var progress = parse.GetValue(json) ? null : output;
            try
            {
                bool local = parse.GetValue(keys) == "local";
                progress?.WriteLine($"zone: {count} names (every tenth a delegation with glue), NSEC, {(local ? "local key files" : "3-of-5 cluster of local node processes")}, {Environment.ProcessorCount} cores");
                var results = new List<Dictionary<string, object>>();
                foreach (var algorithm in chosen)
                    results.Add(await RunAsync(Path.Combine(workDir, DnssecAlgorithms.Mnemonic(algorithm).ToLowerInvariant()), count, algorithm, parse.GetValue(rsaBits),
                        Math.Max(1, parse.GetValue(changes)), Math.Max(0.5, parse.GetValue(rawSeconds)), Math.Max(1, parse.GetValue(rawBatch)), local, progress, ct));
                if (progress is null)
                    output.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object> { ["cores"] = Environment.ProcessorCount, ["records"] = count, ["algorithms"] = results }));
                return 0;
            }
            finally
            {
                if (cleanup) Directory.Delete(workDir, recursive: true);
            }
        });
        return command;
    }

    private static async Task<Dictionary<string, object>> RunAsync(string dir, int count, DnsSecAlgorithm algorithm, int rsaBits, int changes, double rawSeconds, int rawBatch,
        bool localKeys, TextWriter? progress, CancellationToken ct)
    {
        string mnemonic = DnssecAlgorithms.Mnemonic(algorithm) + (algorithm == DnsSecAlgorithm.Ed25519 ? "" : $"-{rsaBits}") + (localKeys ? " (local keys)" : "");
        Directory.CreateDirectory(dir);
        var free = new LoopbackPorts();
        var nodePorts = free.Consecutive(5);
        int bindPort = free.One(), dnsPort = free.One(), metricsPort = free.One();
        var clusterDir = Path.Combine(dir, "cluster");
        var generated = ClusterSetup.GenerateCluster(clusterDir, 5, 3, nodePorts[0]);
        if (localKeys) nodePorts = [];

        // 1. The keys, then the raw signature rate of the ZSK with the engine's call pattern: the cluster alone, before
        //    the daemon starts (it stops its nodes again), or the local key file.
        double keySeconds, rawRate;
        long rawSignatures;
        var keyDir = Path.Combine(dir, "keys");
        if (localKeys)
        {
            var keyClock = Stopwatch.StartNew();
            foreach (bool ksk in new[] { true, false })
            {
                using var key = LocalKey.Generate(ARSoft.Tools.Net.DomainName.Parse(ZoneName), algorithm, ksk, rsaBits);
                BindKeyFile.Write(key, keyDir);
            }
            keySeconds = keyClock.Elapsed.TotalSeconds;
            var loaded = KeyDirectory.Load(keyDir, ARSoft.Tools.Net.DomainName.Parse(ZoneName));
            try
            {
                (rawSignatures, rawRate) = await RawRateAsync(loaded.Single(k => !ZoneKeys.IsKsk(k)), TimeSpan.FromSeconds(rawSeconds), rawBatch, ct);
            }
            finally
            {
                foreach (var key in loaded) key.Dispose();
            }
        }
        else
        {
            var nodes = new List<BenchProcess>();
            try
            {
                var starting = generated.NodeConfigPaths.Select((path, i) => StartSelfAsync($"node {i + 1}", ["node", "run", "--config", path], " listening on ", TimeSpan.FromMinutes(2), ct)).ToList();
                try
                {
                    await Task.WhenAll(starting);
                }
                finally
                {
                    // Every node that did start is stopped below, also when another one failed to.
                    nodes.AddRange(starting.Where(t => t.IsCompletedSuccessfully).Select(t => t.Result));
                }
                using var client = ClusterClient.Create(generated.ClusterConfigPath);
                await client.WaitForNodesAsync(5, TimeSpan.FromSeconds(60), ct);
                var manager = new ClusterKeyManager(client);
                var keyClock = Stopwatch.StartNew();
                ClusterKeyRecord zsk = default!;
                foreach (bool ksk in new[] { true, false })
                {
                    var record = algorithm == DnsSecAlgorithm.Ed25519
                        ? await manager.GenerateEd25519Async(ZoneName, ksk, null, ct)
                        : await manager.GenerateRsaAsync(ZoneName, algorithm, rsaBits, ksk, null, ct);
                    if (!ksk) zsk = record;
                }
                keySeconds = keyClock.Elapsed.TotalSeconds;
                (rawSignatures, rawRate) = await RawRateAsync(new ClusterSigner(client, zsk), TimeSpan.FromSeconds(rawSeconds), rawBatch, ct);
            }
            finally
            {
                foreach (var node in nodes) await node.DisposeAsync();
            }
        }
        progress?.WriteLine($"{mnemonic}: KSK + ZSK generated in {F(keySeconds, "F1")} s; raw {(localKeys ? "key" : "cluster")} rate {F(rawRate, "F0")} signatures/s ({rawSignatures} in {F(rawSeconds, "F0")}+ s)");

        // 2. The hidden primary, with dynamic updates and NOTIFY to the daemon (at once: no notify-delay).
        var namedDir = Path.Combine(dir, "named");
        Directory.CreateDirectory(namedDir);
        BenchCommands.WriteGeneratedZone(Path.Combine(namedDir, "bench.example.zone"), count);
        await using var named = await StartNamedAsync(namedDir, bindPort,
            $$"""zone "{{ZoneName}}" { type primary; file "bench.example.zone"; allow-update { 127.0.0.1; }; notify explicit; notify-delay 0; also-notify { 127.0.0.1 port {{dnsPort}}; }; };""", ct);

        // 3. The daemon: cluster.json with the keys just made, its LocalNodes starting the same five nodes again.
        var signerConfig = Path.Combine(dir, "signer.json");
        var zones = new[] { new { Name = ZoneName, Primary = $"127.0.0.1:{bindPort}", AllowTransfer = new[] { "127.0.0.0/8" } } };
        object signer = localKeys
            ? new { DataDirectory = Path.Combine(dir, "data"), Listen = new[] { $"127.0.0.1:{dnsPort}" }, Metrics = $"127.0.0.1:{metricsPort}", KeyDirectory = keyDir, Zones = zones }
            : new
            {
                DataDirectory = Path.Combine(dir, "data"),
                Listen = new[] { $"127.0.0.1:{dnsPort}" },
                Metrics = $"127.0.0.1:{metricsPort}",
                Cluster = generated.ClusterConfigPath,
                LocalNodes = new { NodeConfigs = generated.NodeConfigPaths },
                Zones = zones,
            };
        await File.WriteAllTextAsync(signerConfig, JsonSerializer.Serialize(new { Signer = signer }), ct);
        await using var daemon = await StartSelfAsync("inline-signer serve", ["serve", "--config", signerConfig], "Application started", TimeSpan.FromMinutes(5), ct,
            Path.Combine(dir, "serve.log"));
        var full = await daemon.WaitForLogAsync(@"committed \(full.*?: (\d+) signature\(s\) over (\d+) RRset\(s\).*?(\d+) ms", 0, TimeSpan.FromHours(2), ct);
        long signatures = long.Parse(full.Groups[1].Value, CultureInfo.InvariantCulture);
        long rrsets = long.Parse(full.Groups[2].Value, CultureInfo.InvariantCulture);
        double fullSeconds = long.Parse(full.Groups[3].Value, CultureInfo.InvariantCulture) / 1000.0;
        double fraction = signatures / rawRate / fullSeconds;
        progress?.WriteLine($"{mnemonic}: initial full sign {signatures} signatures over {rrsets} RRsets in {F(fullSeconds, "F1")} s = {F(signatures / fullSeconds, "F0")}/s, {F(100 * fraction, "F0")} % of the raw rate (goal >= 80 %)");

        // 4. One-record changes: nsupdate -> BIND NOTIFY -> SOA, IXFR, incremental sign, commit. The daemon measures
        //    from the NOTIFY's arrival to the commit; each change is waited for before the next.
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var metricsUrl = $"http://127.0.0.1:{metricsPort}/metrics";
        var latencies = new List<double>();
        var signingMs = new List<double>();
        for (int k = 1; k <= changes; k++)
        {
            var (sum0, count0) = await NotifyHistogramAsync(http, metricsUrl, ct);
            int logFrom = daemon.LogLength;
            await NsupdateAsync(bindPort, $"update add c{k.ToString(CultureInfo.InvariantCulture)}.{ZoneName}. 300 IN A 192.0.2.{(k % 250 + 1).ToString(CultureInfo.InvariantCulture)}", ct);
            var clock = Stopwatch.StartNew();
            while (true)
            {
                var (sum, n) = await NotifyHistogramAsync(http, metricsUrl, ct);
                if (n > count0)
                {
                    latencies.Add((sum - sum0) * 1000 / (n - count0));
                    break;
                }
                if (clock.Elapsed > TimeSpan.FromMinutes(2)) throw new CliException($"change {k}: no commit after the primary's NOTIFY within 2 minutes:\n{daemon.Log[^Math.Min(4000, daemon.Log.Length)..]}");
                await Task.Delay(10, ct);
            }
            var line = await daemon.WaitForLogAsync(@"committed \(incremental.*?(\d+) ms", logFrom, TimeSpan.FromSeconds(30), ct);
            signingMs.Add(double.Parse(line.Groups[1].Value, CultureInfo.InvariantCulture));
        }
        double p50 = Median(latencies), p90 = Percentile(latencies, 0.9);
        double goalMs = algorithm == DnsSecAlgorithm.Ed25519 ? 50 : 150;
        progress?.WriteLine($"{mnemonic}: NOTIFY -> commit over {changes} one-record changes: p50 {F(p50, "F1")} ms, p90 {F(p90, "F1")} ms, max {F(latencies.Max(), "F1")} ms (goal p50 <= {goalMs:F0} ms); signing and commit alone p50 {F(Median(signingMs), "F0")} ms");

        long peak = daemon.PeakRssMiB;
        long nodesPeak = ProcessesMentioning(clusterDir).Select(PeakRssMiB).DefaultIfEmpty(0).Max();
        progress?.WriteLine($"{mnemonic}: peak RSS inline-signer serve {peak} MiB (goal <= 1536), largest node {nodesPeak} MiB");
        await daemon.StopAsync();
        await named.StopAsync();
        return new Dictionary<string, object>
        {
            ["algorithm"] = mnemonic,
            ["key_generation_seconds"] = Math.Round(keySeconds, 2),
            ["raw_signatures_per_second"] = Math.Round(rawRate, 1),
            ["rrsets"] = rrsets,
            ["full_sign_signatures"] = signatures,
            ["full_sign_seconds"] = Math.Round(fullSeconds, 3),
            ["full_sign_fraction_of_raw_rate"] = Math.Round(fraction, 3),
            ["changes"] = changes,
            ["notify_to_commit_p50_ms"] = Math.Round(p50, 2),
            ["notify_to_commit_p90_ms"] = Math.Round(p90, 2),
            ["notify_to_commit_max_ms"] = Math.Round(latencies.Max(), 2),
            ["notify_to_commit_goal_ms"] = goalMs,
            ["incremental_sign_and_commit_p50_ms"] = Math.Round(Median(signingMs), 1),
            ["peak_rss_mib"] = peak,
            ["node_peak_rss_mib"] = nodesPeak,
        };
    }

    /// <summary>
    /// Signatures per second the cluster gives one caller that behaves like the signing engine: calls of
    /// <paramref name="batch"/> inputs, max(2, cores) in flight, for at least <paramref name="duration"/> (calls already
    /// started are finished and counted). Inputs are RRSIG-sized; the ClusterSigner verifies every signature it returns.
    /// </summary>
    private static async Task<(long Signatures, double PerSecond)> RawRateAsync(Dnssec.ISigner signer, TimeSpan duration, int batch, CancellationToken ct)
    {
        var input = new List<ReadOnlyMemory<byte>>(batch);
        for (int i = 0; i < batch; i++) input.Add(RandomNumberGenerator.GetBytes(120));
        await signer.SignAsync(input, ct); // warm-up, not counted: connections, batch sizing, FROST nonce pools
        long done = 0;
        var clock = Stopwatch.StartNew();
        var callers = Enumerable.Range(0, Math.Max(2, Environment.ProcessorCount)).Select(async _ =>
        {
            while (clock.Elapsed < duration)
            {
                var signatures = await signer.SignAsync(input, ct);
                Interlocked.Add(ref done, signatures.Count);
            }
        });
        await Task.WhenAll(callers);
        return (done, done / clock.Elapsed.TotalSeconds);
    }

    private static async Task<(double Sum, long Count)> NotifyHistogramAsync(HttpClient http, string url, CancellationToken ct)
    {
        var text = await http.GetStringAsync(url, ct);
        double Value(string suffix)
        {
            var match = Regex.Match(text, $@"^inline_signer_notify_to_commit_seconds_{suffix}\{{zone=""{Regex.Escape(ZoneName)}\.""\}} (\S+)$", RegexOptions.Multiline);
            return match.Success ? double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
        }
        return (Value("sum"), (long)Value("count"));
    }

    private static async Task NsupdateAsync(int port, string update, CancellationToken ct)
    {
        var start = new ProcessStartInfo(BenchCommands.FindTool("nsupdate"))
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        using var process = Process.Start(start) ?? throw new CliException("could not start nsupdate");
        var output = process.StandardOutput.ReadToEndAsync(ct);
        var error = process.StandardError.ReadToEndAsync(ct);
        await process.StandardInput.WriteAsync($"server 127.0.0.1 {port.ToString(CultureInfo.InvariantCulture)}\nzone {ZoneName}.\n{update}\nsend\n");
        process.StandardInput.Close();
        await process.WaitForExitAsync(ct);
        if (process.ExitCode != 0) throw new CliException($"nsupdate failed: {(await error).Trim()} {(await output).Trim()}");
    }
}
