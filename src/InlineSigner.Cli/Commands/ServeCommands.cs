using System.CommandLine;
using System.Globalization;
using System.Net.Http.Json;
using InlineSigner.Cluster;
using InlineSigner.Server.Configuration;
using InlineSigner.Server.Hosting;
using Microsoft.Extensions.Configuration;

namespace InlineSigner.Cli.Commands;

/// <summary>
/// `inline-signer serve`: the signer daemon, configured by a JSON file (--config), by flags for a one-zone set-up, or —
/// with neither — the embedded default (a local 3-of-5 cluster, zones/example.com, 127.0.0.1:5353). `inline-signer
/// status` asks a running daemon's control endpoint.
/// </summary>
internal static class ServeCommands
{
    public const string DefaultListen = "127.0.0.1:5353";
    public const string DefaultMetrics = "127.0.0.1:9153";
    public const string DefaultControl = "127.0.0.1:9154";

    public static IEnumerable<Command> Create(TextWriter output)
    {
        yield return Serve(output);
        yield return Status(output);
    }

    private static Command Serve(TextWriter output)
    {
        var config = new Option<FileInfo?>("--config", "-c") { Description = "JSON configuration (see conf/inline-signer.json); relative paths in it are relative to it" };
        var zone = new Option<string?>("--zone", "-z") { Description = "One-zone set-up without a file: the zone to sign" };
        var primary = new Option<string?>("--primary") { Description = "The hidden primary serving the unsigned zone, HOST:PORT" };
        var primaryTsig = new Option<string?>("--primary-tsig") { Description = "TSIG key for the primary, ALGORITHM:NAME:BASE64SECRET" };
        var zoneFile = new Option<FileInfo?>("--zone-file") { Description = "The unsigned zone as a master file, watched for changes" };
        var cluster = new Option<FileInfo?>("--cluster") { Description = "The key cluster's cluster.json (threshold keys)" };
        var keyDir = new Option<DirectoryInfo?>("--key-dir") { Description = "Local BIND-format keys instead of a cluster" };
        var data = new Option<DirectoryInfo?>("--data") { Description = "State directory (SQLite database); default data" };
        var listen = new Option<string[]>("--listen") { Description = $"Serve on HOST:PORT, UDP and TCP; may be repeated (default {DefaultListen})", AllowMultipleArgumentsPerToken = true };
        var notify = new Option<string[]>("--notify") { Description = "Secondary to NOTIFY of each new version, HOST:PORT; may be repeated", AllowMultipleArgumentsPerToken = true };
        var allowTransfer = new Option<string[]>("--allow-transfer") { Description = "Prefix allowed to AXFR/IXFR the signed zone; may be repeated (default 127.0.0.0/8 and ::1)", AllowMultipleArgumentsPerToken = true };
        var metrics = new Option<string?>("--metrics") { Description = $"Prometheus /metrics on HOST:PORT (default {DefaultMetrics}; 'none' disables)" };
        var control = new Option<string?>("--control") { Description = $"Control endpoint for `status` on a loopback HOST:PORT (default {DefaultControl}; 'none' disables)" };
        var nsec3 = new Option<bool>("--nsec3") { Description = "NSEC3 (RFC 9276 defaults) instead of NSEC" };
        var optOut = new Option<bool>("--opt-out") { Description = "NSEC3 opt-out" };
        var zonemd = new Option<string[]>("--zonemd") { Description = "Publish ZONEMD (sha384, sha512)", AllowMultipleArgumentsPerToken = true };
        var serial = new Option<string?>("--serial-policy") { Description = "keep, increment (default), unixtime, dateserial" };
        var validity = new Option<string?>("--validity") { Description = "Signature validity, e.g. 30d" };
        var generate = new Option<string?>("--generate-keys") { Description = "Generate a KSK and ZSK of this algorithm (ed25519, rsasha256) when the zone has none" };
        var command = new Command("serve", "Run the signer: secondary for the unsigned zone, primary for the signed zone. With no arguments, the embedded default.")
        {
            config, zone, primary, primaryTsig, zoneFile, cluster, keyDir, data, listen, notify, allowTransfer, metrics, control, nsec3, optOut, zonemd, serial, validity, generate,
        };
        command.SetAction(async (parse, ct) =>
        {
            var values = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
            string baseDirectory = Directory.GetCurrentDirectory();
            var builder = new ConfigurationBuilder();
            var configFile = parse.GetValue(config);
            var zoneName = parse.GetValue(zone);
            if (configFile is not null)
            {
                if (!configFile.Exists) throw new CliException($"--config {configFile.FullName} does not exist");
                if (zoneName is not null) throw new CliException("--zone (a one-zone set-up) and --config do not go together; put the zone in the configuration file");
                builder.AddJsonFile(configFile.FullName, optional: false);
                baseDirectory = configFile.DirectoryName!;
            }
            else if (zoneName is null)
            {
                if (parse.GetValue(primary) is not null || parse.GetValue(zoneFile) is not null) throw new CliException("--primary and --zone-file need --zone");
                EmbeddedDefault(values, baseDirectory, output);
            }
            else
            {
                values["Signer:Zones:0:Name"] = zoneName;
                if (parse.GetValue(primary) is { } p) values["Signer:Zones:0:Primary"] = p;
                if (parse.GetValue(zoneFile) is { } f) values["Signer:Zones:0:ZoneFile"] = f.FullName;
                if (parse.GetValue(primaryTsig) is { } tsig)
                {
                    var parts = tsig.Split(':');
                    if (parts.Length != 3) throw new CliException("--primary-tsig must be ALGORITHM:NAME:BASE64SECRET");
                    values["Signer:TsigKeys:0:Algorithm"] = parts[0];
                    values["Signer:TsigKeys:0:Name"] = parts[1];
                    values["Signer:TsigKeys:0:Secret"] = parts[2];
                    values["Signer:Zones:0:PrimaryTsigKey"] = parts[1];
                }
                values["Signer:Zones:0:Nsec3"] = parse.GetValue(nsec3) || parse.GetValue(optOut) ? "true" : "false";
                values["Signer:Zones:0:Nsec3OptOut"] = parse.GetValue(optOut) ? "true" : "false";
                Each(values, "Signer:Zones:0:Notify", parse.GetValue(notify));
                Each(values, "Signer:Zones:0:AllowTransfer", parse.GetValue(allowTransfer) is { Length: > 0 } allowed ? allowed : ["127.0.0.0/8", "::1"]);
                Each(values, "Signer:Zones:0:ZoneMd", parse.GetValue(zonemd));
                if (parse.GetValue(serial) is { } s) values["Signer:Zones:0:SerialPolicy"] = s;
                if (parse.GetValue(validity) is { } v) values["Signer:Zones:0:SignatureValidity"] = v;
                if (parse.GetValue(generate) is { } g) values["Signer:Zones:0:GenerateKeys"] = g;
                values["Signer:Listen:0"] = DefaultListen;
                values["Signer:Metrics"] = DefaultMetrics;
                values["Signer:Control"] = DefaultControl;
            }
            // Flags that apply in every mode override the file and the defaults.
            if (parse.GetValue(cluster) is { } c) values["Signer:Cluster"] = c.FullName;
            if (parse.GetValue(keyDir) is { } k) values["Signer:KeyDirectory"] = k.FullName;
            if (parse.GetValue(data) is { } d) values["Signer:DataDirectory"] = d.FullName;
            if (parse.GetValue(listen) is { Length: > 0 } l)
            {
                foreach (var key in values.Keys.Where(key => key.StartsWith("Signer:Listen:", StringComparison.OrdinalIgnoreCase)).ToList()) values.Remove(key);
                Each(values, "Signer:Listen", l);
            }
            if (parse.GetValue(metrics) is { } m) values["Signer:Metrics"] = m == "none" ? "" : m;
            if (parse.GetValue(control) is { } ctl) values["Signer:Control"] = ctl == "none" ? "" : ctl;
            builder.AddInMemoryCollection(values);
            builder.AddEnvironmentVariables("INLINESIGNER_");
            var configuration = builder.Build();
            await SignerHost.RunAsync(configuration, baseDirectory, ct);
            return 0;
        });
        return command;
    }

    private static void Each(Dictionary<string, string?> values, string prefix, IReadOnlyList<string>? items)
    {
        if (items is null) return;
        for (int i = 0; i < items.Count; i++) values[$"{prefix}:{i.ToString(CultureInfo.InvariantCulture)}"] = items[i];
    }

    /// <summary>
    /// The main job on the embedded default: a local 3-of-5 cluster under data/cluster (created on first run, its five
    /// nodes started as child processes), an Ed25519 KSK and ZSK made by distributed key generation on first run,
    /// zones/example.com as the unsigned source (watched), served on 127.0.0.1:5353 with metrics on 127.0.0.1:9153.
    /// </summary>
    private static void EmbeddedDefault(Dictionary<string, string?> values, string baseDirectory, TextWriter output)
    {
        var zoneFile = Path.Combine(baseDirectory, "zones", "example.com");
        if (!File.Exists(zoneFile))
            throw new CliException($"the embedded default serves zones/example.com, which is not in {baseDirectory}: run it from the repository, or give --config or --zone");
        var dataDirectory = Path.Combine(baseDirectory, "data");
        var clusterDirectory = Path.Combine(dataDirectory, "cluster");
        var clusterJson = Path.Combine(clusterDirectory, "cluster.json");
        if (!File.Exists(clusterJson))
        {
            ClusterSetup.GenerateCluster(clusterDirectory, 5, 3, ClusterSetup.DefaultBasePort);
            output.WriteLine($"first run: wrote a local 3-of-5 cluster to {clusterDirectory} (nodes on 127.0.0.1:{ClusterSetup.DefaultBasePort}-{ClusterSetup.DefaultBasePort + 4})");
        }
        values["Signer:DataDirectory"] = dataDirectory;
        values["Signer:Cluster"] = clusterJson;
        for (int i = 1; i <= 5; i++) values[$"Signer:LocalNodes:NodeConfigs:{i - 1}"] = Path.Combine(clusterDirectory, $"node{i}.json");
        values["Signer:Listen:0"] = DefaultListen;
        values["Signer:Metrics"] = DefaultMetrics;
        values["Signer:Control"] = DefaultControl;
        values["Signer:Zones:0:Name"] = "example.com";
        values["Signer:Zones:0:ZoneFile"] = zoneFile;
        values["Signer:Zones:0:GenerateKeys"] = "ed25519";
        values["Signer:Zones:0:AllowTransfer:0"] = "127.0.0.0/8";
        values["Signer:Zones:0:AllowTransfer:1"] = "::1";
    }

    private static Command Status(TextWriter output)
    {
        var control = new Option<string>("--control") { Description = $"The daemon's control endpoint (default {DefaultControl})", DefaultValueFactory = _ => DefaultControl };
        var json = new Option<bool>("--json") { Description = "Print the daemon's answer as JSON" };
        var command = new Command("status", "Zones, serials, key tags, cluster health and next refresh of a running signer.") { control, json };
        command.SetAction(async (parse, ct) =>
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            var url = $"http://{parse.GetValue(control)}/status";
            SignerStatus? status;
            string text;
            try
            {
                text = await http.GetStringAsync(url, ct);
                status = System.Text.Json.JsonSerializer.Deserialize<SignerStatus>(text, SignerHost.StatusJson);
            }
            catch (HttpRequestException e)
            {
                throw new CliException($"no signer answers at {url}: {e.Message}");
            }
            catch (TaskCanceledException) when (!ct.IsCancellationRequested)
            {
                throw new CliException($"no signer answers at {url} within 5 s");
            }
            if (status is null) throw new CliException($"{url} sent no status");
            if (parse.GetValue(json))
            {
                output.WriteLine(text);
                return 0;
            }
            output.WriteLine($"inline-signer {status.Version}, up since {status.Started:u}, serving on {string.Join(", ", status.Listening)}");
            foreach (var z in status.Zones)
            {
                output.WriteLine($"zone {z.Zone}  source {z.Source}");
                output.WriteLine($"  unsigned serial {z.UnsignedSerial?.ToString(CultureInfo.InvariantCulture) ?? "-"}  signed serial {z.SignedSerial?.ToString(CultureInfo.InvariantCulture) ?? "-"}  versions {z.Versions}{(z.Expired ? "  EXPIRED (SERVFAIL)" : "")}");
                output.WriteLine($"  last signed {z.LastSigned?.ToString("u", CultureInfo.InvariantCulture) ?? "-"}  next refresh {z.NextRefresh?.ToString("u", CultureInfo.InvariantCulture) ?? "-"}");
                output.WriteLine($"  keys {string.Join(", ", z.Keys)}");
                if (z.PendingError is { } pending) output.WriteLine($"  PENDING: {pending}");
            }
            foreach (var node in status.Cluster) output.WriteLine($"  {node}");
            return 0;
        });
        return command;
    }
}
