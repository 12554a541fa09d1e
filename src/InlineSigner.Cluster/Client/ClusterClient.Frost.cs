using System.Collections.Concurrent;
using InlineSigner.Cluster.Protocol;
using InlineSigner.Threshold;
using InlineSigner.Threshold.Frost;
using Microsoft.Extensions.Logging;

namespace InlineSigner.Cluster.Client;

public sealed partial class ClusterClient
{
    /// <summary>
    /// A node's pre-generated FROST commitments for one key, in nonce-number order. The node spends nonce numbers only
    /// upwards, so taking commitments and sending the round-two request that spends them happen under one lock: batches
    /// reach the node in the order they took their numbers.
    /// </summary>
    private sealed class CommitmentPool
    {
        private volatile bool _stale;

        public SemaphoreSlim Lock { get; } = new(1, 1);
        public Queue<(ulong Nonce, byte[] Hiding, byte[] Binding)> Ready { get; } = new();

        /// <summary>The node refused numbers from this pool (it restarted, or another client spent them): the next holder of the lock starts over.</summary>
        public void Invalidate() => _stale = true;

        /// <summary>Under <see cref="Lock"/>: drops what <see cref="Invalidate"/> condemned.</summary>
        public void DropIfStale()
        {
            if (!_stale) return;
            _stale = false;
            Ready.Clear();
        }
    }

    private readonly ConcurrentDictionary<(int Node, string Key), CommitmentPool> _pools = new();

    /// <summary>
    /// Signs one batch of messages with a FROST(Ed25519) key: t nodes each spend one pre-generated nonce per message
    /// (round one is fetched ahead in bulk), make their signature shares (round two), and the client aggregates, each
    /// signature checked as plain Ed25519 before it is returned. A node that fails is replaced and the affected messages
    /// signed again by another set; a node whose share is wrong is named and deprioritised. Throws
    /// <see cref="ClusterSigningException"/> when fewer than t nodes can help within the request timeout.
    /// </summary>
    public async Task<IReadOnlyList<byte[]>> SignFrostAsync(string keyId, FrostPublicKey publicKey, IReadOnlyList<byte[]> messages, CancellationToken cancellationToken)
    {
        if (publicKey.Threshold != Threshold) throw new ArgumentException($"key {keyId} has threshold {publicKey.Threshold}, the cluster {Threshold}");
        var signatures = new byte[messages.Count][];
        var pending = Enumerable.Range(0, messages.Count).ToList();
        var failures = new Dictionary<int, string>();
        var excluded = new HashSet<int>(); // failed or lied: not asked again in this call
        var slow = new HashSet<int>();     // did not answer in time: asked again only when nobody else is left
        var refreshed = new HashSet<int>(); // refused our commitments once (restarted, or another client spent them): retried once
        int slowRounds = 0;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(RequestTimeout);
        while (pending.Count > 0)
        {
            var signers = RankNodes(excluded.Union(slow).ToHashSet()).Take(Threshold).Order().ToList();
            if (signers.Count < Threshold) signers = RankNodes(excluded).Take(Threshold).Order().ToList();
            if (signers.Count < Threshold)
                throw BelowThreshold($"FROST signing with key {keyId} failed", signers.Count, failures);
            if (deadline.IsCancellationRequested)
            {
                cancellationToken.ThrowIfCancellationRequested();
                throw BelowThreshold($"FROST signing with key {keyId} did not finish within {RequestTimeout.TotalSeconds:0.###} s", 0, failures);
            }
            var batch = pending.Select(i => messages[i]).ToList();
            // A signer that does not answer within a few times its usual time is replaced by another set, so one dead
            // node (whose last messages vanished into a connection not yet seen closing) costs a round, not the call.
            // Each round that timed out doubles the next one's patience: a loaded machine is not a dead node.
            // The floor is a quarter of the request timeout: a node that died is noticed at once by its dropped
            // connection, so the round timeout only has to catch a node that is alive but stuck — and must not mistake
            // a machine that is merely busy for that.
            double floor = Math.Max(1000, RequestTimeout.TotalMilliseconds / 4);
            var roundTimeout = TimeSpan.FromMilliseconds(Math.Max(floor, 2 * HedgeDelay(signers, batch.Count).TotalMilliseconds) * (1 << Math.Min(slowRounds, 6)));
            Dictionary<int, FrostAnswer>? shares;
            Dictionary<int, string> failed;
            HashSet<int> timedOut, staleNonces;
            try
            {
                (shares, failed, timedOut, staleNonces) = await FrostRoundsAsync(keyId, signers, batch, roundTimeout, deadline.Token, cancellationToken);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                continue; // the deadline passed while waiting for another batch's turn on these nodes: reported above
            }
            foreach (var (node, reason) in failed)
            {
                failures[node] = reason;
                if (timedOut.Contains(node)) slow.Add(node);
                else if (staleNonces.Contains(node) && refreshed.Add(node)) { } // its pool was dropped: one more try with fresh commitments
                else excluded.Add(node);
            }
            if (timedOut.Count > 0) slowRounds++;
            if (shares is null) continue;
            foreach (var node in signers) slow.Remove(node);

            var stillPending = new ConcurrentBag<int>();
            var bad = new ConcurrentDictionary<int, int>();
            var wrongR = new ConcurrentDictionary<int, int>();
            Parallel.For(0, batch.Count, new ParallelOptions { CancellationToken = cancellationToken }, k =>
            {
                var zs = signers.ToDictionary(s => s, s => shares[s].Answers[k].Share);
                // Every signer derived R itself; when they agree, (R, Σ z_i) needs additions only, and it is verified
                // as plain Ed25519, so whatever a node sent, a signature returned here is valid.
                var r = shares[signers[0]].Answers[k].GroupCommitment;
                if (signers.All(s => shares[s].Answers[k].GroupCommitment.AsSpan().SequenceEqual(r))
                    && FrostEd25519.CombineVerified(r, zs.Values, batch[k], publicKey) is { } quick)
                {
                    signatures[pending[k]] = quick;
                    return;
                }
                // Otherwise derive the package ourselves, which names whoever sent a bad share or a wrong R.
                var commitments = signers.Select(s => shares[s].Commitments[k]).ToList();
                try
                {
                    var package = FrostEd25519.Prepare(batch[k], commitments, publicKey);
                    foreach (var s in signers)
                        if (!shares[s].Answers[k].GroupCommitment.AsSpan().SequenceEqual(package.GroupCommitment)) wrongR.AddOrUpdate(s, 1, (_, c) => c + 1);
                    signatures[pending[k]] = FrostEd25519.Aggregate(package, zs, publicKey, verifyEachShare: false);
                }
                catch (ThresholdSigningException e)
                {
                    foreach (var holder in e.BadHolders) bad.AddOrUpdate(holder, 1, (_, c) => c + 1);
                    stillPending.Add(pending[k]);
                }
            });
            foreach (var (node, count) in bad)
            {
                ReportBadShares(node, count, keyId);
                failures[node] = $"{count} invalid signature share(s)";
                excluded.Add(node);
            }
            foreach (var (node, count) in wrongR.Where(w => !bad.ContainsKey(w.Key)))
            {
                // Its shares were good (the signatures stand), but a node that misreports R is not behaving.
                ReportBadShares(node, count, keyId, "wrong FROST group commitment(s)");
                excluded.Add(node);
            }
            pending = stillPending.Order().ToList();
        }
        return signatures;
    }

    private sealed record FrostAnswer(IReadOnlyList<FrostCommitment> Commitments, IReadOnlyList<FrostSignAnswer> Answers);

    /// <summary>Both rounds with a fixed signer set. Returns every signer's commitments and shares, or which signers failed.</summary>
    private async Task<(Dictionary<int, FrostAnswer>? Shares, Dictionary<int, string> Failed, HashSet<int> TimedOut, HashSet<int> StaleNonces)> FrostRoundsAsync(
        string keyId, IReadOnlyList<int> signers, IReadOnlyList<byte[]> messages, TimeSpan roundTimeout, CancellationToken deadline, CancellationToken cancellationToken)
    {
        using var roundCancel = CancellationTokenSource.CreateLinkedTokenSource(deadline);
        var round = roundCancel.Token; // its timer starts once this batch has its turn on every signer
        string noAnswer = $"no answer within {roundTimeout.TotalSeconds:0.###} s";
        var failed = new Dictionary<int, string>();
        var timedOut = new HashSet<int>();
        var staleNonces = new HashSet<int>();
        var pools = signers.Select(s => _pools.GetOrAdd((s, keyId), _ => new CommitmentPool())).ToList();
        var taken = new List<(ulong Nonce, byte[] Hiding, byte[] Binding)>[signers.Count];
        var sends = new Task<byte[]>[signers.Count];
        int locked = 0;
        try
        {
            // Locks in node order, so two batches never wait on each other crosswise.
            for (; locked < signers.Count; locked++) await pools[locked].Lock.WaitAsync(deadline);
            roundCancel.CancelAfter(roundTimeout);
            foreach (var pool in pools) pool.DropIfStale();
            var refills = signers.Select((s, i) => RefillAsync(keyId, s, pools[i], messages.Count, round)).ToList();
            for (int i = 0; i < signers.Count; i++)
            {
                try { await refills[i]; }
                catch (Exception e) when (e is NodeErrorException or NodeUnavailableException or TimeoutException or FormatException or OperationCanceledException)
                {
                    failed[signers[i]] = e is OperationCanceledException ? noAnswer : Reason(e);
                    if (e is OperationCanceledException) timedOut.Add(signers[i]);
                }
            }
            if (failed.Count > 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
                return (null, failed, timedOut, staleNonces);
            }
            for (int i = 0; i < signers.Count; i++)
            {
                taken[i] = new List<(ulong, byte[], byte[])>(messages.Count);
                for (int k = 0; k < messages.Count; k++) taken[i].Add(pools[i].Ready.Dequeue());
            }
            var items = Enumerable.Range(0, messages.Count).Select(k =>
                signers.Select((s, i) => new FrostCommitmentEntry(s, taken[i][k].Hiding, taken[i][k].Binding)).ToList()).ToList();
            for (int i = 0; i < signers.Count; i++)
            {
                var request = new FrostSignRequest(keyId, Enumerable.Range(0, messages.Count)
                    .Select(k => new FrostSignItem(taken[i][k].Nonce, messages[k], items[k])).ToList());
                sends[i] = RequestAsync(signers[i], MessageType.FrostSign, request.Encode(), RequestTimeout, messages.Count, round);
            }
        }
        finally
        {
            for (int i = 0; i < locked; i++) pools[i].Lock.Release();
        }

        var answers = new Dictionary<int, FrostAnswer>();
        var refusals = new HashSet<int>(); // signers that called the batch invalid: perhaps because of another signer's commitments
        for (int i = 0; i < signers.Count; i++)
        {
            try
            {
                var shares = FrostSignReply.Decode(await sends[i], messages.Count);
                if (shares.Count != messages.Count) throw new ProtocolFormatException($"{shares.Count} shares for {messages.Count} messages");
                answers[signers[i]] = new FrostAnswer(taken[i].Select(c => new FrostCommitment(signers[i], c.Hiding, c.Binding)).ToList(), shares);
            }
            catch (Exception e) when (e is NodeErrorException or NodeUnavailableException or TimeoutException or FormatException or OperationCanceledException)
            {
                cancellationToken.ThrowIfCancellationRequested();
                failed[signers[i]] = e is OperationCanceledException ? noAnswer : Reason(e);
                if (e is OperationCanceledException) timedOut.Add(signers[i]);
                // Its numbers moved on: fetch fresh ones. The pool object stays (one lock per node and key keeps
                // batches in nonce order); only its contents go.
                if (e is NodeErrorException { Code: ErrorCode.NonceRejected or ErrorCode.UnknownKey }) pools[i].Invalidate();
                if (e is NodeErrorException { Code: ErrorCode.NonceRejected }) staleNonces.Add(signers[i]);
                if (e is NodeErrorException { Code: ErrorCode.InvalidRequest }) refusals.Add(signers[i]);
                else _logger.LogWarning("{Node} failed FROST round two for key {KeyId}: {Reason}", Describe(signers[i]), keyId, failed[signers[i]]);
            }
        }
        if (refusals.Count > 0)
        {
            var liars = InvalidCommitments(signers, taken);
            foreach (var (node, count) in liars)
            {
                failed[node] = $"{count} invalid commitment(s) (not group elements)";
                pools[signers.ToList().IndexOf(node)].Invalidate();
                ReportBadShares(node, count, keyId, "invalid FROST commitment(s)");
            }
            foreach (var node in refusals)
            {
                // Refusing another signer's bad commitment is what an honest node must do: not its failure.
                if (liars.Count > 0 && !liars.ContainsKey(node)) failed.Remove(node);
                else _logger.LogWarning("{Node} failed FROST round two for key {KeyId}: {Reason}", Describe(node), keyId, failed[node]);
            }
        }
        return failed.Count > 0 ? (null, failed, timedOut, staleNonces) : (answers, failed, timedOut, staleNonces);
    }

    /// <summary>Signers that handed out commitments which are not valid group elements, with how many.</summary>
    private static Dictionary<int, int> InvalidCommitments(IReadOnlyList<int> signers, List<(ulong Nonce, byte[] Hiding, byte[] Binding)>[] taken)
    {
        var liars = new Dictionary<int, int>();
        for (int i = 0; i < signers.Count; i++)
        {
            int bad = taken[i].Count(c => !Ed25519Group.IsValidElement(c.Hiding) || !Ed25519Group.IsValidElement(c.Binding));
            if (bad > 0) liars[signers[i]] = bad;
        }
        return liars;
    }

    /// <summary>Tops the pool up to at least <paramref name="needed"/> commitments, fetching extra so the next batch needs no round one.</summary>
    private async Task RefillAsync(string keyId, int nodeId, CommitmentPool pool, int needed, CancellationToken cancellationToken)
    {
        if (pool.Ready.Count >= needed) return;
        int count = Math.Min(ProtocolLimits.MaxBatchItems, Math.Max(needed - pool.Ready.Count + needed, 64));
        var reply = FrostCommitReply.Decode(await RequestAsync(nodeId, MessageType.FrostCommit, new FrostCommitRequest(keyId, count).Encode(), RequestTimeout, count / 8, cancellationToken), count);
        if (reply.Commitments.Count != count) throw new ProtocolFormatException($"{reply.Commitments.Count} commitments for {count} asked");
        // Not checked here to be group elements: that costs about a point multiplication each, and every signer and
        // our own aggregation check them anyway. A node that hands out bad ones is found when the others refuse them
        // (InvalidCommitments).
        // Numbers below what the pool holds would be refused by the node anyway: start over from this reply.
        if (pool.Ready.Count > 0 && reply.FirstNonce <= pool.Ready.Last().Nonce) pool.Ready.Clear();
        for (int i = 0; i < reply.Commitments.Count; i++)
            pool.Ready.Enqueue((reply.FirstNonce + (ulong)i, reply.Commitments[i].Hiding, reply.Commitments[i].Binding));
        if (pool.Ready.Count < needed) throw new ProtocolFormatException($"node {nodeId} gave too few commitments");
    }
}
