using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using InlineSigner.Tests.Shared;

#pragma warning disable CA1416 // the product and its tests run on Linux

namespace InlineSigner.Server.Tests;

/// <summary>
/// The compose topology (docker/docker-compose.yml) without a Docker engine: the very files in conf/ run as local
/// processes on loopback — BIND as hidden primary, five dtcnodes, the signer, a BIND and an NSD secondary. Only what
/// names the machine is rewritten: the compose network's addresses and service names become loopback (service names
/// become "localhost", so name resolution is still exercised), fixed ports become ports from the OS, and each server's
/// working directory becomes a temporary one. Everything else — ACLs, NOTIFY targets, NSEC3, ZONEMD, key generation by
/// DKG, the cluster's keys and threshold — is as committed.
/// </summary>
public sealed partial class ComposeTopologyTests
{
    private static string Conf(string name) => Path.Combine(RepositoryPaths.Root, "conf", name);

    [Fact]
    public async Task The_committed_topology_signs_the_zone_and_both_secondaries_serve_it_validated()
    {
        using var directory = new TempDirectory("inline-signer-compose-");
        // NSD drops to its configured user (nsd) after binding: it must be able to reach its directory.
        File.SetUnixFileMode(directory.Path, (UnixFileMode)0b111_101_101);
        var addresses = ComposeAddresses();

        // Where each compose service runs here.
        var dnsPorts = new Dictionary<string, int>(StringComparer.Ordinal)
        {
            ["bind-primary"] = FreePorts.Get(), ["bind-secondary"] = FreePorts.Get(), ["nsd-secondary"] = FreePorts.Get(),
        };

        // The signer: conf/signer.json with its service names pointed at loopback; Listen/Metrics/Control get OS ports.
        var options = new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };
        var signerConfig = JsonNode.Parse(await File.ReadAllTextAsync(Conf("signer.json")), documentOptions: options)!.AsObject();
        var composeSignerPort = PortOf(signerConfig["Signer"]!["Listen"]![0]!.GetValue<string>());
        var composeMetricsPort = PortOf(signerConfig["Signer"]!["Metrics"]!.GetValue<string>());
        var zone = signerConfig["Signer"]!["Zones"]![0]!.AsObject();
        zone["Primary"] = LocalHostPort(zone["Primary"]!.GetValue<string>(), dnsPorts);
        var notify = zone["Notify"]!.AsArray();
        for (int i = 0; i < notify.Count; i++) notify[i] = LocalHostPort(notify[i]!.GetValue<string>(), dnsPorts);
        await using var signer = SignerProcess.FromConfig(directory, signerConfig);
        dnsPorts["signer"] = signer.DnsPort;
        string zoneName = zone["Name"]!.GetValue<string>();

        // (compose address, compose port) -> local port, for the BIND and NSD files, which need addresses.
        var ports = new Dictionary<(string, int), int>
        {
            [(addresses["signer"], composeSignerPort)] = signer.DnsPort,
            [(addresses["bind-primary"], 53)] = dnsPorts["bind-primary"],
            [(addresses["bind-secondary"], 53)] = dnsPorts["bind-secondary"],
            [(addresses["nsd-secondary"], 53)] = dnsPorts["nsd-secondary"],
        };

        // The cluster: client endpoints by service name -> localhost; nodes bind loopback. Passphrase files get 0600, as
        // the image's entrypoint does (git keeps no modes).
        var cluster = JsonNode.Parse(await File.ReadAllTextAsync(Conf("cluster.json")))!.AsObject();
        var nodePorts = new Dictionary<int, int>();
        foreach (var node in cluster["nodes"]!.AsArray())
        {
            int id = node!["id"]!.GetValue<int>();
            nodePorts[id] = FreePorts.Get();
            var endpoint = node["endpoint"]!.GetValue<string>();
            Assert.Matches(@"^tcp://dtcnode\d+:\d+$", endpoint);
            Assert.True(addresses.ContainsKey(endpoint[6..endpoint.LastIndexOf(':')]), $"cluster.json names {endpoint}, which is no compose service");
            node["endpoint"] = $"tcp://localhost:{nodePorts[id]}";
        }
        WriteSecret(directory.File("cluster.json"), cluster.ToJsonString());
        foreach (var (id, port) in nodePorts)
        {
            var node = JsonNode.Parse(await File.ReadAllTextAsync(Conf($"node{id}.json")))!.AsObject();
            var listen = node["listen"]!.AsArray();
            Assert.Single(listen);
            listen[0] = $"tcp://127.0.0.1:{port}";
            WriteSecret(directory.File($"node{id}.json"), node.ToJsonString());
            WriteSecret(directory.File(node["passphraseFile"]!.GetValue<string>()), await File.ReadAllTextAsync(Conf(node["passphraseFile"]!.GetValue<string>())));
        }

        var primaryDir = Directory.CreateDirectory(directory.File("bind-primary")).FullName;
        File.Copy(Conf("example.com.zone"), Path.Combine(primaryDir, "example.com.zone"));
        var primaryConf = Path.Combine(primaryDir, "named.conf");
        await File.WriteAllTextAsync(primaryConf, RewriteNamed(await File.ReadAllTextAsync(Conf("named-primary.conf")), primaryDir, dnsPorts["bind-primary"], ports, addresses));
        var secondaryDir = Directory.CreateDirectory(directory.File("bind-secondary")).FullName;
        var secondaryConf = Path.Combine(secondaryDir, "named.conf");
        await File.WriteAllTextAsync(secondaryConf, RewriteNamed(await File.ReadAllTextAsync(Conf("named-secondary.conf")), secondaryDir, dnsPorts["bind-secondary"], ports, addresses));
        var nsdDir = Directory.CreateDirectory(directory.File("nsd-secondary")).FullName;
        var nsdConf = Path.Combine(nsdDir, "nsd.conf");
        await File.WriteAllTextAsync(nsdConf, RewriteNsd(await File.ReadAllTextAsync(Conf("nsd-secondary.conf")), nsdDir, dnsPorts["nsd-secondary"], ports, addresses));
        var chown = await ExternalTool.RunAsync("chown", "nsd", nsdDir);
        Assert.True(chown.ExitCode == 0, chown.All);

        // Prometheus scrapes the signer's metrics port by service name.
        Assert.Matches($@"targets:\s*\[\s*""signer:{composeMetricsPort}""\s*\]", await File.ReadAllTextAsync(Conf("prometheus.yml")));

        var processes = new Dictionary<string, ForegroundProcess>();
        try
        {
            async Task<(string Name, ForegroundProcess Process)> StartAsync(string name, string tool, string[] arguments, string ready, int? port = null) =>
                (name, await ForegroundProcess.StartAsync(tool, arguments, ready, port, directory.Path));
            var nodes = nodePorts.Keys.Select(id => StartAsync($"dtcnode{id}", "dotnet",
                [Path.Combine(AppContext.BaseDirectory, "inline-signer.dll"), "node", "run", "--config", directory.File($"node{id}.json")], " listening on ")).ToList();
            var primary = StartAsync("bind-primary", "named", ["-g", "-c", primaryConf], " running", dnsPorts["bind-primary"]);
            var bindSecondary = StartAsync("bind-secondary", "named", ["-g", "-c", secondaryConf], " running", dnsPorts["bind-secondary"]);
            var nsd = StartAsync("nsd-secondary", "nsd", ["-d", "-c", nsdConf], "nsd started", dnsPorts["nsd-secondary"]);
            var all = nodes.Append(primary).Append(bindSecondary).Append(nsd).ToList();
            try
            {
                await Task.WhenAll(all);
            }
            finally
            {
                foreach (var started in all.Where(t => t.IsCompletedSuccessfully)) processes[started.Result.Name] = started.Result.Process;
            }

            await signer.StartAsync();
            var serial = await SignedSerialAsync(signer, zoneName, TimeSpan.FromSeconds(60));
            foreach (var secondary in new[] { "bind-secondary", "nsd-secondary" })
            {
                var port = dnsPorts[secondary];
                await WaitForSerialAsync(port, zoneName, serial, TimeSpan.FromSeconds(30), () => $"{secondary}:\n{processes[secondary].Log}\nsigner:\n{signer.Log}");
                var copy = directory.File($"{secondary}.axfr");
                var axfr = await Dig(port, zoneName, "AXFR", "+onesoa", "+nocmd", "+nostats", "+nocomments");
                Assert.True(axfr.ExitCode == 0 && !axfr.Output.Contains("Transfer failed", StringComparison.Ordinal), axfr.All);
                await File.WriteAllTextAsync(copy, axfr.Output);
                // The policy of signer.json reached the secondaries: NSEC3 and ZONEMD.
                Assert.True(Regex.IsMatch(axfr.Output, @"\sNSEC3PARAM\s") && Regex.IsMatch(axfr.Output, @"\sZONEMD\s"), $"{secondary}:\n{axfr.Output}");
                var verify = await ExternalTool.RunAsync("dnssec-verify", "-o", zoneName, copy);
                Assert.True(verify.ExitCode == 0, $"{secondary}: {verify.All}");
            }

            var metrics = await signer.MetricsAsync();
            Assert.Equal(serial, SignerProcess.Metric(metrics, $"inline_signer_zone_signed_serial{{zone=\"{zoneName}.\"}}"));
            Assert.True(SignerProcess.Metric(metrics, $"inline_signer_zone_versions_total{{zone=\"{zoneName}.\",cause=\"AXFR\"}}") >= 1, string.Join("\n", metrics.Keys));
            Assert.True(metrics.Keys.Count(k => k.StartsWith("inline_signer_cluster_node_up{", StringComparison.Ordinal)) == 5);
        }
        finally
        {
            foreach (var process in processes.Values) await process.DisposeAsync();
        }
    }

    /// <summary>Service name -> fixed address on the compose network, read from docker/docker-compose.yml.</summary>
    private static Dictionary<string, string> ComposeAddresses()
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        string? service = null;
        bool inServices = false;
        foreach (var line in File.ReadLines(Path.Combine(RepositoryPaths.Root, "docker", "docker-compose.yml")))
        {
            if (line.StartsWith("services:", StringComparison.Ordinal)) { inServices = true; continue; }
            if (line.Length > 0 && !char.IsWhiteSpace(line[0]) && !line.StartsWith('#')) inServices = false;
            if (!inServices) continue;
            if (ServiceLine().Match(line) is { Success: true } s) service = s.Groups[1].Value;
            else if (AddressLine().Match(line) is { Success: true } a && service is not null) result[service] = a.Groups[1].Value;
        }
        foreach (var expected in new[] { "bind-primary", "signer", "bind-secondary", "nsd-secondary", "dtcnode1", "dtcnode5", "prometheus" })
            Assert.True(result.ContainsKey(expected), $"docker-compose.yml has no service {expected} with a fixed address");
        return result;
    }

    [GeneratedRegex(@"^  ([a-z0-9-]+):\s*$")]
    private static partial Regex ServiceLine();

    [GeneratedRegex(@"ipv4_address:\s*([0-9.]+)")]
    private static partial Regex AddressLine();

    private static int PortOf(string hostPort) => int.Parse(hostPort[(hostPort.LastIndexOf(':') + 1)..], CultureInfo.InvariantCulture);

    /// <summary>"service:53" -> "localhost:port of that service here".</summary>
    private static string LocalHostPort(string hostPort, IReadOnlyDictionary<string, int> dnsPorts)
    {
        var host = hostPort[..hostPort.LastIndexOf(':')];
        Assert.True(dnsPorts.ContainsKey(host), $"signer.json names {hostPort}, which is no compose DNS service");
        return $"localhost:{dnsPorts[host]}";
    }

    /// <summary>Addresses of compose services become 127.0.0.1, with "address port N" / "address@N" mapped to the local port; subnets stay.</summary>
    private static string RewriteAddresses(string text, IReadOnlyDictionary<(string, int), int> ports, IReadOnlyDictionary<string, string> addresses)
    {
        var known = addresses.Values.ToHashSet(StringComparer.Ordinal);
        text = Regex.Replace(text, @"\b(\d+\.\d+\.\d+\.\d+)( port |@)(\d+)", m =>
        {
            var key = (m.Groups[1].Value, int.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture));
            Assert.True(ports.ContainsKey(key), $"{m.Value} is no service of the compose topology");
            return $"127.0.0.1{m.Groups[2].Value}{ports[key]}";
        });
        return Regex.Replace(text, @"\b(\d+\.\d+\.\d+\.\d+)\b(?!/)", m => known.Contains(m.Value) ? "127.0.0.1" : m.Value);
    }

    private static string RewriteNamed(string text, string directory, int port, IReadOnlyDictionary<(string, int), int> ports, IReadOnlyDictionary<string, string> addresses)
    {
        text = ReplaceOnce(text, @"directory ""[^""]*"";", _ => $"directory \"{directory}\";");
        text = ReplaceOnce(text, @"listen-on port 53 \{ any; \};", _ => $"listen-on port {port} {{ 127.0.0.1; }};");
        return RewriteAddresses(text, ports, addresses);
    }

    private static string RewriteNsd(string text, string directory, int port, IReadOnlyDictionary<(string, int), int> ports, IReadOnlyDictionary<string, string> addresses)
    {
        text = ReplaceOnce(text, @"zonesdir: ""[^""]*""", _ => $"zonesdir: \"{directory}\"");
        text = ReplaceOnce(text, @"ip-address: 0\.0\.0\.0", _ => "ip-address: 127.0.0.1");
        text = ReplaceOnce(text, @"(?m)^(\s*)port: 53$", m => $"{m.Groups[1].Value}port: {port}");
        return RewriteAddresses(text, ports, addresses);
    }

    /// <summary>The one place a file says where it runs; a second or a missing one means the rewrite no longer fits the file.</summary>
    private static string ReplaceOnce(string text, string pattern, MatchEvaluator replacement)
    {
        var regex = new Regex(pattern);
        Assert.True(regex.Matches(text).Count == 1, $"expected exactly one '{pattern}' in the configuration");
        return regex.Replace(text, replacement, 1);
    }

    private static void WriteSecret(string path, string text)
    {
        File.WriteAllText(path, text);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    private static Task<ToolResult> Dig(int port, params string[] arguments) =>
        ExternalTool.RunAsync("dig", ["@127.0.0.1", "-p", port.ToString(CultureInfo.InvariantCulture), "+norec", "+time=2", "+tries=2", .. arguments], timeout: TimeSpan.FromSeconds(60));

    private static async Task<uint?> SerialAsync(int port, string zone)
    {
        var result = await Dig(port, zone, "SOA", "+short");
        var fields = result.Output.Trim().Split(' ');
        return result.ExitCode == 0 && fields.Length == 7 && uint.TryParse(fields[2], CultureInfo.InvariantCulture, out var serial) ? serial : null;
    }

    /// <summary>The serial the signer serves once it has committed its first signed version.</summary>
    private static async Task<uint> SignedSerialAsync(SignerProcess signer, string zone, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            if (await SerialAsync(signer.DnsPort, zone) is { } serial) return serial;
            await Task.Delay(250);
        }
        throw new TimeoutException($"the signer served no {zone} within {timeout}:\n{signer.Log}");
    }

    private static async Task WaitForSerialAsync(int port, string zone, uint serial, TimeSpan timeout, Func<string> logs)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            if (await SerialAsync(port, zone) == serial) return;
            await Task.Delay(250);
        }
        throw new TimeoutException($"the secondary on port {port} did not reach serial {serial} within {timeout}:\n{logs()}");
    }
}
