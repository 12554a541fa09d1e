namespace InlineSigner.Cluster.Client;

/// <summary>One node's health at a moment, for logs, `keys list` and the daemon's Prometheus metrics.</summary>
public sealed record NodeHealthSnapshot(
    int NodeId,
    string Endpoint,
    bool Up,
    bool Penalised,
    TimeSpan? Latency,
    long Requests,
    long Errors,
    long Timeouts,
    long BadShares,
    DateTimeOffset? LastSeen,
    string? LastError,
    int InFlightItems)
{
    public override string ToString() =>
        $"node {NodeId} ({Endpoint}): {(Up ? "up" : "down")}{(Penalised ? ", deprioritised for bad shares" : "")}, " +
        $"latency {(Latency is { } l ? $"{l.TotalMilliseconds:F1} ms" : "-")}, requests {Requests}, errors {Errors}, timeouts {Timeouts}, bad shares {BadShares}" +
        (LastError is null ? "" : $", last error: {LastError}");
}

/// <summary>
/// What the client knows about one node, updated by every request and by the periodic ping. Thread-safe. Drives node
/// choice: up, not penalised for bad shares, least work in flight, lowest latency first.
/// </summary>
internal sealed class NodeHealth(int nodeId, string endpoint, TimeProvider time)
{
    private readonly object _gate = new();
    private bool _up = true; // optimistic until a request says otherwise: a fresh client tries every node
    private double? _latencyMs;
    private double? _perItemMs;
    private long _requests, _errors, _timeouts, _badShares;
    private DateTimeOffset? _lastSeen;
    private DateTimeOffset _penalisedUntil;
    private string? _lastError;
    private int _inFlightItems;

    public int NodeId { get; } = nodeId;
    public string Endpoint { get; } = endpoint;

    public bool Up { get { lock (_gate) return _up; } }

    public bool Penalised { get { lock (_gate) return time.GetUtcNow() < _penalisedUntil; } }

    public int InFlightItems => Volatile.Read(ref _inFlightItems);

    /// <summary>
    /// Milliseconds this node spends per signing item (EWMA), or null before the first measurement. Measured as a
    /// request's time over its own items plus the items that were already queued ahead of it, so a deep queue does not
    /// read as a slow node.
    /// </summary>
    public double? PerItemMs { get { lock (_gate) return _perItemMs; } }

    /// <summary>Counts <paramref name="items"/> as sent; returns how many were already in flight ahead of them.</summary>
    public int BeginItems(int items) => Interlocked.Add(ref _inFlightItems, items) - items;
    public void EndItems(int items) => Interlocked.Add(ref _inFlightItems, -items);

    /// <summary>How long a request of <paramref name="items"/> sent now should take: behind everything in flight. Null when unknown.</summary>
    public double? ExpectedMs(int items) => PerItemMs is { } perItem ? perItem * (InFlightItems + items) : null;

    public void Success(TimeSpan elapsed, int items, int itemsAhead = 0)
    {
        lock (_gate)
        {
            _up = true;
            _requests++;
            _lastSeen = time.GetUtcNow();
            double ms = elapsed.TotalMilliseconds;
            _latencyMs = _latencyMs is { } l ? 0.8 * l + 0.2 * ms : ms;
            if (items > 0)
            {
                double perItem = ms / (items + Math.Max(0, itemsAhead));
                _perItemMs = _perItemMs is { } p ? 0.8 * p + 0.2 * perItem : perItem;
            }
        }
    }

    /// <summary>The node answered (so it is up) but with an error.</summary>
    public void ErrorReply(string message)
    {
        lock (_gate)
        {
            _up = true;
            _requests++;
            _errors++;
            _lastSeen = time.GetUtcNow();
            _lastError = message;
        }
    }

    public void Unreachable(string message, bool timeout)
    {
        lock (_gate)
        {
            _up = false;
            _requests++;
            if (timeout) _timeouts++;
            else _errors++;
            _lastError = message;
        }
    }

    /// <summary>A share from this node was proven wrong: counted and kept out of first choice for <paramref name="penalty"/>.</summary>
    public void BadShare(int count, TimeSpan penalty, string message)
    {
        lock (_gate)
        {
            _badShares += count;
            _penalisedUntil = time.GetUtcNow() + penalty;
            _lastError = message;
        }
    }

    public NodeHealthSnapshot Snapshot()
    {
        lock (_gate)
            return new NodeHealthSnapshot(NodeId, Endpoint, _up, time.GetUtcNow() < _penalisedUntil, _latencyMs is { } l ? TimeSpan.FromMilliseconds(l) : null,
                _requests, _errors, _timeouts, _badShares, _lastSeen, _lastError, InFlightItems);
    }
}
