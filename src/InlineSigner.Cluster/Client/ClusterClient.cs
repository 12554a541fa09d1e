using System.Diagnostics;
using InlineSigner.Cluster.Crypto;
using InlineSigner.Cluster.Protocol;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace InlineSigner.Cluster.Client;

/// <summary>
/// The cluster could not produce signatures: fewer than t nodes gave valid shares in time. <see cref="Failures"/> says
/// for each node that did not contribute why not.
/// </summary>
public sealed class ClusterSigningException(string message, IReadOnlyDictionary<int, string> failures) : Exception(message)
{
    public IReadOnlyDictionary<int, string> Failures { get; } = failures;
}

/// <summary>One node's outcome of a request sent to every node.</summary>
public sealed record NodeResult<T>(int NodeId, T? Value, string? Error)
{
    public bool Ok => Error is null;
}

/// <summary>
/// The client side of the key cluster: authenticated requests to the nodes of cluster.json, per-node health (with a
/// background ping), and threshold signing batches of any scheme (<see cref="SignAsync"/>) that
/// survive down, slow and lying nodes as long as t honest nodes answer.
/// </summary>
public sealed partial class ClusterClient : IDisposable
{
    private readonly ClusterTransport _transport;
    private readonly Ed25519SigningKey _clientKey;
    private readonly Dictionary<int, NodeHealth> _health;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _closing = new();
    private readonly Task _prober;

    private ClusterClient(ClusterConfig config, ILogger logger, TimeProvider time)
    {
        Config = config;
        _logger = logger;
        _time = time;
        _clientKey = Ed25519SigningKey.FromSeed(config.ClientSeed);
        _health = config.Nodes.ToDictionary(n => n.Id, n => new NodeHealth(n.Id, n.Endpoint, time));
        _transport = new ClusterTransport(config, _clientKey, logger, time);
        _prober = Task.Run(() => ProbeLoopAsync(_closing.Token));
    }

    /// <summary>Connects to every node of the configuration (connections are made in the background; nothing blocks here).</summary>
    public static ClusterClient Create(ClusterConfig config, ILogger? logger = null, TimeProvider? time = null) =>
        new(config, logger ?? NullLogger.Instance, time ?? TimeProvider.System);

    public static ClusterClient Create(string clusterJsonPath, ILogger? logger = null) => Create(ClusterConfig.Load(clusterJsonPath), logger);

    public ClusterConfig Config { get; }

    public int Threshold => Config.Threshold;

    /// <summary>The client's Ed25519 public key (what the nodes' allow-lists must hold).</summary>
    public byte[] ClientPublicKey => _clientKey.PublicKey;

    private TimeSpan RequestTimeout => TimeSpan.FromMilliseconds(Config.File.RequestTimeoutMs);

    /// <summary>Every node's health now.</summary>
    public IReadOnlyList<NodeHealthSnapshot> Health() => _health.Values.OrderBy(h => h.NodeId).Select(h => h.Snapshot()).ToList();

    /// <summary>
    /// Sends one request to one node and waits for the reply, at most <paramref name="timeout"/>. Keeps the node's
    /// health up to date. Throws <see cref="NodeErrorException"/>, <see cref="NodeUnavailableException"/> or
    /// <see cref="TimeoutException"/>.
    /// </summary>
    internal async Task<byte[]> RequestAsync(int nodeId, MessageType type, byte[] payload, TimeSpan timeout, int items, CancellationToken cancellationToken)
    {
        var health = _health[nodeId];
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _closing.Token);
        cts.CancelAfter(timeout);
        var clock = Stopwatch.StartNew();
        int ahead = health.BeginItems(items);
        try
        {
            var reply = await _transport.SendAsync(nodeId, type, payload, cts.Token);
            health.Success(clock.Elapsed, items, ahead);
            return reply.Payload;
        }
        catch (NodeErrorException e)
        {
            health.ErrorReply($"{e.Code}: {e.NodeMessage}");
            throw;
        }
        catch (NodeUnavailableException e)
        {
            health.Unreachable(e.Message, timeout: false);
            throw;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && !_closing.IsCancellationRequested)
        {
            var message = $"no answer within {timeout.TotalSeconds:0.###} s (node down or overloaded, this client not on its allow-list, or clocks too far apart)";
            health.Unreachable(message, timeout: true);
            throw new TimeoutException($"node {nodeId}: {message}");
        }
        finally
        {
            health.EndItems(items);
        }
    }

    /// <summary>Why a request to a node failed, in one line for logs and error messages.</summary>
    internal static string Reason(Exception e) => e switch
    {
        NodeErrorException n => $"{n.Code}: {n.NodeMessage}",
        NodeUnavailableException u => u.Message[(u.Message.IndexOf(':') + 2)..],
        TimeoutException t => t.Message[(t.Message.IndexOf(':') + 2)..],
        ProtocolFormatException or InlineSigner.Threshold.ThresholdFormatException => $"malformed reply: {e.Message}",
        _ => e.Message,
    };

    private string Describe(int nodeId) => $"node {nodeId} ({_health[nodeId].Endpoint})";

    /// <summary>Sends the same request to every node at once and collects each one's outcome (never throws for a node's failure).</summary>
    internal Task<IReadOnlyList<NodeResult<T>>> AllNodesAsync<T>(MessageType type, Func<int, byte[]> payload, Func<byte[], T> decode, CancellationToken cancellationToken) =>
        AllNodesAsync(type, payload, decode, RequestTimeout, cancellationToken);

    private async Task<IReadOnlyList<NodeResult<T>>> AllNodesAsync<T>(MessageType type, Func<int, byte[]> payload, Func<byte[], T> decode, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var tasks = Config.Nodes.Select(async node =>
        {
            try
            {
                var reply = await RequestAsync(node.Id, type, payload(node.Id), timeout, 0, cancellationToken);
                return new NodeResult<T>(node.Id, decode(reply), null);
            }
            catch (Exception e) when (e is NodeErrorException or NodeUnavailableException or TimeoutException or FormatException)
            {
                return new NodeResult<T>(node.Id, default, Reason(e));
            }
        }).ToList();
        return await Task.WhenAll(tasks);
    }

    /// <summary>Pings every node.</summary>
    public Task<IReadOnlyList<NodeResult<PingReply>>> PingAllAsync(CancellationToken cancellationToken) =>
        AllNodesAsync(MessageType.Ping, _ => [], p => PingReply.Decode(p), cancellationToken);

    /// <summary>
    /// Waits until at least <paramref name="minimum"/> nodes answer a ping, or <paramref name="timeout"/> passes, and
    /// returns every node's last outcome. Connections are made in the background when the client is created, so a
    /// command that starts work at once calls this first instead of taking "not connected yet" for "down".
    /// </summary>
    public async Task<IReadOnlyList<NodeResult<PingReply>>> WaitForNodesAsync(int minimum, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var left = timeout - clock.Elapsed;
            var round = left < TimeSpan.FromSeconds(1) ? (left > TimeSpan.FromMilliseconds(50) ? left : TimeSpan.FromMilliseconds(50)) : TimeSpan.FromSeconds(1);
            var results = await AllNodesAsync(MessageType.Ping, _ => [], p => PingReply.Decode(p), round, cancellationToken);
            if (results.Count(r => r.Ok) >= minimum || clock.Elapsed >= timeout) return results;
            await Task.Delay(TimeSpan.FromMilliseconds(50), _time, cancellationToken);
        }
    }

    /// <summary>What every node holds.</summary>
    public Task<IReadOnlyList<NodeResult<IReadOnlyList<HeldKeyInfo>>>> ListAllAsync(CancellationToken cancellationToken) =>
        AllNodesAsync(MessageType.ListKeys, _ => [], p => ListKeysReply.Decode(p), cancellationToken);

    /// <summary>Deletes a key's share on every node; each node's outcome (a node without the key reports UnknownKey).</summary>
    public Task<IReadOnlyList<NodeResult<bool>>> DeleteAllAsync(string keyId, CancellationToken cancellationToken) =>
        AllNodesAsync(MessageType.DeleteShare, _ => new KeyIdRequest(keyId).Encode(), _ => true, cancellationToken);

    /// <summary>Stores one share on one node (over the CURVE channel, in a signed request).</summary>
    public async Task StoreShareAsync(int nodeId, StoreShareRequest request, CancellationToken cancellationToken)
    {
        var payload = request.Encode();
        try
        {
            await RequestAsync(nodeId, MessageType.StoreShare, payload, RequestTimeout, 0, cancellationToken);
        }
        finally
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(payload);
        }
    }

    /// <summary>
    /// Nodes in order of preference, leaving out <paramref name="exclude"/>: up before down, not penalised before
    /// penalised, then least work in flight, then lowest latency. Down and penalised nodes stay in the list (last), so
    /// they are tried when nothing better is left — that is how they are probed again under load.
    /// </summary>
    internal List<int> RankNodes(IReadOnlySet<int> exclude) =>
        _health.Values.Where(h => !exclude.Contains(h.NodeId))
            .OrderByDescending(h => h.Up)
            .ThenBy(h => h.Penalised)
            .ThenBy(h => h.InFlightItems)
            .ThenBy(h => h.Snapshot().Latency ?? TimeSpan.Zero)
            .ThenBy(_ => Random.Shared.Next())
            .Select(h => h.NodeId).ToList();

    internal NodeHealth HealthOf(int nodeId) => _health[nodeId];

    internal void ReportBadShares(int nodeId, int count, string keyId, string what = "bad signature share(s)")
    {
        var message = $"{count} {what} for key {keyId}";
        _health[nodeId].BadShare(count, TimeSpan.FromMilliseconds(Config.File.BadNodePenaltyMs), message);
        _logger.LogWarning("{Node} returned {Count} {What} for key {KeyId}; it is deprioritised for {Penalty} s", Describe(nodeId), count, what, keyId, Config.File.BadNodePenaltyMs / 1000);
    }

    private ClusterSigningException BelowThreshold(string what, int good, IReadOnlyDictionary<int, string> failures)
    {
        var parts = failures.OrderBy(f => f.Key).Select(f => $"{Describe(f.Key)}: {f.Value}");
        var message = $"{what}: only {good} of the {Threshold} shares needed; {string.Join("; ", parts)}";
        _logger.LogError("{Message}", message);
        return new ClusterSigningException(message, failures);
    }

    private async Task ProbeLoopAsync(CancellationToken cancellationToken)
    {
        var interval = TimeSpan.FromMilliseconds(Config.File.ProbeIntervalMs);
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(interval, _time, cancellationToken);
                var results = await Task.WhenAll(Config.Nodes.Select(async node =>
                {
                    bool wasUp = _health[node.Id].Up;
                    try
                    {
                        await RequestAsync(node.Id, MessageType.Ping, [], interval, 0, cancellationToken);
                        if (!wasUp) _logger.LogInformation("{Node} is up again", Describe(node.Id));
                    }
                    catch (Exception e) when (e is NodeErrorException or NodeUnavailableException or TimeoutException)
                    {
                        if (wasUp) _logger.LogWarning("{Node} does not answer pings: {Reason}", Describe(node.Id), Reason(e));
                    }
                    return 0;
                }));
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public void Dispose()
    {
        _closing.Cancel();
        try { _prober.Wait(TimeSpan.FromSeconds(2)); } catch (AggregateException) { }
        _transport.Dispose();
        _clientKey.Dispose();
        _closing.Dispose();
    }
}
