using System.Collections.Immutable;
using ARSoft.Tools.Net;
using InlineSigner.Authority;
using InlineSigner.Cluster.Client;
using InlineSigner.Server.Configuration;
using InlineSigner.Server.Inbound;
using InlineSigner.Server.Metrics;
using InlineSigner.Server.Outbound;
using InlineSigner.Server.Signing;
using InlineSigner.Storage;
using InlineSigner.Zones;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace InlineSigner.Server.Hosting;

/// <summary>Everything the daemon reports about itself (the control endpoint's /status).</summary>
public sealed record SignerStatus(string Version, DateTimeOffset Started, IReadOnlyList<string> Listening, IReadOnlyList<ZoneStatus> Zones,
    IReadOnlyList<NodeHealthSnapshot> Cluster);

/// <summary>
/// The daemon: opens the store, starts each zone's pipeline (serving what the store holds at once), its source (the
/// primary it follows, or its zone file) and its NOTIFY sender, and the DNS listeners for queries, transfers and NOTIFY.
/// Stops in reverse order on SIGTERM: listeners first (transfers in flight finish), then sources and pipelines (a
/// signing run in flight commits or not, atomically), then the store. SIGHUP re-reads the configuration and restarts
/// only the zones whose settings changed; the listeners keep serving throughout.
/// </summary>
public sealed class SignerService : IHostedService, IAsyncDisposable
{
    private sealed record ZoneRuntime(ZoneSettings Settings, ZonePipeline Pipeline, SecondaryNotifier Notifier, PrimaryFollower? Follower, ZoneFileWatcher? Watcher);

    private readonly Func<SignerSettings> _loadSettings;
    private readonly SignerMetrics _metrics;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly ZoneCatalog _catalog = new();
    private readonly SemaphoreSlim _reloadGate = new(1, 1);
    private ImmutableDictionary<DomainName, ZoneRuntime> _zones = ImmutableDictionary.Create<DomainName, ZoneRuntime>(CanonicalNameComparer.Instance);
    private SignerSettings? _settings;
    private SignerStore? _store;
    private ZoneKeySource? _keys;
    private DnsListener? _listener;
    private LocalNodes? _nodes;
    private readonly DateTimeOffset _started;

    public SignerService(Func<SignerSettings> loadSettings, SignerMetrics metrics, ILoggerFactory loggers, TimeProvider? time = null)
    {
        _loadSettings = loadSettings;
        _metrics = metrics;
        _loggers = loggers;
        _logger = loggers.CreateLogger("inline-signer");
        _time = time ?? TimeProvider.System;
        _started = _time.GetUtcNow();
    }

    public ZoneCatalog Catalog => _catalog;

    /// <summary>Where the DNS service listens (ports resolved when 0 was asked for).</summary>
    public IReadOnlyList<System.Net.IPEndPoint> DnsEndpoints => _listener?.BoundEndpoints ?? [];

    public ZonePipeline? Pipeline(DomainName zone) => _zones.GetValueOrDefault(zone)?.Pipeline;

    public SignerStatus Status() => new(typeof(SignerService).Assembly.GetName().Version?.ToString() ?? "?", _started,
        DnsEndpoints.Select(e => e.ToString()).ToList(),
        _zones.Values.OrderBy(z => z.Settings.Name, StringComparer.Ordinal).Select(z => z.Pipeline.Status()).ToList(),
        _keys?.Client?.Health() ?? []);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var settings = _loadSettings();
        _settings = settings;
        Directory.CreateDirectory(settings.DataDirectory);
        // A damaged database is a clear error naming the file; it is never silently re-created.
        _store = await SignerStore.OpenAsync(settings.DatabasePath, create: true, cancellationToken);
        if (settings.LocalNodeConfigs.Count > 0)
        {
            _nodes = new LocalNodes(settings.LocalNodeConfigs, _loggers.CreateLogger("nodes"));
            await _nodes.StartAsync(cancellationToken);
        }
        _keys = new ZoneKeySource(settings, _loggers.CreateLogger("cluster"));
        _metrics.Watch(_keys.Client);
        if (_keys.Client is { } client)
        {
            var up = await client.WaitForNodesAsync(client.Threshold, TimeSpan.FromSeconds(10), cancellationToken);
            int answering = up.Count(r => r.Ok);
            if (answering < client.Threshold)
                _logger.LogError("only {Up} of {Nodes} cluster nodes answer, {Threshold} are needed to sign; serving what is committed and retrying: {Failures}",
                    answering, up.Count, client.Threshold, string.Join("; ", up.Where(r => !r.Ok).Select(r => $"node {r.NodeId}: {r.Error}")));
        }

        foreach (var zone in settings.Zones)
        {
            await EnsureKeysAsync(zone, cancellationToken);
            await StartZoneAsync(zone, cancellationToken);
        }
        var journal = new StoreJournal(_store);
        var tsig = new TsigVerifier(settings.TsigKeys.Values, _time);
        var transfers = new ZoneTransferServer(_catalog, AclFor, journal, tsig, _metrics);
        var dispatcher = new DnsRequestDispatcher(new QueryResponder(_catalog), transfers, new NotifyRouter(this), _metrics, tsig);
        _listener = new DnsListener(dispatcher, new DnsListenerOptions
        {
            Endpoints = settings.Listen.ToList(),
            OnError = (what, e) => _logger.LogError(e, "DNS service: {What} failed", what),
        });
        await _listener.StartAsync(cancellationToken);
        _logger.LogInformation("serving {Zones} zone(s) on {Endpoints}", settings.Zones.Count, string.Join(", ", _listener.BoundEndpoints));
    }

    /// <summary>
    /// A zone configured with GenerateKeys and without keys gets a KSK and a ZSK now: in the cluster (Ed25519 by
    /// distributed key generation, RSA dealt to the nodes and erased), or as key files in the key directory.
    /// </summary>
    private async Task EnsureKeysAsync(ZoneSettings zone, CancellationToken cancellationToken)
    {
        if (zone.GenerateKeys is not { } algorithm) return;
        try
        {
            _keys!.KeysFor(zone);
            return;
        }
        catch (Exception e) when (e is SignerConfigurationException or FileNotFoundException or DirectoryNotFoundException)
        {
            // No keys yet: make them. The cluster says so with a configuration error; a local key directory with no key
            // files for the zone (or no directory at all) says so with the I/O exception of KeyDirectory.Load.
        }
        _logger.LogInformation("zone {Zone}: no keys yet; generating a {Algorithm} KSK and ZSK", zone.Name, Dnssec.Keys.DnssecAlgorithms.Mnemonic(algorithm));
        if (_keys!.Client is { } client)
        {
            var manager = new Cluster.Keys.ClusterKeyManager(client, _loggers.CreateLogger("keys"));
            await client.WaitForNodesAsync(client.Config.Nodes.Count, TimeSpan.FromSeconds(30), cancellationToken);
            foreach (bool ksk in new[] { true, false })
            {
                var record = algorithm == ARSoft.Tools.Net.Dns.DnsSecAlgorithm.Ed25519
                    ? await manager.GenerateEd25519Async(zone.Name, ksk, null, cancellationToken)
                    : await manager.GenerateRsaAsync(zone.Name, algorithm, 2048, ksk, null, cancellationToken);
                _logger.LogInformation("zone {Zone}: generated {Role} {KeyId} (key tag {Tag}, {T} of {N})", zone.Name, ksk ? "KSK" : "ZSK", record.KeyId, record.KeyTag, record.Threshold, record.Parties);
            }
        }
        else
        {
            foreach (bool ksk in new[] { true, false })
            {
                using var key = Dnssec.Keys.LocalKey.Generate(zone.Origin, algorithm, ksk);
                Dnssec.Keys.BindKeyFile.Write(key, _settings!.KeyDirectory!);
                _logger.LogInformation("zone {Zone}: generated local {Role} key tag {Tag}", zone.Name, ksk ? "KSK" : "ZSK", key.KeyTag);
            }
        }
    }

    private TransferAcl? AclFor(DomainName zone) => _zones.GetValueOrDefault(zone)?.Settings.TransferAcl;

    private async Task StartZoneAsync(ZoneSettings zone, CancellationToken cancellationToken)
    {
        var logger = _loggers.CreateLogger("zone");
        var notifier = new SecondaryNotifier(zone, _metrics, logger, _time);
        var pipeline = new ZonePipeline(zone, _store!, _catalog, _keys!, notifier, _metrics, logger, _time);
        await pipeline.StartAsync(cancellationToken);
        PrimaryFollower? follower = null;
        ZoneFileWatcher? watcher = null;
        switch (zone.Source)
        {
            case PrimarySource primary:
                follower = new PrimaryFollower(pipeline, primary, _metrics, logger, _time);
                follower.Start();
                break;
            case FileSource file:
                watcher = new ZoneFileWatcher(pipeline, file, _metrics, logger, _time);
                await watcher.StartAsync(cancellationToken);
                break;
        }
        ImmutableInterlocked.Update(ref _zones, z => z.SetItem(zone.Origin, new ZoneRuntime(zone, pipeline, notifier, follower, watcher)));
    }

    private static async Task StopZoneAsync(ZoneRuntime zone)
    {
        if (zone.Follower is not null) await zone.Follower.DisposeAsync();
        if (zone.Watcher is not null) await zone.Watcher.DisposeAsync();
        await zone.Pipeline.DisposeAsync();
        await zone.Notifier.DisposeAsync();
    }

    /// <summary>SIGHUP: read the configuration again; start new zones, stop removed ones, restart changed ones.</summary>
    public async Task ReloadAsync(CancellationToken cancellationToken)
    {
        await _reloadGate.WaitAsync(cancellationToken);
        try
        {
            SignerSettings fresh;
            try
            {
                fresh = _loadSettings();
            }
            catch (SignerConfigurationException e)
            {
                _logger.LogError("configuration reload refused, the running configuration stays: {Reason}", e.Message);
                return;
            }
            var wanted = fresh.Zones.ToDictionary(z => z.Origin, CanonicalNameComparer.Instance);
            foreach (var (origin, running) in _zones)
            {
                if (wanted.TryGetValue(origin, out var settings) && Same(settings, running.Settings)) continue;
                ImmutableInterlocked.Update(ref _zones, z => z.Remove(origin));
                await StopZoneAsync(running);
                if (!wanted.ContainsKey(origin))
                {
                    _catalog.Remove(origin);
                    _logger.LogInformation("zone {Zone}: removed from the configuration; no longer served", running.Settings.Name);
                }
            }
            foreach (var zone in fresh.Zones)
            {
                if (_zones.ContainsKey(zone.Origin)) continue;
                await StartZoneAsync(zone, cancellationToken);
                _logger.LogInformation("zone {Zone}: (re)started from the reloaded configuration", zone.Name);
            }
            _settings = fresh;
            _logger.LogInformation("configuration reloaded: {Zones} zone(s)", fresh.Zones.Count);
        }
        finally
        {
            _reloadGate.Release();
        }
    }

    /// <summary>Settings that need no restart when they are equal; records compare the lists by reference, so compare by content.</summary>
    private static bool Same(ZoneSettings a, ZoneSettings b) =>
        a.Source.ToString() == b.Source.ToString() && a.Notify.SequenceEqual(b.Notify) && a.NotifyKey?.ToString() == b.NotifyKey?.ToString()
        && a.TransferAcl.Networks.SequenceEqual(b.TransferAcl.Networks) && a.TransferAcl.KeyNames.SetEquals(b.TransferAcl.KeyNames)
        && a.Policy.Nsec3 == b.Policy.Nsec3 && a.Policy.ZoneMdAlgorithms.SequenceEqual(b.Policy.ZoneMdAlgorithms) && a.Policy.Schedule == b.Policy.Schedule
        && a.SerialPolicy == b.SerialPolicy && a.KeyIds.SequenceEqual(b.KeyIds) && a.RefreshBatch == b.RefreshBatch;

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_listener is not null) await _listener.StopAsync(cancellationToken);
        foreach (var zone in _zones.Values) await StopZoneAsync(zone);
        _zones = _zones.Clear();
        _logger.LogInformation("stopped");
    }

    private int _disposed;

    /// <summary>Releases the listener, cluster client, store and local nodes; safe to call twice (the container holds
    /// this service under two registrations, itself and the hosted service, and disposes both).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        if (_listener is not null) await _listener.DisposeAsync();
        _keys?.Dispose();
        if (_store is not null) await _store.DisposeAsync();
        if (_nodes is not null) await _nodes.DisposeAsync();
        _reloadGate.Dispose();
    }

    /// <summary>NOTIFY for whichever zone it names goes to that zone's follower (through the current zone set).</summary>
    private sealed class NotifyRouter(SignerService service) : INotifyHandler
    {
        public Task HandleAsync(DnsRequest request, IDnsResponseSink responses, CancellationToken cancellationToken)
        {
            var zones = service._zones;
            var followers = zones.Where(z => z.Value.Follower is not null).ToDictionary(z => z.Key, z => z.Value.Follower!, CanonicalNameComparer.Instance);
            var primaries = zones.Where(z => z.Value.Settings.Source is PrimarySource)
                .ToDictionary(z => z.Key, z => (PrimarySource)z.Value.Settings.Source, CanonicalNameComparer.Instance);
            return new NotifyReceiver(followers, primaries, service._metrics, service._loggers.CreateLogger("notify"), service._time)
                .HandleAsync(request, responses, cancellationToken);
        }
    }
}
