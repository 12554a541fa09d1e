using InlineSigner.Cluster.Keys;
using InlineSigner.Cluster.Protocol;
using InlineSigner.Threshold;

namespace InlineSigner.Cluster.Node;

/// <summary>
/// A key share loaded for signing: the scheme's <see cref="IShareHolder"/> and the durability of its single-use
/// numbers. Reference-counted: a key deleted while a batch is using it is disposed (its secret zeroed) only when the
/// last user is done.
/// </summary>
internal sealed class HeldKey : IDisposable
{
    /// <summary>
    /// Single-use numbers (FROST nonces) are made durable in blocks of this many: one store write per block instead of
    /// one per batch, and a restart resumes above the whole block (skipping numbers is free; spending one twice would
    /// leak the share).
    /// </summary>
    public const ulong DurableBlock = 4096;

    private readonly object _gate = new();
    private int _users = 1; // the key ring's own reference
    private ulong _durableNext;  // the store says numbers below this may have been spent: a restart starts here
    private (ulong Target, Task Write)? _pendingWrite;

    private HeldKey(StoredKey stored, IShareHolder holder)
    {
        Stored = stored;
        Holder = holder;
        _durableNext = stored.NextNonce;
    }

    public StoredKey Stored { get; }
    public string KeyId => Stored.KeyId;
    public IShareHolder Holder { get; }

    public bool TryAcquire()
    {
        while (true)
        {
            int users = Volatile.Read(ref _users);
            if (users == 0) return false;
            if (Interlocked.CompareExchange(ref _users, users + 1, users) == users) return true;
        }
    }

    public void Release()
    {
        if (Interlocked.Decrement(ref _users) == 0) Holder.Dispose();
    }

    public void Dispose() => Release();

    /// <exception cref="FormatException">the stored public key or share does not decode.</exception>
    /// <exception cref="ArgumentException">they do not fit together, or the share is not this node's.</exception>
    public static HeldKey Load(StoredKey stored, int nodeId)
    {
        var holder = ThresholdSchemes.Holder(stored.Scheme, stored.PublicKey, stored.Share, stored.NonceSeed, stored.NextNonce);
        if (holder.Index != nodeId)
        {
            holder.Dispose();
            throw new ProtocolFormatException($"key {stored.KeyId}: the share is #{holder.Index}, but this is node {nodeId}");
        }
        return new HeldKey(stored, holder);
    }

    /// <summary>
    /// Completes once the store records every single-use number below <paramref name="spentBelow"/> as spent, so an
    /// answer made with them may leave the node. Usually at once (an earlier block covers it); otherwise one write,
    /// shared by every batch that needs it, moves the durable bound a block past what is needed.
    /// </summary>
    public Task EnsureDurableAsync(ulong spentBelow, Func<ulong, Task> persist)
    {
        lock (_gate)
        {
            if (spentBelow <= _durableNext) return Task.CompletedTask;
            if (_pendingWrite is { } pending && pending.Target >= spentBelow && !pending.Write.IsFaulted && !pending.Write.IsCanceled) return pending.Write;
            ulong target = spentBelow + DurableBlock;
            var write = Task.Run(async () =>
            {
                await persist(target);
                lock (_gate) if (target > _durableNext) _durableNext = target;
            });
            _pendingWrite = (target, write);
            return write;
        }
    }
}
