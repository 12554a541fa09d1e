using InlineSigner.Tests.Shared;
using System.Globalization;
using ARSoft.Tools.Net;
using InlineSigner.Tests.Shared.Dns;

namespace InlineSigner.Protocol.Tests;

/// <summary>
/// One BIND 9 for every test of the "bind" collection, primary for:
/// <c>big.test</c> (about 5000 records, open to transfers), <c>secure.test</c> (the same size, transfers only with
/// key <c>xfr-key</c>), <c>dyn.test</c> (dynamic, so nsupdate makes an IXFR journal), and secondary for
/// <c>sec.test</c> (so it takes NOTIFY from 127.0.0.1) from a primary that does not exist.
/// </summary>
public sealed class BindFixture : IAsyncLifetime
{
    public static readonly DomainName Big = DomainName.Parse("big.test");
    public static readonly DomainName Secure = DomainName.Parse("secure.test");
    public static readonly DomainName Dynamic = DomainName.Parse("dyn.test");
    public static readonly DomainName Secondary = DomainName.Parse("sec.test");
    public const int Hosts = 3300;

    private BindServer? _server;

    public BindServer Server => _server ?? throw new InvalidOperationException("BIND is not running");

    /// <summary>The key BIND requires for secure.test (hmac-sha256), as tsig-keygen made it.</summary>
    public string KeyText { get; private set; } = "";

    /// <summary>A second key BIND knows (hmac-sha512), allowed to transfer dyn.test.</summary>
    public string Sha512KeyText { get; private set; } = "";

    public string KeyFile => Server.Directory.File("keys.conf");

    public async Task InitializeAsync()
    {
        var sha256 = await InlineSigner.Tests.Shared.ExternalTool.RunAsync("tsig-keygen", "-a", "hmac-sha256", "xfr-key");
        var sha512 = await InlineSigner.Tests.Shared.ExternalTool.RunAsync("tsig-keygen", "-a", "hmac-sha512", "sha512-key");
        KeyText = sha256.Output;
        Sha512KeyText = sha512.Output;
        int nobody = FreePorts.Get(); // the secondary zone's primary: a port nothing listens on
        _server = await BindServer.StartAsync($$"""
            include "keys.conf";
            zone "big.test" { type primary; file "big.db"; };
            zone "secure.test" { type primary; file "secure.db"; allow-transfer { key xfr-key; }; };
            zone "dyn.test" { type primary; file "dyn.db"; allow-update { 127.0.0.1; }; allow-transfer { 127.0.0.1; key sha512-key; }; };
            zone "sec.test" { type secondary; primaries { 127.0.0.1 port {{nobody.ToString(CultureInfo.InvariantCulture)}}; }; allow-notify { 127.0.0.1; }; };
            """, dir =>
        {
            File.WriteAllText(dir.File("keys.conf"), KeyText + Sha512KeyText);
            File.WriteAllText(dir.File("big.db"), Messages.BigZone("big.test", 1, Hosts));
            File.WriteAllText(dir.File("secure.db"), Messages.BigZone("secure.test", 7, Hosts));
            File.WriteAllText(dir.File("dyn.db"), Messages.BigZone("dyn.test", 100, 40));
        });
    }

    public async Task DisposeAsync()
    {
        if (_server is not null) await _server.DisposeAsync();
    }
}

[CollectionDefinition("bind")]
public sealed class BindCollection : ICollectionFixture<BindFixture>;
