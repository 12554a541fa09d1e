using System.Text.RegularExpressions;

namespace InlineSigner.Cluster.Protocol;

/// <summary>The threshold scheme a key belongs to.</summary>
public enum KeyScheme : byte
{
    /// <summary>Shoup threshold RSA (DNSSEC algorithms 8 and 10).</summary>
    ShoupRsa = 1,

    /// <summary>FROST(Ed25519, SHA-512), RFC 9591 (DNSSEC algorithm 15).</summary>
    FrostEd25519 = 2,
}

/// <summary>Limits every decoder applies, whatever a peer claims.</summary>
public static class ProtocolLimits
{
    public const int MaxKeyIdBytes = 64;
    public const int MaxBatchItems = 4096;
    public const int MaxKeyBlobBytes = 80 * 1024;   // a public key with 64 verification keys of 8192 bits
    public const int MaxParties = 64;

    private static readonly Regex KeyIdPattern = new("^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$", RegexOptions.CultureInvariant);

    /// <summary>Key ids are short and safe to print and to use in file names: letters, digits, '.', '_', '+', '-'.</summary>
    public static bool IsValidKeyId(string keyId) => KeyIdPattern.IsMatch(keyId);

    public static string ReadKeyId(ref WireReader reader)
    {
        var keyId = reader.String(MaxKeyIdBytes, "key id");
        if (!IsValidKeyId(keyId)) throw new ProtocolFormatException($"key id '{keyId}' is not valid (letters, digits, '.', '_', '+', '-'; at most 64)");
        return keyId;
    }
}

/// <summary>Ping reply: how the node is doing.</summary>
public sealed record PingReply(long UptimeMs, int KeyCount, int QueuedWork)
{
    public byte[] Encode() => new WireWriter().I64(UptimeMs).U32((uint)KeyCount).U32((uint)QueuedWork).ToArray();

    public static PingReply Decode(ReadOnlySpan<byte> payload)
    {
        var reader = new WireReader(payload, "ping reply");
        var reply = new PingReply(reader.I64(), (int)Math.Min(reader.U32(), int.MaxValue), (int)Math.Min(reader.U32(), int.MaxValue));
        reader.End();
        return reply;
    }
}

/// <summary>
/// Store a key share: key id | scheme u8 | replace u8 | public key (scheme's encoding) | share (secret, scheme's encoding).
/// The node checks that the share belongs to it (share index = node id) and matches the public key before storing.
/// </summary>
public sealed record StoreShareRequest(string KeyId, KeyScheme Scheme, bool Replace, byte[] PublicKey, byte[] Share)
{
    public byte[] Encode() => new WireWriter(PublicKey.Length + Share.Length + 96).String(KeyId).U8((byte)Scheme).U8(Replace ? (byte)1 : (byte)0)
        .Bytes(PublicKey).Bytes(Share).ToArray();

    public static StoreShareRequest Decode(ReadOnlySpan<byte> payload)
    {
        var reader = new WireReader(payload, "store share request");
        var keyId = ProtocolLimits.ReadKeyId(ref reader);
        var scheme = Schemes.Read(ref reader);
        var replace = reader.U8() switch { 0 => false, 1 => true, var b => throw new ProtocolFormatException($"store share request: bad replace flag {b}") };
        var publicKey = reader.Bytes(ProtocolLimits.MaxKeyBlobBytes, "public key");
        var share = reader.Bytes(ProtocolLimits.MaxKeyBlobBytes, "share");
        reader.End();
        return new StoreShareRequest(keyId, scheme, replace, publicKey, share);
    }

    public override string ToString() => $"StoreShareRequest {{ KeyId = {KeyId}, Scheme = {Scheme}, share not shown }}";
}

/// <summary>A request that names one key and nothing else (delete share).</summary>
public sealed record KeyIdRequest(string KeyId)
{
    public byte[] Encode() => new WireWriter().String(KeyId).ToArray();

    public static KeyIdRequest Decode(ReadOnlySpan<byte> payload)
    {
        var reader = new WireReader(payload, "key request");
        var keyId = ProtocolLimits.ReadKeyId(ref reader);
        reader.End();
        return new KeyIdRequest(keyId);
    }
}

/// <summary>One key a node holds: id, scheme, the share's index, the public key it was stored with, when.</summary>
public sealed record HeldKeyInfo(string KeyId, KeyScheme Scheme, int ShareIndex, byte[] PublicKey, long StoredAtMs);

/// <summary>List keys reply: count u32, then per key: key id | scheme u8 | share index u8 | public key | stored-at i64.</summary>
public static class ListKeysReply
{
    public static byte[] Encode(IReadOnlyList<HeldKeyInfo> keys)
    {
        var writer = new WireWriter().U32((uint)keys.Count);
        foreach (var key in keys) writer.String(key.KeyId).U8((byte)key.Scheme).U8((byte)key.ShareIndex).Bytes(key.PublicKey).I64(key.StoredAtMs);
        return writer.ToArray();
    }

    public static IReadOnlyList<HeldKeyInfo> Decode(ReadOnlySpan<byte> payload)
    {
        var reader = new WireReader(payload, "list keys reply");
        int count = reader.Count(100_000, 16, "keys");
        var keys = new List<HeldKeyInfo>(count);
        for (int i = 0; i < count; i++)
            keys.Add(new HeldKeyInfo(ProtocolLimits.ReadKeyId(ref reader), Schemes.Read(ref reader), reader.U8(),
                reader.Bytes(ProtocolLimits.MaxKeyBlobBytes, "public key"), reader.I64()));
        reader.End();
        return keys;
    }
}

/// <summary>
/// A step of threshold signing for one key (<see cref="MessageType.Sign"/>, <see cref="MessageType.Preprocess"/>):
/// key id | scheme u8 | the scheme's request (the rest of the payload; its own type and version bytes first, see
/// InlineSigner.Threshold). The node answers with the scheme's answer as the whole reply payload. The scheme byte lets
/// a node refuse a request meant for a key of another scheme as <see cref="ErrorCode.WrongScheme"/>.
/// </summary>
public sealed record KeyStepRequest(string KeyId, KeyScheme Scheme, byte[] Step)
{
    public byte[] Encode() => new WireWriter(Step.Length + 80).String(KeyId).U8((byte)Scheme).Raw(Step).ToArray();

    public static KeyStepRequest Decode(ReadOnlySpan<byte> payload)
    {
        var reader = new WireReader(payload, "key step request");
        var keyId = ProtocolLimits.ReadKeyId(ref reader);
        var scheme = Schemes.Read(ref reader);
        var step = reader.Raw(reader.Remaining).ToArray();
        reader.End();
        return new KeyStepRequest(keyId, scheme, step);
    }
}

internal static class Schemes
{
    public static KeyScheme Read(ref WireReader reader)
    {
        var value = reader.U8();
        return value switch
        {
            (byte)KeyScheme.ShoupRsa => KeyScheme.ShoupRsa,
            (byte)KeyScheme.FrostEd25519 => KeyScheme.FrostEd25519,
            _ => throw new ProtocolFormatException($"unknown key scheme {value}"),
        };
    }
}
