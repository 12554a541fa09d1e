namespace InlineSigner.Cluster.Node;

/// <summary>
/// A bounded queue that serves its sources round-robin: each source (a client connection) has its own FIFO with a
/// cap, and consumers take one item from each source with work in turn. A client that floods the node fills only its
/// own queue; everyone else's next request is at most one item per busy source away.
/// </summary>
public sealed class FairQueue<TSource, TItem> : IDisposable where TSource : notnull
{
    private readonly object _gate = new();
    private readonly Dictionary<TSource, Queue<TItem>> _queues;
    private readonly LinkedList<TSource> _ready = new(); // sources with work, in service order
    private readonly SemaphoreSlim _available = new(0);
    private readonly int _perSourceLimit;
    private int _count;
    private bool _completed;

    public FairQueue(int perSourceLimit, IEqualityComparer<TSource>? comparer = null)
    {
        _perSourceLimit = perSourceLimit;
        _queues = new Dictionary<TSource, Queue<TItem>>(comparer);
    }

    public int Count { get { lock (_gate) return _count; } }

    /// <summary>Adds an item for <paramref name="source"/>; false when that source already has its limit waiting.</summary>
    public bool TryEnqueue(TSource source, TItem item, bool ignoreLimit = false)
    {
        lock (_gate)
        {
            if (_completed) return false;
            if (!_queues.TryGetValue(source, out var queue)) _queues[source] = queue = new Queue<TItem>();
            if (!ignoreLimit && queue.Count >= _perSourceLimit) return false;
            queue.Enqueue(item);
            if (queue.Count == 1) _ready.AddLast(source);
            _count++;
        }
        _available.Release();
        return true;
    }

    /// <summary>Takes the next item round-robin across sources; waits while empty. Throws when cancelled or completed and drained.</summary>
    public async Task<(TSource Source, TItem Item)> DequeueAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            await _available.WaitAsync(cancellationToken);
            if (TryTake(out var result)) return result;
            lock (_gate) if (_completed) throw new OperationCanceledException("queue completed");
        }
    }

    /// <summary>Blocking form for dedicated threads.</summary>
    public (TSource Source, TItem Item) Dequeue(CancellationToken cancellationToken)
    {
        while (true)
        {
            _available.Wait(cancellationToken);
            if (TryTake(out var result)) return result;
            lock (_gate) if (_completed) throw new OperationCanceledException("queue completed");
        }
    }

    private bool TryTake(out (TSource, TItem) result)
    {
        lock (_gate)
        {
            var first = _ready.First;
            if (first is null) { result = default; return false; }
            var source = first.Value;
            var queue = _queues[source];
            var item = queue.Dequeue();
            _ready.RemoveFirst();
            if (queue.Count > 0) _ready.AddLast(source);
            else _queues.Remove(source);
            _count--;
            result = (source, item);
            return true;
        }
    }

    /// <summary>Wakes every waiting consumer; nothing more is accepted.</summary>
    public void Complete()
    {
        lock (_gate) _completed = true;
        _available.Release(1024);
    }

    public void Dispose() => _available.Dispose();
}

/// <summary>Request ids seen within the clock window, to refuse replays. Bounded: when full of live ids, new requests are refused.</summary>
public sealed class ReplayCache(int capacity, TimeSpan window)
{
    private readonly Dictionary<UInt128, long> _seen = new();
    private readonly Queue<(UInt128 Id, long ExpiresMs)> _order = new();

    public int Count => _seen.Count;

    public enum Outcome { Fresh, Replayed, Full }

    /// <summary>Records <paramref name="requestId"/>; Replayed if it was seen within the window.</summary>
    public Outcome Check(ReadOnlySpan<byte> requestId, long nowMs)
    {
        while (_order.Count > 0 && _order.Peek().ExpiresMs <= nowMs)
        {
            var (old, expires) = _order.Dequeue();
            if (_seen.TryGetValue(old, out var e) && e == expires) _seen.Remove(old);
        }
        var id = System.Buffers.Binary.BinaryPrimitives.ReadUInt128BigEndian(requestId);
        if (_seen.ContainsKey(id)) return Outcome.Replayed;
        if (_seen.Count >= capacity) return Outcome.Full;
        // An id is remembered for twice the window: a request stamped at the far edge stays refused as long as its timestamp is acceptable.
        long expiresAt = nowMs + 2 * (long)window.TotalMilliseconds;
        _seen[id] = expiresAt;
        _order.Enqueue((id, expiresAt));
        return Outcome.Fresh;
    }
}
