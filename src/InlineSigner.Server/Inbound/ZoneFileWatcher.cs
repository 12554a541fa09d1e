using InlineSigner.Server.Configuration;
using InlineSigner.Server.Metrics;
using InlineSigner.Server.Signing;
using InlineSigner.Zones;
using Microsoft.Extensions.Logging;

namespace InlineSigner.Server.Inbound;

/// <summary>
/// A zone whose unsigned data is a master file: read at start (unless the store already holds that serial), then read
/// again whenever the file changes (FileSystemWatcher, with a poll of size and time as a safety net, since editors
/// replace files in many ways). A file that does not parse or check is reported with its file and line and changes
/// nothing served; a change whose SOA serial did not move forward is ignored with a warning, as BIND does.
/// </summary>
public sealed class ZoneFileWatcher : IAsyncDisposable
{
    private readonly ZonePipeline _pipeline;
    private readonly FileSource _source;
    private readonly SignerMetrics _metrics;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _changed = new(0, int.MaxValue);
    private readonly CancellationTokenSource _stopping = new();
    private FileSystemWatcher? _watcher;
    private Task? _loop;
    private (DateTime Time, long Length)? _seen;

    public ZoneFileWatcher(ZonePipeline pipeline, FileSource source, SignerMetrics metrics, ILogger logger, TimeProvider? time = null)
    {
        _pipeline = pipeline;
        _source = source;
        _metrics = metrics;
        _logger = logger;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>How often the file's size and time are compared even without a watcher event.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Quiet time after a change before reading, so an editor's write is read whole.</summary>
    public TimeSpan Settle { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Reads the file once now (the first version, or a change made while we were down), then watches it.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await ReadAsync("start", cancellationToken);
        var directory = Path.GetDirectoryName(_source.Path)!;
        try
        {
            _watcher = new FileSystemWatcher(directory, Path.GetFileName(_source.Path))
            {
                NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.FileName | NotifyFilters.CreationTime,
            };
            _watcher.Changed += (_, _) => _changed.Release();
            _watcher.Created += (_, _) => _changed.Release();
            _watcher.Renamed += (_, _) => _changed.Release();
            _watcher.EnableRaisingEvents = true;
        }
        catch (Exception e) when (e is IOException or ArgumentException or PlatformNotSupportedException)
        {
            _logger.LogWarning("zone {Zone}: cannot watch {File} ({Reason}); polling every {Seconds} s", _pipeline.Settings.Name, _source.Path, e.Message, PollInterval.TotalSeconds);
        }
        _loop = Task.Run(() => LoopAsync(_stopping.Token));
    }

    private async Task LoopAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                bool signalled = await _changed.WaitAsync(PollInterval, cancellationToken);
                if (!signalled && !Moved()) continue;
                await Task.Delay(Settle, _time, cancellationToken);
                while (_changed.CurrentCount > 0) await _changed.WaitAsync(cancellationToken);
                await ReadAsync("change", cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
        }
    }

    private (DateTime, long)? Stamp()
    {
        var info = new FileInfo(_source.Path);
        return info.Exists ? (info.LastWriteTimeUtc, info.Length) : null;
    }

    private bool Moved() => Stamp() != _seen;

    private async Task ReadAsync(string why, CancellationToken cancellationToken)
    {
        var zoneName = _pipeline.Settings.Name;
        _seen = Stamp();
        if (_seen is null)
        {
            _logger.LogError("zone {Zone}: zone file {File} is missing; still serving signed serial {Served}", zoneName, _source.Path, _pipeline.ServedSerial);
            return;
        }
        Zone zone;
        var warnings = new List<ZoneWarning>();
        try
        {
            zone = ZoneLoader.LoadFile(_source.Path, _pipeline.Settings.Origin, warnings);
        }
        catch (Exception e) when (e is ZoneFileException or IOException or UnauthorizedAccessException or FormatException)
        {
            _metrics.TransferIn(zoneName, "file", "rejected");
            _logger.LogError("zone {Zone}: {Message}; still serving signed serial {Served}", zoneName, e.Message, _pipeline.ServedSerial);
            return;
        }
        foreach (var warning in warnings) _logger.LogWarning("zone {Zone}: {Warning}", zoneName, warning.ToString());
        var current = _pipeline.Unsigned;
        if (current is not null && zone.Serial == current.Serial && !ZoneDiff.Compute(current, zone).IsEmpty)
        {
            _logger.LogWarning("zone {Zone}: {File} changed but its SOA serial is still {Serial}; increase the serial to publish the change", zoneName, _source.Path, zone.Serial);
            return;
        }
        if (current is not null && Protocol.SerialNumber.Compare(zone.Serial, current.Serial) == Protocol.SerialOrder.Before)
        {
            _logger.LogWarning("zone {Zone}: {File} has serial {Serial}, older than the {Current} we hold; ignored", zoneName, _source.Path, zone.Serial, current.Serial);
            return;
        }
        try
        {
            await _pipeline.SubmitAsync(zone, "file", null, cancellationToken);
            _metrics.TransferIn(zoneName, "file", "ok");
        }
        catch (UnsignedZoneRejectedException e)
        {
            _metrics.TransferIn(zoneName, "file", "rejected");
            _logger.LogError("{Message}; still serving signed serial {Served}", e.Message, _pipeline.ServedSerial);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stopping.Cancel();
        _watcher?.Dispose();
        if (_loop is not null)
        {
            try { await _loop; } catch (OperationCanceledException) { }
        }
        _stopping.Dispose();
    }
}
