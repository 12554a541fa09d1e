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
public sealed class KnotServer : IAsyncDisposable
{
    private readonly ForegroundProcess _process;

    private KnotServer(TempDirectory directory, int port, ForegroundProcess process)
    {
        Directory = directory;
        Port = port;
        _process = process;
    }

    public TempDirectory Directory { get; }
    public int Port { get; }
    public string Log => _process.Log;

    public static async Task<KnotServer> StartAsync(int port, IPEndPoint primary, IEnumerable<string> zones)
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
            var confPath = directory.File("knot.conf");
            await File.WriteAllTextAsync(confPath, conf);
            var check = await ExternalTool.RunAsync("knotc", "-c", confPath, "conf-check");
            if (check.ExitCode != 0) throw new InvalidOperationException($"knotc conf-check rejects the configuration:\n{check.All}\n{conf}");
            var process = await ForegroundProcess.StartAsync("knotd", ["-c", confPath], "server started in the foreground", port, d);
            return new KnotServer(directory, port, process);
        }
        catch
        {
            directory.Dispose();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync();
        Directory.Dispose();
    }
}
