using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using ARSoft.Tools.Net;
using InlineSigner.Dnssec.Keys;

namespace InlineSigner.Cli.Commands;

/// <summary>
/// `inline-signer bench …`: performance measured against a baseline in the same run, reported as ratios.
/// Benchmarks, not tests: nothing here asserts a time.
/// </summary>
internal static class BenchCommands
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var bench = new Command("bench", "Benchmarks that compare us with a baseline measured in the same run.");
        bench.Add(Sign(output));
        bench.Add(ThresholdBench.Create(output));
        bench.Add(IncrementalBench.Create(output));
        bench.Add(ServeBench.Create(output));
        bench.Add(PipelineBench.Create(output));
        bench.Add(ClusterBench.Create(output, error));
        return bench;
    }

    /// <summary>
    /// How to run this very program again with <paramref name="arguments"/>: through the apphost when we were started
    /// by it, otherwise as `dotnet inline-signer.dll …` (how tests and `dotnet run` start us).
    /// </summary>
    internal static ProcessStartInfo SelfStartInfo(IEnumerable<string> arguments)
    {
        var (file, prefix) = BenchServers.Self();
        var start = new ProcessStartInfo(file) { UseShellExecute = false };
        foreach (var argument in prefix.Concat(arguments)) start.ArgumentList.Add(argument);
        return start;
    }

    private static Command Sign(TextWriter output)
    {
        var records = new Option<int>("--records") { Description = "Names in the generated zone (default 100000; every tenth is a delegation with glue)", DefaultValueFactory = _ => 100_000 };
        var algorithm = new Option<string>("--algorithm") { Description = "Key algorithm (default ECDSAP256SHA256)", DefaultValueFactory = _ => "ECDSAP256SHA256" };
        var nsec3 = new Option<bool>("--nsec3") { Description = "Both signers use NSEC3 (0 iterations, no salt)" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var keep = new Option<DirectoryInfo?>("--work-dir") { Description = "Keep the generated zone, key and outputs here (default: a temporary directory, deleted)" };
        var command = new Command("sign", "Full offline sign of a generated zone: inline-signer vs ldns-signzone, same key, same denial mode.")
        {
            records, algorithm, nsec3, json, keep,
        };
        command.SetAction(async (parse, ct) =>
        {
            int count = parse.GetValue(records);
            if (count < 10) throw new CliException("--records must be at least 10");
            var alg = DnssecAlgorithms.Parse(parse.GetValue(algorithm)!);
            bool useNsec3 = parse.GetValue(nsec3);
            var workDir = parse.GetValue(keep)?.FullName ?? Directory.CreateTempSubdirectory("inline-signer-bench-").FullName;
            bool cleanup = parse.GetValue(keep) is null;
            Directory.CreateDirectory(workDir);
            try
            {
                var origin = DomainName.Parse("bench.example");
                var zoneFile = Path.Combine(workDir, "bench.example.zone");
                WriteGeneratedZone(zoneFile, count);
                var keyDir = Path.Combine(workDir, "keys");
                using (var key = LocalKey.Generate(origin, alg, ksk: true)) BindKeyFile.Write(key, keyDir);
                var keyBase = Directory.GetFiles(keyDir, "*.private").Single()[..^".private".Length];

                var selfArgs = new List<string> { "sign", "--zone", "bench.example", "--in", zoneFile, "--out", Path.Combine(workDir, "ours.signed"), "--key-dir", keyDir, "-q" };
                if (useNsec3) selfArgs.Add("--nsec3");
                var ours = await Measure(SelfStartInfo(selfArgs), ct);

                var ldnsArgs = new List<string> { "-f", Path.Combine(workDir, "ldns.signed") };
                if (useNsec3) ldnsArgs.AddRange(["-n", "-t", "0"]);
                ldnsArgs.AddRange([zoneFile, keyBase]);
                var ldnsStart = new ProcessStartInfo(FindTool("ldns-signzone")) { UseShellExecute = false };
                foreach (var argument in ldnsArgs) ldnsStart.ArgumentList.Add(argument);
                var ldns = await Measure(ldnsStart, ct);

                double ratio = ours.Seconds / ldns.Seconds;
                if (parse.GetValue(json))
                {
                    output.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
                    {
                        ["cores"] = Environment.ProcessorCount,
                        ["records"] = count,
                        ["algorithm"] = DnssecAlgorithms.Mnemonic(alg),
                        ["denial"] = useNsec3 ? "NSEC3" : "NSEC",
                        ["ours_seconds"] = Math.Round(ours.Seconds, 3),
                        ["ldns_seconds"] = Math.Round(ldns.Seconds, 3),
                        ["ours_over_ldns"] = Math.Round(ratio, 3),
                        ["ours_peak_rss_mib"] = ours.PeakRssMiB,
                        ["ldns_peak_rss_mib"] = ldns.PeakRssMiB,
                    }));
                }
                else
                {
                    output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"zone: {count} names (every tenth a delegation with glue), {DnssecAlgorithms.Mnemonic(alg)}, {(useNsec3 ? "NSEC3" : "NSEC")}, {Environment.ProcessorCount} cores"));
                    output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"inline-signer sign: {ours.Seconds:F2} s, peak RSS {ours.PeakRssMiB} MiB"));
                    output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"ldns-signzone:      {ldns.Seconds:F2} s, peak RSS {ldns.PeakRssMiB} MiB"));
                    output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"ratio ours/ldns:    {ratio:F2} (below 1 is faster than ldns)"));
                }
                return 0;
            }
            finally
            {
                if (cleanup) Directory.Delete(workDir, recursive: true);
            }
        });
        return command;
    }

    /// <summary>A zone of <paramref name="count"/> names: every tenth a delegation (NS + glue), the rest A/AAAA/TXT.</summary>
    internal static void WriteGeneratedZone(string path, int count)
    {
        using var writer = new StreamWriter(path, false, new UTF8Encoding(false), 1 << 16);
        writer.Write("$ORIGIN bench.example.\n$TTL 3600\n@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ NS ns1\n@ NS ns2\nns1 A 192.0.2.1\nns2 A 192.0.2.2\n");
        for (int i = 0; i < count; i++)
        {
            var a = string.Create(CultureInfo.InvariantCulture, $"{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}");
            switch (i % 10)
            {
                case 0:
                    writer.Write(string.Create(CultureInfo.InvariantCulture, $"d{i} NS ns.d{i}\nns.d{i} A 10.{a}\n"));
                    break;
                case 1:
                    writer.Write(string.Create(CultureInfo.InvariantCulture, $"h{i} AAAA 2001:db8::{i & 0xffff:x}\n"));
                    break;
                case 2:
                    writer.Write(string.Create(CultureInfo.InvariantCulture, $"h{i} TXT \"record {i}\"\n"));
                    break;
                default:
                    writer.Write(string.Create(CultureInfo.InvariantCulture, $"h{i} A 10.{a}\n"));
                    break;
            }
        }
    }

    private sealed record Measurement(double Seconds, long PeakRssMiB);

    /// <summary>Runs a program to completion, timing it and sampling its peak resident set (VmHWM) from /proc.</summary>
    private static async Task<Measurement> Measure(ProcessStartInfo start, CancellationToken cancellationToken)
    {
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        var program = start.FileName;
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start) ?? throw new CliException($"could not start {program}");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        long peakKiB = 0;
        while (!process.HasExited)
        {
            peakKiB = Math.Max(peakKiB, ReadPeakKiB(process.Id));
            await Task.WhenAny(process.WaitForExitAsync(cancellationToken), Task.Delay(20, cancellationToken));
        }
        await process.WaitForExitAsync(cancellationToken);
        var seconds = clock.Elapsed.TotalSeconds;
        if (process.ExitCode != 0)
            throw new CliException($"{Path.GetFileName(program)} failed ({process.ExitCode}): {(await stderr).Trim()} {(await stdout).Trim()}");
        return new Measurement(seconds, peakKiB / 1024);
    }

    private static long ReadPeakKiB(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    return long.Parse(line.AsSpan(6).Trim().ToString().Split(' ')[0], CultureInfo.InvariantCulture);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return 0;
    }

    internal static string FindTool(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Concat(["/usr/sbin", "/usr/bin"]))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate)) return candidate;
        }
        throw new CliException($"{name} is not installed (apt-get install ldnsutils)");
    }
}
