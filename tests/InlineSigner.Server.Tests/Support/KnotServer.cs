using System.Globalization;
using System.Net;
using InlineSigner.Tests.Shared;

namespace InlineSigner.Server.Tests.Support;

/// <summary>
/// A real Knot DNS (knotd) on 127.0.0.1 as a secondary: each zone is bootstrapped by AXFR from its primary and then
/// follows it by IXFR after NOTIFY (Knot's defaults); NOTIFY and transfers are allowed from 127.0.0.1 (so a test can
/// read back Knot's copy). Configured in a temporary directory (configuration, journal, timers, control socket), run in
/// the foreground and logging to stderr; disposal kills it.
/// </summary>
public static class KnotServer
{
    public static Task<SecondaryDaemon> StartAsync(int port, IPEndPoint primary, IEnumerable<string> zones)
    {
        var directory = new TempDirectory("knot-");
        try
        {
            string d = directory.Path;
            var zoneList = string.Concat(zones.Select(zone => $"""
                  - domain: "{zone}"
                    master: primary
                    acl: local

                """));
            var conf = $"""
                server:
                    rundir: "{d}"
                    listen: 127.0.0.1@{port.ToString(CultureInfo.InvariantCulture)}
                    udp-workers: 1
                    tcp-workers: 1
                    background-workers: 1
                log:
                  - target: stderr
                    any: info
                database:
                    storage: "{d}"
                remote:
                  - id: primary
                    address: {primary.Address}@{primary.Port.ToString(CultureInfo.InvariantCulture)}
                acl:
                  - id: local
                    address: 127.0.0.0/8
                    action: [notify, transfer]
                template:
                  - id: default
                    storage: "{d}"
                zone:
                {zoneList}
                """;
            return SecondaryDaemon.StartAsync(directory, port, "knot.conf", conf, "knotc", ["-c", "{conf}", "conf-check"], "knotd", ["-c", "{conf}"], "server started in the foreground");
        }
        catch
        {
            directory.Dispose();
            throw;
        }
    }
}
