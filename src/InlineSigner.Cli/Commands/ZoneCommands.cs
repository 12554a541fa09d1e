using System.CommandLine;
using System.Globalization;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Dnssec;
using InlineSigner.Dnssec.Keys;
using InlineSigner.Dnssec.Signing;
using InlineSigner.Dnssec.Verification;
using InlineSigner.Zones;
using InlineSigner.Zones.Text;

namespace InlineSigner.Cli.Commands;

/// <summary>The offline zone tools: sign, verify, digest.</summary>
internal static class ZoneCommands
{
    public static IEnumerable<Command> Create(TextWriter output, TextWriter error)
    {
        yield return Sign(output, error);
        yield return Verify(output);
        yield return Digest(output);
    }

    private static Option<string> ZoneOption() => new("--zone", "-z") { Description = "Zone name (origin), e.g. example.com", Required = true };
    private static Option<FileInfo> InOption() => new("--in", "-i") { Description = "Zone file to read", Required = true };
    private static Option<FileInfo> OutOption() => new("--out", "-o") { Description = "File to write (written to a temporary file, then renamed)", Required = true };

    private static Command Sign(TextWriter output, TextWriter error)
    {
        var zoneOption = ZoneOption();
        var inOption = InOption();
        var outOption = OutOption();
        var keyDir = new Option<DirectoryInfo?>("--key-dir", "-K") { Description = "Directory with the zone's BIND-format keys (K<zone>+<alg>+<tag>.key/.private)" };
        var nsec3 = new Option<bool>("--nsec3", "-3") { Description = "Use NSEC3 (RFC 9276 defaults: 0 iterations, no salt) instead of NSEC" };
        var salt = new Option<string?>("--salt") { Description = "NSEC3 salt in hex (default none)" };
        var iterations = new Option<ushort>("--iterations") { Description = "NSEC3 extra iterations (default 0, RFC 9276)" };
        var optOut = new Option<bool>("--opt-out") { Description = "NSEC3 opt-out for insecure delegations" };
        var zonemd = new Option<string[]>("--zonemd") { Description = "Add ZONEMD with this hash (sha384, sha512); may be repeated", AllowMultipleArgumentsPerToken = true };
        var validity = new Option<string>("--validity") { Description = "Signature validity, e.g. 14d (default 14d)", DefaultValueFactory = _ => "14d" };
        var inception = new Option<string?>("--inception") { Description = "Signing time as YYYYMMDDHHmmSS or Unix seconds (default now)" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "No progress bar" };
        var cluster = KeysCommands.ClusterOption();
        var keyIds = new Option<string[]>("--key-id") { Description = "With --cluster: sign with these keys only (default: every key recorded for the zone); may be repeated", AllowMultipleArgumentsPerToken = true };

        var command = new Command("sign", "Sign a zone file (offline) with the zone's local keys (--key-dir) or threshold keys (--cluster).")
        {
            zoneOption, inOption, outOption, keyDir, cluster, keyIds, nsec3, salt, iterations, optOut, zonemd, validity, inception, quiet,
        };
        command.SetAction(async (parse, ct) =>
        {
            var origin = ParseZone(parse.GetRequiredValue(zoneOption));
            var input = parse.GetRequiredValue(inOption);
            var outputFile = parse.GetRequiredValue(outOption);
            var directory = parse.GetValue(keyDir);
            var clusterFile = parse.GetValue(cluster);
            if ((directory is null) == (clusterFile is null)) throw new CliException("give exactly one of --key-dir (local keys) or --cluster (threshold keys)");
            if (directory is null && (parse.GetValue(keyIds) ?? []).Length > 0 && clusterFile is null) throw new CliException("--key-id goes with --cluster");

            var policy = new SigningPolicy
            {
                Nsec3 = parse.GetValue(nsec3) || parse.GetValue(optOut) || parse.GetValue(salt) is not null
                    ? new Nsec3Settings(parse.GetValue(iterations), ParseSalt(parse.GetValue(salt)), parse.GetValue(optOut))
                    : null,
                ZoneMdAlgorithms = (parse.GetValue(zonemd) ?? []).Select(ZoneMd.ParseAlgorithm).Distinct().ToList(),
                Schedule = new SignatureSchedule { Validity = ParsePeriod(parse.GetValue(validity)!, "--validity") },
            };
            var now = parse.GetValue(inception) is { } text ? DateTimeOffset.FromUnixTimeSeconds(PresentationFormat.ParseSignatureTime(text)) : DateTimeOffset.UtcNow;

            var unsigned = LoadZone(input.FullName, origin, error);
            var keys = directory is null ? [] : KeyDirectory.Load(directory.FullName, origin);
            using var client = clusterFile is null ? null : Cluster.Client.ClusterClient.Create(clusterFile.FullName, StderrLoggerProvider.For(error));
            IReadOnlyList<ISigner> signers = client is null ? keys : ClusterSigners(client, origin, parse.GetValue(keyIds) ?? []);
            if (client is not null) await KeysCommands.RequireNodesAsync(client, client.Threshold, ct);
            try
            {
                using var bar = parse.GetValue(quiet) ? null : ProgressBar.StartIfTerminal(error, "signing");
                var (signed, stats) = await ZoneSigner.SignAsync(unsigned, policy, new ZoneKeys(signers), now, bar, ct);
                MasterFileWriter.WriteFile(signed, outputFile.FullName);
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"signed {PresentationFormat.FormatName(origin)}: {stats.RRsetsSigned} RRsets, {stats.Signatures} signatures, {stats.Elapsed.TotalSeconds:F2} s, keys {string.Join(' ', signers.Select(s => $"{s.KeyTag}/{DnssecAlgorithms.Mnemonic(s.Algorithm)}{(ZoneKeys.IsKsk(s) ? "/KSK" : "")}"))}, {(policy.Nsec3 is null ? "NSEC" : "NSEC3")} -> {outputFile.FullName}"));
                return 0;
            }
            finally
            {
                foreach (var key in keys) key.Dispose();
            }
        });
        return command;
    }

    /// <summary>The zone's threshold keys from the client's key store (all of them, or the ones named).</summary>
    private static IReadOnlyList<ISigner> ClusterSigners(Cluster.Client.ClusterClient client, DomainName origin, IReadOnlyList<string> keyIds)
    {
        var manager = new Cluster.Keys.ClusterKeyManager(client);
        var zoneName = PresentationFormat.FormatName(origin);
        if (keyIds.Count == 0)
        {
            var all = manager.SignersForZone(zoneName);
            if (all.Count == 0) throw new CliException($"the key store {manager.KeyStore.Path} has no keys for {zoneName}; run `keys generate --cluster … --zone {zoneName.TrimEnd('.')}` first");
            return all;
        }
        return keyIds.Select(id =>
        {
            var record = manager.KeyStore.Find(id) ?? throw new CliException($"--key-id {id} is not in the key store {manager.KeyStore.Path}");
            if (Cluster.Keys.ClientKeyStore.Normalise(record.Zone) != Cluster.Keys.ClientKeyStore.Normalise(zoneName))
                throw new CliException($"--key-id {id} is a key of {record.Zone}, not of {zoneName}");
            return (ISigner)manager.Signer(id);
        }).ToList();
    }

    private static Command Verify(TextWriter output)
    {
        var zoneOption = ZoneOption();
        var inOption = InOption();
        var at = new Option<string?>("--time") { Description = "Check signature times at this moment (YYYYMMDDHHmmSS or Unix seconds; default now)" };
        var command = new Command("verify", "Verify a signed zone: signatures, NSEC/NSEC3 chain, algorithms, ZONEMD. Exit 1 if anything is wrong.")
        {
            zoneOption, inOption, at,
        };
        command.SetAction((parse, ct) =>
        {
            var origin = ParseZone(parse.GetRequiredValue(zoneOption));
            var zone = LoadZone(parse.GetRequiredValue(inOption).FullName, origin, null);
            var now = parse.GetValue(at) is { } text ? DateTimeOffset.FromUnixTimeSeconds(PresentationFormat.ParseSignatureTime(text)) : DateTimeOffset.UtcNow;
            var report = ZoneVerifier.Verify(zone, now);
            foreach (var problem in report.Problems) output.WriteLine(problem.ToString());
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{(report.IsValid ? "OK" : "FAILED")}: {PresentationFormat.FormatName(origin)} {report.RRsetsChecked} RRsets, {report.SignaturesChecked} signatures, {report.DenialKind}, {report.Problems.Count} problem(s)"));
            return Task.FromResult(report.IsValid ? 0 : 1);
        });
        return command;
    }

    private static Command Digest(TextWriter output)
    {
        var zoneOption = ZoneOption();
        var inOption = InOption();
        var outOption = OutOption();
        var hash = new Option<string[]>("--hash") { Description = "ZONEMD hash: sha384 (default) or sha512; may be repeated", AllowMultipleArgumentsPerToken = true };
        var keyDir = new Option<DirectoryInfo?>("--key-dir", "-K") { Description = "Re-sign the ZONEMD RRset with these keys (needed for a signed zone)" };
        var command = new Command("digest", "Add or refresh the ZONEMD record (RFC 8976) of a zone file.") { zoneOption, inOption, outOption, hash, keyDir };
        command.SetAction(async (parse, ct) =>
        {
            var origin = ParseZone(parse.GetRequiredValue(zoneOption));
            var zone = LoadZone(parse.GetRequiredValue(inOption).FullName, origin, null);
            var algorithms = (parse.GetValue(hash) is { Length: > 0 } h ? h : ["sha384"]).Select(ZoneMd.ParseAlgorithm).Distinct().ToList();
            bool signed = zone.Find(origin, RecordType.DnsKey) is not null && zone.RRsets.Any(s => s.Type == RecordType.RrSig);
            if (zone.Find(origin, RecordType.ZoneMD) is null)
            {
                if (signed) throw new CliException("the zone is signed but has no ZONEMD; adding one changes the NSEC/NSEC3 bitmap at the apex: re-sign with 'sign --zonemd'");
                zone = zone.With(ZoneMd.Placeholder(zone, algorithms));
            }
            zone = ZoneMd.Refresh(zone, algorithms);
            var dir = parse.GetValue(keyDir);
            if (signed)
            {
                if (dir is null) throw new CliException("the zone is signed: give --key-dir so the new ZONEMD RRset can be signed");
                var keys = KeyDirectory.Load(dir.FullName, origin);
                try
                {
                    var jobs = ZoneSigner.JobsFor(zone.Find(origin, RecordType.ZoneMD)!, origin, new ZoneKeys(keys), new SignatureSchedule(), DateTimeOffset.UtcNow).ToList();
                    zone = ZoneSigner.AddSignatures(zone, await ZoneSigner.SignJobsAsync(jobs, 16, null, ct));
                }
                finally
                {
                    foreach (var key in keys) key.Dispose();
                }
            }
            var outFile = parse.GetRequiredValue(outOption).FullName;
            MasterFileWriter.WriteFile(zone, outFile);
            output.WriteLine($"ZONEMD ({string.Join(", ", algorithms.Select(a => a == ZoneMd.Sha384 ? "SHA-384" : "SHA-512"))}) for serial {zone.Serial} -> {outFile}");
            return 0;
        });
        return command;
    }

    internal static DomainName ParseZone(string text)
    {
        try { return PresentationFormat.ParseName(text.EndsWith('.') ? text : text + ".", null); }
        catch (FormatException e) { throw new CliException($"--zone: {e.Message}"); }
    }

    /// <summary>Loads and checks a zone file; the SOA must be at the given zone name.</summary>
    internal static Zone LoadZone(string path, DomainName origin, TextWriter? warnings)
    {
        if (!File.Exists(path)) throw new CliException($"zone file {path} does not exist");
        var list = new List<ZoneWarning>();
        var file = MasterFileReader.ReadFile(path, origin);
        var soa = file.Records.FirstOrDefault(r => r.RecordType == RecordType.Soa);
        if (soa is not null && !CanonicalNameComparer.Instance.Equals(soa.Name, origin))
            throw new CliException($"{path}: the SOA is for {soa.Name}, not for --zone {PresentationFormat.FormatName(origin)}");
        list.AddRange(file.Warnings);
        var zone = ZoneChecks.Load(file, origin, list);
        if (warnings is not null) foreach (var warning in list) warnings.WriteLine(warning.ToString());
        return zone;
    }

    private static byte[]? ParseSalt(string? text)
    {
        if (text is null || text == "-") return null;
        try { return Convert.FromHexString(text); }
        catch (FormatException) { throw new CliException($"--salt '{text}' is not hex"); }
    }

    internal static TimeSpan ParsePeriod(string text, string option) =>
        PresentationFormat.TryParsePeriod(text, out var seconds) && seconds > 0
            ? TimeSpan.FromSeconds(seconds)
            : throw new CliException($"{option} '{text}' is not a period (e.g. 14d, 36h, 3600)");
}
