using ARSoft.Tools.Net.Dns;
using InlineSigner.Protocol;
using InlineSigner.Server.Configuration;
using InlineSigner.Server.Metrics;
using InlineSigner.Server.Signing;
using InlineSigner.Zones;
using Microsoft.Extensions.Logging;

namespace InlineSigner.Server.Inbound;

/// <summary>
/// The secondary side of a zone whose unsigned data comes from a hidden primary (RFC 1034 §4.3.5, RFC 1995, RFC 1996,
/// RFC 5936): SOA checks at the SOA REFRESH interval (RETRY after a failure) and at once on NOTIFY; IXFR from the serial
/// we hold, AXFR when the primary answers with a full zone, refuses IXFR, or sends deltas that do not apply; every
/// transfer checked complete and consistent before the pipeline signs it. A failed transfer changes nothing served.
/// Past SOA EXPIRE without a successful check the zone is marked expired (SERVFAIL) until the primary answers again.
/// </summary>
public sealed class PrimaryFollower : IAsyncDisposable
{
    private readonly ZonePipeline _pipeline;
    private readonly PrimarySource _primary;
    private readonly SignerMetrics _metrics;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly ZoneTransferClient _client;
    private readonly SemaphoreSlim _wake = new(0, int.MaxValue);
    private readonly CancellationTokenSource _stopping = new();
    private Task? _loop;
    private DateTimeOffset? _lastContact;
    private DateTimeOffset? _notifiedAt;

    public PrimaryFollower(ZonePipeline pipeline, PrimarySource primary, SignerMetrics metrics, ILogger logger, TimeProvider? time = null,
        ZoneTransferLimits? limits = null)
    {
        _pipeline = pipeline;
        _primary = primary;
        _metrics = metrics;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _client = new ZoneTransferClient(limits, _time);
    }

    /// <summary>Timeout of one SOA query, or of each wait inside a transfer.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Bounds on the timers the primary's SOA sets (a SOA saying REFRESH 1 s or 1 year is taken within these).</summary>
    public TimeSpan MinInterval { get; init; } = TimeSpan.FromSeconds(1);
    public TimeSpan MaxInterval { get; init; } = TimeSpan.FromDays(1);

    private string ZoneName => _pipeline.Settings.Name;

    public void Start()
    {
        // Contact with the primary counts from the last committed version we hold (a restart does not reset EXPIRE).
        _loop = Task.Run(() => LoopAsync(_stopping.Token));
    }

    /// <summary>The primary sent NOTIFY: check its SOA now.</summary>
    public void Notified()
    {
        _notifiedAt ??= _time.GetUtcNow();
        _wake.Release();
    }

    private async Task LoopAsync(CancellationToken cancellationToken)
    {
        var wait = TimeSpan.Zero;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                if (wait > TimeSpan.Zero) await _wake.WaitAsync(wait, cancellationToken);
                while (_wake.CurrentCount > 0) await _wake.WaitAsync(cancellationToken); // several NOTIFYs: one check
                var notifiedAt = _notifiedAt;
                _notifiedAt = null;
                bool ok = await CheckAsync(notifiedAt, cancellationToken);
                var soa = CurrentSoa();
                wait = Clamp(ok ? Seconds(soa?.RefreshInterval ?? 60) : Seconds(soa?.RetryInterval ?? 10));
                CheckExpiry(soa);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
        }
    }

    private SoaRecord? CurrentSoa() => _pipeline.Unsigned?.Soa;

    private static TimeSpan Seconds(int value) => TimeSpan.FromSeconds(Math.Max(0, value));

    private TimeSpan Clamp(TimeSpan value) => value < MinInterval ? MinInterval : value > MaxInterval ? MaxInterval : value;

    private void CheckExpiry(SoaRecord? soa)
    {
        if (soa is null) return;
        var last = _lastContact;
        if (last is null) return;
        bool expired = _time.GetUtcNow() - last.Value > Seconds(soa.ExpireInterval);
        if (expired != _pipeline.IsExpired) _pipeline.SetExpired(expired);
    }

    /// <summary>One SOA check and, when the primary is ahead, one transfer. True when the primary answered and what it sent (if anything) was good.</summary>
    private async Task<bool> CheckAsync(DateTimeOffset? notifiedAt, CancellationToken cancellationToken)
    {
        var current = _pipeline.Unsigned;
        _lastContact ??= _pipeline.LastCommitted; // after a restart, contact counts from the last committed version
        SoaRecord primarySoa;
        try
        {
            primarySoa = await _client.SoaQueryAsync(_primary.Endpoint, _pipeline.Settings.Origin, _primary.Key, Timeout, cancellationToken);
        }
        catch (DnsProtocolException e)
        {
            _metrics.TransferIn(ZoneName, "SOA", "failed");
            _logger.LogWarning("zone {Zone}: SOA query to {Primary} failed: {Reason}", ZoneName, _primary.Endpoint, e.Message);
            return false;
        }
        _lastContact = _time.GetUtcNow();
        if (_pipeline.IsExpired && current is not null && !SerialNumber.IsNewer(primarySoa.SerialNumber, current.Serial)) _pipeline.SetExpired(false);
        if (current is not null && !SerialNumber.IsNewer(primarySoa.SerialNumber, current.Serial))
        {
            if (primarySoa.SerialNumber != current.Serial)
                _logger.LogWarning("zone {Zone}: primary {Primary} has serial {Theirs}, older than ours {Ours}; keeping ours", ZoneName, _primary.Endpoint, primarySoa.SerialNumber, current.Serial);
            return true;
        }
        try
        {
            var fresh = current is null ? await AxfrAsync(cancellationToken) : await IxfrOrAxfrAsync(current, cancellationToken);
            if (fresh is null) return true;
            await _pipeline.SubmitAsync(fresh.Value.Zone, fresh.Value.Kind, notifiedAt, cancellationToken);
            return true;
        }
        catch (DnsProtocolException e)
        {
            _logger.LogError("zone {Zone}: transfer from {Primary} failed; still serving signed serial {Served}: {Reason}", ZoneName, _primary.Endpoint,
                _pipeline.ServedSerial, e.Message);
            return false;
        }
        catch (UnsignedZoneRejectedException e)
        {
            _metrics.TransferIn(ZoneName, "zone", "rejected");
            _logger.LogError("{Message}; still serving signed serial {Served}", e.Message, _pipeline.ServedSerial);
            return false;
        }
    }

    private async Task<(Zone Zone, string Kind)?> AxfrAsync(CancellationToken cancellationToken)
    {
        try
        {
            var records = await _client.AxfrAsync(_primary.Endpoint, _pipeline.Settings.Origin, _primary.Key, Timeout, cancellationToken);
            var zone = BuildZone(records, "AXFR");
            _metrics.TransferIn(ZoneName, "AXFR", "ok");
            _logger.LogInformation("zone {Zone}: AXFR of serial {Serial} from {Primary}: {Records} records", ZoneName, zone.Serial, _primary.Endpoint, records.Count);
            return (zone, "AXFR");
        }
        catch (Exception e) when (e is DnsProtocolException or UnsignedZoneRejectedException)
        {
            _metrics.TransferIn(ZoneName, "AXFR", "failed");
            throw;
        }
    }

    private async Task<(Zone Zone, string Kind)?> IxfrOrAxfrAsync(Zone current, CancellationToken cancellationToken)
    {
        IxfrResult result;
        try
        {
            result = await _client.IxfrAsync(_primary.Endpoint, _pipeline.Settings.Origin, current.Serial, _primary.Key, Timeout, cancellationToken);
        }
        catch (ZoneTransferException e) when (e.Failure is DnsFailure.Refused or DnsFailure.NotAuthoritative or DnsFailure.IxfrUnavailable or DnsFailure.ServerError or DnsFailure.Malformed)
        {
            _metrics.TransferIn(ZoneName, "IXFR", "failed");
            _logger.LogWarning("zone {Zone}: IXFR from {Primary} failed ({Reason}); trying AXFR", ZoneName, _primary.Endpoint, e.Message);
            return await AxfrAsync(cancellationToken);
        }
        switch (result)
        {
            case IxfrResult.UpToDate:
                _metrics.TransferIn(ZoneName, "IXFR", "up_to_date");
                return null;
            case IxfrResult.Full full:
                _metrics.TransferIn(ZoneName, "IXFR", "full");
                _logger.LogInformation("zone {Zone}: the primary answered IXFR from {Serial} with the whole zone ({Records} records)", ZoneName, current.Serial, full.Records.Count);
                return (BuildZone(full.Records, "IXFR (full)"), "IXFR-full");
            case IxfrResult.Incremental incremental:
                try
                {
                    var zone = IxfrApplier.Apply(current, incremental.Deltas);
                    _metrics.TransferIn(ZoneName, "IXFR", "ok");
                    _logger.LogInformation("zone {Zone}: IXFR {From} -> {To} from {Primary}: {Deltas} delta(s), -{Deleted}/+{Added} records", ZoneName, current.Serial, zone.Serial,
                        _primary.Endpoint, incremental.Deltas.Count, incremental.Deltas.Sum(d => d.Deleted.Count), incremental.Deltas.Sum(d => d.Added.Count));
                    return (zone, "IXFR");
                }
                catch (IxfrNotApplicableException e)
                {
                    _metrics.TransferIn(ZoneName, "IXFR", "not_applicable");
                    _logger.LogWarning("zone {Zone}: IXFR from {Primary} does not apply to what we hold ({Reason}); trying AXFR", ZoneName, _primary.Endpoint, e.Message);
                    return await AxfrAsync(cancellationToken);
                }
            default:
                throw new InvalidOperationException($"unknown IXFR result {result}");
        }
    }

    /// <summary>A transferred record list as a zone, with the structural checks a zone file gets (a bad one is rejected).</summary>
    private Zone BuildZone(IReadOnlyList<DnsRecordBase> records, string what)
    {
        Zone zone;
        try
        {
            zone = InlineSigner.Zones.Zone.FromRecords(_pipeline.Settings.Origin, records);
        }
        catch (ArgumentException e)
        {
            throw new UnsignedZoneRejectedException($"zone {ZoneName}: {what} from {_primary.Endpoint} is not a valid zone: {e.Message}", e);
        }
        if (ZoneChecks.FindStructuralProblem(zone) is { } problem)
            throw new UnsignedZoneRejectedException($"zone {ZoneName}: {what} from {_primary.Endpoint} is not a valid zone: {problem.Message}");
        return zone;
    }

    public async ValueTask DisposeAsync()
    {
        _stopping.Cancel();
        if (_loop is not null)
        {
            try { await _loop; } catch (OperationCanceledException) { }
        }
        _stopping.Dispose();
    }
}
