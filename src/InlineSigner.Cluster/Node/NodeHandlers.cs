using System.Collections.Concurrent;
using System.Security.Cryptography;
using InlineSigner.Cluster.Crypto;
using InlineSigner.Cluster.Keys;
using InlineSigner.Cluster.Protocol;
using InlineSigner.Threshold;
using InlineSigner.Threshold.Frost;
using Microsoft.Extensions.Logging;

namespace InlineSigner.Cluster.Node;

public sealed partial class NodeServer
{
    private readonly ConcurrentDictionary<string, DkgSession> _dkg = new(StringComparer.Ordinal);

    private HeldKey AcquireKey(string keyId, KeyScheme scheme)
    {
        if (!_keys.TryGetValue(keyId, out var key) || !key.TryAcquire())
            throw new NodeRequestException(ErrorCode.UnknownKey, $"node {NodeId} holds no share of key {keyId}");
        if (key.Stored.Scheme == scheme) return key;
        key.Release();
        throw new NodeRequestException(ErrorCode.WrongScheme, $"key {keyId} is a {key.Stored.Scheme} key");
    }

    /// <summary>
    /// Splits <paramref name="count"/> items into chunks on the workers; <paramref name="finish"/> runs once after the
    /// last chunk (with the first error, if any). Chunks of one request run in parallel on all workers.
    /// </summary>
    private void RunChunked(string source, int count, int chunkSize, Action<int> item, Action<Exception?> finish)
    {
        if (count == 0) { finish(null); return; }
        int chunks = (count + chunkSize - 1) / chunkSize;
        int remaining = chunks;
        Exception? failure = null;
        for (int c = 0; c < chunks; c++)
        {
            int start = c * chunkSize, end = Math.Min(count, start + chunkSize);
            Schedule(source, () =>
            {
                try
                {
                    if (Volatile.Read(ref failure) is null)
                        for (int i = start; i < end; i++) item(i);
                }
                catch (Exception e)
                {
                    Interlocked.CompareExchange(ref failure, e, null);
                }
                if (Interlocked.Decrement(ref remaining) == 0) finish(failure);
            });
        }
    }

    private void ReplyFailure(Incoming incoming, RequestEnvelope request, Exception e)
    {
        switch (e)
        {
            case NodeRequestException n: ReplyError(incoming, request.RequestId, n.Code, n.Message); break;
            case ArgumentException or ThresholdSigningException or ThresholdRefusalException or CryptographicException or FormatException:
                ReplyError(incoming, request.RequestId, ErrorCode.InvalidRequest, $"{request.Type}: {e.Message}");
                break;
            case ShareStoreException:
                _logger.LogError(e, "node {NodeId}: share store write failed", NodeId);
                ReplyError(incoming, request.RequestId, ErrorCode.StoreFailed, e.Message);
                break;
            default:
                _logger.LogError(e, "node {NodeId}: {Type} failed", NodeId, request.Type);
                ReplyError(incoming, request.RequestId, ErrorCode.Internal, $"{request.Type} failed on node {NodeId}: {e.GetType().Name}");
                break;
        }
    }

    // ---- key shares

    private void StoreShare(Incoming incoming, RequestEnvelope request, StoreShareRequest store) => RunAsync(incoming, request, async () =>
    {
        try
        {
            if (!store.Replace && _keys.ContainsKey(store.KeyId))
                throw new NodeRequestException(ErrorCode.KeyExists, $"node {NodeId} already holds key {store.KeyId}");
            var seed = ThresholdSchemes.NewNonceSeed(store.Scheme);
            var stored = new StoredKey(store.KeyId, store.Scheme, NodeId, store.PublicKey, store.Share.ToArray(), NowMs, seed, 0);
            HeldKey held;
            try
            {
                held = HeldKey.Load(stored, NodeId);
            }
            catch (Exception e) when (e is FormatException or ArgumentException or CryptographicException)
            {
                throw new NodeRequestException(ErrorCode.InvalidRequest, $"key {store.KeyId}: {e.Message}");
            }
            if (!held.Holder.SelfCheck())
            {
                held.Release();
                throw new NodeRequestException(ErrorCode.InvalidRequest, $"key {store.KeyId}: the share does not match its verification key in the public key");
            }
            try
            {
                await _store.PutAsync(stored, store.Replace, _stopping.Token);
            }
            catch (InvalidOperationException e)
            {
                held.Release();
                throw new NodeRequestException(ErrorCode.KeyExists, e.Message);
            }
            catch
            {
                held.Release();
                throw;
            }
            if (_keys.TryGetValue(store.KeyId, out var old) && _keys.TryUpdate(store.KeyId, held, old)) old.Release();
            else _keys[store.KeyId] = held;
            _logger.LogInformation("node {NodeId}: stored share #{Index} of {Scheme} key {KeyId}", NodeId, NodeId, store.Scheme, store.KeyId);
            return [];
        }
        finally
        {
            CryptographicOperations.ZeroMemory(store.Share);
        }
    });

    private void DeleteShare(Incoming incoming, RequestEnvelope request, KeyIdRequest delete) => RunAsync(incoming, request, async () =>
    {
        if (!await _store.DeleteAsync(delete.KeyId, _stopping.Token))
            throw new NodeRequestException(ErrorCode.UnknownKey, $"node {NodeId} holds no share of key {delete.KeyId}");
        if (_keys.TryRemove(delete.KeyId, out var held)) held.Release();
        _logger.LogInformation("node {NodeId}: deleted key {KeyId}", NodeId, delete.KeyId);
        return [];
    });

    // ---- threshold signing, every scheme through its IShareHolder

    /// <summary>
    /// A signing or preprocessing step for one key. The holder reads the request and reserves what it spends here, on
    /// the dispatcher, in arrival order; the items are computed in chunks on the workers; the answer leaves only once
    /// the single-use numbers it spends are durable (even after a crash, none is spent twice).
    /// </summary>
    private void KeyStep(string source, Incoming incoming, RequestEnvelope request, KeyStepRequest step)
    {
        var key = AcquireKey(step.KeyId, step.Scheme);
        IHolderWork work;
        try
        {
            work = request.Type == MessageType.Sign
                ? key.Holder.Sign(step.Step, Math.Min(_config.Limits.MaxBatchItems, ProtocolLimits.MaxBatchItems))
                : key.Holder.Preprocess(step.Step, _config.Limits.MaxNoncesPerRequest);
        }
        catch (ThresholdFormatException e)
        {
            key.Release();
            throw new ProtocolFormatException(e.Message);
        }
        catch (ThresholdRefusalException e)
        {
            key.Release();
            throw new NodeRequestException(e.Reason == RefusalReason.Spent ? ErrorCode.NonceRejected : ErrorCode.InvalidRequest, $"key {step.KeyId}: {e.Message}");
        }
        RunChunked(source, work.Count, work.ItemsPerTurn, work.Compute, failure =>
        {
            if (failure is not null)
            {
                work.Abandon();
                key.Release();
                ReplyFailure(incoming, request, failure);
                return;
            }
            if (work.SpendsBelow is not { } spentBelow)
            {
                try { Reply(incoming, request, Answer(step, request.Type, work)); }
                finally { key.Release(); }
                return;
            }
            Task durable;
            try
            {
                durable = key.EnsureDurableAsync(spentBelow, target => _store.AdvanceNonceAsync(step.KeyId, target, _stopping.Token));
            }
            catch (Exception e)
            {
                durable = Task.FromException(e);
            }
            if (durable.IsCompletedSuccessfully)
            {
                // Usually so (an earlier block write covers these numbers): answer from this worker, without
                // another thread hop in the way of the reply.
                try { Reply(incoming, request, Answer(step, request.Type, work)); }
                finally { key.Release(); }
                return;
            }
            _ = ReplyWhenDurableAsync(durable);
        });

        async Task ReplyWhenDurableAsync(Task durable)
        {
            try
            {
                await durable.ConfigureAwait(false);
                Reply(incoming, request, Answer(step, request.Type, work));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                ReplyFailure(incoming, request, e is InvalidOperationException ? new NodeRequestException(ErrorCode.UnknownKey, e.Message) : e);
            }
            catch (OperationCanceledException)
            {
                // The node is stopping: no answer.
            }
            finally
            {
                key.Release();
            }
        }
    }

    /// <summary>The work's answer, as the test hook would have this node lie about it (honest without one).</summary>
    private byte[] Answer(KeyStepRequest step, MessageType type, IHolderWork work)
    {
        var answer = work.Answer();
        if (_faults is null) return answer;
        return type == MessageType.Sign ? _faults.SignAnswer(step.Scheme, answer) : _faults.PreprocessAnswer(step.Scheme, answer);
    }

    // ---- distributed key generation

    private sealed class DkgSession(PedersenDkgParticipant participant, DkgStartRequest start, long startedMs) : IDisposable
    {
        public PedersenDkgParticipant Participant { get; } = participant;
        public DkgStartRequest Start { get; } = start;
        public long StartedMs { get; } = startedMs;
        public byte[]? OwnShare { get; set; }
        public IReadOnlyList<DkgRound1Package>? Round1 { get; set; }

        public void Dispose()
        {
            Participant.Dispose();
            if (OwnShare is not null) CryptographicOperations.ZeroMemory(OwnShare);
        }
    }

    private static readonly TimeSpan DkgSessionLifetime = TimeSpan.FromMinutes(10);

    private static byte[] DkgContext(DkgStartRequest start)
    {
        var writer = new WireWriter().Raw("InlineSigner FROST DKG v1"u8).String(start.KeyId).Raw(start.Session).U8((byte)start.Threshold).U8((byte)start.Parties);
        foreach (var (id, key) in start.PeerCurveKeys.OrderBy(p => p.Key)) writer.U8((byte)id).Raw(key);
        return writer.ToArray();
    }

    private static byte[] ShareBoxPlaintext(byte[] session, int sender, int receiver, ReadOnlySpan<byte> share) =>
        new WireWriter(16 + 2 + 32).Raw(session).U8((byte)sender).U8((byte)receiver).Raw(share).ToArray();

    private void Dkg(string source, Incoming incoming, RequestEnvelope request)
    {
        // Every step is cheap next to signing batches but not free (scalar multiplications): run on a worker.
        Schedule(source, () =>
        {
            try
            {
                Reply(incoming, request, request.Type switch
                {
                    MessageType.DkgStart => DkgStart(DkgStartRequest.Decode(request.Payload)),
                    MessageType.DkgShares => DkgShares(DkgSharesRequest.Decode(request.Payload)),
                    _ => DkgFinishAsync(DkgFinishRequest.Decode(request.Payload)).GetAwaiter().GetResult(),
                });
            }
            catch (ProtocolFormatException e)
            {
                ReplyError(incoming, request.RequestId, ErrorCode.Malformed, e.Message);
            }
            catch (DkgException e)
            {
                _logger.LogWarning("node {NodeId}: DKG failed: {Message} (cheaters: {Cheaters})", NodeId, e.Message, string.Join(", ", e.Cheaters));
                ReplyError(incoming, request.RequestId, ErrorCode.DkgFailed, $"{e.Message}; cheaters: [{string.Join(", ", e.Cheaters)}]");
            }
            catch (Exception e)
            {
                ReplyFailure(incoming, request, e);
            }
        });
    }

    private string SessionKey(string keyId, byte[] session) => $"{keyId}/{Convert.ToHexString(session)}";

    private byte[] DkgStart(DkgStartRequest start)
    {
        foreach (var (name, old) in _dkg)
            if (NowMs - old.StartedMs > DkgSessionLifetime.TotalMilliseconds && _dkg.TryRemove(name, out var expired)) expired.Dispose();
        if (start.Parties < NodeId) throw new NodeRequestException(ErrorCode.InvalidRequest, $"DKG for {start.Parties} parties, but this is node {NodeId}");
        if (_keys.ContainsKey(start.KeyId)) throw new NodeRequestException(ErrorCode.KeyExists, $"node {NodeId} already holds key {start.KeyId}");
        if (!start.PeerCurveKeys[NodeId].AsSpan().SequenceEqual(_config.Certificate.PublicKey))
            throw new NodeRequestException(ErrorCode.InvalidRequest, $"DKG: the CURVE key given for node {NodeId} is not this node's");
        foreach (var (id, key) in start.PeerCurveKeys)
        {
            // Configured peer keys win: a client cannot slip in a key of its own to read another node's shares.
            if (_config.PeerKeys.TryGetValue(id, out var configured) && !configured.AsSpan().SequenceEqual(key))
                throw new NodeRequestException(ErrorCode.InvalidRequest, $"DKG: the CURVE key given for node {id} differs from this node's configuration");
        }
        if (_config.PeerKeys.Count == 0)
            _logger.LogWarning("node {NodeId}: no peers configured; trusting the client for the other nodes' CURVE keys in DKG {KeyId}", NodeId, start.KeyId);
        var participant = new PedersenDkgParticipant(NodeId, start.Threshold, start.Parties, DkgContext(start));
        var session = new DkgSession(participant, start, NowMs);
        if (!_dkg.TryAdd(SessionKey(start.KeyId, start.Session), session))
        {
            session.Dispose();
            throw new NodeRequestException(ErrorCode.InvalidRequest, "DKG session already started");
        }
        return DkgCodec.EncodeRound1(participant.Round1());
    }

    private DkgSession FindSession(string keyId, byte[] session) =>
        _dkg.TryGetValue(SessionKey(keyId, session), out var found) ? found
            : throw new NodeRequestException(ErrorCode.InvalidRequest, $"no DKG session {Convert.ToHexString(session)} for key {keyId} on node {NodeId} (expired or never started)");

    private byte[] DkgShares(DkgSharesRequest request)
    {
        var session = FindSession(request.KeyId, request.Session);
        lock (session)
        {
            if (session.Round1 is not null) throw new NodeRequestException(ErrorCode.InvalidRequest, "DKG shares were already sent for this session");
            IReadOnlyDictionary<int, byte[]> shares;
            try
            {
                shares = session.Participant.Round2(request.Packages);
            }
            catch (DkgException)
            {
                DropSession(request.KeyId, request.Session);
                throw;
            }
            session.Round1 = request.Packages;
            // A copy: NetMQCertificate.SecretKey is the certificate's own array, and it is zeroed below.
            var secretKey = _config.Certificate.SecretKey!.ToArray();
            var boxes = new Dictionary<int, byte[]>();
            try
            {
                foreach (var (receiver, share) in shares)
                {
                    if (receiver == NodeId) { session.OwnShare = share; continue; }
                    var plaintext = ShareBoxPlaintext(request.Session, NodeId, receiver, share);
                    boxes[receiver] = NodeBox.Seal(plaintext, session.Start.PeerCurveKeys[receiver], secretKey);
                    CryptographicOperations.ZeroMemory(plaintext);
                    CryptographicOperations.ZeroMemory(share);
                }
            }
            finally
            {
                CryptographicOperations.ZeroMemory(secretKey);
            }
            return DkgCodec.EncodeBoxes(boxes);
        }
    }

    private void DropSession(string keyId, byte[] session)
    {
        if (_dkg.TryRemove(SessionKey(keyId, session), out var removed)) removed.Dispose();
    }

    private async Task<byte[]> DkgFinishAsync(DkgFinishRequest request)
    {
        var session = FindSession(request.KeyId, request.Session);
        var received = new Dictionary<int, byte[]>();
        byte[]? secret = null;
        try
        {
            DkgResult result;
            lock (session)
            {
                if (session.OwnShare is null) throw new NodeRequestException(ErrorCode.InvalidRequest, "DKG finish before shares");
                received[NodeId] = session.OwnShare.ToArray();
                // A copy: NetMQCertificate.SecretKey is the certificate's own array, and it is zeroed below.
            var secretKey = _config.Certificate.SecretKey!.ToArray();
                try
                {
                    foreach (var (sender, box) in request.BoxesBySender)
                    {
                        if (sender == NodeId || !session.Start.PeerCurveKeys.TryGetValue(sender, out var senderKey)) continue;
                        var plaintext = NodeBox.Open(box, senderKey, secretKey);
                        // A box that does not open, or is not for this session and pair, counts as no share: the
                        // participant then complains about its sender.
                        if (plaintext is null || plaintext.Length != 16 + 2 + 32 || !plaintext.AsSpan(0, 16).SequenceEqual(request.Session)
                            || plaintext[16] != sender || plaintext[17] != NodeId)
                            continue;
                        received[sender] = plaintext[18..];
                        CryptographicOperations.ZeroMemory(plaintext);
                    }
                }
                finally
                {
                    CryptographicOperations.ZeroMemory(secretKey);
                }
                result = session.Participant.Finish(received);
                // s_ℓ = Σ f_i(ℓ): the participant computed it too; the same sum here gives the bytes to store.
                secret = new byte[32];
                foreach (var package in session.Round1!) secret = Ed25519Group.Add(secret, received[package.Sender]);
            }
            using var check = new FrostKeyShare(NodeId, secret);
            if (!check.VerificationShare().AsSpan().SequenceEqual(result.PublicKey.VerificationShares[NodeId]))
                throw new CryptographicException("the DKG share does not match its verification share");
            result.Share.Dispose();
            var publicKey = FrostKeyCodec.EncodePublicKey(result.PublicKey);
            var stored = new StoredKey(request.KeyId, KeyScheme.FrostEd25519, NodeId, publicKey, FrostKeyCodec.EncodeShare(NodeId, secret), NowMs,
                RandomNumberGenerator.GetBytes(32), 0);
            var held = HeldKey.Load(stored, NodeId);
            try
            {
                await _store.PutAsync(stored, replace: false, _stopping.Token);
            }
            catch (InvalidOperationException e)
            {
                held.Release();
                throw new NodeRequestException(ErrorCode.KeyExists, e.Message);
            }
            _keys[request.KeyId] = held;
            _logger.LogInformation("node {NodeId}: DKG for FROST key {KeyId} done ({T} of {N}); share stored", NodeId, request.KeyId, session.Start.Threshold, session.Start.Parties);
            return publicKey;
        }
        finally
        {
            DropSession(request.KeyId, request.Session);
            foreach (var value in received.Values) CryptographicOperations.ZeroMemory(value);
            if (secret is not null) CryptographicOperations.ZeroMemory(secret);
        }
    }
}
