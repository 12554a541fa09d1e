using System.Collections.Concurrent;
using InlineSigner.Cluster.Keys;
using InlineSigner.Cluster.Protocol;
using InlineSigner.Threshold;
using Microsoft.Extensions.Logging;

namespace InlineSigner.Cluster.Client;

public sealed partial class ClusterClient
{
    /// <summary>
    /// A node's preprocessed items for one key (FROST commitments), in number order. The node spends numbers only
    /// upwards, so taking items and sending the signing request that spends them happen under one lock: batches reach
    /// the node in the order they took their numbers.
    /// </summary>
    private sealed class PreprocessPool
    {
        private volatile bool _stale;

        public SemaphoreSlim Lock { get; } = new(1, 1);
        public Queue<PreprocessedItem> Ready { get; } = new();

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

    private readonly ConcurrentDictionary<(int Node, string Key), PreprocessPool> _pools = new();

    /// <summary>
    /// Signs one batch of DNSSEC signing inputs with threshold key <paramref name="keyId"/>, whatever its scheme: the
    /// scheme's <paramref name="coordinator"/> builds the requests and combines the answers; this method picks the
    /// nodes, sends, hedges, keeps deadlines and health, and names and deprioritises nodes that fail or lie.
    /// <list type="bullet">
    /// <item>Schemes without preprocessing (Shoup RSA): the batch goes to t nodes plus the configured spares, and to
    /// another node as soon as one fails or is slow; the first t answers are combined (each result checked against
    /// the public key) and, for items whose combination fails, every node that can is asked again with proofs, which
    /// name the liar.</item>
    /// <item>Schemes with preprocessing (FROST): t nodes each spend one preprocessed item per input (fetched ahead in
    /// bulk), sign, and the answers are combined; a node that fails is replaced and the affected inputs signed again by
    /// another set.</item>
    /// </list>
    /// Returns one verified signature per input, in order, or throws <see cref="ClusterSigningException"/> naming the
    /// nodes that failed and why when fewer than t nodes can help within the request timeout.
    /// </summary>
    public async Task<IReadOnlyList<byte[]>> SignAsync(string keyId, KeyScheme scheme, IThresholdCoordinator coordinator,
        IReadOnlyList<ReadOnlyMemory<byte>> signingInputs, CancellationToken cancellationToken)
    {
        var key = coordinator.PublicKey;
        if (key.Threshold != Threshold || key.Parties != Config.Nodes.Count)
            throw new ArgumentException($"key {keyId} is {key.Threshold} of {key.Parties}, the cluster is {Threshold} of {Config.Nodes.Count}");
        if (signingInputs.Count == 0) return [];
        var batch = coordinator.StartBatch(signingInputs);
        var signing = new Signing(keyId, scheme, coordinator, batch, $"{ThresholdSchemes.Name(scheme)} signing with key {keyId}");
        return coordinator.HasPreprocessing
            ? await SignWithFixedSignersAsync(signing, cancellationToken)
            : await SignWithAnySignersAsync(signing, cancellationToken);
    }

    private sealed record Signing(string KeyId, KeyScheme Scheme, IThresholdCoordinator Coordinator, ISigningBatch Batch, string What)
    {
        public byte[] Payload(SigningRound round, int node) => new KeyStepRequest(KeyId, Scheme, Batch.Request(round, node)).Encode();
    }

    /// <summary>Reports every blamed node (health, log) and records why in <paramref name="failures"/>; returns them.</summary>
    private IReadOnlyCollection<int> Blame(string keyId, IReadOnlyDictionary<int, HolderBlame> blamed, Dictionary<int, string> failures)
    {
        foreach (var (node, blame) in blamed)
        {
            ReportBadShares(node, blame.Count, keyId, blame.What);
            failures[node] = $"{blame.Count} {blame.What}";
        }
        return blamed.Keys.ToList();
    }

    // ---- any t of the same request (no preprocessing)

    private async Task<byte[][]> SignWithAnySignersAsync(Signing signing, CancellationToken cancellationToken)
    {
        var failures = new Dictionary<int, string>();
        var round = new SigningRound(Enumerable.Range(0, signing.Batch.Count).ToList(), null, null, WithProofs: false);
        var answers = await GatherAnswersAsync(signing, round, Threshold, failures, cancellationToken);
        var outcome = signing.Batch.Combine(round, answers.Take(Threshold).ToList(), cancellationToken);
        Blame(signing.KeyId, outcome.Blamed, failures);
        var signatures = new byte[signing.Batch.Count][];
        var failing = new List<int>();
        for (int k = 0; k < round.Items.Count; k++)
        {
            if (outcome.Signatures[k] is { } signature) signatures[round.Items[k]] = signature;
            else failing.Add(round.Items[k]);
        }
        if (failing.Count == 0) return signatures;
        if (!signing.Coordinator.HasProofs)
            throw BelowThreshold($"{signing.What} failed for {failing.Count} message(s)", Threshold - outcome.Blamed.Count, failures);
        await RecoverWithProofsAsync(signing, failing, signatures, failures, cancellationToken);
        return signatures;
    }

    /// <summary>
    /// Sends the round until <paramref name="needed"/> nodes have answered well-formed, or nobody is left, or the
    /// request timeout passes. A node that answers badly, fails or is not reachable is replaced by the next best; one
    /// that is slow gets a spare beside it.
    /// </summary>
    private async Task<List<SigningAnswer>> GatherAnswersAsync(Signing signing, SigningRound round, int needed, Dictionary<int, string> failures,
        CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(RequestTimeout);
        var answers = new List<SigningAnswer>();
        var running = new Dictionary<Task<byte[]>, int>();
        var tried = new HashSet<int>();
        int items = round.Items.Count;

        bool Launch()
        {
            var next = RankNodes(tried).FirstOrDefault();
            if (next == 0) return false;
            tried.Add(next);
            running[RequestAsync(next, MessageType.Sign, signing.Payload(round, next), RequestTimeout, items, deadline.Token)] = next;
            return true;
        }

        for (int i = 0; i < needed + Config.File.Spares; i++)
            if (!Launch()) break;
        while (answers.Count < needed)
        {
            while (answers.Count + running.Count < needed && Launch()) { }
            if (running.Count == 0) break;
            var hedge = Task.Delay(HedgeDelay(running.Values, 0), _time, deadline.Token);
            var done = await Task.WhenAny(running.Keys.Append(hedge));
            if (done == hedge)
            {
                if (hedge.IsCanceled) break;
                Launch(); // a slow node: give a spare the same work; whoever answers first counts
                continue;
            }
            var node = running[(Task<byte[]>)done];
            running.Remove((Task<byte[]>)done);
            try
            {
                var reply = await (Task<byte[]>)done;
                answers.Add(signing.Batch.ReadAnswer(round, node, reply));
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw;
            }
            catch (Exception e) when (e is NodeErrorException or NodeUnavailableException or TimeoutException or FormatException or OperationCanceledException)
            {
                failures[node] = e is OperationCanceledException ? "no answer within the request timeout" : Reason(e);
                _logger.LogWarning("{Node} failed a signing batch of {Count} for key {KeyId}: {Reason}", Describe(node), items, signing.KeyId, failures[node]);
            }
        }
        cancellationToken.ThrowIfCancellationRequested();
        if (answers.Count < needed)
        {
            foreach (var node in running.Values) failures[node] = $"no answer within {RequestTimeout.TotalSeconds:0.###} s";
            throw BelowThreshold($"{signing.What} failed", answers.Count, failures);
        }
        // Requests still running (spares sent to hedge a slow node) are simply abandoned: slow is not failed, and
        // those nodes must stay eligible for the proof round if the combination fails.
        foreach (var answer in answers) failures.Remove(answer.Holder);
        return answers;
    }

    /// <summary>
    /// How long to wait for <paramref name="nodes"/> before calling them slow: four times what each should need behind
    /// the work already in flight to it, plus <paramref name="items"/> not yet sent (0 for requests already sent).
    /// </summary>
    private TimeSpan HedgeDelay(IEnumerable<int> nodes, int items)
    {
        double expected = nodes.Select(n => _health[n].ExpectedMs(items) ?? 0).DefaultIfEmpty(0).Max();
        return TimeSpan.FromMilliseconds(Math.Max(Config.File.HedgeAfterMs, 4 * expected));
    }

    /// <summary>
    /// The pessimistic path for items whose optimistic combination failed: answers with proofs from every node (but
    /// those that already failed), combined from proven shares, bad holders named and deprioritised.
    /// </summary>
    private async Task RecoverWithProofsAsync(Signing signing, IReadOnlyList<int> failing, byte[][] signatures, Dictionary<int, string> failures,
        CancellationToken cancellationToken)
    {
        _logger.LogWarning("key {KeyId}: {Count} combined signature(s) did not verify; asking every node for shares with proofs", signing.KeyId, failing.Count);
        var round = new SigningRound(failing, null, null, WithProofs: true);
        var unreachable = failures.Keys.ToHashSet();
        var nodes = Config.Nodes.Select(n => n.Id).Where(n => !unreachable.Contains(n)).ToList();
        var results = await Task.WhenAll(nodes.Select(async node =>
        {
            try
            {
                var reply = await RequestAsync(node, MessageType.Sign, signing.Payload(round, node), RequestTimeout, failing.Count, cancellationToken);
                return signing.Batch.ReadAnswer(round, node, reply);
            }
            catch (Exception e) when (e is NodeErrorException or NodeUnavailableException or TimeoutException or FormatException)
            {
                lock (failures) failures[node] = Reason(e);
                return null;
            }
        }));
        var proven = results.OfType<SigningAnswer>().ToList();
        CombineOutcome outcome;
        try
        {
            outcome = signing.Batch.Combine(round, proven, cancellationToken);
        }
        catch (ThresholdSigningException)
        {
            throw BelowThreshold($"{signing.What} failed for {failing.Count} message(s)", proven.Count, failures);
        }
        var blamed = Blame(signing.KeyId, outcome.Blamed, failures);
        int stillFailing = 0;
        for (int k = 0; k < failing.Count; k++)
        {
            if (outcome.Signatures[k] is { } signature) signatures[failing[k]] = signature;
            else stillFailing++;
        }
        if (stillFailing > 0)
            throw BelowThreshold($"{signing.What} failed for {stillFailing} message(s)", proven.Count - blamed.Count, failures);
    }

    // ---- a fixed signer set (preprocessing)

    private async Task<byte[][]> SignWithFixedSignersAsync(Signing signing, CancellationToken cancellationToken)
    {
        var signatures = new byte[signing.Batch.Count][];
        var pending = Enumerable.Range(0, signing.Batch.Count).ToList();
        var failures = new Dictionary<int, string>();
        var excluded = new HashSet<int>(); // failed or lied: not asked again in this call
        var slow = new HashSet<int>();     // did not answer in time: asked again only when nobody else is left
        var refreshed = new HashSet<int>(); // refused our preprocessed items once (restarted, or another client spent them): retried once
        int slowRounds = 0;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(RequestTimeout);
        while (pending.Count > 0)
        {
            var signers = RankNodes(excluded.Union(slow).ToHashSet()).Take(Threshold).Order().ToList();
            if (signers.Count < Threshold) signers = RankNodes(excluded).Take(Threshold).Order().ToList();
            if (signers.Count < Threshold)
                throw BelowThreshold($"{signing.What} failed", signers.Count, failures);
            if (deadline.IsCancellationRequested)
            {
                cancellationToken.ThrowIfCancellationRequested();
                throw BelowThreshold($"{signing.What} did not finish within {RequestTimeout.TotalSeconds:0.###} s", 0, failures);
            }
            // A signer that does not answer within a few times its usual time is replaced by another set, so one dead
            // node (whose last messages vanished into a connection not yet seen closing) costs a round, not the call.
            // Each round that timed out doubles the next one's patience: a loaded machine is not a dead node.
            // The floor is a quarter of the request timeout: a node that died is noticed at once by its dropped
            // connection, so the round timeout only has to catch a node that is alive but stuck — and must not mistake
            // a machine that is merely busy for that.
            double floor = Math.Max(1000, RequestTimeout.TotalMilliseconds / 4);
            var roundTimeout = TimeSpan.FromMilliseconds(Math.Max(floor, 2 * HedgeDelay(signers, pending.Count).TotalMilliseconds) * (1 << Math.Min(slowRounds, 6)));
            FixedRoundResult result;
            try
            {
                result = await FixedRoundAsync(signing, signers, pending, roundTimeout, deadline.Token, cancellationToken);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                continue; // the deadline passed while waiting for another batch's turn on these nodes: reported above
            }
            foreach (var (node, reason) in result.Failed)
            {
                failures[node] = reason;
                if (result.TimedOut.Contains(node)) slow.Add(node);
                else if (result.Stale.Contains(node) && refreshed.Add(node)) { } // its pool was dropped: one more try with fresh items
                else excluded.Add(node);
            }
            if (result.TimedOut.Count > 0) slowRounds++;
            if (result.Round is not { } round) continue;
            foreach (var node in signers) slow.Remove(node);

            var outcome = signing.Batch.Combine(round, result.Answers, cancellationToken);
            excluded.UnionWith(Blame(signing.KeyId, outcome.Blamed, failures));
            var stillPending = new List<int>();
            for (int k = 0; k < round.Items.Count; k++)
            {
                if (outcome.Signatures[k] is { } signature) signatures[round.Items[k]] = signature;
                else stillPending.Add(round.Items[k]);
            }
            pending = stillPending;
        }
        return signatures;
    }

    /// <summary>A fixed-set round: the round and every signer's answer, or (Round null) which signers failed and how.</summary>
    private sealed record FixedRoundResult(SigningRound? Round, IReadOnlyList<SigningAnswer> Answers, Dictionary<int, string> Failed,
        HashSet<int> TimedOut, HashSet<int> Stale);

    /// <summary>Preprocessed items taken and the signing requests sent for a fixed signer set; every signer's answer read.</summary>
    private async Task<FixedRoundResult> FixedRoundAsync(Signing signing, IReadOnlyList<int> signers, IReadOnlyList<int> items, TimeSpan roundTimeout,
        CancellationToken deadline, CancellationToken cancellationToken)
    {
        using var roundCancel = CancellationTokenSource.CreateLinkedTokenSource(deadline);
        var token = roundCancel.Token; // its timer starts once this batch has its turn on every signer
        string noAnswer = $"no answer within {roundTimeout.TotalSeconds:0.###} s";
        var failed = new Dictionary<int, string>();
        var timedOut = new HashSet<int>();
        var stale = new HashSet<int>();
        var pools = signers.Select(s => _pools.GetOrAdd((s, signing.KeyId), _ => new PreprocessPool())).ToList();
        var taken = new Dictionary<int, IReadOnlyList<PreprocessedItem>>();
        var sends = new Task<byte[]>[signers.Count];
        SigningRound round;
        int locked = 0;
        try
        {
            // Locks in node order, so two batches never wait on each other crosswise.
            for (; locked < signers.Count; locked++) await pools[locked].Lock.WaitAsync(deadline);
            roundCancel.CancelAfter(roundTimeout);
            foreach (var pool in pools) pool.DropIfStale();
            var refills = signers.Select((s, i) => RefillAsync(signing, s, pools[i], items.Count, token)).ToList();
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
                return new FixedRoundResult(null, [], failed, timedOut, stale);
            }
            for (int i = 0; i < signers.Count; i++)
            {
                var list = new List<PreprocessedItem>(items.Count);
                for (int k = 0; k < items.Count; k++) list.Add(pools[i].Ready.Dequeue());
                taken[signers[i]] = list;
            }
            round = new SigningRound(items, signers, taken, WithProofs: false);
            for (int i = 0; i < signers.Count; i++)
                sends[i] = RequestAsync(signers[i], MessageType.Sign, signing.Payload(round, signers[i]), RequestTimeout, items.Count, token);
        }
        finally
        {
            for (int i = 0; i < locked; i++) pools[i].Lock.Release();
        }

        var answers = new List<SigningAnswer>();
        var refusals = new HashSet<int>(); // signers that called the round invalid: perhaps because of another signer's items
        for (int i = 0; i < signers.Count; i++)
        {
            try
            {
                answers.Add(signing.Batch.ReadAnswer(round, signers[i], await sends[i]));
            }
            catch (Exception e) when (e is NodeErrorException or NodeUnavailableException or TimeoutException or FormatException or OperationCanceledException)
            {
                cancellationToken.ThrowIfCancellationRequested();
                failed[signers[i]] = e is OperationCanceledException ? noAnswer : Reason(e);
                if (e is OperationCanceledException) timedOut.Add(signers[i]);
                // Its numbers moved on: fetch fresh ones. The pool object stays (one lock per node and key keeps
                // batches in number order); only its contents go.
                if (e is NodeErrorException { Code: ErrorCode.NonceRejected or ErrorCode.UnknownKey }) pools[i].Invalidate();
                if (e is NodeErrorException { Code: ErrorCode.NonceRejected }) stale.Add(signers[i]);
                if (e is NodeErrorException { Code: ErrorCode.InvalidRequest }) refusals.Add(signers[i]);
                else _logger.LogWarning("{Node} failed a signing round for key {KeyId}: {Reason}", Describe(signers[i]), signing.KeyId, failed[signers[i]]);
            }
        }
        if (refusals.Count > 0)
        {
            var liars = signing.Coordinator.CheckPreprocessed(taken);
            foreach (var (node, blame) in liars)
            {
                failed[node] = $"{blame.Count} {blame.What}";
                pools[signers.ToList().IndexOf(node)].Invalidate();
                ReportBadShares(node, blame.Count, signing.KeyId, blame.What);
            }
            foreach (var node in refusals)
            {
                // Refusing another signer's bad item is what an honest node must do: not its failure.
                if (liars.Count > 0 && !liars.ContainsKey(node)) failed.Remove(node);
                else _logger.LogWarning("{Node} failed a signing round for key {KeyId}: {Reason}", Describe(node), signing.KeyId, failed[node]);
            }
        }
        return failed.Count > 0 ? new FixedRoundResult(null, [], failed, timedOut, stale) : new FixedRoundResult(round, answers, failed, timedOut, stale);
    }

    /// <summary>Tops the pool up to at least <paramref name="needed"/> items, fetching extra so the next batch needs no preprocessing round.</summary>
    private async Task RefillAsync(Signing signing, int nodeId, PreprocessPool pool, int needed, CancellationToken cancellationToken)
    {
        if (pool.Ready.Count >= needed) return;
        int count = Math.Min(ProtocolLimits.MaxBatchItems, Math.Max(needed - pool.Ready.Count + needed, 64));
        var payload = new KeyStepRequest(signing.KeyId, signing.Scheme, signing.Coordinator.PreprocessRequest(count)).Encode();
        // Preprocessing is cheap next to signing: it counts as an eighth of an item each in the node's expected load.
        var reply = await RequestAsync(nodeId, MessageType.Preprocess, payload, RequestTimeout, count / 8, cancellationToken);
        var fresh = signing.Coordinator.ReadPreprocessAnswer(nodeId, reply, count);
        // Numbers below what the pool holds would be refused by the node anyway: start over from this reply.
        if (pool.Ready.Count > 0 && fresh[0].Number <= pool.Ready.Last().Number) pool.Ready.Clear();
        foreach (var item in fresh) pool.Ready.Enqueue(item);
        if (pool.Ready.Count < needed) throw new ProtocolFormatException($"node {nodeId} gave too few preprocessed items");
    }
}
