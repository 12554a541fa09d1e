using System.Collections.Concurrent;
using System.Diagnostics;
using InlineSigner.Cluster.Protocol;
using Microsoft.Extensions.Logging;
using NetMQ;
using NetMQ.Sockets;
using ErrorCode = InlineSigner.Cluster.Protocol.ErrorCode;

namespace InlineSigner.Cluster.Node;

/// <summary>What a node has refused or served since it started (for logs, tests and later metrics).</summary>
public sealed class NodeCounters
{
    private long _served, _errors, _unauthenticated, _notAllowed, _stale, _replayed, _dropped;

    /// <summary>Authenticated requests answered with a result.</summary>
    public long Served => Interlocked.Read(ref _served);

    /// <summary>Authenticated requests answered with a typed error (malformed, unknown type, oversize, …).</summary>
    public long ErrorReplies => Interlocked.Read(ref _errors);

    /// <summary>Frames that are not a well-formed request signed by the key they name: never answered.</summary>
    public long Unauthenticated => Interlocked.Read(ref _unauthenticated);

    /// <summary>Validly signed requests from keys not on the allow-list: never answered.</summary>
    public long NotAllowed => Interlocked.Read(ref _notAllowed);

    /// <summary>Requests whose timestamp is outside the clock window: never answered.</summary>
    public long Stale => Interlocked.Read(ref _stale);

    /// <summary>Requests whose id was already seen: never answered.</summary>
    public long Replayed => Interlocked.Read(ref _replayed);

    /// <summary>Requests dropped because their connection already had its limit waiting.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Everything refused without an answer.</summary>
    public long Unanswered => Unauthenticated + NotAllowed + Stale + Replayed + Dropped;

    internal void CountServed() => Interlocked.Increment(ref _served);
    internal void CountError() => Interlocked.Increment(ref _errors);
    internal void CountUnauthenticated() => Interlocked.Increment(ref _unauthenticated);
    internal void CountNotAllowed() => Interlocked.Increment(ref _notAllowed);
    internal void CountStale() => Interlocked.Increment(ref _stale);
    internal void CountReplayed() => Interlocked.Increment(ref _replayed);
    internal void CountDropped() => Interlocked.Increment(ref _dropped);

    public override string ToString() =>
        $"served {Served}, error replies {ErrorReplies}, unanswered {Unanswered} (unauthenticated {Unauthenticated}, not allowed {NotAllowed}, stale {Stale}, replayed {Replayed}, dropped {Dropped})";
}

/// <summary>
/// Test hook: lets a test make a node lie (change its encoded answers — signature shares, commitments — into wrong but
/// well-formed ones) to prove the client catches it.
/// </summary>
internal interface INodeFaults
{
    byte[] SignAnswer(KeyScheme scheme, byte[] answer) => answer;
    byte[] PreprocessAnswer(KeyScheme scheme, byte[] answer) => answer;
}

/// <summary>
/// The dtcnode: a NetMQ ROUTER socket with CURVE, answering signed requests from allowed clients.
///
/// Threads: the poller thread only moves frames (receive into per-connection queues, send replies from an outbox).
/// One dispatcher thread authenticates requests in arrival order per connection, round-robin across connections
/// (signature, allow-list, clock window, replay cache; everything else is dropped unanswered and counted), answers
/// cheap requests and splits signing batches into chunks. Worker threads sign the chunks, again round-robin across
/// connections, so a client with a huge batch delays others by at most a chunk per worker.
/// </summary>
public sealed partial class NodeServer : IDisposable
{
    private readonly NodeConfig _config;
    private readonly ShareStore _store;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly INodeFaults? _faults;
    private readonly HashSet<string> _allowed;
    private readonly ConcurrentDictionary<string, HeldKey> _keys = new(StringComparer.Ordinal);
    private readonly FairQueue<string, Incoming> _inbox;
    private readonly FairQueue<string, Action> _work;
    private readonly ReplayCache _replay;
    private readonly NetMQQueue<NetMQMessage> _outbox = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly Stopwatch _uptime = Stopwatch.StartNew();
    private readonly RejectionLog _rejections;
    private RouterSocket? _router;
    private NetMQPoller? _poller;
    private readonly List<Thread> _threads = [];

    private sealed record Incoming(byte[] Identity, byte[] Frame);

    internal NodeServer(NodeConfig config, ShareStore store, ILogger logger, TimeProvider? time, INodeFaults? faults)
    {
        _config = config;
        _store = store;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _faults = faults;
        _allowed = config.AllowedClients.Select(Convert.ToBase64String).ToHashSet(StringComparer.Ordinal);
        _inbox = new FairQueue<string, Incoming>(config.Limits.MaxQueuedRequestsPerClient, StringComparer.Ordinal);
        _work = new FairQueue<string, Action>(int.MaxValue, StringComparer.Ordinal);
        _replay = new ReplayCache(config.Limits.ReplayCacheSize, TimeSpan.FromSeconds(config.Limits.ClockSkewSeconds));
        _rejections = new RejectionLog(logger, _time);
        foreach (var stored in store.Keys())
        {
            try
            {
                _keys[stored.KeyId] = HeldKey.Load(stored, config.NodeId);
            }
            catch (Exception e) when (e is FormatException or ArgumentException or System.Security.Cryptography.CryptographicException)
            {
                throw new ShareStoreException($"share store {store.Path}: key {stored.KeyId} cannot be loaded: {e.Message}", e);
            }
        }
    }

    public NodeServer(NodeConfig config, ShareStore store, ILogger logger, TimeProvider? time = null) : this(config, store, logger, time, null) { }

    public NodeCounters Counters { get; } = new();

    public int NodeId => _config.NodeId;

    /// <summary>Binds every listen endpoint and starts the poller, dispatcher and workers.</summary>
    public void Start()
    {
        var router = new RouterSocket();
        try
        {
            router.Options.CurveServer = true;
            router.Options.CurveCertificate = _config.Certificate;
            router.Options.IPv4Only = false;
            router.Options.Linger = TimeSpan.Zero;
            // Frames far beyond the limit are cut off by NetMQ (the connection drops); frames up to twice the
            // limit still reach us, so an authenticated sender learns that its request was too large.
            router.Options.MaxMsgSize = 2L * _config.Limits.MaxRequestBytes + RequestEnvelope.Overhead;
            router.Options.ReceiveHighWatermark = 10_000;
            router.Options.SendHighWatermark = 10_000;
            foreach (var endpoint in _config.File.Listen)
            {
                try { router.Bind(endpoint); }
                catch (Exception e) when (e is NetMQException or System.Net.Sockets.SocketException or ArgumentException)
                {
                    throw new ClusterConfigException($"node {NodeId}: cannot listen on {endpoint}: {e.Message}", e);
                }
            }
        }
        catch
        {
            router.Dispose();
            throw;
        }
        _router = router;
        router.ReceiveReady += OnReceive;
        _outbox.ReceiveReady += OnOutbox;
        _poller = new NetMQPoller { router, _outbox };
        _poller.RunAsync($"node{NodeId}-poller", isBackgroundThread: true);

        StartThread("dispatch", DispatchLoop);
        int workers = _config.Limits.Workers > 0 ? _config.Limits.Workers : Environment.ProcessorCount;
        for (int i = 0; i < workers; i++) StartThread($"worker{i}", WorkLoop);
        _logger.LogInformation("node {NodeId} listening on {Endpoints} (CURVE public key {PublicKey}); {Keys} key(s) loaded; {Clients} allowed client(s)",
            NodeId, string.Join(", ", _config.File.Listen), _config.Certificate.PublicKeyZ85, _keys.Count, _allowed.Count);
    }

    private void StartThread(string name, Action loop)
    {
        var thread = new Thread(() =>
        {
            try { loop(); }
            catch (OperationCanceledException) { }
        }) { IsBackground = true, Name = $"node{NodeId}-{name}" };
        _threads.Add(thread);
        thread.Start();
    }

    // ---- poller thread

    private void OnReceive(object? sender, NetMQSocketEventArgs e)
    {
        var message = new NetMQMessage();
        // Drain what is there, but yield to the outbox now and then so replies keep flowing under load.
        for (int i = 0; i < 1000 && e.Socket.TryReceiveMultipartMessage(ref message); i++)
        {
            if (message.FrameCount != 2)
            {
                Counters.CountUnauthenticated();
                _rejections.Log("frames", $"message of {message.FrameCount} frames dropped (a request is one frame)");
            }
            else
            {
                var identity = message[0].ToByteArray();
                var frame = message[1].ToByteArray();
                var source = Convert.ToBase64String(identity);
                if (!_inbox.TryEnqueue(source, new Incoming(identity, frame)))
                {
                    Counters.CountDropped();
                    _rejections.Log("queue", $"connection {source} has {_config.Limits.MaxQueuedRequestsPerClient} requests waiting; request dropped");
                }
            }
            message = new NetMQMessage();
        }
    }

    private void OnOutbox(object? sender, NetMQQueueEventArgs<NetMQMessage> e)
    {
        for (int i = 0; i < 1000 && e.Queue.TryDequeue(out var reply, TimeSpan.Zero); i++)
            _router!.TrySendMultipartMessage(reply); // a peer that went away is simply not answered
    }

    private void Send(byte[] identity, byte[] reply)
    {
        var message = new NetMQMessage(2);
        message.Append(identity);
        message.Append(reply);
        _outbox.Enqueue(message);
    }

    private long NowMs => _time.GetUtcNow().ToUnixTimeMilliseconds();

    private void Reply(Incoming incoming, RequestEnvelope request, byte[] payload)
    {
        Counters.CountServed();
        Send(incoming.Identity, ReplyEnvelope.Encode(request.Type, request.RequestId, NowMs, NodeId, payload));
    }

    private void ReplyError(Incoming incoming, byte[] requestId, ErrorCode code, string message)
    {
        Counters.CountError();
        _logger.LogDebug("node {NodeId}: error reply {Code}: {Message}", NodeId, code, message);
        Send(incoming.Identity, ReplyEnvelope.EncodeError(requestId, NowMs, NodeId, code, message));
    }

    // ---- dispatcher thread

    private void DispatchLoop()
    {
        while (true)
        {
            var (source, incoming) = _inbox.Dequeue(_stopping.Token);
            try
            {
                var request = Authenticate(incoming);
                if (request is not null) Dispatch(source, incoming, request);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                _logger.LogError(e, "node {NodeId}: unexpected error while dispatching a request", NodeId);
            }
        }
    }

    /// <summary>The request if it is signed by an allowed key, fresh and not a replay; otherwise null (and counted, logged).</summary>
    private RequestEnvelope? Authenticate(Incoming incoming)
    {
        var frame = incoming.Frame;
        const int keyOffset = 1 + 1 + RequestEnvelope.RequestIdBytes + 8 + 2;
        if (frame.Length >= RequestEnvelope.Overhead && !_allowed.Contains(Convert.ToBase64String(frame, keyOffset, 32)))
        {
            // Checked before the signature (it is cheaper); a key we do not know gets no answer either way.
            Counters.CountNotAllowed();
            _rejections.Log("allow-list", $"request from client key {Convert.ToBase64String(frame, keyOffset, 32)}, which is not on the allow-list: not answered");
            return null;
        }
        var request = RequestEnvelope.TryDecodeAuthenticated(frame, out var rejection);
        if (request is null)
        {
            Counters.CountUnauthenticated();
            _rejections.Log("unauthenticated", $"unauthenticated frame of {frame.Length} bytes ({rejection}): not answered");
            return null;
        }
        long now = NowMs;
        long skewMs = _config.Limits.ClockSkewSeconds * 1000L;
        if (Math.Abs(now - request.TimestampMs) > skewMs)
        {
            Counters.CountStale();
            _rejections.Log("stale", $"request timestamp is {(now - request.TimestampMs) / 1000.0:F1} s from this node's clock (window {_config.Limits.ClockSkewSeconds} s): not answered");
            return null;
        }
        switch (_replay.Check(request.RequestId, now))
        {
            case ReplayCache.Outcome.Replayed:
                Counters.CountReplayed();
                _rejections.Log("replay", $"replayed request id {Convert.ToHexString(request.RequestId)}: not answered");
                return null;
            case ReplayCache.Outcome.Full:
                ReplyError(incoming, request.RequestId, ErrorCode.Overloaded, "replay cache full; retry shortly");
                return null;
        }
        return request;
    }

    private void Dispatch(string source, Incoming incoming, RequestEnvelope request)
    {
        if (request.NodeId != NodeId)
        {
            ReplyError(incoming, request.RequestId, ErrorCode.InvalidRequest, $"request addressed to node {request.NodeId}, this is node {NodeId}");
            return;
        }
        if (incoming.Frame.Length > _config.Limits.MaxRequestBytes)
        {
            ReplyError(incoming, request.RequestId, ErrorCode.Oversize, $"request of {incoming.Frame.Length} bytes exceeds this node's limit of {_config.Limits.MaxRequestBytes}");
            return;
        }
        try
        {
            switch (request.Type)
            {
                case MessageType.Ping:
                    if (request.Payload.Length != 0) throw new ProtocolFormatException("ping: payload must be empty");
                    Reply(incoming, request, new PingReply(_uptime.ElapsedMilliseconds, _keys.Count, _work.Count).Encode());
                    break;
                case MessageType.ListKeys:
                    if (request.Payload.Length != 0) throw new ProtocolFormatException("list keys: payload must be empty");
                    Reply(incoming, request, ListKeysReply.Encode(_store.Keys().Select(k => new HeldKeyInfo(k.KeyId, k.Scheme, k.ShareIndex, k.PublicKey, k.StoredAtMs)).ToList()));
                    break;
                case MessageType.StoreShare:
                    StoreShare(incoming, request, StoreShareRequest.Decode(request.Payload));
                    break;
                case MessageType.DeleteShare:
                    DeleteShare(incoming, request, KeyIdRequest.Decode(request.Payload));
                    break;
                case MessageType.Sign:
                case MessageType.Preprocess:
                    KeyStep(source, incoming, request, KeyStepRequest.Decode(request.Payload));
                    break;
                case MessageType.DkgStart:
                case MessageType.DkgShares:
                case MessageType.DkgFinish:
                    Dkg(source, incoming, request);
                    break;
                default:
                    ReplyError(incoming, request.RequestId, ErrorCode.UnknownMessageType, $"unknown message type 0x{(byte)request.Type:x2}");
                    break;
            }
        }
        catch (ProtocolFormatException e)
        {
            ReplyError(incoming, request.RequestId, ErrorCode.Malformed, e.Message);
        }
        catch (NodeRequestException e)
        {
            ReplyError(incoming, request.RequestId, e.Code, e.Message);
        }
    }

    /// <summary>Runs <paramref name="work"/> on a worker, in the connection's fair share of worker time.</summary>
    private void Schedule(string source, Action work) => _work.TryEnqueue(source, work, ignoreLimit: true);

    /// <summary>Runs an asynchronous operation (store writes) off the dispatcher, answering errors.</summary>
    private void RunAsync(Incoming incoming, RequestEnvelope request, Func<Task<byte[]>> operation)
    {
        _ = Task.Run(async () =>
        {
            try
            {
                Reply(incoming, request, await operation());
            }
            catch (NodeRequestException e)
            {
                ReplyError(incoming, request.RequestId, e.Code, e.Message);
            }
            catch (ShareStoreException e)
            {
                _logger.LogError(e, "node {NodeId}: share store write failed", NodeId);
                ReplyError(incoming, request.RequestId, ErrorCode.StoreFailed, e.Message);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                _logger.LogError(e, "node {NodeId}: {Type} failed", NodeId, request.Type);
                ReplyError(incoming, request.RequestId, ErrorCode.Internal, $"{request.Type} failed on node {NodeId}: {e.GetType().Name}");
            }
        });
    }

    // ---- worker threads

    private void WorkLoop()
    {
        while (true)
        {
            var (_, work) = _work.Dequeue(_stopping.Token);
            try { work(); }
            catch (Exception e) { _logger.LogError(e, "node {NodeId}: worker failed", NodeId); }
        }
    }

    private int _disposed;

    /// <summary>Stops and releases everything; safe to call more than once (the hosted service and the container both do).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stopping.Cancel();
        _inbox.Complete();
        _work.Complete();
        try { _poller?.Stop(); } catch (Exception e) when (e is InvalidOperationException or ObjectDisposedException) { }
        _poller?.Dispose();
        _router?.Dispose();
        _outbox.Dispose();
        foreach (var thread in _threads) thread.Join(TimeSpan.FromSeconds(5));
        foreach (var key in _keys.Values) key.Release();
        _keys.Clear();
        _inbox.Dispose();
        _work.Dispose();
        _stopping.Dispose();
        _logger.LogInformation("node {NodeId} stopped: {Counters}", NodeId, Counters);
    }
}

/// <summary>A request a node refuses with a typed error (the message goes back to the client).</summary>
internal sealed class NodeRequestException(ErrorCode code, string message) : Exception(message)
{
    public ErrorCode Code { get; } = code;
}

/// <summary>Logs refusals without letting a flood of them flood the log: at most a few per category per ten seconds, then a count.</summary>
internal sealed class RejectionLog(ILogger logger, TimeProvider time)
{
    private readonly object _gate = new();
    private readonly Dictionary<string, (long WindowStart, int Logged, int Suppressed)> _state = new();

    public void Log(string category, string message)
    {
        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        int suppressed = 0;
        lock (_gate)
        {
            var entry = _state.GetValueOrDefault(category);
            if (now - entry.WindowStart > 10_000)
            {
                suppressed = entry.Suppressed;
                entry = (now, 0, 0);
            }
            if (entry.Logged >= 5)
            {
                entry.Suppressed++;
                _state[category] = entry;
                return;
            }
            entry.Logged++;
            _state[category] = entry;
        }
        if (suppressed > 0) logger.LogWarning("{Suppressed} more '{Category}' refusals in the last 10 s were not logged", suppressed, category);
        logger.LogWarning("refused ({Category}): {Message}", category, message);
    }
}
