using System.Buffers.Binary;
using System.Collections.Concurrent;
using InlineSigner.Cluster.Crypto;
using InlineSigner.Cluster.Node;
using InlineSigner.Cluster.Protocol;
using Microsoft.Extensions.Logging;
using NetMQ;
using NetMQ.Sockets;

namespace InlineSigner.Cluster.Client;

/// <summary>A node answered with a typed error.</summary>
public sealed class NodeErrorException(int nodeId, Protocol.ErrorCode code, string message) : Exception($"node {nodeId}: {code}: {message}")
{
    public int NodeId { get; } = nodeId;
    public Protocol.ErrorCode Code { get; } = code;
    public string NodeMessage { get; } = message;
}

/// <summary>A request could not even be sent: the node has no live, authenticated CURVE connection.</summary>
public sealed class NodeUnavailableException(int nodeId, string message) : Exception($"node {nodeId}: {message}")
{
    public int NodeId { get; } = nodeId;
}

/// <summary>
/// The client's sockets: one DEALER per node, CURVE-encrypted and pinned to the node's public key, all driven by one
/// poller thread. Callers on any thread send signed requests and await the matching reply by request id. Sockets
/// use ZMQ_IMMEDIATE (DelayAttachOnConnect): a request to a node without a live connection fails at once instead of
/// queueing, which is how a dead node is noticed without waiting for a timeout.
/// </summary>
internal sealed class ClusterTransport : IDisposable
{
    private sealed record Outgoing(int NodeId, byte[] Frame, UInt128 RequestId);
    private sealed record Pending(int NodeId, MessageType Type, TaskCompletionSource<ReplyEnvelope> Completion);

    private readonly Ed25519SigningKey _clientKey;
    private readonly ILogger _logger;
    private readonly Dictionary<int, DealerSocket> _sockets = new();
    private readonly ConcurrentDictionary<UInt128, Pending> _pending = new();
    private readonly NetMQQueue<Outgoing> _outbox = new();
    private readonly NetMQPoller _poller;
    private readonly List<NetMQ.Monitoring.NetMQMonitor> _monitors = [];
    private readonly TimeProvider _time;
    private int _disposed;

    public ClusterTransport(ClusterConfig config, Ed25519SigningKey clientKey, ILogger logger, TimeProvider? time = null)
    {
        _clientKey = clientKey;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        // The CURVE client key is per process: clients authenticate with their Ed25519 key inside the protocol.
        var certificate = new NetMQCertificate();
        _poller = new NetMQPoller { _outbox };
        _outbox.ReceiveReady += OnOutbox;
        foreach (var node in config.Nodes)
        {
            var socket = new DealerSocket();
            socket.Options.CurveServerKey = config.NodeCurveKeys[node.Id];
            socket.Options.CurveCertificate = certificate;
            socket.Options.IPv4Only = false;
            socket.Options.DelayAttachOnConnect = true;
            socket.Options.Linger = TimeSpan.Zero;
            socket.Options.ReconnectInterval = TimeSpan.FromMilliseconds(100);
            socket.Options.ReconnectIntervalMax = TimeSpan.FromSeconds(2);
            socket.Options.HeartbeatInterval = TimeSpan.FromSeconds(1);
            socket.Options.HeartbeatTimeout = TimeSpan.FromSeconds(3);
            socket.Options.SendHighWatermark = 1000;
            socket.Options.ReceiveHighWatermark = 10_000;
            int nodeId = node.Id;
            socket.ReceiveReady += (_, e) => OnReceive(nodeId, e.Socket);
            // A connection that drops takes its requests with it: fail them now instead of at their timeout, so a
            // node that dies mid-request is replaced at once (and "fewer than t nodes" is reported fast).
            var monitor = new NetMQ.Monitoring.NetMQMonitor(socket, $"inproc://cluster-client-{Guid.NewGuid():N}-{nodeId}", SocketEvents.Disconnected);
            monitor.Disconnected += (_, _) => FailPending(nodeId, "connection lost while waiting for the answer");
            _monitors.Add(monitor);
            socket.Connect(node.Endpoint);
            _sockets[node.Id] = socket;
            _poller.Add(socket);
        }
        foreach (var monitor in _monitors) monitor.AttachToPoller(_poller);
        _poller.RunAsync("cluster-client", isBackgroundThread: true);
    }

    private void FailPending(int nodeId, string reason)
    {
        foreach (var (id, pending) in _pending)
            if (pending.NodeId == nodeId && _pending.TryRemove(id, out var removed))
                removed.Completion.TrySetException(new NodeUnavailableException(nodeId, reason));
    }

    /// <summary>Signs and sends a request; the task ends with the node's reply, a typed error, or cancellation.</summary>
    public Task<ReplyEnvelope> SendAsync(int nodeId, MessageType type, byte[] payload, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var requestId = RequestEnvelope.NewRequestId();
        var frame = RequestEnvelope.Encode(type, requestId, _time.GetUtcNow().ToUnixTimeMilliseconds(), nodeId, _clientKey, payload);
        var id = BinaryPrimitives.ReadUInt128BigEndian(requestId);
        var completion = new TaskCompletionSource<ReplyEnvelope>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = new Pending(nodeId, type, completion);
        if (cancellationToken.CanBeCanceled)
        {
            var registration = cancellationToken.Register(() =>
            {
                if (_pending.TryRemove(id, out var p)) p.Completion.TrySetCanceled(cancellationToken);
            });
            completion.Task.ContinueWith(_ => registration.Dispose(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
        _outbox.Enqueue(new Outgoing(nodeId, frame, id));
        return completion.Task;
    }

    private void OnOutbox(object? sender, NetMQQueueEventArgs<Outgoing> e)
    {
        for (int i = 0; i < 1000 && e.Queue.TryDequeue(out var outgoing, TimeSpan.Zero); i++)
        {
            if (!_pending.ContainsKey(outgoing.RequestId)) continue; // cancelled before it left
            if (!_sockets[outgoing.NodeId].TrySendFrame(TimeSpan.Zero, outgoing.Frame))
            {
                if (_pending.TryRemove(outgoing.RequestId, out var pending))
                    pending.Completion.TrySetException(new NodeUnavailableException(outgoing.NodeId, "not connected (down, unreachable, or its CURVE key differs from cluster.json)"));
            }
        }
    }

    private void OnReceive(int nodeId, NetMQSocket socket)
    {
        for (int i = 0; i < 1000 && socket.TryReceiveFrameBytes(out var frame); i++)
        {
            ReplyEnvelope reply;
            try
            {
                reply = ReplyEnvelope.Decode(frame!, int.MaxValue);
            }
            catch (ProtocolFormatException e)
            {
                _logger.LogWarning("node {NodeId} sent a malformed reply: {Message}", nodeId, e.Message);
                continue;
            }
            var id = BinaryPrimitives.ReadUInt128BigEndian(reply.RequestId);
            if (!_pending.TryGetValue(id, out var pending) || pending.NodeId != nodeId) continue; // late (timed out) or not ours
            _pending.TryRemove(id, out _);
            if (reply.NodeId != nodeId)
                pending.Completion.TrySetException(new NodeErrorException(nodeId, Protocol.ErrorCode.InvalidRequest, $"reply claims to come from node {reply.NodeId}"));
            else if (reply.IsError)
            {
                try
                {
                    var (code, message) = ErrorPayload.Decode(reply.Payload);
                    pending.Completion.TrySetException(new NodeErrorException(nodeId, code, message));
                }
                catch (ProtocolFormatException e)
                {
                    pending.Completion.TrySetException(new NodeErrorException(nodeId, Protocol.ErrorCode.Malformed, $"unreadable error reply: {e.Message}"));
                }
            }
            else if (reply.AnswerTo != pending.Type)
                pending.Completion.TrySetException(new NodeErrorException(nodeId, Protocol.ErrorCode.Malformed, $"reply of type {reply.AnswerTo} to a {pending.Type} request"));
            else
                pending.Completion.TrySetResult(reply);
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        try { _poller.Stop(); } catch (InvalidOperationException) { }
        foreach (var monitor in _monitors)
        {
            monitor.DetachFromPoller();
            monitor.Dispose();
        }
        _poller.Dispose();
        foreach (var socket in _sockets.Values) socket.Dispose();
        _outbox.Dispose();
        foreach (var pending in _pending.Values) pending.Completion.TrySetException(new ObjectDisposedException(nameof(ClusterClient)));
        _pending.Clear();
    }
}
