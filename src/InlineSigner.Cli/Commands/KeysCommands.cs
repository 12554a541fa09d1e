using System.CommandLine;
using System.Globalization;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Cluster.Client;
using InlineSigner.Cluster.Keys;
using InlineSigner.Cluster.Protocol;
using InlineSigner.Dnssec.Keys;
using InlineSigner.Zones;
using InlineSigner.Zones.Text;

namespace InlineSigner.Cli.Commands;

/// <summary>
/// `inline-signer keys …`: key generation, listing, deletion and export. With --dir, local BIND-format key files; with
/// --cluster, threshold keys whose shares live on the dtcnodes (no machine ever holds the whole private key).
/// </summary>
internal static class KeysCommands
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var keys = new Command("keys", "Generate, list, delete and export DNSSEC keys (local files or a threshold cluster).");
        keys.Add(Generate(output, error));
        keys.Add(List(output));
        keys.Add(Delete(output));
        keys.Add(ExportPublic(output));
        return keys;
    }

    internal static Option<FileInfo?> ClusterOption() => new("--cluster") { Description = "The client's cluster.json: use the threshold key cluster" };

    private static Command Generate(TextWriter output, TextWriter error)
    {
        var zone = new Option<string>("--zone", "-z") { Description = "Zone name", Required = true };
        var algorithm = new Option<string>("--algorithm", "-a") { Description = "RSASHA256, RSASHA512, ECDSAP256SHA256, ECDSAP384SHA384, ED25519 (or the number); a cluster signs RSASHA256, RSASHA512, ED25519", Required = true };
        var ksk = new Option<bool>("--ksk") { Description = "Key-signing key (flags 257); default zone-signing key (256)" };
        var bits = new Option<int>("--bits") { Description = "RSA modulus size (default 2048)", DefaultValueFactory = _ => 2048 };
        var dir = new Option<DirectoryInfo?>("--dir", "-K") { Description = "Local key: directory for the BIND-format key files" };
        var cluster = ClusterOption();
        var outDir = new Option<DirectoryInfo?>("--out-dir") { Description = "Cluster key: directory for the public DNSKEY (and DS) files (default: beside cluster.json)" };
        var ttl = new Option<int>("--ttl") { Description = "DNSKEY TTL (default 3600)", DefaultValueFactory = _ => 3600 };
        var command = new Command("generate", "Generate a key: a local key pair (--dir) or a threshold key held by the cluster's nodes (--cluster).")
        {
            zone, algorithm, ksk, bits, dir, cluster, outDir, ttl,
        };
        command.SetAction(async (parse, ct) =>
        {
            var origin = ZoneCommands.ParseZone(parse.GetRequiredValue(zone));
            DnsSecAlgorithm alg;
            try { alg = DnssecAlgorithms.Parse(parse.GetRequiredValue(algorithm)); }
            catch (ArgumentException e) { throw new CliException(e.Message); }
            var clusterFile = parse.GetValue(cluster);
            var directory = parse.GetValue(dir);
            if ((clusterFile is null) == (directory is null)) throw new CliException("give exactly one of --dir (a local key) or --cluster (a threshold key)");

            if (directory is not null)
            {
                using var key = LocalKey.Generate(origin, alg, parse.GetValue(ksk), parse.GetValue(bits), parse.GetValue(ttl));
                var basePath = BindKeyFile.Write(key, directory.FullName);
                output.WriteLine($"{Path.GetFileName(basePath)} key tag {key.KeyTag} {(key.IsKsk ? "KSK" : "ZSK")} {DnssecAlgorithms.Mnemonic(alg)}");
                output.WriteLine(MasterFileWriter.FormatRecord(key.DnsKey));
                if (key.IsKsk) output.WriteLine(MasterFileWriter.FormatRecord(DelegationSigner.FromKey(key.DnsKey, 2)));
                return 0;
            }

            var logger = StderrLoggerProvider.For(error);
            using var client = ClusterClient.Create(clusterFile!.FullName, logger);
            var manager = new ClusterKeyManager(client, logger);
            bool isKsk = parse.GetValue(ksk);
            ClusterKeyRecord record;
            var progress = new Progress<string>(line => error.WriteLine(line));
            if (alg is DnsSecAlgorithm.RsaSha256 or DnsSecAlgorithm.RsaSha512)
            {
                // The dealer needs t nodes to store shares; it names any node that did not.
                await RequireNodesAsync(client, client.Threshold, ct);
                record = await manager.GenerateRsaAsync(PresentationFormat.FormatName(origin), alg, parse.GetValue(bits), isKsk, progress, ct);
            }
            else if (alg == DnsSecAlgorithm.Ed25519)
            {
                // Distributed key generation: every node takes part, no dealer.
                await RequireNodesAsync(client, client.Config.Nodes.Count, ct);
                record = await manager.GenerateEd25519Async(PresentationFormat.FormatName(origin), isKsk, progress, ct);
            }
            else
            {
                throw new CliException($"a cluster key is RSASHA256, RSASHA512 or ED25519; {DnssecAlgorithms.Mnemonic(alg)} has no threshold scheme here yet");
            }
            var export = manager.ExportPublic(record.KeyId, parse.GetValue(ttl));
            var target = parse.GetValue(outDir)?.FullName ?? Path.GetDirectoryName(clusterFile.FullName)!;
            var written = WriteExport(export, target);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"key {record.KeyId} key tag {record.KeyTag} {(record.IsKsk ? "KSK" : "ZSK")} {DnssecAlgorithms.Mnemonic(record.DnsAlgorithm)} threshold {record.Threshold} of {record.Parties}"));
            output.WriteLine(export.DnsKeyText);
            if (export.DsText is not null) output.WriteLine(export.DsText);
            foreach (var path in written) output.WriteLine($"wrote {path}");
            return 0;
        });
        return command;
    }

    private static Command List(TextWriter output)
    {
        var zone = new Option<string?>("--zone", "-z") { Description = "Zone name (required with --dir; a filter with --cluster)" };
        var dir = new Option<DirectoryInfo?>("--dir", "-K") { Description = "Directory with the BIND-format key files" };
        var cluster = ClusterOption();
        var command = new Command("list", "List local keys of a zone (--dir), or what each cluster node holds (--cluster), flagging keys held by fewer than n nodes.")
        {
            zone, dir, cluster,
        };
        command.SetAction(async (parse, ct) =>
        {
            var clusterFile = parse.GetValue(cluster);
            var directory = parse.GetValue(dir);
            if ((clusterFile is null) == (directory is null)) throw new CliException("give exactly one of --dir (local keys) or --cluster");
            if (directory is not null)
            {
                var origin = ZoneCommands.ParseZone(parse.GetValue(zone) ?? throw new CliException("--zone is required with --dir"));
                foreach (var key in KeyDirectory.Load(directory.FullName, origin))
                {
                    output.WriteLine($"{key.KeyTag}\t{DnssecAlgorithms.Mnemonic(key.Algorithm)}\t{(key.IsKsk ? "KSK" : "ZSK")}\t{PresentationFormat.FormatName(key.Zone)}");
                    key.Dispose();
                }
                return 0;
            }

            using var client = ClusterClient.Create(clusterFile!.FullName);
            await client.WaitForNodesAsync(client.Config.Nodes.Count, ConnectWait(client), ct);
            var listing = await new ClusterKeyManager(client).ListAsync(ct);
            var filter = parse.GetValue(zone) is { } z ? ClientKeyStore.Normalise(z) : null;
            int degraded = 0;
            output.WriteLine("key id\tzone\talgorithm\trole\tkey tag\theld by\tstatus");
            foreach (var key in listing.Keys)
            {
                if (filter is not null && (key.Record is null || ClientKeyStore.Normalise(key.Record.Zone) != filter)) continue;
                var status = new List<string>();
                if (key.Record is null) status.Add("not in the key store");
                if (key.MissingOn.Count > 0) status.Add($"MISSING on node(s) {string.Join(",", key.MissingOn)}");
                if (key.MismatchedOn.Count > 0) status.Add($"DIFFERENT public key on node(s) {string.Join(",", key.MismatchedOn)}");
                if (key.HeldBy.Count < listing.Threshold) status.Add("BELOW THRESHOLD: cannot sign");
                if (key.Degraded(listing.Parties)) degraded++;
                var record = key.Record;
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{key.KeyId}\t{record?.Zone ?? "?"}\t{(record is null ? key.Scheme.ToString() : DnssecAlgorithms.Mnemonic(record.DnsAlgorithm))}\t{(record is null ? "?" : record.IsKsk ? "KSK" : "ZSK")}\t{record?.KeyTag.ToString(CultureInfo.InvariantCulture) ?? "?"}\t{key.HeldBy.Count}/{listing.Parties} [{string.Join(",", key.HeldBy)}]\t{(status.Count == 0 ? "ok" : string.Join("; ", status))}"));
            }
            foreach (var (node, reason) in listing.UnreachableNodes.OrderBy(u => u.Key))
                output.WriteLine($"node {node} did not answer: {reason}");
            if (degraded > 0) output.WriteLine($"warning: {degraded} key(s) are held by fewer than all {listing.Parties} nodes");
            return 0;
        });
        return command;
    }

    private static Command Delete(TextWriter output)
    {
        var cluster = ClusterOption();
        cluster.Required = true;
        var keyId = new Option<string>("--key-id") { Description = "The key to delete (as `keys list` prints it)", Required = true };
        var command = new Command("delete", "Delete a threshold key: its share on every node and its record in the key store.") { cluster, keyId };
        command.SetAction(async (parse, ct) =>
        {
            var id = parse.GetRequiredValue(keyId);
            if (!ProtocolLimits.IsValidKeyId(id)) throw new CliException($"--key-id '{id}' is not a key id");
            using var client = ClusterClient.Create(parse.GetRequiredValue(cluster)!.FullName);
            await client.WaitForNodesAsync(client.Config.Nodes.Count, ConnectWait(client), ct);
            var manager = new ClusterKeyManager(client);
            bool recorded = manager.KeyStore.Find(id) is not null;
            var results = await manager.DeleteAsync(id, ct);
            int deleted = 0;
            foreach (var result in results.OrderBy(r => r.NodeId))
            {
                if (result.Ok) deleted++;
                output.WriteLine($"node {result.NodeId}: {(result.Ok ? "share deleted" : result.Error)}");
            }
            output.WriteLine($"key {id}: deleted on {deleted} of {results.Count} nodes{(recorded ? "; removed from the key store" : "")}");
            if (deleted == 0 && !recorded) throw new CliException($"key {id} is neither on any node nor in the key store");
            var unreachable = results.Where(r => !r.Ok && !r.Error!.StartsWith(nameof(ErrorCode.UnknownKey), StringComparison.Ordinal)).ToList();
            if (unreachable.Count > 0) throw new CliException($"key {id}: {unreachable.Count} node(s) could not be asked to delete their share; run `keys delete` again when they are up");
            return 0;
        });
        return command;
    }

    private static Command ExportPublic(TextWriter output)
    {
        var cluster = ClusterOption();
        cluster.Required = true;
        var keyId = new Option<string>("--key-id") { Description = "The key to export", Required = true };
        var outDir = new Option<DirectoryInfo?>("--out-dir") { Description = "Also write <key id>.dnskey (and .ds for a KSK) here" };
        var ttl = new Option<int>("--ttl") { Description = "DNSKEY TTL (default 3600)", DefaultValueFactory = _ => 3600 };
        var command = new Command("export-public", "Print a threshold key's DNSKEY (and the DS of a KSK) from the key store.") { cluster, keyId, outDir, ttl };
        command.SetAction(parse =>
        {
            var configPath = parse.GetRequiredValue(cluster)!.FullName;
            var store = new ClientKeyStore(Cluster.Client.ClusterConfig.Load(configPath).KeyStorePath);
            var record = store.Find(parse.GetRequiredValue(keyId)) ?? throw new CliException($"key {parse.GetRequiredValue(keyId)} is not in the key store {store.Path}");
            var dnsKey = record.ToDnsKey(parse.GetValue(ttl));
            var export = new ClusterKeyExport(record, dnsKey, record.IsKsk ? DelegationSigner.FromKey(dnsKey, 2) : null);
            output.WriteLine(export.DnsKeyText);
            if (export.DsText is not null) output.WriteLine(export.DsText);
            if (parse.GetValue(outDir) is { } dir) foreach (var path in WriteExport(export, dir.FullName)) output.WriteLine($"wrote {path}");
            return 0;
        });
        return command;
    }

    /// <summary>Writes &lt;key id&gt;.dnskey and, for a KSK, &lt;key id&gt;.ds (master-file lines, ready to paste or $INCLUDE).</summary>
    private static List<string> WriteExport(ClusterKeyExport export, string directory)
    {
        Directory.CreateDirectory(directory);
        var written = new List<string>();
        var dnskey = Path.Combine(directory, export.Record.KeyId + ".dnskey");
        Cluster.Node.AtomicFile.WriteText(dnskey, export.DnsKeyText + "\n");
        written.Add(dnskey);
        if (export.DsText is not null)
        {
            var ds = Path.Combine(directory, export.Record.KeyId + ".ds");
            Cluster.Node.AtomicFile.WriteText(ds, export.DsText + "\n");
            written.Add(ds);
        }
        return written;
    }

    /// <summary>
    /// How long a command waits for the nodes to connect before it takes the missing ones for down: the request
    /// timeout, at most 10 s. The wait ends as soon as the nodes answer, so it costs time only when some really are
    /// down (then a command still fails within seconds); 3 s was too short for a loaded machine's CURVE handshakes.
    /// </summary>
    internal static TimeSpan ConnectWait(ClusterClient client) => TimeSpan.FromMilliseconds(Math.Min(client.Config.File.RequestTimeoutMs, 10_000));

    /// <summary>Waits for the nodes to connect; fails with one line naming every node that did not answer.</summary>
    internal static async Task RequireNodesAsync(ClusterClient client, int needed, CancellationToken cancellationToken)
    {
        var results = await client.WaitForNodesAsync(needed, ConnectWait(client), cancellationToken);
        int up = results.Count(r => r.Ok);
        if (up >= needed) return;
        var down = results.Where(r => !r.Ok).OrderBy(r => r.NodeId)
            .Select(r => $"node {r.NodeId} ({client.Config.Nodes.First(n => n.Id == r.NodeId).Endpoint}): {r.Error}");
        throw new CliException($"only {up} of {client.Config.Nodes.Count} cluster nodes answer, {needed} are needed: {string.Join("; ", down)}");
    }
}
