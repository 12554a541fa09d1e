using InlineSigner.Cluster.Crypto;
using InlineSigner.Cluster.Keys;
using InlineSigner.Cluster.Protocol;
using InlineSigner.Threshold;
using InlineSigner.Threshold.Frost;
using InlineSigner.Threshold.Rsa;

namespace InlineSigner.Cluster.Tests;

/// <summary>
/// Every node-protocol decoder: valid encodings round-trip, and random, truncated and bit-flipped bytes raise only the
/// typed format error (never another exception, never an allocation beyond the input's size).
/// </summary>
public sealed class ProtocolCodecTests
{
    private static byte[] Bytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static (string Name, byte[] Valid, Action<byte[]> Decode)[] Decoders()
    {
        var (frostKey, _, _) = FrostEd25519.TrustedDealerKeygen(2, 3);
        var frostPublic = FrostKeyCodec.EncodePublicKey(frostKey);
        using var dkg = new PedersenDkgParticipant(1, 2, 3, "context"u8);
        var round1 = dkg.Round1();
        var session = Bytes(16, 1);
        var point = frostKey.GroupPublicKey;
        var peers = new Dictionary<int, byte[]> { [1] = Bytes(32, 2), [2] = Bytes(32, 3), [3] = Bytes(32, 4) };
        var boxes = new Dictionary<int, byte[]> { [2] = Bytes(80, 5), [3] = Bytes(80, 6) };
        return
        [
            ("reply envelope", ReplyEnvelope.Encode(MessageType.Ping, Bytes(16, 7), 123, 4, new PingReply(5, 6, 7).Encode()), b => ReplyEnvelope.Decode(b, 1 << 20)),
            ("error payload", ErrorPayload.Encode(ErrorCode.Malformed, "bad thing"), b => ErrorPayload.Decode(b)),
            ("ping reply", new PingReply(1, 2, 3).Encode(), b => PingReply.Decode(b)),
            ("store share", new StoreShareRequest("key-1", KeyScheme.FrostEd25519, true, frostPublic, Bytes(34, 8)).Encode(), b => StoreShareRequest.Decode(b)),
            ("key id", new KeyIdRequest("key-1").Encode(), b => KeyIdRequest.Decode(b)),
            ("list keys", ListKeysReply.Encode([new HeldKeyInfo("key-1", KeyScheme.ShoupRsa, 2, Bytes(100, 9), 77)]), b => ListKeysReply.Decode(b)),
            ("key step", new KeyStepRequest("key-1", KeyScheme.ShoupRsa, Bytes(40, 10)).Encode(), b => KeyStepRequest.Decode(b)),
            // The schemes' step messages inside a key step (InlineSigner.Threshold).
            ("RSA sign", new RsaSignRequest(true, [Bytes(128, 10), Bytes(128, 11)]).Encode(), b => RsaSignRequest.Decode(b, 4096)),
            ("RSA sign answer", new RsaSignAnswer([new RsaSignatureShare(2, Bytes(128, 12), new RsaShareProof(Bytes(32, 13), Bytes(160, 14))),
                new RsaSignatureShare(2, Bytes(128, 15), null)]).Encode(), b => RsaSignAnswer.Decode(b, 10)),
            ("FROST commit", new FrostCommitRequest(10).Encode(), b => FrostCommitRequest.Decode(b, 100)),
            ("FROST commit answer", new FrostCommitAnswer(9, [(point, point)]).Encode(), b => FrostCommitAnswer.Decode(b, 100)),
            ("FROST sign", new FrostSignRequest([new FrostSignItem(3, Bytes(20, 14), [new FrostCommitment(1, point, point), new FrostCommitment(2, point, point)])]).Encode(),
                b => FrostSignRequest.Decode(b, 100)),
            ("FROST sign answer", new FrostSignAnswer([(Bytes(32, 15), Bytes(32, 16))]).Encode(), b => FrostSignAnswer.Decode(b, 10)),
            ("DKG start", new DkgStartRequest("key-1", session, 2, 3, peers).Encode(), b => DkgStartRequest.Decode(b)),
            ("DKG shares", new DkgSharesRequest("key-1", session, [round1]).Encode(), b => DkgSharesRequest.Decode(b)),
            ("DKG finish", new DkgFinishRequest("key-1", session, boxes).Encode(), b => DkgFinishRequest.Decode(b)),
            ("DKG round 1", DkgCodec.EncodeRound1(round1), b => DkgCodec.DecodeRound1(b)),
            ("DKG boxes", DkgCodec.EncodeBoxes(boxes), b => DkgCodec.DecodeBoxes(b)),
            ("FROST public key", frostPublic, b => FrostKeyCodec.DecodePublicKey(b)),
            ("FROST share", FrostKeyCodec.EncodeShare(1, Bytes(32, 16)[..31].Append((byte)0).ToArray()), b => FrostKeyCodec.DecodeShare(b).Dispose()),
        ];
    }

    public static TheoryData<string> DecoderNames() => new(Decoders().Select(d => d.Name));

    [Theory]
    [MemberData(nameof(DecoderNames))]
    public void Valid_encoding_decodes_and_hostile_bytes_raise_only_format_errors(string name)
    {
        var (_, valid, decode) = Decoders().Single(d => d.Name == name);
        decode(valid); // the valid encoding decodes
        var random = new Random(name.Length * 7919);
        var inputs = new List<byte[]>();
        for (int cut = 0; cut < valid.Length; cut++) inputs.Add(valid[..cut]);
        inputs.Add([.. valid, 0]);
        for (int i = 0; i < 300; i++)
        {
            var flipped = valid.ToArray();
            flipped[random.Next(flipped.Length)] ^= (byte)(1 << random.Next(8));
            inputs.Add(flipped);
        }
        for (int i = 0; i < 300; i++) inputs.Add(Bytes(random.Next(0, 2 * valid.Length + 8), random.Next()));
        // Lengths that claim gigabytes must be refused before anything is allocated.
        inputs.Add([.. valid.Take(Math.Min(valid.Length, 8)), 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
        foreach (var input in inputs)
        {
            try
            {
                decode(input);
            }
            catch (Exception e) when (e is ProtocolFormatException or ThresholdFormatException)
            {
            }
        }
    }

    [Fact]
    public void Request_envelope_round_trips_and_any_change_fails_authentication()
    {
        using var key = Ed25519SigningKey.Generate();
        var id = RequestEnvelope.NewRequestId();
        var frame = RequestEnvelope.Encode(MessageType.Sign, id, 42, 3, key, [1, 2, 3]);
        var decoded = RequestEnvelope.TryDecodeAuthenticated(frame, out var rejection);
        Assert.Null(rejection);
        Assert.NotNull(decoded);
        Assert.Equal(MessageType.Sign, decoded!.Type);
        Assert.Equal(id, decoded.RequestId);
        Assert.Equal(42, decoded.TimestampMs);
        Assert.Equal(3, decoded.NodeId);
        Assert.Equal(key.PublicKey, decoded.ClientKey);
        Assert.Equal(new byte[] { 1, 2, 3 }, decoded.Payload);
        for (int i = 0; i < frame.Length; i++)
        {
            var tampered = frame.ToArray();
            tampered[i] ^= 0x20;
            Assert.Null(RequestEnvelope.TryDecodeAuthenticated(tampered, out var why));
            Assert.NotNull(why);
        }
        for (int cut = 0; cut < frame.Length; cut++) Assert.Null(RequestEnvelope.TryDecodeAuthenticated(frame[..cut], out _));
    }

    [Fact]
    public void Store_share_request_does_not_print_the_share()
    {
        var secret = new byte[] { 0xDE, 0xAD, 0xBE, 0xEF };
        var text = new StoreShareRequest("key-1", KeyScheme.ShoupRsa, false, [], secret).ToString();
        Assert.DoesNotContain("DEADBEEF", text, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("222", text);
        Assert.Contains("not shown", text);
    }

    [Theory]
    [InlineData("ok-key_1.2+3", true)]
    [InlineData("", false)]
    [InlineData("-leading-dash", false)]
    [InlineData("has space", false)]
    [InlineData("../escape", false)]
    public void Key_ids_are_short_and_safe(string keyId, bool valid) => Assert.Equal(valid, ProtocolLimits.IsValidKeyId(keyId));
}
