using ARSoft.Tools.Net;
using InlineSigner.Authority;
using InlineSigner.Tests.Shared;
using InlineSigner.Zones;

namespace InlineSigner.Authority.Tests;

/// <summary>
/// Zones signed by real BIND tools (dnssec-keygen, dnssec-signzone), loaded with our ZoneLoader, shared by every test:
/// <c>nsec.test</c> (NSEC), <c>nsec3.test</c> (NSEC3, salt, 5 iterations), <c>optout.test</c> (NSEC3 with opt-out, no
/// salt, no extra iterations) and <c>secure.nsec.test</c>, a signed child whose DS the parent holds. The trust anchors file is what delv needs to validate our answers.
/// </summary>
public sealed class SignedZonesFixture : IAsyncLifetime
{
    public static readonly DomainName Nsec = DomainName.Parse("nsec.test");
    public static readonly DomainName Nsec3 = DomainName.Parse("nsec3.test");
    public static readonly DomainName Child = DomainName.Parse("secure.nsec.test");
    public static readonly DomainName OptOut = DomainName.Parse("optout.test");

    private readonly TempDirectory _dir = new("authority-zones-");

    public string Directory => _dir.Path;
    public ServedZone NsecZone { get; private set; } = null!;
    public ServedZone Nsec3Zone { get; private set; } = null!;
    public ServedZone ChildZone { get; private set; } = null!;
    public ServedZone OptOutZone { get; private set; } = null!;

    /// <summary>A delv anchor file: static keys for nsec.test, nsec3.test and optout.test.</summary>
    public string TrustAnchors => _dir.File("anchors.conf");

    public ZoneCatalog Catalog() => new(NsecZone, Nsec3Zone, ChildZone, OptOutZone);

    /// <summary>A listener on 127.0.0.1 (a free port, UDP and TCP) serving the three zones.</summary>
    public DnsListener Listener { get; private set; } = null!;
    public int Port => Listener.BoundEndpoints[0].Port;
    public DnsCounters Counters { get; } = new();
    public List<Exception> ListenerErrors { get; } = [];

    /// <summary>dig against our listener, without recursion, with the given extra arguments.</summary>
    public Task<ToolResult> Dig(params string[] args) =>
        ExternalTool.RunAsync("dig", ["@127.0.0.1", "-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "+norec", "+time=5", "+tries=2", .. args], timeout: TimeSpan.FromSeconds(30));

    /// <summary>delv against our listener with our KSKs as trust anchors, <paramref name="root"/> as the validation root.</summary>
    public Task<ToolResult> Delv(DomainName root, params string[] args) =>
        ExternalTool.RunAsync("delv", ["@127.0.0.1", "-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-a", TrustAnchors, "+root=" + root, .. args], timeout: TimeSpan.FromSeconds(30));

    public static string ZoneText(string origin, string extra = "") => $$"""
        $ORIGIN {{origin}}.
        $TTL 3600
        @           IN SOA ns1 hostmaster 2024010101 7200 3600 1209600 300
        @           NS ns1
        @           NS ns2
        @           MX 10 mail
        ns1         A 192.0.2.1
        ns2         AAAA 2001:db8::2
        mail        A 192.0.2.3
        www         A 192.0.2.10
        www         AAAA 2001:db8::10
        alias       CNAME www
        chain1      CNAME chain2
        chain2      CNAME alias
        dangling    CNAME nothere
        loop1       CNAME loop2
        loop2       CNAME loop1
        *.wild      A 192.0.2.50
        *.wild      TXT "wildcard"
        *.wildcname CNAME www
        a.b.c.ent   A 192.0.2.60
        insecure    NS ns.insecure
        insecure    NS ns.elsewhere.example.
        ns.insecure A 192.0.2.71
        x.unsignedent NS ns.elsewhere.example.
        dname       DNAME target
        host.target A 192.0.2.80
        {{string.Join("\n", Enumerable.Range(0, 40).Select(i => $"big TXT \"record {i:D2} {new string('x', 56)}\""))}}
        {{string.Join("\n", Enumerable.Range(0, 8).Select(i => $"medium TXT \"record {i:D2} {new string('y', 56)}\""))}}
        {{extra}}
        """;

    public async Task InitializeAsync()
    {
        // The child first: the parent carries the DS of its KSK.
        await File.WriteAllTextAsync(_dir.File("child.db"), $"""
            $ORIGIN {Child}
            $TTL 3600
            @    IN SOA ns hostmaster 7 7200 3600 1209600 300
            @    NS ns
            ns   A 192.0.2.70
            www  A 192.0.2.90
            """);
        var childKsk = await KeyGen(Child, ksk: true);
        await KeyGen(Child, ksk: false);
        var ds = await ExternalTool.RunAsync("dnssec-dsfromkey", ["-2", _dir.File(childKsk + ".key")], _dir.Path);
        Assert.True(ds.ExitCode == 0, ds.All);
        ChildZone = ServedZone.Create(await Sign(Child, "child.db", []));

        var parentExtra = $"""
            secure      NS ns.secure
            ns.secure   A 192.0.2.70
            {ds.Output.Trim()}
            """;
        await File.WriteAllTextAsync(_dir.File("nsec.db"), ZoneText(Nsec.ToString().TrimEnd('.'), parentExtra));
        await File.WriteAllTextAsync(_dir.File("nsec3.db"), ZoneText(Nsec3.ToString().TrimEnd('.'),
            "secure NS ns.secure\nns.secure A 192.0.2.72\nsecure DS 12345 13 2 " + new string('a', 64)));
        await File.WriteAllTextAsync(_dir.File("optout.db"), ZoneText(OptOut.ToString().TrimEnd('.'),
            "secure NS ns.secure\nns.secure A 192.0.2.72\nsecure DS 12345 13 2 " + new string('a', 64)));
        var anchors = new List<string>();
        foreach (var origin in new[] { Nsec, Nsec3, OptOut })
        {
            var ksk = await KeyGen(origin, ksk: true);
            await KeyGen(origin, ksk: false);
            var key = (await File.ReadAllLinesAsync(_dir.File(ksk + ".key"))).First(l => !l.StartsWith(';'));
            var fields = key.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            // "name IN DNSKEY flags protocol algorithm key…"
            int at = Array.IndexOf(fields, "DNSKEY");
            anchors.Add($"\"{origin}\" static-key {fields[at + 1]} {fields[at + 2]} {fields[at + 3]} \"{string.Concat(fields.Skip(at + 4))}\";");
        }
        await File.WriteAllTextAsync(TrustAnchors, "trust-anchors {\n" + string.Join("\n", anchors) + "\n};\n");
        NsecZone = ServedZone.Create(await Sign(Nsec, "nsec.db", []));
        Nsec3Zone = ServedZone.Create(await Sign(Nsec3, "nsec3.db", ["-3", "aabbccdd", "-H", "5"]));
        OptOutZone = ServedZone.Create(await Sign(OptOut, "optout.db", ["-3", "-", "-H", "0", "-A"]));

        var dispatcher = new DnsRequestDispatcher(new QueryResponder(Catalog()), metrics: Counters);
        Listener = new DnsListener(dispatcher, new DnsListenerOptions
        {
            Endpoints = [new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0)],
            OnError = (what, e) => { lock (ListenerErrors) ListenerErrors.Add(new InvalidOperationException(what, e)); },
        });
        await Listener.StartAsync(CancellationToken.None);
    }

    private async Task<string> KeyGen(DomainName origin, bool ksk)
    {
        List<string> args = ["-K", _dir.Path, "-a", "ECDSAP256SHA256", "-n", "ZONE"];
        if (ksk) args.AddRange(["-f", "KSK"]);
        args.Add(origin.ToString());
        var result = await ExternalTool.RunAsync("dnssec-keygen", args, _dir.Path);
        Assert.True(result.ExitCode == 0, result.All);
        return result.Output.Trim();
    }

    private async Task<Zone> Sign(DomainName origin, string file, string[] denial)
    {
        var output = _dir.File(file + ".signed");
        List<string> args = ["-S", "-K", _dir.Path, "-o", origin.ToString(), "-f", output, .. denial];
        args.Add(_dir.File(file));
        var result = await ExternalTool.RunAsync("dnssec-signzone", args, _dir.Path);
        Assert.True(result.ExitCode == 0, result.All);
        return ZoneLoader.LoadFile(output, origin);
    }

    public async Task DisposeAsync()
    {
        try
        {
            if (Listener is not null) await Listener.DisposeAsync();
        }
        finally
        {
            _dir.Dispose();
        }
    }
}
