using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using InlineSigner.Tests.Shared;

namespace InlineSigner.Server.Tests.Support;

[CollectionDefinition(Name)]
public sealed class SecondariesCollection : ICollectionFixture<SecondariesFixture>
{
    public const string Name = "signer with BIND, NSD and Knot secondaries";
}

/// <summary>One secondary as the checks see it: a name for messages, its port, and its log.</summary>
public sealed record Secondary(string Name, int Port, Func<string> Log)
{
    public override string ToString() => $"{Name} (127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)})";
}

/// <summary>
/// One `inline-signer serve` with two watched zone files and three real secondaries, shared by the checks of the
/// collection (starting them is most of the cost):
/// <list type="bullet">
/// <item><c>example.com</c> (a copy of zones/example.com, NSEC): NOTIFY to BIND, NSD and Knot, transfers allowed to
/// 127.0.0.0/8; all three are its secondaries.</item>
/// <item><c>tsig.example</c> (generated, NSEC3): transfers only with the TSIG key <c>xfr-key</c> (no address may transfer
/// it), NOTIFY signed with that key to BIND only, whose primaries clause names the key.</item>
/// </list>
/// The signer starts first (its secondaries' ports are taken beforehand, so its NOTIFY targets are known), then the
/// secondaries, which bootstrap by AXFR. Ready when each holds our serial of example.com and has acknowledged our NOTIFY
/// (so no retry of the first NOTIFY is still under way when a check starts counting).
/// </summary>
public sealed class SecondariesFixture : IAsyncLifetime
{
    public const string MainZone = "example.com";
    public const string TsigZone = "tsig.example";
    public const string KeyName = "xfr-key";

    private readonly int _bindPort = FreePorts.Get();
    private readonly int _nsdPort = FreePorts.Get();
    private readonly int _knotPort = FreePorts.Get();

    public TempDirectory Directory { get; } = new("secondaries-");
    public string ZoneFile => Directory.File(MainZone);
    public string TsigZoneFile => Directory.File(TsigZone);

    /// <summary>The HMAC-SHA256 secret of <see cref="KeyName"/> (fresh for each run).</summary>
    public string TsigSecret { get; } = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    public SignerProcess Signer { get; private set; } = null!;
    public BindServer Bind { get; private set; } = null!;
    public SecondaryDaemon Nsd { get; private set; } = null!;
    public SecondaryDaemon Knot { get; private set; } = null!;

    /// <summary>The three secondaries of example.com.</summary>
    public IReadOnlyList<Secondary> Secondaries { get; private set; } = [];

    public Secondary BindSecondary => Secondaries[0];

    /// <summary>The metrics just after the first synchronisation, before any check ran.</summary>
    public IReadOnlyDictionary<string, double> MetricsAfterSync { get; private set; } = new Dictionary<string, double>();

    /// <summary>A delv trust-anchors file with our KSKs of both zones as static keys.</summary>
    public string TrustAnchors => Directory.File("anchors.conf");

    public async Task InitializeAsync()
    {
        File.Copy(RepositoryPaths.Zone(MainZone), ZoneFile);
        await File.WriteAllTextAsync(TsigZoneFile, """
            $ORIGIN tsig.example.
            $TTL 3600
            @       IN  SOA ns1 hostmaster (
                        1          ; serial
                        7200 3600 1209600 300 )
                    IN  NS   ns1
            ns1     IN  A    192.0.2.1
            www     IN  A    192.0.2.2
                    IN  AAAA 2001:db8::2
            mail    IN  MX   10 www

            """);
        Signer = SignerProcess.Create(
        [
            new JsonObject
            {
                ["Name"] = MainZone,
                ["ZoneFile"] = ZoneFile,
                ["AllowTransfer"] = new JsonArray("127.0.0.0/8"),
                ["Notify"] = new JsonArray($"127.0.0.1:{_bindPort}", $"127.0.0.1:{_nsdPort}", $"127.0.0.1:{_knotPort}"),
            },
            new JsonObject
            {
                ["Name"] = TsigZone,
                ["ZoneFile"] = TsigZoneFile,
                ["Nsec3"] = true,
                ["AllowTransferKeys"] = new JsonArray(KeyName),
                ["Notify"] = new JsonArray($"127.0.0.1:{_bindPort}"),
                ["NotifyTsigKey"] = KeyName,
            },
        ], signer => signer["TsigKeys"] = new JsonArray(new JsonObject { ["Name"] = KeyName, ["Algorithm"] = "hmac-sha256", ["Secret"] = TsigSecret }));
        await Signer.StartAsync();
        await Signer.WaitForLogAsync($@"zone {Regex.Escape(MainZone)}\. serial \d+: committed", TimeSpan.FromSeconds(60));
        await Signer.WaitForLogAsync($@"zone {Regex.Escape(TsigZone)}\. serial \d+: committed", TimeSpan.FromSeconds(60));
        await WriteTrustAnchorsAsync();

        var primary = Signer.DnsEndpoint;
        var bind = BindServer.StartAsync($$"""
            key "{{KeyName}}" { algorithm hmac-sha256; secret "{{TsigSecret}}"; };
            zone "{{MainZone}}" { type secondary; primaries { 127.0.0.1 port {{primary.Port}}; }; file "{{MainZone}}.bk"; };
            zone "{{TsigZone}}" { type secondary; primaries { 127.0.0.1 port {{primary.Port}} key "{{KeyName}}"; }; file "{{TsigZone}}.bk"; };
            """, _ => { }, port: _bindPort);
        var nsd = NsdServer.StartAsync(_nsdPort, primary, [MainZone]);
        var knot = KnotServer.StartAsync(_knotPort, primary, [MainZone]);
        try
        {
            await Task.WhenAll(bind, nsd, knot);
        }
        finally
        {
            // Whatever started is kept, so DisposeAsync stops it even when another one failed.
            if (bind.IsCompletedSuccessfully) Bind = bind.Result;
            if (nsd.IsCompletedSuccessfully) Nsd = nsd.Result;
            if (knot.IsCompletedSuccessfully) Knot = knot.Result;
        }
        Secondaries =
        [
            new Secondary("BIND", Bind.Port, () => Bind.Log),
            new Secondary("NSD", Nsd.Port, () => Nsd.Log),
            new Secondary("Knot", Knot.Port, () => Knot.Log),
        ];
        uint serial = await SignerSerialAsync(MainZone);
        await Task.WhenAll(Secondaries.Select(s => WaitForSerialAsync(s, MainZone, serial)));
        MetricsAfterSync = await WaitForMetricsAsync(m => Secondaries.All(s => DnsTools.Metric(m, NotifyKey("acknowledged", MainZone, s)) >= 1),
            "every secondary acknowledged the first NOTIFY");
    }

    private async Task WriteTrustAnchorsAsync()
    {
        var anchors = new List<string>();
        foreach (var zone in new[] { MainZone, TsigZone })
        {
            var fields = DnskeyFields(zone, ksk: true);
            anchors.Add($"\"{zone}.\" static-key {fields[4]} {fields[5]} {fields[6]} \"{string.Concat(fields.Skip(7))}\";");
        }
        await File.WriteAllTextAsync(TrustAnchors, "trust-anchors {\n" + string.Join("\n", anchors) + "\n};\n");
    }

    /// <summary>The fields of the DNSKEY line of the zone's KSK or ZSK file in the signer's key directory.</summary>
    private string[] DnskeyFields(string zone, bool ksk)
    {
        foreach (var file in System.IO.Directory.GetFiles(Signer.KeyDirectory, $"K{zone}.+*.key"))
        {
            var line = File.ReadLines(file).First(l => !l.StartsWith(';') && l.Contains("DNSKEY", StringComparison.Ordinal));
            var fields = line.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (fields[4] == (ksk ? "257" : "256")) return fields;
        }
        throw new InvalidOperationException($"no {(ksk ? "KSK" : "ZSK")} of {zone} in {Signer.KeyDirectory}");
    }

    /// <summary>The key tag of the zone's KSK or ZSK, from its key file name (K&lt;zone&gt;.+alg+tag.key).</summary>
    public string KeyTag(string zone, bool ksk)
    {
        foreach (var file in System.IO.Directory.GetFiles(Signer.KeyDirectory, $"K{zone}.+*.key"))
        {
            var flags = File.ReadLines(file).First(l => !l.StartsWith(';') && l.Contains("DNSKEY", StringComparison.Ordinal))
                .Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries)[4];
            if (flags == (ksk ? "257" : "256"))
                return int.Parse(Path.GetFileNameWithoutExtension(file).Split('+')[^1], CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture);
        }
        throw new InvalidOperationException($"no {(ksk ? "KSK" : "ZSK")} of {zone} in {Signer.KeyDirectory}");
    }

    public static string NotifyKey(string what, string zone, Secondary secondary) =>
        $"inline_signer_notify_{what}_total{{zone=\"{zone}.\",target=\"127.0.0.1:{secondary.Port.ToString(CultureInfo.InvariantCulture)}\"}}";

    public static string TransfersOut(string zone, string type) => $"inline_signer_transfers_out_total{{zone=\"{zone}.\",type=\"{type}\"}}";

    public static string TransfersRefused(string zone) => $"inline_signer_transfers_refused_total{{zone=\"{zone}.\"}}";

    /// <summary>The SOA serial the signer serves now.</summary>
    public async Task<uint> SignerSerialAsync(string zone) =>
        await SerialAsync(Signer.DnsPort, zone) ?? throw new InvalidOperationException($"the signer serves no SOA for {zone}:\n{Signer.Log}");

    private static async Task<uint?> SerialAsync(int port, string zone)
    {
        var result = await DnsTools.Dig(port, zone, "SOA", "+short");
        var fields = result.Output.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return result.ExitCode == 0 && fields.Length == 7 && uint.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out var serial) ? serial : null;
    }

    /// <summary>Polls the secondary's SOA until it serves <paramref name="serial"/>; fails with its log after a minute.</summary>
    public static async Task WaitForSerialAsync(Secondary secondary, string zone, uint serial)
    {
        var clock = Stopwatch.StartNew();
        uint? seen = null;
        while (clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            seen = await SerialAsync(secondary.Port, zone);
            if (seen == serial) return;
            await Task.Delay(100);
        }
        throw new TimeoutException($"{secondary} still serves serial {seen?.ToString(CultureInfo.InvariantCulture) ?? "none"} of {zone} after a minute, not {serial}:\n{secondary.Log()}");
    }

    /// <summary>
    /// Scrapes /metrics until <paramref name="condition"/> holds. Counters of asynchronous work (a NOTIFY answer is counted
    /// when it arrives, which may be after the secondary already transferred) are waited for, never raced.
    /// </summary>
    public async Task<IReadOnlyDictionary<string, double>> WaitForMetricsAsync(Func<IReadOnlyDictionary<string, double>, bool> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        IReadOnlyDictionary<string, double> metrics;
        do
        {
            metrics = await Signer.MetricsAsync();
            if (condition(metrics)) return metrics;
            await Task.Delay(100);
        }
        while (clock.Elapsed < TimeSpan.FromSeconds(60));
        throw new TimeoutException($"metrics: not within a minute: {what}:\n{string.Join('\n', metrics.Where(m => m.Key.StartsWith("inline_signer_", StringComparison.Ordinal)).Select(m => $"{m.Key} {m.Value}"))}\n{Signer.Log}");
    }

    /// <summary>
    /// Changes a zone file the way an operator does (new serial, one more record), written whole and renamed into place so
    /// the watcher never reads half of it, and waits until the signer serves the new serial, which it returns.
    /// </summary>
    public async Task<uint> EditAsync(string file, string zone, Func<uint, string> addedRecords)
    {
        var text = await File.ReadAllTextAsync(file);
        var match = Regex.Match(text, @"(\d+)(\s*; serial)");
        uint next = uint.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) + 1;
        text = string.Concat(text.AsSpan(0, match.Index), next.ToString(CultureInfo.InvariantCulture), text.AsSpan(match.Groups[2].Index)) + addedRecords(next);
        var temporary = file + ".new";
        await File.WriteAllTextAsync(temporary, text);
        File.Move(temporary, file, overwrite: true);
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            if (await SerialAsync(Signer.DnsPort, zone) == next) return next;
            await Task.Delay(100);
        }
        throw new TimeoutException($"the signer did not serve serial {next} of {zone} within a minute:\n{Signer.Log}");
    }

    /// <summary>
    /// The zone as <paramref name="port"/> hands it out by AXFR (dig, so every server's copy is printed the same way),
    /// checked by dnssec-verify and ldns-verify-zone; returns its records, one normalised line each, sorted.
    /// </summary>
    public async Task<IReadOnlyList<string>> VerifiedCopyAsync(int port, string zone, string label, params string[] digOptions)
    {
        var result = await DnsTools.Dig(port, [.. digOptions, zone, "AXFR", "+onesoa", "+nocmd", "+nostats", "+nocomments"]);
        Assert.True(result.ExitCode == 0 && !result.Output.Contains("Transfer failed", StringComparison.Ordinal) && result.Output.Length > 0,
            $"AXFR of {zone} from {label} failed: {result.All}");
        // dig prints the TSIG record of every signed message among the zone's records; it is no part of the zone.
        var text = string.Join('\n', result.Output.Split('\n').Where(line => !Regex.IsMatch(line, @"^\S+\s+0\s+ANY\s+TSIG\s")));
        var path = Directory.File($"{zone}.{label}.{port.ToString(CultureInfo.InvariantCulture)}.axfr");
        await File.WriteAllTextAsync(path, text);
        var bind = await ExternalTool.RunAsync("dnssec-verify", "-o", zone, path);
        Assert.True(bind.ExitCode == 0, $"dnssec-verify rejects the copy of {zone} held by {label}:\n{bind.All}");
        var ldns = await ExternalTool.RunAsync("ldns-verify-zone", path);
        Assert.True(ldns.ExitCode == 0, $"ldns-verify-zone rejects the copy of {zone} held by {label}:\n{ldns.All}");
        return text.Split('\n')
            .Select(line => string.Join(' ', line.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries)))
            .Where(line => line.Length > 0 && !line.StartsWith(';'))
            .Order(StringComparer.Ordinal)
            .ToList();
    }

    public async Task DisposeAsync()
    {
        // Secondaries first: they would otherwise keep retrying a signer that went away.
        if (Knot is not null) await Knot.DisposeAsync();
        if (Nsd is not null) await Nsd.DisposeAsync();
        if (Bind is not null) await Bind.DisposeAsync();
        if (Signer is not null) await Signer.DisposeAsync();
        Directory.Dispose();
    }
}

/// <summary>dig against a port of 127.0.0.1, and reading the metrics page.</summary>
public static class DnsTools
{
    public static Task<ToolResult> Dig(int port, params string[] arguments) =>
        ExternalTool.RunAsync("dig", ["@127.0.0.1", "-p", port.ToString(CultureInfo.InvariantCulture), "+norec", "+time=5", "+tries=2", .. arguments], timeout: TimeSpan.FromSeconds(60));

    public static double Metric(IReadOnlyDictionary<string, double> metrics, string key) => SignerProcess.Metric(metrics, key);
}
