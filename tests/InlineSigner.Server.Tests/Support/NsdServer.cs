using System.Globalization;
using System.Net;
using InlineSigner.Tests.Shared;

namespace InlineSigner.Server.Tests.Support;

/// <summary>
/// A real NSD on 127.0.0.1 as a secondary: each zone is transferred from its primary (request-xfr, IXFR over TCP with
/// AXFR fallback, NSD's default), takes NOTIFY from the primary's address, and may itself be transferred by local
/// clients (so a test can read back the copy NSD holds). Configured in a temporary directory, run in the foreground
/// (<c>-d</c>) as the current user with no chroot and no database file; disposal kills it.
/// </summary>
public static class NsdServer
{
    /// <summary>Starts NSD on <paramref name="port"/> as a secondary of <paramref name="primary"/> for <paramref name="zones"/>.</summary>
    public static Task<SecondaryDaemon> StartAsync(int port, IPEndPoint primary, IEnumerable<string> zones)
    {
        var directory = new TempDirectory("nsd-");
        try
        {
            string d = directory.Path;
            string p = port.ToString(CultureInfo.InvariantCulture);
            string from = $"{primary.Address}@{primary.Port.ToString(CultureInfo.InvariantCulture)}";
            var zoneBlocks = string.Concat(zones.Select(zone => $"""
                zone:
                  name: "{zone}"
                  zonefile: "{zone}.zone"
                  request-xfr: {from} NOKEY
                  allow-notify: {primary.Address} NOKEY
                  provide-xfr: 127.0.0.0/8 NOKEY

                """));
            // username "" keeps the current user (no privilege drop); database "" keeps zones in memory and files only.
            var conf = $"""
                server:
                  ip-address: 127.0.0.1@{p}
                  do-ip6: no
                  username: ""
                  chroot: ""
                  zonesdir: "{d}"
                  database: ""
                  pidfile: "{d}/nsd.pid"
                  xfrdfile: "{d}/xfrd.state"
                  xfrdir: "{d}"
                  zonelistfile: "{d}/zone.list"
                  verbosity: 2
                  server-count: 1
                  reuseport: no
                remote-control:
                  control-enable: no

                {zoneBlocks}
                """;
            return SecondaryDaemon.StartAsync(directory, port, "nsd.conf", conf, "nsd-checkconf", ["{conf}"], "nsd", ["-d", "-c", "{conf}"], "nsd started");
        }
        catch
        {
            directory.Dispose();
            throw;
        }
    }
}
