using System.Buffers.Binary;
using System.Security.Cryptography;
using InlineSigner.Cluster.Keys;
using InlineSigner.Cluster.Protocol;
using InlineSigner.Threshold.Frost;
using InlineSigner.Threshold.Rsa;

namespace InlineSigner.Cluster.Node;

/// <summary>
/// A key share loaded for signing. Reference-counted: a key deleted while a batch is using it is disposed (its
/// secret zeroed) only when the last user is done.
/// </summary>
internal abstract class HeldKey : IDisposable
{
    private int _users = 1; // the key ring's own reference
    protected HeldKey(StoredKey stored) => Stored = stored;

    public StoredKey Stored { get; }
    public string KeyId => Stored.KeyId;

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
        if (Interlocked.Decrement(ref _users) == 0) DisposeSecrets();
    }

    public void Dispose() => Release();

    protected abstract void DisposeSecrets();

    public static HeldKey Load(StoredKey stored, int nodeId) => stored.Scheme switch
    {
        KeyScheme.ShoupRsa => new HeldRsaKey(stored, nodeId),
        KeyScheme.FrostEd25519 => new HeldFrostKey(stored, nodeId),
        _ => throw new ProtocolFormatException($"unknown scheme {stored.Scheme}"),
    };
}

internal sealed class HeldRsaKey : HeldKey
{
    public HeldRsaKey(StoredKey stored, int nodeId) : base(stored)
    {
        PublicKey = ThresholdRsaPublicKey.Decode(stored.PublicKey);
        using var share = RsaKeyShare.Decode(stored.Share);
        if (share.Index != nodeId) throw new ProtocolFormatException($"key {stored.KeyId}: the share is #{share.Index}, but this is node {nodeId}");
        Holder = new RsaShareHolder(PublicKey, share);
    }

    public ThresholdRsaPublicKey PublicKey { get; }
    public RsaShareHolder Holder { get; }

    /// <summary>
    /// Signs a random message with a proof and checks the proof against this party's public verification key: a share
    /// that does not belong to the public key is refused before it is ever stored.
    /// </summary>
    public bool SelfCheck()
    {
        var em = new byte[PublicKey.ModulusBytes];
        RandomNumberGenerator.Fill(em.AsSpan(2));
        em[1] = 1;
        var share = Holder.Sign(em, withProof: true);
        return ThresholdRsaCombiner.VerifyShare(PublicKey, em, share);
    }

    protected override void DisposeSecrets() => Holder.Dispose();
}

/// <summary>
/// A FROST share and its nonce book-keeping. Nonce number k's secrets are derived from the stored nonce seed
/// (HMAC-SHA256(seed, label ‖ k) as the randomness of RFC 9591's nonce_generate), so commitments handed out before a
/// restart stay valid after it, while <see cref="StoredKey.NextNonce"/> — raised on disk before any share made with a
/// nonce leaves the node — keeps every number single-use.
/// </summary>
internal sealed class HeldFrostKey : HeldKey
{
    private readonly object _gate = new();
    /// <summary>
    /// Nonce numbers are made durable in blocks of this many: one store write per block instead of one per batch, and
    /// a restart resumes above the whole block (skipping numbers is free; spending one twice would leak the share).
    /// </summary>
    public const ulong DurableBlock = 4096;

    /// <summary>
    /// Round-one nonces kept (by number) for the round two that spends them, at most this many per key: a signing item
    /// then does not derive its nonce a second time (two base-point multiplications and four hashes). A number not
    /// kept — beyond this bound, or handed out before a restart — is derived again; nothing else depends on the cache.
    /// </summary>
    public const int MaxKeptNonces = 4096;

    private ulong _issuedNext;   // next number round one hands out
    private ulong _reservedNext; // lowest number round two may still spend
    private ulong _durableNext;  // the store says numbers below this may have been spent: a restart starts here
    private (ulong Target, Task Write)? _pendingWrite;
    private readonly Dictionary<ulong, FrostNonce> _kept = new();

    public HeldFrostKey(StoredKey stored, int nodeId) : base(stored)
    {
        PublicKey = FrostKeyCodec.DecodePublicKey(stored.PublicKey);
        Share = FrostKeyCodec.DecodeShare(stored.Share);
        if (Share.Identifier != nodeId) throw new ProtocolFormatException($"key {stored.KeyId}: the share is #{Share.Identifier}, but this is node {nodeId}");
        if (stored.NonceSeed.Length != 32) throw new ProtocolFormatException($"key {stored.KeyId}: nonce seed missing");
        _issuedNext = _reservedNext = _durableNext = stored.NextNonce;
    }

    public FrostPublicKey PublicKey { get; }
    public FrostKeyShare Share { get; }

    /// <summary>How many round-one nonces are kept for round two now.</summary>
    public int KeptNonces { get { lock (_gate) return _kept.Count; } }

    public bool SelfCheck() =>
        PublicKey.VerificationShares.TryGetValue(Share.Identifier, out var expected) && Share.VerificationShare().AsSpan().SequenceEqual(expected);

    /// <summary>Hands out the next <paramref name="count"/> nonce numbers (round one).</summary>
    public ulong IssueNonces(int count)
    {
        lock (_gate)
        {
            var first = Math.Max(_issuedNext, _reservedNext);
            _issuedNext = first + (ulong)count;
            return first;
        }
    }

    /// <summary>
    /// Reserves the nonce numbers of a round-two batch: they must increase strictly and start at or above every number
    /// reserved before. Returns the new lower bound the caller must make durable before releasing shares, or an error.
    /// </summary>
    public (ulong NextNonce, string? Error) Reserve(IReadOnlyList<ulong> nonces)
    {
        lock (_gate)
        {
            ulong floor = _reservedNext;
            for (int i = 0; i < nonces.Count; i++)
            {
                if (nonces[i] < _reservedNext) return (0, $"nonce {nonces[i]} is already used or skipped (next usable is {_reservedNext})");
                if (nonces[i] < floor) return (0, $"nonce numbers must increase strictly within a batch (item {i}: {nonces[i]})");
                if (nonces[i] == ulong.MaxValue) return (0, "nonce number out of range");
                floor = nonces[i] + 1;
            }
            // Numbers this batch skips can never be spent now: their kept nonces go (zeroed).
            ulong from = _reservedNext;
            foreach (var nonce in nonces)
            {
                DropKept(from, nonce);
                from = nonce + 1;
            }
            _reservedNext = floor;
            return (floor, null);
        }
    }

    /// <summary>Under the lock: disposes the kept nonces numbered <paramref name="from"/> up to (not including) <paramref name="to"/>.</summary>
    private void DropKept(ulong from, ulong to)
    {
        if (from >= to || _kept.Count == 0) return;
        if (to - from <= (ulong)_kept.Count)
        {
            for (ulong k = from; k < to; k++)
                if (_kept.Remove(k, out var nonce)) nonce.Dispose();
            return;
        }
        // A wide gap (another client's batch, a restart's skip): cheaper to look at what is kept.
        foreach (var k in _kept.Keys.Where(k => k >= from && k < to).ToList())
            if (_kept.Remove(k, out var nonce)) nonce.Dispose();
    }

    /// <summary>Drops the kept nonces of a reserved batch that failed before spending them all (they can never be spent now).</summary>
    public void Forget(IEnumerable<ulong> numbers)
    {
        lock (_gate)
        {
            foreach (var number in numbers)
                if (_kept.Remove(number, out var nonce)) nonce.Dispose();
        }
    }

    /// <summary>
    /// Round one for number <paramref name="number"/> (handed out by <see cref="IssueNonces"/>): derives the nonce,
    /// keeps it for round two while there is room, and returns its public commitment.
    /// </summary>
    public FrostCommitment Commit(ulong number)
    {
        var nonce = DeriveNonce(number);
        lock (_gate)
        {
            if (number >= _reservedNext && _kept.Count < MaxKeptNonces && _kept.TryAdd(number, nonce)) return nonce.Commitment;
        }
        nonce.Dispose();
        return nonce.Commitment;
    }

    /// <summary>
    /// The nonce for number <paramref name="number"/>, which the caller has reserved (<see cref="Reserve"/>) and
    /// spends now: the one kept from round one, or derived again. The caller disposes it.
    /// </summary>
    public FrostNonce TakeNonce(ulong number)
    {
        lock (_gate)
        {
            if (_kept.Remove(number, out var kept)) return kept;
        }
        return DeriveNonce(number);
    }

    /// <summary>
    /// Completes once the store records every number below <paramref name="reservedUpTo"/> as spent, so shares made with
    /// them may leave the node. Usually at once (an earlier block covers it); otherwise one write, shared by every batch
    /// that needs it, moves the durable bound a block past what is needed.
    /// </summary>
    public Task EnsureDurableAsync(ulong reservedUpTo, Func<ulong, Task> persist)
    {
        lock (_gate)
        {
            if (reservedUpTo <= _durableNext) return Task.CompletedTask;
            if (_pendingWrite is { } pending && pending.Target >= reservedUpTo && !pending.Write.IsFaulted && !pending.Write.IsCanceled) return pending.Write;
            ulong target = reservedUpTo + DurableBlock;
            var write = Task.Run(async () =>
            {
                await persist(target);
                lock (_gate) if (target > _durableNext) _durableNext = target;
            });
            _pendingWrite = (target, write);
            return write;
        }
    }

    public FrostNonce DeriveNonce(ulong number)
    {
        Span<byte> label = stackalloc byte[16];
        "hiding\0\0"u8.CopyTo(label);
        BinaryPrimitives.WriteUInt64BigEndian(label[8..], number);
        var hiding = HMACSHA256.HashData(Stored.NonceSeed, label);
        "binding\0"u8.CopyTo(label);
        var binding = HMACSHA256.HashData(Stored.NonceSeed, label);
        try
        {
            return FrostEd25519.CommitFromRandomness(Share, hiding, binding);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(hiding);
            CryptographicOperations.ZeroMemory(binding);
        }
    }

    protected override void DisposeSecrets()
    {
        lock (_gate)
        {
            foreach (var nonce in _kept.Values) nonce.Dispose();
            _kept.Clear();
        }
        Share.Dispose();
    }
}
