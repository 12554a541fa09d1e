using System.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Protocol;
using InlineSigner.Server.Configuration;
using InlineSigner.Server.Metrics;
using Microsoft.Extensions.Logging;

namespace InlineSigner.Server.Outbound;

/// <summary>
/// NOTIFY (RFC 1996) to a zone's secondaries after each new signed version: to every target at once, each retried with
/// back-off until it acknowledges (a response with our ID and opcode), at most <see cref="MaxAttempts"/> times. A newer
/// version supersedes an older one still being retried: the old loop stops and the target is told of the newest.
/// </summary>
public sealed class SecondaryNotifier : IAsyncDisposable
{
    public const int MaxAttempts = 8;

    private readonly ZoneSettings _zone;
    private readonly SignerMetrics _metrics;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly NotifySender _sender;
    private readonly Dictionary<IPEndPoint, (uint Serial, CancellationTokenSource Cancel, Task Loop)> _loops = [];
    private readonly object _gate = new();
    private readonly CancellationTokenSource _stopping = new();

    public SecondaryNotifier(ZoneSettings zone, SignerMetrics metrics, ILogger logger, TimeProvider? time = null)
    {
        _zone = zone;
        _metrics = metrics;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _sender = new NotifySender(_time);
    }

    /// <summary>First retry after this; doubles per attempt up to <see cref="MaxRetryDelay"/>.</summary>
    public TimeSpan FirstRetryDelay { get; init; } = TimeSpan.FromSeconds(1);
    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(60);
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Tells every secondary of the version with <paramref name="soa"/> (returns at once; the sending runs in the background).</summary>
    public void Notify(SoaRecord soa)
    {
        lock (_gate)
        {
            if (_stopping.IsCancellationRequested) return;
            foreach (var target in _zone.Notify)
            {
                if (_loops.TryGetValue(target, out var running))
                {
                    if (!SerialNumber.IsNewer(soa.SerialNumber, running.Serial) && !running.Loop.IsCompleted) continue;
                    running.Cancel.Cancel(); // superseded
                }
                var cancel = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
                _loops[target] = (soa.SerialNumber, cancel, Task.Run(() => NotifyLoopAsync(target, soa, cancel.Token)));
            }
        }
    }

    private async Task NotifyLoopAsync(IPEndPoint target, SoaRecord soa, CancellationToken cancellationToken)
    {
        var name = target.ToString();
        var delay = FirstRetryDelay;
        for (int attempt = 1; attempt <= MaxAttempts && !cancellationToken.IsCancellationRequested; attempt++)
        {
            try
            {
                _metrics.NotifySent(_zone.Name, name);
                var code = await _sender.SendNotifyAsync(target, _zone.Origin, soa, _zone.NotifyKey, Timeout, cancellationToken);
                // Any answer is an acknowledgement (RFC 1996 §4.7); an error code is worth a line in the log.
                _metrics.NotifyAcknowledged(_zone.Name, name);
                if (code == ReturnCode.NoError)
                    _logger.LogInformation("zone {Zone} serial {Serial}: NOTIFY acknowledged by {Target}", _zone.Name, soa.SerialNumber, name);
                else
                    _logger.LogWarning("zone {Zone} serial {Serial}: {Target} answered our NOTIFY with {Code}", _zone.Name, soa.SerialNumber, name, code);
                return;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is DnsProtocolException or System.Net.Sockets.SocketException or TimeoutException)
            {
                _logger.LogDebug("zone {Zone} serial {Serial}: NOTIFY to {Target} attempt {Attempt}: {Reason}", _zone.Name, soa.SerialNumber, name, attempt, e.Message);
            }
            try
            {
                await Task.Delay(delay, _time, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            delay = delay * 2 > MaxRetryDelay ? MaxRetryDelay : delay * 2;
        }
        if (cancellationToken.IsCancellationRequested) return;
        _metrics.NotifyFailed(_zone.Name, name);
        _logger.LogWarning("zone {Zone} serial {Serial}: {Target} did not acknowledge NOTIFY after {Attempts} attempts; it will find the version at its next SOA refresh",
            _zone.Name, soa.SerialNumber, name, MaxAttempts);
    }

    public async ValueTask DisposeAsync()
    {
        Task[] loops;
        lock (_gate)
        {
            _stopping.Cancel();
            loops = _loops.Values.Select(l => l.Loop).ToArray();
        }
        try { await Task.WhenAll(loops); } catch (OperationCanceledException) { }
        lock (_gate)
        {
            foreach (var (_, cancel, _) in _loops.Values) cancel.Dispose();
            _loops.Clear();
        }
        _stopping.Dispose();
    }
}
