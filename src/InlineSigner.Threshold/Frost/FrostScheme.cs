using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using InlineSigner.Threshold.Encoding;

namespace InlineSigner.Threshold.Frost;

/// <summary>A FROST(Ed25519, SHA-512) key as a DNSSEC key: algorithm 15, plain RFC 8032 signatures.</summary>
public sealed class FrostKey(FrostPublicKey key) : IThresholdPublicKey
{
    public const byte DnsSecAlgorithm = 15;

    public FrostPublicKey Key { get; } = key;
    public byte Algorithm => DnsSecAlgorithm;
    public int Threshold => Key.Threshold;
    public int Parties => Key.VerificationShares.Count;

    public byte[] DnsKeyPublicKey() => Key.DnsKeyPublicKey();

    public bool Verify(ReadOnlySpan<byte> signingInput, ReadOnlySpan<byte> signature) =>
        Ed25519Group.VerifySignature(signature, signingInput, Key.GroupPublicKey);
}

/// <summary>FROST round one request: 0x21 | version 1 | count u32 (1 … the holder's limit): "commit to this many nonces".</summary>
public sealed record FrostCommitRequest(int Count)
{
    internal const byte MessageType = 0x21;
    internal const byte Version = 1;

    public byte[] Encode() => new BinaryWriterBE(MessageType, Version).U32((uint)Count).ToArray();

    public static FrostCommitRequest Decode(ReadOnlySpan<byte> data, int maxItems)
    {
        var reader = new BinaryReaderBE(data, MessageType, Version, "FROST commit request");
        uint count = reader.U32();
        reader.End();
        if (count == 0 || count > (uint)maxItems) throw new ThresholdFormatException($"FROST commit request: count {count} must be 1..{maxItems}");
        return new FrostCommitRequest((int)count);
    }
}

/// <summary>
/// FROST round one answer: 0x22 | version 1 | first nonce number u64 | count u32 | each: hiding 32 ‖ binding 32. The
/// nonces are numbered consecutively from the first; each number can be spent once, and only in increasing order.
/// </summary>
public sealed record FrostCommitAnswer(ulong FirstNonce, IReadOnlyList<(byte[] Hiding, byte[] Binding)> Commitments)
{
    internal const byte MessageType = 0x22;
    internal const byte Version = 1;

    public byte[] Encode()
    {
        var writer = new BinaryWriterBE(MessageType, Version, Commitments.Count * 64 + 16).U64(FirstNonce).U32((uint)Commitments.Count);
        foreach (var (hiding, binding) in Commitments) writer.Raw(hiding).Raw(binding);
        return writer.ToArray();
    }

    public static FrostCommitAnswer Decode(ReadOnlySpan<byte> data, int maxItems)
    {
        var reader = new BinaryReaderBE(data, MessageType, Version, "FROST commit answer");
        ulong first = reader.U64();
        int count = reader.Count(maxItems, 64, "commitments");
        var list = new List<(byte[], byte[])>(count);
        for (int i = 0; i < count; i++) list.Add((reader.Raw(32), reader.Raw(32)));
        reader.End();
        return new FrostCommitAnswer(first, list);
    }
}

/// <summary>One message to sign in round two: the holder's nonce number, the message and every signer's commitment.</summary>
public sealed record FrostSignItem(ulong Nonce, byte[] Message, IReadOnlyList<FrostCommitment> Commitments);

/// <summary>
/// FROST round two request: 0x23 | version 1 | count u32 | each: nonce u64 | message (u32 length, ≤ 1 MiB) | signers
/// u8 (1..64) | each: identifier u8, hiding 32, binding 32. Nonce numbers must increase strictly within a request.
/// </summary>
public sealed record FrostSignRequest(IReadOnlyList<FrostSignItem> Items)
{
    internal const byte MessageType = 0x23;
    internal const byte Version = 1;
    public const int MaxMessageBytes = 1 << 20;
    public const int MaxSigners = 64;

    public byte[] Encode()
    {
        var writer = new BinaryWriterBE(MessageType, Version, Items.Sum(i => i.Message.Length + 13 + i.Commitments.Count * 65) + 8).U32((uint)Items.Count);
        foreach (var item in Items)
        {
            writer.U64(item.Nonce).LongBytes(item.Message).U8((byte)item.Commitments.Count);
            foreach (var c in item.Commitments) writer.U8((byte)c.Identifier).Raw(c.Hiding).Raw(c.Binding);
        }
        return writer.ToArray();
    }

    public static FrostSignRequest Decode(ReadOnlySpan<byte> data, int maxItems)
    {
        var reader = new BinaryReaderBE(data, MessageType, Version, "FROST sign request");
        int count = reader.Count(maxItems, 8 + 4 + 1 + 65, "items");
        var items = new FrostSignItem[count];
        for (int i = 0; i < count; i++)
        {
            ulong nonce = reader.U64();
            var message = reader.LongBytes(MaxMessageBytes);
            int signers = reader.U8();
            if (signers is 0 or > MaxSigners) throw new ThresholdFormatException($"FROST sign request: {signers} signers");
            var commitments = new FrostCommitment[signers];
            for (int k = 0; k < signers; k++) commitments[k] = new FrostCommitment(reader.U8(), reader.Raw(32), reader.Raw(32));
            items[i] = new FrostSignItem(nonce, message, commitments);
        }
        reader.End();
        return new FrostSignRequest(items);
    }
}

/// <summary>
/// FROST round two answer: 0x24 | version 1 | count u32 | each: z_i 32 ‖ R 32. R is the group commitment the holder
/// derived: the coordinator aggregates (R, Σ z_i) with additions only and verifies it, so a wrong R costs a
/// recomputation, never a bad signature.
/// </summary>
public sealed record FrostSignAnswer(IReadOnlyList<(byte[] Share, byte[] GroupCommitment)> Items)
{
    internal const byte MessageType = 0x24;
    internal const byte Version = 1;

    public byte[] Encode()
    {
        var writer = new BinaryWriterBE(MessageType, Version, Items.Count * 64 + 8).U32((uint)Items.Count);
        foreach (var (share, groupCommitment) in Items)
        {
            if (share.Length != 32 || groupCommitment.Length != 32) throw new ArgumentException("a FROST share and a group commitment are 32 bytes each");
            writer.Raw(share).Raw(groupCommitment);
        }
        return writer.ToArray();
    }

    public static FrostSignAnswer Decode(ReadOnlySpan<byte> data, int maxItems)
    {
        var reader = new BinaryReaderBE(data, MessageType, Version, "FROST sign answer");
        int count = reader.Count(maxItems, 64, "answers");
        var items = new (byte[], byte[])[count];
        for (int i = 0; i < count; i++) items[i] = (reader.Raw(32), reader.Raw(32));
        reader.End();
        return new FrostSignAnswer(items);
    }
}

/// <summary>A holder's round-one commitment as the coordinator keeps it: its nonce number and the public commitment.</summary>
public sealed record FrostPreprocessed(int Holder, ulong Number, FrostCommitment Commitment) : PreprocessedItem(Holder, Number);

/// <summary>
/// FROST's coordinator: round one (commitments) is fetched ahead in bulk; round two goes to a fixed set of t signers
/// and each answers z_i with the R it derived. Where the signers agree on R, (R, Σ z_i) is checked as a plain Ed25519
/// signature (additions only); otherwise the coordinator derives the signing package itself, which names a signer with
/// a bad share or a wrong R. Every signature returned has been verified.
/// </summary>
public sealed class FrostCoordinator(FrostKey key) : IThresholdCoordinator
{
    public FrostKey Key { get; } = key;
    public IThresholdPublicKey PublicKey => Key;
    public bool HasPreprocessing => true;
    public bool HasProofs => false;

    public byte[] PreprocessRequest(int count) => new FrostCommitRequest(count).Encode();

    public IReadOnlyList<PreprocessedItem> ReadPreprocessAnswer(int holder, ReadOnlySpan<byte> answer, int count)
    {
        var reply = FrostCommitAnswer.Decode(answer, count);
        if (reply.Commitments.Count != count) throw new ThresholdFormatException($"{reply.Commitments.Count} commitments for {count} asked");
        if (reply.FirstNonce > ulong.MaxValue - (ulong)count) throw new ThresholdFormatException("FROST commit answer: nonce numbers out of range");
        // Not checked here to be group elements: that costs about a point multiplication each, and every signer and
        // the aggregation check them anyway. A holder that hands out bad ones is found when the others refuse them
        // (CheckPreprocessed).
        return reply.Commitments.Select((c, i) => (PreprocessedItem)new FrostPreprocessed(holder, reply.FirstNonce + (ulong)i, new FrostCommitment(holder, c.Hiding, c.Binding))).ToList();
    }

    public IReadOnlyDictionary<int, HolderBlame> CheckPreprocessed(IReadOnlyDictionary<int, IReadOnlyList<PreprocessedItem>> items)
    {
        var liars = new Dictionary<int, HolderBlame>();
        foreach (var (holder, list) in items)
        {
            int bad = list.Cast<FrostPreprocessed>().Count(p => !Ed25519Group.IsValidElement(p.Commitment.Hiding) || !Ed25519Group.IsValidElement(p.Commitment.Binding));
            if (bad > 0) liars[holder] = new HolderBlame(bad, "invalid FROST commitment(s)");
        }
        return liars;
    }

    public ISigningBatch StartBatch(IReadOnlyList<ReadOnlyMemory<byte>> signingInputs) =>
        new Batch(Key, signingInputs.Select(i => i.ToArray()).ToArray());

    private sealed record Answer(int Holder, IReadOnlyList<(byte[] Share, byte[] GroupCommitment)> Items) : SigningAnswer(Holder);

    private sealed class Batch(FrostKey key, byte[][] messages) : ISigningBatch
    {
        public int Count => messages.Length;

        private static (IReadOnlyList<int> Signers, IReadOnlyDictionary<int, IReadOnlyList<PreprocessedItem>> Preprocessed) Fixed(SigningRound round)
        {
            if (round.Signers is not { } signers || round.Preprocessed is not { } preprocessed)
                throw new ArgumentException("a FROST round needs its signer set and their commitments");
            return (signers, preprocessed);
        }

        public byte[] Request(SigningRound round, int holder)
        {
            var (_, preprocessed) = Fixed(round);
            var own = preprocessed[holder];
            var lists = CommitmentLists(round);
            var items = new FrostSignItem[round.Items.Count];
            for (int k = 0; k < items.Length; k++) items[k] = new FrostSignItem(own[k].Number, messages[round.Items[k]], lists[k]);
            return new FrostSignRequest(items).Encode();
        }

        private readonly object _gate = new();
        private (SigningRound Round, IReadOnlyList<FrostCommitment>[] Lists)? _lists;

        /// <summary>Per round item, every signer's commitment: the same for each signer's request, so made once per round.</summary>
        private IReadOnlyList<FrostCommitment>[] CommitmentLists(SigningRound round)
        {
            lock (_gate)
            {
                if (_lists is { } cached && ReferenceEquals(cached.Round, round)) return cached.Lists;
            }
            var (signers, preprocessed) = Fixed(round);
            var lists = new IReadOnlyList<FrostCommitment>[round.Items.Count];
            for (int k = 0; k < lists.Length; k++) lists[k] = signers.Select(s => ((FrostPreprocessed)preprocessed[s][k]).Commitment).ToList();
            lock (_gate) _lists = (round, lists);
            return lists;
        }

        public SigningAnswer ReadAnswer(SigningRound round, int holder, ReadOnlySpan<byte> answer)
        {
            var items = FrostSignAnswer.Decode(answer, round.Items.Count).Items;
            if (items.Count != round.Items.Count) throw new ThresholdFormatException($"{items.Count} shares for {round.Items.Count} messages");
            return new Answer(holder, items);
        }

        public CombineOutcome Combine(SigningRound round, IReadOnlyList<SigningAnswer> answers, CancellationToken cancellationToken)
        {
            var (signers, _) = Fixed(round);
            var byHolder = answers.Cast<Answer>().GroupBy(a => a.Holder).ToDictionary(g => g.Key, g => g.First());
            var missing = signers.Where(s => !byHolder.ContainsKey(s)).ToList();
            if (missing.Count > 0 || signers.Count < key.Threshold)
                throw new ThresholdSigningException($"{signers.Count - missing.Count} of the {signers.Count} signers answered; every signer of a FROST round and at least {key.Threshold} are needed", []);
            var signatures = new byte[]?[round.Items.Count];
            var bad = new ConcurrentDictionary<int, int>();
            var wrongR = new ConcurrentDictionary<int, int>();
            Parallel.For(0, round.Items.Count, new ParallelOptions { CancellationToken = cancellationToken }, k =>
            {
                var message = messages[round.Items[k]];
                var zs = signers.ToDictionary(s => s, s => byHolder[s].Items[k].Share);
                // Every signer derived R itself; when they agree, (R, Σ z_i) needs additions only, and it is verified
                // as plain Ed25519, so whatever a signer sent, a signature returned here is valid.
                var r = byHolder[signers[0]].Items[k].GroupCommitment;
                if (signers.All(s => byHolder[s].Items[k].GroupCommitment.AsSpan().SequenceEqual(r))
                    && FrostEd25519.CombineVerified(r, zs.Values, message, key.Key) is { } quick)
                {
                    signatures[k] = quick;
                    return;
                }
                // Otherwise derive the package ourselves, which names whoever sent a bad share or a wrong R.
                var commitments = CommitmentLists(round)[k];
                try
                {
                    var package = FrostEd25519.Prepare(message, commitments, key.Key);
                    foreach (var s in signers)
                        if (!byHolder[s].Items[k].GroupCommitment.AsSpan().SequenceEqual(package.GroupCommitment)) wrongR.AddOrUpdate(s, 1, (_, c) => c + 1);
                    signatures[k] = FrostEd25519.Aggregate(package, zs, key.Key, verifyEachShare: false);
                }
                catch (ThresholdSigningException e)
                {
                    foreach (var holder in e.BadHolders) bad.AddOrUpdate(holder, 1, (_, c) => c + 1);
                }
            });
            var blamed = bad.ToDictionary(b => b.Key, b => new HolderBlame(b.Value, "bad signature share(s)"));
            // A signer whose shares were good (its signatures stand) but who misreports R is not behaving either.
            foreach (var (holder, count) in wrongR)
                blamed.TryAdd(holder, new HolderBlame(count, "wrong FROST group commitment(s)"));
            return new CombineOutcome(signatures, blamed);
        }
    }
}

/// <summary>
/// FROST's share holder, with its nonce book-keeping. Nonce number k's secrets are derived from a secret nonce seed
/// (HMAC-SHA256(seed, label ‖ k) as the randomness of RFC 9591's nonce_generate), so commitments handed out before a
/// restart stay valid after it, while the host's durable "next nonce" — raised before any share made with a nonce
/// leaves (<see cref="IHolderWork.SpendsBelow"/>) — keeps every number single-use.
/// </summary>
public sealed class FrostShareHolder : IShareHolder
{
    /// <summary>
    /// Round-one nonces kept (by number) for the round two that spends them, at most this many: a signing item then
    /// does not derive its nonce a second time (two base-point multiplications and four hashes). A number not kept —
    /// beyond this bound, or handed out before a restart — is derived again; nothing else depends on the cache.
    /// </summary>
    public const int MaxKeptNonces = 4096;

    private readonly object _gate = new();
    private readonly byte[] _nonceSeed;
    private readonly Dictionary<ulong, FrostNonce> _kept = new();
    private ulong _issuedNext;   // next number round one hands out
    private ulong _reservedNext; // lowest number round two may still spend

    /// <summary>
    /// Takes ownership of <paramref name="share"/> (disposed with the holder). <paramref name="nextNonce"/> is the
    /// durable bound: numbers below it may have been spent before.
    /// </summary>
    public FrostShareHolder(FrostPublicKey key, FrostKeyShare share, ReadOnlySpan<byte> nonceSeed, ulong nextNonce)
    {
        if (nonceSeed.Length != 32) throw new ArgumentException("the nonce seed must be 32 bytes");
        Key = key;
        Share = share;
        _nonceSeed = nonceSeed.ToArray();
        _issuedNext = _reservedNext = nextNonce;
    }

    public FrostPublicKey Key { get; }
    public int Index => Share.Identifier;
    internal FrostKeyShare Share { get; }

    /// <summary>How many round-one nonces are kept for round two now.</summary>
    public int KeptNonces { get { lock (_gate) return _kept.Count; } }

    public bool SelfCheck() =>
        Key.VerificationShares.TryGetValue(Share.Identifier, out var expected) && Share.VerificationShare().AsSpan().SequenceEqual(expected);

    public IHolderWork Preprocess(ReadOnlySpan<byte> request, int maxItems)
    {
        var commit = FrostCommitRequest.Decode(request, maxItems);
        return new CommitWork(this, IssueNonces(commit.Count), commit.Count);
    }

    public IHolderWork Sign(ReadOnlySpan<byte> request, int maxItems)
    {
        var sign = FrostSignRequest.Decode(request, maxItems);
        // Reserved now, in the order requests arrive: two requests can never both spend a nonce number.
        var (nextNonce, error) = Reserve(sign.Items.Select(i => i.Nonce).ToList());
        if (error is not null) throw new ThresholdRefusalException(RefusalReason.Spent, error);
        return new SignWork(this, sign, nextNonce);
    }

    /// <summary>Hands out the next <paramref name="count"/> nonce numbers (round one).</summary>
    internal ulong IssueNonces(int count)
    {
        lock (_gate)
        {
            var first = Math.Max(_issuedNext, _reservedNext);
            _issuedNext = first + (ulong)count;
            return first;
        }
    }

    /// <summary>
    /// Reserves the nonce numbers of a round-two request: they must increase strictly and start at or above every
    /// number reserved before. Returns the new lower bound that must be durable before shares leave, or an error.
    /// </summary>
    internal (ulong NextNonce, string? Error) Reserve(IReadOnlyList<ulong> nonces)
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
            // Numbers this request skips can never be spent now: their kept nonces go (zeroed).
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

    /// <summary>Drops the kept nonces of a reserved request that failed before spending them all (they can never be spent now).</summary>
    internal void Forget(IEnumerable<ulong> numbers)
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
    internal FrostCommitment Commit(ulong number)
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
    internal FrostNonce TakeNonce(ulong number)
    {
        lock (_gate)
        {
            if (_kept.Remove(number, out var kept)) return kept;
        }
        return DeriveNonce(number);
    }

    internal FrostNonce DeriveNonce(ulong number)
    {
        Span<byte> label = stackalloc byte[16];
        "hiding\0\0"u8.CopyTo(label);
        BinaryPrimitives.WriteUInt64BigEndian(label[8..], number);
        var hiding = HMACSHA256.HashData(_nonceSeed, label);
        "binding\0"u8.CopyTo(label);
        var binding = HMACSHA256.HashData(_nonceSeed, label);
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

    public void Dispose()
    {
        lock (_gate)
        {
            foreach (var nonce in _kept.Values) nonce.Dispose();
            _kept.Clear();
        }
        CryptographicOperations.ZeroMemory(_nonceSeed);
        Share.Dispose();
    }

    public override string ToString() => $"FROST share holder #{Index} (secret not shown)";

    private sealed class CommitWork(FrostShareHolder holder, ulong first, int count) : IHolderWork
    {
        private readonly (byte[] Hiding, byte[] Binding)[] _commitments = new (byte[], byte[])[count];

        public int Count => count;
        public int ItemsPerTurn => 32;
        public ulong? SpendsBelow => null; // handing out commitments spends nothing: signing does

        public void Compute(int item)
        {
            var commitment = holder.Commit(first + (ulong)item);
            _commitments[item] = (commitment.Hiding, commitment.Binding);
        }

        public byte[] Answer() => new FrostCommitAnswer(first, _commitments).Encode();

        public void Abandon()
        {
        }
    }

    private sealed class SignWork(FrostShareHolder holder, FrostSignRequest sign, ulong nextNonce) : IHolderWork
    {
        private readonly (byte[] Share, byte[] GroupCommitment)[] _answers = new (byte[], byte[])[sign.Items.Count];

        public int Count => _answers.Length;
        public int ItemsPerTurn => 32;
        public ulong? SpendsBelow => nextNonce;

        public void Compute(int item)
        {
            var request = sign.Items[item];
            if (request.Commitments.Count < holder.Key.Threshold)
                throw new ThresholdRefusalException(RefusalReason.Invalid, $"item {item}: {request.Commitments.Count} signers, {holder.Key.Threshold} needed");
            using var nonce = holder.TakeNonce(request.Nonce);
            try
            {
                var package = FrostEd25519.Prepare(request.Message, request.Commitments, holder.Key, nonce);
                // The group commitment R goes back beside the share: the coordinator then needs only additions to
                // aggregate, and verifies the result (it recomputes R itself only when that check fails).
                _answers[item] = (FrostEd25519.Sign(holder.Share, nonce, package), package.GroupCommitment);
            }
            catch (Exception e) when (e is ArgumentException or ThresholdSigningException or CryptographicException or KeyNotFoundException)
            {
                throw new ThresholdRefusalException(RefusalReason.Invalid, $"item {item}: {e.Message}");
            }
        }

        public byte[] Answer() => new FrostSignAnswer(_answers).Encode();

        public void Abandon() => holder.Forget(sign.Items.Select(i => i.Nonce));
    }
}
