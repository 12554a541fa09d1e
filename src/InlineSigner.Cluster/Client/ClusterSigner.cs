using System.Diagnostics;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Cluster.Keys;
using InlineSigner.Cluster.Protocol;
using InlineSigner.Dnssec;
using InlineSigner.Threshold;

namespace InlineSigner.Cluster.Client;

/// <summary>
/// One cluster key as the signing engine sees it: its scheme's <see cref="IThresholdCoordinator"/> (which prepares
/// each RRSIG signing input as the algorithm needs and combines the shares) driven by <see cref="ClusterClient.SignAsync"/>.
/// Signing inputs are split into batches
/// sized so a node takes about <see cref="ClusterConfigFile.TargetBatchMs"/> for one, and up to
/// <see cref="ClusterConfigFile.MaxInFlightBatches"/> batches are in flight at once. Every signature returned has been
/// verified against the public key; a batch that cannot be signed fails the whole call.
/// </summary>
public sealed class ClusterSigner : ISigner
{
    private readonly ClusterClient _client;
    private readonly ClusterKeyRecord _key;
    private readonly IThresholdCoordinator _coordinator;
    private readonly object _gate = new();
    private double? _perItemMs;
    private int _running;

    public ClusterSigner(ClusterClient client, ClusterKeyRecord key, int ttl = 3600)
    {
        _client = client;
        _key = key;
        Algorithm = key.DnsAlgorithm;
        try
        {
            _coordinator = key.Coordinator();
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            throw new ArgumentException($"key {key.KeyId}: scheme {key.Scheme} cannot sign algorithm {key.Algorithm}: {e.Message}", e);
        }
        DnsKey = key.ToDnsKey(ttl);
        KeyTag = DnsKey.CalculateKeyTag();
        if (KeyTag != key.KeyTag) throw new ArgumentException($"key {key.KeyId}: recorded key tag {key.KeyTag} does not match its DNSKEY ({KeyTag})");
    }

    public string KeyId => _key.KeyId;
    public DnsKeyRecord DnsKey { get; }
    public DnsSecAlgorithm Algorithm { get; }
    public ushort KeyTag { get; }

    /// <summary>The batch size the next call will use (adapts to measured node speed).</summary>
    public int BatchSize
    {
        get
        {
            var config = _client.Config.File;
            double? perItem;
            lock (_gate) perItem = _perItemMs;
            if (perItem is not { } ms || ms <= 0) return Math.Clamp(32, config.MinBatch, config.MaxBatch);
            return (int)Math.Clamp(config.TargetBatchMs / ms, config.MinBatch, config.MaxBatch);
        }
    }

    public async Task<IReadOnlyList<byte[]>> SignAsync(IReadOnlyList<ReadOnlyMemory<byte>> signingInputs, CancellationToken cancellationToken)
    {
        if (signingInputs.Count == 0) return [];
        var config = _client.Config.File;
        // Small jobs are spread over the in-flight slots rather than sent as one batch to a single set of nodes.
        int size = Math.Max(1, Math.Min(BatchSize, (signingInputs.Count + config.MaxInFlightBatches - 1) / config.MaxInFlightBatches));
        size = Math.Max(size, Math.Min(config.MinBatch, signingInputs.Count));
        var signatures = new byte[signingInputs.Count][];
        async Task SignIntoAsync(int from, int count, CancellationToken token)
        {
            int sideBySide = Interlocked.Increment(ref _running);
            try
            {
                var clock = Stopwatch.StartNew();
                var result = await SignBatchAsync(signingInputs, from, count, token);
                for (int i = 0; i < count; i++) signatures[from + i] = result[i];
                Observe(clock.Elapsed.TotalMilliseconds / count / sideBySide);
            }
            finally
            {
                Interlocked.Decrement(ref _running);
            }
        }
        if (signingInputs.Count <= size)
        {
            // One batch: nothing to fan out, so no thread hop before the request leaves (it shows in the latency).
            await SignIntoAsync(0, signingInputs.Count, cancellationToken);
            return signatures;
        }
        using var slots = new SemaphoreSlim(config.MaxInFlightBatches);
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var batches = new List<Task>();
        for (int start = 0; start < signingInputs.Count; start += size)
        {
            int from = start, count = Math.Min(size, signingInputs.Count - start);
            await slots.WaitAsync(failed.Token);
            batches.Add(Task.Run(async () =>
            {
                try
                {
                    await SignIntoAsync(from, count, failed.Token);
                }
                catch
                {
                    failed.Cancel(); // no partial results: stop sending the rest
                    throw;
                }
                finally
                {
                    slots.Release();
                }
            }, CancellationToken.None));
            if (failed.IsCancellationRequested) break;
        }
        try
        {
            await Task.WhenAll(batches);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // One batch failed and cancelled the others: report the real failure, not the cancellations.
            var real = batches.Where(b => b.IsFaulted).Select(b => b.Exception!.InnerException!).FirstOrDefault(e => e is not OperationCanceledException);
            if (real is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(real).Throw();
            throw;
        }
        return signatures;
    }

    /// <summary>
    /// Records the time per item of a finished batch, already divided by the batches that ran beside it: roughly the
    /// cluster's service time per item, which sizes the next batches.
    /// </summary>
    private void Observe(double perItemMs)
    {
        lock (_gate) _perItemMs = _perItemMs is { } p ? 0.7 * p + 0.3 * perItemMs : perItemMs;
    }

    private Task<IReadOnlyList<byte[]>> SignBatchAsync(IReadOnlyList<ReadOnlyMemory<byte>> inputs, int from, int count, CancellationToken cancellationToken)
    {
        var batch = from == 0 && count == inputs.Count ? inputs : inputs.Skip(from).Take(count).ToList();
        return _client.SignAsync(_key.KeyId, _key.Scheme, _coordinator, batch, cancellationToken);
    }
}
