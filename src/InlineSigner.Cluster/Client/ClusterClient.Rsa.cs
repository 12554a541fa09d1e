using InlineSigner.Cluster.Protocol;
using InlineSigner.Threshold;
using InlineSigner.Threshold.Rsa;
using Microsoft.Extensions.Logging;

namespace InlineSigner.Cluster.Client;

public sealed partial class ClusterClient
{
    /// <summary>
    /// Signs one batch of PKCS#1 v1.5-encoded messages (|N| bytes each) with a threshold RSA key: sends the batch to t
    /// nodes (plus configured spares), sends it to another node as soon as one fails or is slow, combines the first t
    /// answers optimistically (each result checked with y^e = x) and, for items whose combination fails, gathers shares
    /// with proofs from every node to find and deprioritise the liar. Returns one signature per message, in order, or
    /// throws <see cref="ClusterSigningException"/> naming the nodes that failed and why.
    /// </summary>
    public async Task<IReadOnlyList<byte[]>> SignRsaAsync(string keyId, ThresholdRsaPublicKey publicKey, IReadOnlyList<byte[]> encodedMessages, CancellationToken cancellationToken)
    {
        if (publicKey.Threshold != Threshold || publicKey.Parties != Config.Nodes.Count)
            throw new ArgumentException($"key {keyId} is {publicKey.Threshold} of {publicKey.Parties}, the cluster is {Threshold} of {Config.Nodes.Count}");
        if (encodedMessages.Count == 0) return [];
        var failures = new Dictionary<int, string>();
        var answers = await GatherRsaSharesAsync(keyId, publicKey, encodedMessages, withProofs: false, Threshold, new HashSet<int>(), failures, cancellationToken);
        var signatures = new byte[encodedMessages.Count][];
        var failing = new System.Collections.Concurrent.ConcurrentBag<int>();
        var first = answers.Take(Threshold).ToList();
        // In chunks (one per processor, at most 64 messages), each combined with a single modular inversion.
        int chunk = Math.Clamp((encodedMessages.Count + Environment.ProcessorCount - 1) / Environment.ProcessorCount, 1, 64);
        Parallel.For(0, (encodedMessages.Count + chunk - 1) / chunk, new ParallelOptions { CancellationToken = cancellationToken }, c =>
        {
            int from = c * chunk, count = Math.Min(chunk, encodedMessages.Count - from);
            var combined = ThresholdRsaCombiner.CombineOptimistic(publicKey, encodedMessages.Skip(from).Take(count).ToList(),
                Enumerable.Range(from, count).Select(i => (IReadOnlyList<RsaSignatureShare>)first.Select(a => a.Shares[i]).ToList()).ToList());
            for (int i = 0; i < count; i++)
            {
                if (combined[i] is { } signature) signatures[from + i] = signature;
                else failing.Add(from + i);
            }
        });
        if (!failing.IsEmpty) await RecoverWithProofsAsync(keyId, publicKey, encodedMessages, failing.Order().ToList(), signatures, failures, cancellationToken);
        return signatures;
    }

    private sealed record RsaAnswer(int NodeId, IReadOnlyList<RsaSignatureShare> Shares);

    /// <summary>
    /// Sends the batch until <paramref name="needed"/> nodes have answered with well-formed shares, or nobody is left, or
    /// the request timeout passes. A node that answers badly, fails or is not reachable is replaced by the next best.
    /// </summary>
    private async Task<List<RsaAnswer>> GatherRsaSharesAsync(string keyId, ThresholdRsaPublicKey publicKey, IReadOnlyList<byte[]> messages, bool withProofs,
        int needed, IReadOnlySet<int> exclude, Dictionary<int, string> failures, CancellationToken cancellationToken)
    {
        var payload = new RsaSignRequest(keyId, withProofs, messages).Encode();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(RequestTimeout);
        var answers = new List<RsaAnswer>();
        var running = new Dictionary<Task<byte[]>, int>();
        var tried = new HashSet<int>(exclude);

        bool Launch()
        {
            var next = RankNodes(tried).FirstOrDefault();
            if (next == 0) return false;
            tried.Add(next);
            running[RequestAsync(next, MessageType.RsaSign, payload, RequestTimeout, messages.Count, deadline.Token)] = next;
            return true;
        }

        for (int i = 0; i < needed + (withProofs ? Config.Nodes.Count : Config.File.Spares); i++)
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
                answers.Add(new RsaAnswer(node, DecodeRsaShares(reply, node, messages.Count, publicKey)));
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw;
            }
            catch (Exception e) when (e is NodeErrorException or NodeUnavailableException or TimeoutException or FormatException or OperationCanceledException)
            {
                failures[node] = e is OperationCanceledException ? "no answer within the request timeout" : Reason(e);
                _logger.LogWarning("{Node} failed a signing batch of {Count} for key {KeyId}: {Reason}", Describe(node), messages.Count, keyId, failures[node]);
            }
        }
        cancellationToken.ThrowIfCancellationRequested();
        if (answers.Count < needed)
        {
            foreach (var node in running.Values) failures[node] = $"no answer within {RequestTimeout.TotalSeconds:0.###} s";
            throw BelowThreshold($"threshold RSA signing with key {keyId} failed", answers.Count, failures);
        }
        // Requests still running (spares sent to hedge a slow node) are simply abandoned: slow is not failed, and
        // those nodes must stay eligible for the proof round if the combination fails.
        foreach (var answer in answers) failures.Remove(answer.NodeId);
        return answers;
    }

    private static IReadOnlyList<RsaSignatureShare> DecodeRsaShares(byte[] reply, int nodeId, int count, ThresholdRsaPublicKey publicKey)
    {
        var items = ByteStringList.Decode(reply, count, 4 * ThresholdRsaPublicKey.MaxModulusBytes, "RSA sign reply");
        if (items.Count != count) throw new ProtocolFormatException($"{items.Count} shares for {count} messages");
        var shares = new RsaSignatureShare[count];
        for (int i = 0; i < count; i++)
        {
            shares[i] = RsaSignatureShare.Decode(items[i]);
            if (shares[i].Index != nodeId) throw new ProtocolFormatException($"share #{shares[i].Index} from node {nodeId}");
            if (shares[i].Value.Length != publicKey.ModulusBytes) throw new ProtocolFormatException($"share of {shares[i].Value.Length} bytes for a {publicKey.ModulusBytes}-byte modulus");
        }
        return shares;
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
    /// The pessimistic path for items whose optimistic combination failed: shares with proofs from every node (but
    /// those that already failed), proofs checked, bad holders named and deprioritised, items combined from proven shares.
    /// </summary>
    private async Task RecoverWithProofsAsync(string keyId, ThresholdRsaPublicKey publicKey, IReadOnlyList<byte[]> messages, IReadOnlyList<int> failing,
        byte[][] signatures, Dictionary<int, string> failures, CancellationToken cancellationToken)
    {
        _logger.LogWarning("key {KeyId}: {Count} combined signature(s) did not verify; asking every node for shares with proofs", keyId, failing.Count);
        var subset = failing.Select(i => messages[i]).ToList();
        var unreachable = failures.Keys.ToHashSet();
        var proven = await GatherAllWithProofsAsync(keyId, publicKey, subset, unreachable, failures, cancellationToken);
        var badCounts = new Dictionary<int, int>();
        var stillFailing = new List<int>();
        for (int k = 0; k < failing.Count; k++)
        {
            try
            {
                var result = ThresholdRsaCombiner.Combine(publicKey, subset[k], proven.Select(a => a.Shares[k]).ToList());
                signatures[failing[k]] = result.Signature;
                foreach (var bad in result.BadHolders) badCounts[bad] = badCounts.GetValueOrDefault(bad) + 1;
            }
            catch (ThresholdSigningException e)
            {
                foreach (var bad in e.BadHolders) badCounts[bad] = badCounts.GetValueOrDefault(bad) + 1;
                stillFailing.Add(failing[k]);
            }
        }
        foreach (var (node, count) in badCounts)
        {
            ReportBadShares(node, count, keyId);
            failures[node] = $"{count} signature share(s) with failing proofs";
        }
        if (stillFailing.Count > 0)
            throw BelowThreshold($"threshold RSA signing with key {keyId} failed for {stillFailing.Count} message(s)",
                proven.Count - badCounts.Count, failures);
    }

    private async Task<List<RsaAnswer>> GatherAllWithProofsAsync(string keyId, ThresholdRsaPublicKey publicKey, IReadOnlyList<byte[]> messages,
        IReadOnlySet<int> exclude, Dictionary<int, string> failures, CancellationToken cancellationToken)
    {
        var payload = new RsaSignRequest(keyId, true, messages).Encode();
        var nodes = Config.Nodes.Select(n => n.Id).Where(n => !exclude.Contains(n)).ToList();
        var results = await Task.WhenAll(nodes.Select(async node =>
        {
            try
            {
                var reply = await RequestAsync(node, MessageType.RsaSign, payload, RequestTimeout, messages.Count, cancellationToken);
                return new RsaAnswer(node, DecodeRsaShares(reply, node, messages.Count, publicKey));
            }
            catch (Exception e) when (e is NodeErrorException or NodeUnavailableException or TimeoutException or FormatException)
            {
                lock (failures) failures[node] = Reason(e);
                return null;
            }
        }));
        return results.OfType<RsaAnswer>().ToList();
    }
}
