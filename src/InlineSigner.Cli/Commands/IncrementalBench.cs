using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Dnssec;
using InlineSigner.Dnssec.Keys;
using InlineSigner.Dnssec.Signing;
using InlineSigner.Zones;

namespace InlineSigner.Cli.Commands;

/// <summary>
/// `bench incremental`: the time to sign a one-record change of a large zone incrementally (what NOTIFY → committed
/// version costs the signer), against a full sign of the same zone in the same run, with local Ed25519 keys (a KSK and a
/// ZSK). The changes cycle through the kinds a zone sees: a new name, a changed address, a new type at a name (its
/// NSEC/NSEC3 bitmap changes), and the new name removed again.
/// </summary>
internal static class IncrementalBench
{
    public static Command Create(TextWriter output)
    {
        var records = new Option<int>("--records") { Description = "Names in the generated zone (default 100000; every tenth is a delegation with glue)", DefaultValueFactory = _ => 100_000 };
        var changes = new Option<int>("--changes") { Description = "One-record changes to time (default 400)", DefaultValueFactory = _ => 400 };
        var nsec3 = new Option<bool>("--nsec3") { Description = "NSEC3 (0 iterations, no salt) instead of NSEC" };
        var optOut = new Option<bool>("--opt-out") { Description = "NSEC3 with opt-out (implies --nsec3)" };
        var zonemd = new Option<bool>("--zonemd") { Description = "Publish ZONEMD (SHA-384): every change then hashes the whole zone" };
        var check = new Option<bool>("--check") { Description = "After the changes, sign the final zone in full and require the same zone" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var command = new Command("incremental", "Incremental signing of one-record changes vs a full sign of the same zone (Ed25519).")
        {
            records, changes, nsec3, optOut, zonemd, check, json,
        };
        command.SetAction(async (parse, ct) =>
        {
            int count = parse.GetValue(records);
            if (count < 10) throw new CliException("--records must be at least 10");
            int changeCount = Math.Max(1, parse.GetValue(changes));
            var origin = DomainName.Parse("bench.example");
            var policy = new SigningPolicy
            {
                Nsec3 = parse.GetValue(nsec3) || parse.GetValue(optOut) ? new Nsec3Settings(OptOut: parse.GetValue(optOut)) : null,
                ZoneMdAlgorithms = parse.GetValue(zonemd) ? [ZoneMd.Sha384] : [],
            };
            string denial = policy.Nsec3 is null ? "NSEC" : policy.Nsec3.OptOut ? "NSEC3 opt-out" : "NSEC3";

            var workDir = Directory.CreateTempSubdirectory("inline-signer-bench-").FullName;
            Zone unsigned;
            try
            {
                var file = Path.Combine(workDir, "bench.example.zone");
                BenchCommands.WriteGeneratedZone(file, count);
                unsigned = ZoneChecks.LoadFile(file, origin);
            }
            finally
            {
                Directory.Delete(workDir, recursive: true);
            }

            using var zsk = LocalKey.Generate(origin, DnsSecAlgorithm.Ed25519, ksk: false);
            using var ksk = LocalKey.Generate(origin, DnsSecAlgorithm.Ed25519, ksk: true);
            var keys = new ZoneKeys([zsk, ksk]);
            var now = DateTimeOffset.UtcNow;
            uint serial = 1;

            var clock = Stopwatch.StartNew();
            var full = await IncrementalSigner.SignFullAsync(unsigned, serial, policy, keys, now, null, ct);
            double fullSeconds = clock.Elapsed.TotalSeconds;
            var signed = full.Signed;

            var random = new Random(1);
            var times = new List<double>(changeCount);
            double firstMs = 0;
            long signatures = 0;
            for (int i = 0; i <= changeCount; i++)
            {
                var next = Change(unsigned, origin, count, i, random);
                clock.Restart();
                var change = await IncrementalSigner.ApplyAsync(signed, unsigned, next, ++serial, policy, keys, now, ct);
                double ms = clock.Elapsed.TotalMilliseconds;
                if (change.FullResignReason is not null) throw new CliException($"change {i} fell back to a full sign: {change.FullResignReason}");
                // The first change also builds the sorted owner sets the later ones inherit; it is reported on its own.
                if (i == 0) firstMs = ms;
                else
                {
                    times.Add(ms);
                    signatures += change.SignaturesMade;
                }
                signed = change.Signed;
                unsigned = next;
            }

            bool? identical = null;
            if (parse.GetValue(check))
            {
                var again = await IncrementalSigner.SignFullAsync(unsigned, serial, policy, keys, now, null, ct);
                identical = ZoneDiff.Compute(again.Signed, signed).IsEmpty;
                if (identical == false) throw new CliException("the incrementally signed zone differs from a full sign of the final zone");
            }

            times.Sort();
            double median = Percentile(times, 0.5), p90 = Percentile(times, 0.9), p99 = Percentile(times, 0.99), max = times[^1], mean = times.Average();
            double ratio = fullSeconds * 1000 / median;
            if (parse.GetValue(json))
            {
                output.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?>
                {
                    ["cores"] = Environment.ProcessorCount,
                    ["records"] = count,
                    ["denial"] = denial,
                    ["zonemd"] = policy.ZoneMdAlgorithms.Count > 0,
                    ["full_sign_seconds"] = Math.Round(fullSeconds, 3),
                    ["full_sign_signatures"] = full.SignaturesMade,
                    ["first_change_ms"] = Math.Round(firstMs, 2),
                    ["changes"] = times.Count,
                    ["change_ms_median"] = Math.Round(median, 3),
                    ["change_ms_p90"] = Math.Round(p90, 3),
                    ["change_ms_p99"] = Math.Round(p99, 3),
                    ["change_ms_max"] = Math.Round(max, 3),
                    ["change_ms_mean"] = Math.Round(mean, 3),
                    ["signatures_per_change"] = Math.Round((double)signatures / times.Count, 2),
                    ["full_over_change"] = Math.Round(ratio, 1),
                    ["identical_to_full_sign"] = identical,
                }));
            }
            else
            {
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"zone: {count} names (every tenth a delegation with glue), ED25519 KSK+ZSK, {denial}{(policy.ZoneMdAlgorithms.Count > 0 ? ", ZONEMD" : "")}, {Environment.ProcessorCount} cores"));
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"full sign:          {fullSeconds:F2} s ({full.SignaturesMade} signatures)"));
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"first change:       {firstMs:F1} ms (builds the sorted owner sets)"));
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"one-record change:  median {median:F2} ms, p90 {p90:F2} ms, p99 {p99:F2} ms, max {max:F2} ms, mean {mean:F2} ms over {times.Count} ({(double)signatures / times.Count:F1} signatures each)"));
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"full / change:      {ratio:F0}x"));
                if (identical == true) output.WriteLine("check:              the final zone equals a full sign of it");
            }
            return 0;
        });
        return command;
    }

    /// <summary>Change <paramref name="i"/> of the cycle: a new name, a changed address, a new type at a name, the new name removed.</summary>
    private static Zone Change(Zone zone, DomainName origin, int count, int i, Random random)
    {
        int cycle = i / 4;
        var added = new DomainName([string.Create(CultureInfo.InvariantCulture, $"new{cycle}"), .. origin.Labels]);
        // Names h<k> with k % 10 >= 3 hold an A record (see BenchCommands.WriteGeneratedZone).
        int k = random.Next(count / 10) * 10 + 3 + random.Next(7);
        var existing = new DomainName([string.Create(CultureInfo.InvariantCulture, $"h{k}"), .. origin.Labels]);
        var address = new IPAddress([10, (byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256)]);
        return (i % 4) switch
        {
            0 => zone.With(RRset.Create([new ARecord(added, 3600, address)])),
            1 => zone.With(RRset.Create([new ARecord(existing, 3600, address)])),
            2 => zone.With(RRset.Create([new TxtRecord(existing, 3600, string.Create(CultureInfo.InvariantCulture, $"change {i}"))])),
            _ => zone.Without(added, RecordType.A),
        };
    }

    private static double Percentile(List<double> sorted, double p) => sorted[Math.Min(sorted.Count - 1, (int)(p * sorted.Count))];
}
