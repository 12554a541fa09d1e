using System.Buffers.Binary;
using System.Security.Cryptography;
using InlineSigner.Cluster.Crypto;

namespace InlineSigner.Cluster.Protocol;

/// <summary>What a request asks for. A reply carries the request's type with the high bit set, or <see cref="Error"/>.</summary>
public enum MessageType : byte
{
    Ping = 0x01,
    StoreShare = 0x02,
    DeleteShare = 0x03,
    ListKeys = 0x04,
    /// <summary>A signing round of the key's scheme (<see cref="KeyStepRequest"/>).</summary>
    Sign = 0x10,

    /// <summary>A preprocessing round of the key's scheme, for schemes that have one (FROST commitments).</summary>
    Preprocess = 0x11,
    DkgStart = 0x30,
    DkgShares = 0x31,
    DkgFinish = 0x32,
    Error = 0x7F,
}

/// <summary>Why a node refused an authenticated request (the payload of an <see cref="MessageType.Error"/> reply).</summary>
public enum ErrorCode : ushort
{
    Malformed = 1,
    UnknownMessageType = 2,
    Oversize = 3,
    UnknownKey = 4,
    WrongScheme = 5,
    NonceRejected = 6,
    Overloaded = 7,
    Internal = 8,
    KeyExists = 9,
    StoreFailed = 10,
    DkgFailed = 11,
    InvalidRequest = 12,
}

/// <summary>
/// The signed request envelope (docs/node-protocol.md). Layout, big-endian:
/// version u8 | type u8 | request id 16 | timestamp i64 (Unix ms) | node id u16 | client key 32 | payload length u32 |
/// payload | Ed25519 signature 64 over the domain string and every byte before it.
/// </summary>
public sealed record RequestEnvelope(MessageType Type, byte[] RequestId, long TimestampMs, int NodeId, byte[] ClientKey, byte[] Payload)
{
    public const byte Version = 1;
    public const int RequestIdBytes = 16;
    public const int HeaderBytes = 1 + 1 + RequestIdBytes + 8 + 2 + 32 + 4;
    public const int SignatureBytes = 64;
    public const int Overhead = HeaderBytes + SignatureBytes;

    /// <summary>Domain separation: a request signature can never be mistaken for a signature on anything else.</summary>
    private static readonly byte[] SignatureDomain = "InlineSigner node request v1\0"u8.ToArray();

    public static byte[] NewRequestId() => RandomNumberGenerator.GetBytes(RequestIdBytes);

    /// <summary>Builds and signs a request with the client's long-term key.</summary>
    public static byte[] Encode(MessageType type, ReadOnlySpan<byte> requestId, long timestampMs, int nodeId, Ed25519SigningKey clientKey, ReadOnlySpan<byte> payload)
    {
        if (requestId.Length != RequestIdBytes) throw new ArgumentException("request id must be 16 bytes");
        if (nodeId is < 0 or > ushort.MaxValue) throw new ArgumentException($"node id {nodeId} out of range");
        var writer = new WireWriter(Overhead + payload.Length);
        writer.U8(Version).U8((byte)type).Raw(requestId).I64(timestampMs).U16((ushort)nodeId).Raw(clientKey.PublicKey).Bytes(payload);
        var signature = clientKey.Sign(SignedBytes(writer.WrittenSpan));
        writer.Raw(signature);
        return writer.ToArray();
    }

    private static byte[] SignedBytes(ReadOnlySpan<byte> body) => [.. SignatureDomain, .. body];

    /// <summary>
    /// Parses the envelope and checks its signature. Returns null for anything that is not a well-formed request signed
    /// by the key it names (the caller then stays silent); the allow-list, clock and replay checks are the caller's.
    /// </summary>
    public static RequestEnvelope? TryDecodeAuthenticated(ReadOnlySpan<byte> frame, out string? rejection)
    {
        rejection = null;
        if (frame.Length < Overhead) { rejection = $"frame of {frame.Length} bytes is shorter than a request envelope"; return null; }
        if (frame[0] != Version) { rejection = $"unsupported envelope version {frame[0]}"; return null; }
        uint payloadLength = BinaryPrimitives.ReadUInt32BigEndian(frame.Slice(HeaderBytes - 4, 4));
        if (payloadLength != (long)frame.Length - Overhead) { rejection = $"payload length {payloadLength} does not match a frame of {frame.Length} bytes"; return null; }
        var clientKey = frame.Slice(1 + 1 + RequestIdBytes + 8 + 2, 32);
        var body = frame[..^SignatureBytes];
        if (!Ed25519SigningKey.Verify(clientKey, SignedBytes(body), frame[^SignatureBytes..])) { rejection = "bad request signature"; return null; }
        var reader = new WireReader(body, "request envelope");
        reader.U8();
        var type = (MessageType)reader.U8();
        var requestId = reader.Raw(RequestIdBytes).ToArray();
        long timestamp = reader.I64();
        int nodeId = reader.U16();
        var key = reader.Raw(32).ToArray();
        var payload = reader.Raw((int)reader.U32()).ToArray();
        return new RequestEnvelope(type, requestId, timestamp, nodeId, key, payload);
    }
}

/// <summary>
/// A node's reply: version u8 | type u8 (request type | 0x80, or 0x7F error) | request id 16 | timestamp i64 |
/// node id u16 | payload length u32 | payload. Not signed: CURVE already proves it came from the node whose public
/// key the client pinned, and the request id ties it to the request.
/// </summary>
public sealed record ReplyEnvelope(byte RawType, byte[] RequestId, long TimestampMs, int NodeId, byte[] Payload)
{
    public const byte Version = 1;
    public const int HeaderBytes = 1 + 1 + RequestEnvelope.RequestIdBytes + 8 + 2 + 4;

    public bool IsError => RawType == (byte)MessageType.Error;

    /// <summary>The request type this answers (meaningless for errors).</summary>
    public MessageType AnswerTo => (MessageType)(RawType & 0x7F);

    public static byte[] Encode(MessageType answerTo, ReadOnlySpan<byte> requestId, long timestampMs, int nodeId, ReadOnlySpan<byte> payload) =>
        Encode((byte)((byte)answerTo | 0x80), requestId, timestampMs, nodeId, payload);

    public static byte[] EncodeError(ReadOnlySpan<byte> requestId, long timestampMs, int nodeId, ErrorCode code, string message) =>
        Encode((byte)MessageType.Error, requestId, timestampMs, nodeId, ErrorPayload.Encode(code, message));

    private static byte[] Encode(byte rawType, ReadOnlySpan<byte> requestId, long timestampMs, int nodeId, ReadOnlySpan<byte> payload)
    {
        var writer = new WireWriter(HeaderBytes + payload.Length);
        writer.U8(Version).U8(rawType).Raw(requestId).I64(timestampMs).U16((ushort)nodeId).Bytes(payload);
        return writer.ToArray();
    }

    public static ReplyEnvelope Decode(ReadOnlySpan<byte> frame, int maxPayload)
    {
        var reader = new WireReader(frame, "reply envelope");
        byte version = reader.U8();
        if (version != Version) throw new ProtocolFormatException($"reply envelope: unsupported version {version}");
        byte type = reader.U8();
        var requestId = reader.Raw(RequestEnvelope.RequestIdBytes).ToArray();
        long timestamp = reader.I64();
        int nodeId = reader.U16();
        var payload = reader.Bytes(maxPayload, "payload");
        reader.End();
        return new ReplyEnvelope(type, requestId, timestamp, nodeId, payload);
    }
}

/// <summary>The payload of an error reply: code u16 | message (u16 length, UTF-8).</summary>
public static class ErrorPayload
{
    public const int MaxMessageBytes = 1024;

    public static byte[] Encode(ErrorCode code, string message)
    {
        if (message.Length > MaxMessageBytes / 4) message = message[..(MaxMessageBytes / 4)];
        return new WireWriter().U16((ushort)code).String(message).ToArray();
    }

    public static (ErrorCode Code, string Message) Decode(ReadOnlySpan<byte> payload)
    {
        var reader = new WireReader(payload, "error reply");
        var code = (ErrorCode)reader.U16();
        var message = reader.String(MaxMessageBytes, "message");
        reader.End();
        return (code, message);
    }
}
