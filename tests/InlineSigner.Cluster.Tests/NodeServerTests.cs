using System.Security.Cryptography;
using InlineSigner.Cluster.Client;
using InlineSigner.Cluster.Crypto;
using InlineSigner.Cluster.Node;
using InlineSigner.Cluster.Protocol;
using InlineSigner.Threshold.Frost;
using InlineSigner.Threshold.Rsa;
using NetMQ;
using NetMQ.Sockets;
using InlineSigner.Tests.Shared;
using ErrorCode = InlineSigner.Cluster.Protocol.ErrorCode;

namespace InlineSigner.Cluster.Tests;

/// <summary>
/// The dtcnode's front door, spoken to with raw CURVE sockets: only signed, fresh, new requests from allowed clients
/// are answered; garbage, replays, stale and foreign requests are counted and never answered; typed errors for
/// malformed, unknown and oversize requests; the node keeps serving whatever arrives.
/// </summary>
public sealed class NodeServerTests
{
    /// <summary>A CURVE connection to one node that sends raw frames (what any peer on the network can do).</summary>
    private sealed class RawConnection : IDisposable
    {
        private readonly DealerSocket _socket = new();

        public RawConnection(LocalCluster cluster, int nodeId)
        {
            var config = ClusterConfig.Load(cluster.Generated.ClusterConfigPath);
            _socket.Options.CurveServerKey = config.NodeCurveKeys[nodeId];
            _socket.Options.CurveCertificate = new NetMQCertificate();
            _socket.Options.Linger = TimeSpan.Zero;
            _socket.Connect(config.Nodes.Single(n => n.Id == nodeId).Endpoint);
            ClientKey = Ed25519SigningKey.FromSeed(config.ClientSeed);
        }

        public Ed25519SigningKey ClientKey { get; }

        public void Send(byte[] frame) => _socket.SendFrame(frame);

        public void SendMultipart(params byte[][] frames)
        {
            var message = new NetMQMessage();
            foreach (var frame in frames) message.Append(frame);
            _socket.SendMultipartMessage(message);
        }

        public ReplyEnvelope? Receive(TimeSpan wait) =>
            _socket.TryReceiveFrameBytes(wait, out var frame) ? ReplyEnvelope.Decode(frame, int.MaxValue) : null;

        public void Dispose()
        {
            _socket.Dispose();
            ClientKey.Dispose();
        }
    }

    private static long Now => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    private static byte[] Request(Ed25519SigningKey key, int nodeId, MessageType type = MessageType.Ping, byte[]? payload = null, long? timestamp = null, byte[]? requestId = null) =>
        RequestEnvelope.Encode(type, requestId ?? RequestEnvelope.NewRequestId(), timestamp ?? Now, nodeId, key, payload ?? []);

    private static readonly TimeSpan Answer = TimeSpan.FromSeconds(20);

    private static ReplyEnvelope AssertAnswered(RawConnection connection, byte[] frame)
    {
        connection.Send(frame);
        return connection.Receive(Answer) ?? throw new Xunit.Sdk.XunitException("the node did not answer a valid request");
    }

    /// <summary>
    /// Proves that nothing sent before was answered, without guessing how long "silence" must last on a loaded
    /// machine: one dispatcher takes a connection's frames in order and the replies leave in that order, so the first
    /// reply after a fresh valid ping must be the ping's own — and by then every earlier frame has been counted.
    /// </summary>
    private static void AssertNothingAnsweredBefore(RawConnection connection)
    {
        var pingId = RequestEnvelope.NewRequestId();
        var reply = AssertAnswered(connection, Request(connection.ClientKey, 1, requestId: pingId));
        Assert.True(pingId.AsSpan().SequenceEqual(reply.RequestId),
            $"the node answered an earlier frame (request id {Convert.ToHexString(reply.RequestId)}, {(reply.IsError ? "error" : reply.AnswerTo.ToString())}) that it should have ignored");
        Assert.False(reply.IsError);
    }

    [Fact]
    public void Allowed_client_gets_answers_others_get_silence_and_are_counted()
    {
        using var cluster = LocalCluster.Start(1, 1);
        using var connection = new RawConnection(cluster, 1);
        var reply = AssertAnswered(connection, Request(connection.ClientKey, 1));
        Assert.False(reply.IsError);
        Assert.Equal(MessageType.Ping, reply.AnswerTo);
        Assert.Equal(1, reply.NodeId);

        using var stranger = Ed25519SigningKey.Generate();
        connection.Send(Request(stranger, 1));
        AssertNothingAnsweredBefore(connection);
        Assert.Equal(1, cluster.Server(1).Counters.NotAllowed);
    }

    [Fact]
    public void Replayed_and_stale_requests_are_not_answered()
    {
        using var cluster = LocalCluster.Start(1, 1);
        using var connection = new RawConnection(cluster, 1);
        var frame = Request(connection.ClientKey, 1);
        AssertAnswered(connection, frame);
        connection.Send(frame);
        AssertNothingAnsweredBefore(connection);
        Assert.Equal(1, cluster.Server(1).Counters.Replayed);

        connection.Send(Request(connection.ClientKey, 1, timestamp: Now - 10 * 60_000));
        connection.Send(Request(connection.ClientKey, 1, timestamp: Now + 10 * 60_000));
        AssertNothingAnsweredBefore(connection);
        Assert.Equal(2, cluster.Server(1).Counters.Stale);
    }

    [Fact]
    public void Garbage_truncated_and_tampered_frames_are_dropped_and_the_node_keeps_serving()
    {
        using var cluster = LocalCluster.Start(1, 1);
        using var connection = new RawConnection(cluster, 1);
        var random = new Random(20261201);
        var valid = Request(connection.ClientKey, 1, MessageType.ListKeys);
        int sent = 0;
        foreach (int length in new[] { 0, 1, 2, 16, RequestEnvelope.Overhead - 1, RequestEnvelope.Overhead, 4096, 70_000 })
        {
            var garbage = new byte[length];
            random.NextBytes(garbage);
            connection.Send(garbage);
            sent++;
        }
        for (int cut = 0; cut < valid.Length; cut += 7)
        {
            connection.Send(valid[..cut]);
            sent++;
        }
        for (int i = 0; i < 40; i++)
        {
            var tampered = valid.ToArray();
            tampered[random.Next(tampered.Length)] ^= (byte)(1 << random.Next(8));
            connection.Send(tampered);
            sent++;
        }
        connection.SendMultipart(valid, valid);
        sent++;
        // More frames than a connection may have waiting (64): the ping barrier goes only once the node has taken them
        // all, or it could be dropped with the overflow on a loaded machine and never answered.
        var counters = cluster.Server(1).Counters;
        for (var clock = System.Diagnostics.Stopwatch.StartNew(); counters.Unanswered < sent && clock.Elapsed < Eventually.Deadline;) Thread.Sleep(50);
        AssertNothingAnsweredBefore(connection);
        Assert.True(counters.Unanswered == sent, $"{sent} frames sent; {counters}");
        Assert.Equal(1, counters.Served); // the ping
    }

    [Fact]
    public void Authenticated_but_bad_requests_get_typed_errors()
    {
        using var cluster = LocalCluster.Start(1, 1, file => file with { Limits = file.Limits with { MaxRequestBytes = 4096 } });
        using var connection = new RawConnection(cluster, 1);

        var unknown = AssertAnswered(connection, Request(connection.ClientKey, 1, (MessageType)0x55));
        Assert.True(unknown.IsError);
        Assert.Equal(ErrorCode.UnknownMessageType, ErrorPayload.Decode(unknown.Payload).Code);

        var malformed = AssertAnswered(connection, Request(connection.ClientKey, 1, MessageType.Sign, [1, 2, 3]));
        Assert.Equal(ErrorCode.Malformed, ErrorPayload.Decode(malformed.Payload).Code);

        var unknownKey = AssertAnswered(connection, Request(connection.ClientKey, 1, MessageType.Sign,
            new KeyStepRequest("no-such-key", KeyScheme.ShoupRsa, new RsaSignRequest(false, [new byte[128]]).Encode()).Encode()));
        Assert.Equal(ErrorCode.UnknownKey, ErrorPayload.Decode(unknownKey.Payload).Code);

        var oversize = AssertAnswered(connection, Request(connection.ClientKey, 1, MessageType.Sign, new byte[5000]));
        var (code, message) = ErrorPayload.Decode(oversize.Payload);
        Assert.Equal(ErrorCode.Oversize, code);
        Assert.Contains("4096", message);

        var wrongNode = AssertAnswered(connection, Request(connection.ClientKey, 7));
        Assert.Equal(ErrorCode.InvalidRequest, ErrorPayload.Decode(wrongNode.Payload).Code);
        Assert.False(AssertAnswered(connection, Request(connection.ClientKey, 1)).IsError);
    }

    [Fact]
    public async Task Signing_steps_get_typed_errors_for_the_wrong_scheme_a_missing_round_and_a_malformed_step()
    {
        using var cluster = LocalCluster.Start(3, 2);
        using var client = cluster.Client();
        var rsa = await ClusterSigningTests.RsaKeyAsync(client);
        var frost = await ClusterSigningTests.FrostKeyAsync(client);
        using var connection = new RawConnection(cluster, 1);
        ErrorCode Code(MessageType type, string keyId, KeyScheme scheme, byte[] step)
        {
            var reply = AssertAnswered(connection, Request(connection.ClientKey, 1, type, new KeyStepRequest(keyId, scheme, step).Encode()));
            Assert.True(reply.IsError);
            return ErrorPayload.Decode(reply.Payload).Code;
        }

        Assert.Equal(ErrorCode.WrongScheme, Code(MessageType.Preprocess, rsa.KeyId, KeyScheme.FrostEd25519, new FrostCommitRequest(2).Encode()));
        Assert.Equal(ErrorCode.WrongScheme, Code(MessageType.Sign, frost.KeyId, KeyScheme.ShoupRsa, new RsaSignRequest(false, [new byte[64]]).Encode()));
        Assert.Equal(ErrorCode.InvalidRequest, Code(MessageType.Preprocess, rsa.KeyId, KeyScheme.ShoupRsa, new FrostCommitRequest(2).Encode()));
        Assert.Equal(ErrorCode.InvalidRequest, Code(MessageType.Sign, rsa.KeyId, KeyScheme.ShoupRsa, new RsaSignRequest(false, [new byte[10]]).Encode()));
        Assert.Equal(ErrorCode.Malformed, Code(MessageType.Sign, rsa.KeyId, KeyScheme.ShoupRsa, new FrostCommitRequest(2).Encode()));
        Assert.Equal(ErrorCode.Malformed, Code(MessageType.Preprocess, frost.KeyId, KeyScheme.FrostEd25519, [0x21, 9, 0, 0, 0, 1]));
        Assert.False(AssertAnswered(connection, Request(connection.ClientKey, 1, MessageType.Preprocess,
            new KeyStepRequest(frost.KeyId, KeyScheme.FrostEd25519, new FrostCommitRequest(2).Encode()).Encode())).IsError);
    }

    [Fact]
    public async Task A_restarted_node_has_its_shares_and_never_spends_a_nonce_twice()
    {
        using var cluster = LocalCluster.Start(3, 2);
        using var client = cluster.Client();
        var rsa = await ClusterSigningTests.RsaKeyAsync(client);
        var frost = await ClusterSigningTests.FrostKeyAsync(client);
        var inputs = Enumerable.Range(0, 50).Select(i => (ReadOnlyMemory<byte>)BitConverter.GetBytes(i)).ToList();
        await new ClusterSigner(client, frost).SignAsync(inputs, CancellationToken.None);

        // Find a nonce number node 1 has spent: ask for commitments (numbers continue above the spent ones) and
        // spend one directly.
        using var connection = new RawConnection(cluster, 1);
        var commit = AssertAnswered(connection, Request(connection.ClientKey, 1, MessageType.Preprocess,
            new KeyStepRequest(frost.KeyId, KeyScheme.FrostEd25519, new FrostCommitRequest(2).Encode()).Encode()));
        var issued = FrostCommitAnswer.Decode(commit.Payload, 2);
        var other = AssertAnswered(connection, Request(connection.ClientKey, 2, MessageType.Ping));
        Assert.True(other.IsError); // addressed to node 2 over node 1's socket: refused, not served
        ulong spent = issued.FirstNonce;
        byte[] SignRequest(ulong nonce)
        {
            var entries = new List<FrostCommitment> { new(1, issued.Commitments[0].Hiding, issued.Commitments[0].Binding) };
            // A second signer's commitment is needed for a 2-of-3 package; node 1 checks only its own, so reuse it.
            entries.Add(new FrostCommitment(2, issued.Commitments[1].Hiding, issued.Commitments[1].Binding));
            var step = new FrostSignRequest([new FrostSignItem(nonce, "message"u8.ToArray(), entries)]).Encode();
            return new KeyStepRequest(frost.KeyId, KeyScheme.FrostEd25519, step).Encode();
        }
        var first = AssertAnswered(connection, Request(connection.ClientKey, 1, MessageType.Sign, SignRequest(spent)));
        Assert.False(first.IsError, first.IsError ? ErrorPayload.Decode(first.Payload).Message : null);
        ulong durable = cluster.Store(1).Find(frost.KeyId)!.NextNonce;
        Assert.True(durable > spent, $"store says next nonce {durable}, but {spent} was spent");

        cluster.StopNode(1);
        cluster.StartNode(1);
        Assert.NotNull(cluster.Store(1).Find(rsa.KeyId));
        Assert.True(cluster.Store(1).Find(frost.KeyId)!.NextNonce >= durable);
        using var again = new RawConnection(cluster, 1);
        var reuse = AssertAnswered(again, Request(again.ClientKey, 1, MessageType.Sign, SignRequest(spent)));
        Assert.True(reuse.IsError);
        Assert.Equal(ErrorCode.NonceRejected, ErrorPayload.Decode(reuse.Payload).Code);

        // The restarted node signs again for both keys (its shares came back from the encrypted store).
        cluster.StopNode(2);
        await ClusterSigningTests.WaitForNodesAsync(client, 2); // the client reconnects to the restarted node 1 in the background
        Assert.Equal(inputs.Count, (await new ClusterSigner(client, rsa).SignAsync(inputs, CancellationToken.None)).Count);
        Assert.Equal(inputs.Count, (await new ClusterSigner(client, frost).SignAsync(inputs, CancellationToken.None)).Count);
    }
}
