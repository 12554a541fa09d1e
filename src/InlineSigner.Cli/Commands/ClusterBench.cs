using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Cluster.Client;
using InlineSigner.Cluster.Keys;
using InlineSigner.Cluster.Node;
using InlineSigner.Dnssec.Keys;
using InlineSigner.Threshold.OpenSsl;
using InlineSigner.Threshold.Rsa;

namespace InlineSigner.Cli.Commands;

/// <summary>
/// `bench cluster`: the networked cluster (n `node run` child processes on 127.0.0.1, reached through CURVE like any
/// cluster) against the in-process threshold rate of the same scheme measured in the same run, for RSA and Ed25519,
/// plus the idle latency of one signature through the cluster. Nodes, client and the in-process runs share this
/// machine's cores, which is why the in-process rate, not a single key, is the fair baseline.
/// </summary>
internal static class ClusterBench
{
    private const string Zone = "bench.example";

    public static Command Create(TextWriter output, TextWriter error)
    {
        var seconds = new Option<double>("--seconds") { Description = "Seconds per throughput measurement (default 3)", DefaultValueFactory = _ => 3 };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var nodes = new Option<int>("--nodes", "-n") { Description = "Nodes (n, default 5)", DefaultValueFactory = _ => 5 };
        var threshold = new Option<int>("--threshold", "-t") { Description = "Shares needed per signature (t, default 3)", DefaultValueFactory = _ => 3 };
        var bits = new Option<int>("--bits") { Description = "RSA modulus size (default 2048)", DefaultValueFactory = _ => 2048 };
        var primes = new Option<FileInfo?>("--primes") { Description = "Deal the RSA key from these safe primes (two hex lines, p and q, of bits/2 each) instead of searching new ones" };
        var samples = new Option<int>("--latency-samples") { Description = "Single-signature calls for the idle latency (default 50)", DefaultValueFactory = _ => 50 };
        var rounds = new Option<int>("--rounds") { Description = "In-process and cluster runs alternate this many times per algorithm, so both see the same background load (default 3)", DefaultValueFactory = _ => 3 };
        var workers = new Option<int>("--node-workers") { Description = "Signing threads per node (default 0: the node's default, one per processor)", DefaultValueFactory = _ => 0 };
        var command = new Command("cluster", "Threshold signing through local node processes vs in process (same run): RSA and Ed25519 rates, idle latency.")
        {
            seconds, json, nodes, threshold, bits, primes, samples, rounds, workers,
        };
        command.SetAction(async (parse, ct) =>
        {
            var options = new Options(
                TimeSpan.FromSeconds(Math.Max(0.1, parse.GetValue(seconds))), parse.GetValue(nodes), parse.GetValue(threshold), parse.GetValue(bits),
                parse.GetValue(primes)?.FullName, parse.GetValue(samples), parse.GetValue(rounds), parse.GetValue(workers));
            if (options.Nodes is < 1 or > ProtocolConstants.MaxNodeId) throw new CliException($"--nodes must be 1..{ProtocolConstants.MaxNodeId}");
            if (options.Threshold < 1 || options.Threshold > options.Nodes) throw new CliException($"--threshold must be 1..{options.Nodes}");
            if (options.Bits is < 1024 or > 8192 || options.Bits % 2 != 0) throw new CliException("--bits must be an even number 1024..8192");
            if (options.LatencySamples is < 1 or > 100_000) throw new CliException("--latency-samples must be 1..100000");
            if (options.NodeWorkers is < 0 or > 256) throw new CliException("--node-workers must be 0..256");
            if (options.Rounds is < 1 or > 100) throw new CliException("--rounds must be 1..100");

            // System.CommandLine turns SIGINT and SIGTERM into cancellation of ct once this action has returned its
            // task, and ends the process 2 s after cancelling (so the nodes are stopped the moment cancellation
            // comes, see RunAsync). Until then — the nodes are being started — and for SIGHUP (a closed terminal) these
            // registrations cancel the same way.
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            void Stop(PosixSignalContext context)
            {
                context.Cancel = true;
                stop.Cancel();
            }
            using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
            using var hangUp = PosixSignalRegistration.Create(PosixSignal.SIGHUP, Stop);
            var result = await RunAsync(options, line => error.WriteLine($"bench cluster: {line}"), error, stop.Token);
            output.WriteLine(parse.GetValue(json) ? result.ToJson() : result.ToTable());
            return 0;
        });
        return command;
    }

    private sealed record Options(TimeSpan Duration, int Nodes, int Threshold, int Bits, string? PrimesPath, int LatencySamples, int Rounds, int NodeWorkers);

    private static async Task<Result> RunAsync(Options options, Action<string> progress, TextWriter error, CancellationToken cancellationToken)
    {
        int t = options.Threshold, n = options.Nodes;
        progress($"starting {n} nodes");
        var nodes = await LocalNodeProcesses.StartAsync(n, t, new NodeLimits { Workers = options.NodeWorkers }, cancellationToken);
        ClusterClient? client = null;
        // Cancelled (Ctrl-C, SIGTERM): the nodes go at once, not after the measurement has unwound, since
        // System.CommandLine ends the process 2 s after it cancels.
        var stopNodes = cancellationToken.Register(nodes.Stop);
        try
        {
            progress($"{n} nodes listening (configurations and share stores in {nodes.WorkDirectory})");
            client = ClusterClient.Create(nodes.ClusterConfigPath, StderrLoggerProvider.For(error));
            return await MeasureAsync(options, nodes, client, progress, error, cancellationToken);
        }
        finally
        {
            await stopNodes.DisposeAsync();
            await nodes.DisposeAsync();
            client?.Dispose();
        }
    }

    private static async Task<Result> MeasureAsync(Options options, LocalNodeProcesses nodes, ClusterClient client, Action<string> progress, TextWriter error,
        CancellationToken cancellationToken)
    {
        int cores = Environment.ProcessorCount;
        int t = options.Threshold, n = options.Nodes;
        var duration = options.Duration;
        var up = await client.WaitForNodesAsync(n, TimeSpan.FromSeconds(15), cancellationToken);
        if (up.Count(r => r.Ok) < n)
            throw new CliException($"only {up.Count(r => r.Ok)} of {n} nodes answer: {string.Join("; ", up.Where(r => !r.Ok).Select(r => $"node {r.NodeId}: {r.Error}"))}");
        var manager = new ClusterKeyManager(client, StderrLoggerProvider.For(error));
        var keyProgress = new Progress<string>(progress);

        // One dealt key serves both sides: the in-process run signs with share holders made from it, the cluster with
        // the same shares stored on the nodes (distributing disposes them; the holders keep their own copies).
        var (rsaPublic, rsaShares) = await DealAsync(options, progress, cancellationToken);
        var holders = rsaShares.Select(s => new RsaShareHolder(rsaPublic, s)).ToList();
        try
        {
            var rsaRecord = await manager.DistributeRsaAsync(Zone, DnsSecAlgorithm.RsaSha256, ksk: false, rsaPublic, rsaShares, keyProgress, cancellationToken);
            var edRecord = await manager.GenerateEd25519Async(Zone, ksk: false, keyProgress, cancellationToken);

            progress($"RSA-{options.Bits}: single key, {duration.TotalSeconds:0.###} s");
            var rsaSingle = ThresholdRates.SingleRsa(options.Bits, duration, cores, cancellationToken);
            var rsa = await CompareAsync($"RSA-{options.Bits}", manager.Signer(rsaRecord.KeyId), nodes,
                () => ThresholdRates.ThresholdRsa(rsaPublic, holders, duration, cores, cancellationToken), options, progress, cancellationToken);

            progress($"Ed25519: single key, {duration.TotalSeconds:0.###} s");
            var edSingle = ThresholdRates.SingleEd25519(duration, cores, cancellationToken);
            var ed = await CompareAsync("Ed25519", manager.Signer(edRecord.KeyId), nodes,
                () => ThresholdRates.Frost(t, n, duration, cores, cancellationToken, engineCheck: true, roundOneTimed: true), options, progress, cancellationToken);

            return new Result(cores, t, n, options.Bits, duration.TotalSeconds, options.Rounds, options.NodeWorkers, options.LatencySamples, rsaSingle, rsa, edSingle, ed);
        }
        finally
        {
            foreach (var holder in holders) holder.Dispose();
            foreach (var share in rsaShares) share.Dispose();
        }
    }

    private static async Task<(ThresholdRsaPublicKey, IReadOnlyList<RsaKeyShare>)> DealAsync(Options options, Action<string> progress, CancellationToken cancellationToken)
    {
        if (options.PrimesPath is { } path)
        {
            var lines = File.ReadAllLines(path).Select(l => l.Trim()).Where(l => l.Length > 0).ToList();
            if (lines.Count != 2) throw new CliException($"--primes {path}: two hex lines (p and q) expected, found {lines.Count}");
            using var p = BigNum.FromBytes(Hex(lines[0], path));
            using var q = BigNum.FromBytes(Hex(lines[1], path));
            if (p.BitLength != options.Bits / 2 || q.BitLength != options.Bits / 2)
                throw new CliException($"--primes {path}: primes of {p.BitLength} and {q.BitLength} bits do not make a {options.Bits}-bit modulus (--bits)");
            if (p.CompareTo(q) == 0) throw new CliException($"--primes {path}: p and q are the same");
            progress($"dealing a {options.Bits}-bit {options.Threshold}-of-{options.Nodes} RSA key from {path}");
            return ThresholdRsaDealer.DealFromPrimes(p, q, options.Threshold, options.Nodes);
        }
        progress($"dealing a {options.Bits}-bit {options.Threshold}-of-{options.Nodes} RSA key (the safe-prime search can take a minute or more for 2048 bits)");
        var clock = Stopwatch.StartNew();
        var deal = Task.Run(() => ThresholdRsaDealer.Deal(options.Bits, options.Threshold, options.Nodes, null, cancellationToken), cancellationToken);
        // The search gives no sign of life of its own: say every few seconds that it is still going.
        while (await Task.WhenAny(deal, Task.Delay(TimeSpan.FromSeconds(5), cancellationToken)) != deal)
            progress($"still searching safe primes ({clock.Elapsed.TotalSeconds:0} s)");
        var dealt = await deal;
        progress($"RSA key dealt in {clock.Elapsed.TotalSeconds:0.0} s");
        return dealt;
    }

    private static byte[] Hex(string text, string path)
    {
        try { return Convert.FromHexString(text); }
        catch (FormatException) { throw new CliException($"--primes {path}: '{(text.Length > 16 ? text[..16] + "…" : text)}' is not hex"); }
    }

    /// <summary>
    /// One algorithm, cluster against in process: rounds of the in-process rate followed by the cluster's, summed over
    /// the rounds (alternating, so a change in the machine's background load hits both sides), then the idle latency.
    /// </summary>
    private sealed record Comparison(ThresholdRates.Measurement InProcess, ClusterMeasurement Cluster, int CallSize, IReadOnlyList<double> RoundRatios,
        double LatencyMinMs, double LatencyP50Ms, double LatencyP95Ms)
    {
        public double Ratio => Cluster.PerSecond / InProcess.PerSecond;
    }

    /// <summary>Signatures through the cluster in a measured time, with the processor time of the client (this process) and of all nodes.</summary>
    private sealed record ClusterMeasurement(long Signatures, double Seconds, double ClientCpuMs, double NodesCpuMs)
    {
        public double PerSecond => Signatures / Seconds;
        public double ClientCpuMsPerSignature => ClientCpuMs / Math.Max(1, Signatures);
        public double NodesCpuMsPerSignature => NodesCpuMs / Math.Max(1, Signatures);

        public static ClusterMeasurement Sum(IEnumerable<ClusterMeasurement> parts) => parts.Aggregate(new ClusterMeasurement(0, 0, 0, 0),
            (a, b) => new ClusterMeasurement(a.Signatures + b.Signatures, a.Seconds + b.Seconds, a.ClientCpuMs + b.ClientCpuMs, a.NodesCpuMs + b.NodesCpuMs));
    }

    private static async Task<Comparison> CompareAsync(string name, ClusterSigner signer, LocalNodeProcesses nodes, Func<ThresholdRates.Measurement> inProcess,
        Options options, Action<string> progress, CancellationToken cancellationToken)
    {
        using var verifier = SignatureCheck.For(signer.Algorithm, signer.DnsKey.PublicKey);
        long counter = 0;
        ReadOnlyMemory<byte>[] Inputs(int count)
        {
            var inputs = new ReadOnlyMemory<byte>[count];
            for (int i = 0; i < count; i++) inputs[i] = SigningInput(Interlocked.Increment(ref counter));
            return inputs;
        }
        // Every signature counted is checked with the signing engine's own verifier, as the engine does.
        async Task<int> SignAndCheckAsync(ReadOnlyMemory<byte>[] inputs)
        {
            var signatures = await signer.SignAsync(inputs, cancellationToken);
            if (signatures.Count != inputs.Length) throw new CliException($"{signatures.Count} signatures for {inputs.Length} inputs");
            for (int i = 0; i < inputs.Length; i++)
                if (!verifier.Verify(inputs[i].Span, signatures[i])) throw new CliException($"key {signer.KeyId}: a signature from the cluster does not verify");
            return inputs.Length;
        }


        // Throughput as the signing engine asks for it: max(2, cores) callers, each sending calls of many distinct
        // inputs. Calls are big enough to keep the signer's pipeline full, small enough that each caller makes
        // several per round (a call returns all its signatures at once, at its end). The clock runs from the first
        // call to the end of the last, so ramp-up and the final drain count against the cluster.
        int callers = Math.Max(2, Environment.ProcessorCount);
        int callSize = 0;
        async Task<(long Signed, double Seconds)> SignForAsync(TimeSpan duration)
        {
            long signed = 0;
            var window = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, callers).Select(_ => Task.Run(async () =>
            {
                while (window.Elapsed < duration)
                    Interlocked.Add(ref signed, await SignAndCheckAsync(Inputs(callSize)));
            }, cancellationToken)));
            return (signed, window.Elapsed.TotalSeconds);
        }
        var inProcessRounds = new List<ThresholdRates.Measurement>();
        var clusterRounds = new List<ClusterMeasurement>();
        for (int round = 1; round <= options.Rounds; round++)
        {
            progress($"{name}: round {round} of {options.Rounds}: {options.Threshold} of {options.Nodes} in process, {options.Duration.TotalSeconds:0.###} s");
            var own = inProcess();
            inProcessRounds.Add(own);
            // The in-process run left garbage behind: collect it now, not while the cluster is measured.
            GC.Collect();
            GC.WaitForPendingFinalizers();
            if (round == 1)
            {
                callSize = (int)Math.Clamp(own.PerSecond * options.Duration.TotalSeconds / (2 * callers), 16, 2048);
                // Warm-up, not counted: each node is a process of its own whose hot paths the JIT has yet to
                // optimise (the in-process side shares this process's), and the signer's batch sizing learns the
                // cluster's speed.
                var warmUp = TimeSpan.FromSeconds(Math.Clamp(options.Duration.TotalSeconds, 1, 3));
                progress($"{name}: warming the cluster up, {warmUp.TotalSeconds:0.###} s");
                await SignForAsync(warmUp);
            }
            progress($"{name}: round {round} of {options.Rounds}: through the cluster, {options.Duration.TotalSeconds:0.###} s");
            var clientCpu = CpuClock.Start();
            var nodesCpu = CpuClock.Start(nodes.Processes);
            var (signed, seconds) = await SignForAsync(options.Duration);
            clusterRounds.Add(new ClusterMeasurement(signed, seconds, clientCpu.ElapsedMs, nodesCpu.ElapsedMs));
        }
        // Idle latency: single-input calls one after another, nothing else running. Measured after the throughput
        // rounds, as a running signer is: warm (the nodes' hot paths optimised by the JIT, connections up), then idle.
        GC.Collect();
        await Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken);
        progress($"{name}: idle latency through the cluster, {options.LatencySamples} signatures one after another");
        for (int i = 0; i < 5; i++) await SignAndCheckAsync(Inputs(1)); // JIT on both sides, connections, FROST commitment pools
        var latencies = new double[options.LatencySamples];
        for (int i = 0; i < latencies.Length; i++)
        {
            var input = Inputs(1);
            var clock = Stopwatch.StartNew();
            var signature = await signer.SignAsync(input, cancellationToken);
            latencies[i] = clock.Elapsed.TotalMilliseconds;
            if (!verifier.Verify(input[0].Span, signature[0])) throw new CliException($"key {signer.KeyId}: a signature from the cluster does not verify");
        }
        Array.Sort(latencies);
        var ratios = clusterRounds.Zip(inProcessRounds, (c, i) => c.PerSecond / i.PerSecond).ToList();
        return new Comparison(ThresholdRates.Measurement.Sum(inProcessRounds), ClusterMeasurement.Sum(clusterRounds), callSize, ratios,
            latencies[0], Percentile(latencies, 50), Percentile(latencies, 95));
    }

    /// <summary>An RRSIG-sized signing input, distinct for every number.</summary>
    private static byte[] SigningInput(long number)
    {
        var input = new byte[160];
        Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"bench.example. cluster signing input {number}")).CopyTo(input, 0);
        return input;
    }

    /// <summary>Nearest-rank percentile of sorted values.</summary>
    private static double Percentile(double[] sorted, double percent) =>
        sorted[Math.Clamp((int)Math.Ceiling(percent / 100 * sorted.Length) - 1, 0, sorted.Length - 1)];

    private sealed record Result(int Cores, int T, int N, int Bits, double Seconds, int Rounds, int NodeWorkers, int LatencySamples,
        ThresholdRates.Measurement RsaSingle, Comparison Rsa, ThresholdRates.Measurement EdSingle, Comparison Ed)
    {
        public string ToJson()
        {
            var json = new Dictionary<string, object>
            {
                ["cores"] = Cores,
                ["t"] = T,
                ["n"] = N,
                ["bits"] = Bits,
                ["seconds"] = Seconds,
                ["rounds"] = Rounds,
                ["node_workers"] = NodeWorkers,
                ["latency_samples"] = LatencySamples,
            };
            Add("rsa", RsaSingle, Rsa);
            Add("ed25519", EdSingle, Ed);
            return JsonSerializer.Serialize(json);

            void Add(string prefix, ThresholdRates.Measurement single, Comparison comparison)
            {
                json[$"{prefix}_single_per_s"] = Math.Round(single.PerSecond, 1);
                json[$"{prefix}_inprocess_per_s"] = Math.Round(comparison.InProcess.PerSecond, 1);
                json[$"{prefix}_cluster_per_s"] = Math.Round(comparison.Cluster.PerSecond, 1);
                json[$"{prefix}_cluster_over_inprocess"] = Math.Round(comparison.Ratio, 3);
                json[$"{prefix}_round_ratios"] = comparison.RoundRatios.Select(r => Math.Round(r, 3)).ToList();
                json[$"{prefix}_inprocess_cpu_ms"] = Math.Round(comparison.InProcess.CpuMsPerOperation, 3);
                json[$"{prefix}_cluster_client_cpu_ms"] = Math.Round(comparison.Cluster.ClientCpuMsPerSignature, 3);
                json[$"{prefix}_cluster_nodes_cpu_ms"] = Math.Round(comparison.Cluster.NodesCpuMsPerSignature, 3);
                json[$"{prefix}_call_size"] = comparison.CallSize;
                json[$"{prefix}_latency_min_ms"] = Math.Round(comparison.LatencyMinMs, 2);
                json[$"{prefix}_latency_p50_ms"] = Math.Round(comparison.LatencyP50Ms, 2);
                json[$"{prefix}_latency_p95_ms"] = Math.Round(comparison.LatencyP95Ms, 2);
            }
        }

        public string ToTable()
        {
            var text = new StringBuilder();
            void Line(FormattableString line) => text.AppendLine(line.ToString(CultureInfo.InvariantCulture));
            Line($"{N} node processes on 127.0.0.1, threshold {T} of {N}, {Cores} cores shared by nodes, client and in-process runs; every signature verified");
            Line($"{Rounds} alternating rounds of {Seconds:0.###} s per side and algorithm");
            Line($"{"signatures/s",-18}{"cluster",10}{"in process",12}{"ratio",8}{"single key",12}   CPU ms/signature: cluster (client + nodes) vs in process");
            Row($"RSA-{Bits}", Rsa, RsaSingle);
            Row("Ed25519 (FROST)", Ed, EdSingle);
            Line($"ratio per round: RSA {string.Join(", ", Rsa.RoundRatios.Select(r => r.ToString("F2", CultureInfo.InvariantCulture)))}; Ed25519 {string.Join(", ", Ed.RoundRatios.Select(r => r.ToString("F2", CultureInfo.InvariantCulture)))}");
            Line($"idle latency of one signature ({LatencySamples} calls), min / p50 / p95 ms: RSA-{Bits} {Rsa.LatencyMinMs:F1} / {Rsa.LatencyP50Ms:F1} / {Rsa.LatencyP95Ms:F1}; Ed25519 {Ed.LatencyMinMs:F1} / {Ed.LatencyP50Ms:F1} / {Ed.LatencyP95Ms:F1}");
            Line($"goals: ratio >= 0.80; idle latency under 20 ms for RSA-2048 and under 5 ms for Ed25519");
            return text.ToString().TrimEnd();

            void Row(string name, Comparison comparison, ThresholdRates.Measurement single)
            {
                var cluster = comparison.Cluster;
                Line($"{name,-18}{cluster.PerSecond,10:F0}{comparison.InProcess.PerSecond,12:F0}{comparison.Ratio,8:F2}{single.PerSecond,12:F0}   {cluster.ClientCpuMsPerSignature + cluster.NodesCpuMsPerSignature:F2} ({cluster.ClientCpuMsPerSignature:F2} + {cluster.NodesCpuMsPerSignature:F2}) vs {comparison.InProcess.CpuMsPerOperation:F2}");
            }
        }
    }
}
