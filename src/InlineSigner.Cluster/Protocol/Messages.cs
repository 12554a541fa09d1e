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
    public const int MaxRsaValueBytes = 1024;       // 8192-bit moduli
    public const int MaxKeyBlobBytes = 80 * 1024;   // a public key with 64 verification keys of 8192 bits
    public const int MaxSigningInputBytes = 1 << 20;
    public const int MaxParties = 64;
    public const int FrostElementBytes = 32;

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
/// Threshold RSA signing batch: key id | flags u8 (bit 0: with proofs) | count u32 | each: the PKCS#1 v1.5 encoded
/// message (|N| bytes, u32 length). The reply is count u32 | each: an encoded RsaSignatureShare (u32 length).
/// </summary>
public sealed record RsaSignRequest(string KeyId, bool WithProofs, IReadOnlyList<byte[]> EncodedMessages)
{
    public byte[] Encode()
    {
        var writer = new WireWriter(EncodedMessages.Sum(m => m.Length + 4) + 80).String(KeyId).U8(WithProofs ? (byte)1 : (byte)0).U32((uint)EncodedMessages.Count);
        foreach (var message in EncodedMessages) writer.Bytes(message);
        return writer.ToArray();
    }

    public static RsaSignRequest Decode(ReadOnlySpan<byte> payload, int maxItems)
    {
        var reader = new WireReader(payload, "RSA sign request");
        var keyId = ProtocolLimits.ReadKeyId(ref reader);
        var flags = reader.U8();
        if (flags > 1) throw new ProtocolFormatException($"RSA sign request: unknown flags {flags}");
        int count = reader.Count(Math.Min(maxItems, ProtocolLimits.MaxBatchItems), 4 + 64, "messages");
        var messages = new byte[count][];
        for (int i = 0; i < count; i++) messages[i] = reader.Bytes(ProtocolLimits.MaxRsaValueBytes, "encoded message");
        reader.End();
        return new RsaSignRequest(keyId, flags == 1, messages);
    }
}

/// <summary>A list of opaque byte strings: count u32 | each u32 length + bytes (RSA share replies).</summary>
public static class ByteStringList
{
    public static byte[] Encode(IReadOnlyList<byte[]> items)
    {
        var writer = new WireWriter(items.Sum(i => i.Length + 4) + 4).U32((uint)items.Count);
        foreach (var item in items) writer.Bytes(item);
        return writer.ToArray();
    }

    public static IReadOnlyList<byte[]> Decode(ReadOnlySpan<byte> payload, int maxItems, int maxItemBytes, string what)
    {
        var reader = new WireReader(payload, what);
        int count = reader.Count(maxItems, 4, "items");
        var items = new byte[count][];
        for (int i = 0; i < count; i++) items[i] = reader.Bytes(maxItemBytes, "item");
        reader.End();
        return items;
    }
}

/// <summary>FROST round one: key id | count u32: "commit to this many nonces". Reply: <see cref="FrostCommitReply"/>.</summary>
public sealed record FrostCommitRequest(string KeyId, int Count)
{
    public byte[] Encode() => new WireWriter().String(KeyId).U32((uint)Count).ToArray();

    public static FrostCommitRequest Decode(ReadOnlySpan<byte> payload, int maxItems)
    {
        var reader = new WireReader(payload, "FROST commit request");
        var keyId = ProtocolLimits.ReadKeyId(ref reader);
        uint count = reader.U32();
        reader.End();
        if (count == 0 || count > maxItems) throw new ProtocolFormatException($"FROST commit request: count {count} must be 1..{maxItems}");
        return new FrostCommitRequest(keyId, (int)count);
    }
}

/// <summary>
/// FROST round one reply: first nonce number u64 | count u32 | each: hiding 32 ‖ binding 32. The nonces are numbered
/// consecutively from the first; each number can be spent once, and only in increasing order.
/// </summary>
public sealed record FrostCommitReply(ulong FirstNonce, IReadOnlyList<(byte[] Hiding, byte[] Binding)> Commitments)
{
    public byte[] Encode()
    {
        var writer = new WireWriter(Commitments.Count * 64 + 16).U64(FirstNonce).U32((uint)Commitments.Count);
        foreach (var (hiding, binding) in Commitments) writer.Raw(hiding).Raw(binding);
        return writer.ToArray();
    }

    public static FrostCommitReply Decode(ReadOnlySpan<byte> payload, int maxItems)
    {
        var reader = new WireReader(payload, "FROST commit reply");
        ulong first = reader.U64();
        int count = reader.Count(maxItems, 64, "commitments");
        var list = new List<(byte[], byte[])>(count);
        for (int i = 0; i < count; i++) list.Add((reader.Raw(32).ToArray(), reader.Raw(32).ToArray()));
        reader.End();
        return new FrostCommitReply(first, list);
    }
}

/// <summary>One participant's commitment inside a FROST signing item.</summary>
public sealed record FrostCommitmentEntry(int Identifier, byte[] Hiding, byte[] Binding);

/// <summary>One message to sign in round two: the node's nonce number, the message and every signer's commitment.</summary>
public sealed record FrostSignItem(ulong Nonce, byte[] Message, IReadOnlyList<FrostCommitmentEntry> Commitments);

/// <summary>
/// FROST round two batch: key id | count u32 | each: nonce u64 | message (u32 length) | signers u8 | each: identifier u8,
/// hiding 32, binding 32. Nonce numbers must increase strictly within a batch. Reply: <see cref="FrostSignReply"/>.
/// </summary>
public sealed record FrostSignRequest(string KeyId, IReadOnlyList<FrostSignItem> Items)
{
    public byte[] Encode()
    {
        var writer = new WireWriter(Items.Sum(i => i.Message.Length + 13 + i.Commitments.Count * 65) + 80).String(KeyId).U32((uint)Items.Count);
        foreach (var item in Items)
        {
            writer.U64(item.Nonce).Bytes(item.Message).U8((byte)item.Commitments.Count);
            foreach (var c in item.Commitments) writer.U8((byte)c.Identifier).Raw(c.Hiding).Raw(c.Binding);
        }
        return writer.ToArray();
    }

    public static FrostSignRequest Decode(ReadOnlySpan<byte> payload, int maxItems)
    {
        var reader = new WireReader(payload, "FROST sign request");
        var keyId = ProtocolLimits.ReadKeyId(ref reader);
        int count = reader.Count(Math.Min(maxItems, ProtocolLimits.MaxBatchItems), 8 + 4 + 1 + 65, "items");
        var items = new FrostSignItem[count];
        for (int i = 0; i < count; i++)
        {
            ulong nonce = reader.U64();
            var message = reader.Bytes(ProtocolLimits.MaxSigningInputBytes, "message");
            int signers = reader.U8();
            if (signers is 0 or > ProtocolLimits.MaxParties) throw new ProtocolFormatException($"FROST sign request: {signers} signers");
            var commitments = new FrostCommitmentEntry[signers];
            for (int k = 0; k < signers; k++) commitments[k] = new FrostCommitmentEntry(reader.U8(), reader.Raw(32).ToArray(), reader.Raw(32).ToArray());
            items[i] = new FrostSignItem(nonce, message, commitments);
        }
        reader.End();
        return new FrostSignRequest(keyId, items);
    }
}

/// <summary>One answer of a FROST round two: the signature share z_i and the group commitment R the node derived.</summary>
public sealed record FrostSignAnswer(byte[] Share, byte[] GroupCommitment);

/// <summary>
/// FROST round two reply: count u32 | each: z_i 32 | R 32. R is what the node computed from the commitment list; the
/// client aggregates (R, Σ z_i) with additions only and verifies it, so a node sending a wrong R costs a recomputation,
/// never a bad signature.
/// </summary>
public static class FrostSignReply
{
    private const int ItemBytes = 2 * ProtocolLimits.FrostElementBytes;

    public static byte[] Encode(IReadOnlyList<FrostSignAnswer> answers)
    {
        var writer = new WireWriter(answers.Count * ItemBytes + 4).U32((uint)answers.Count);
        foreach (var answer in answers)
        {
            if (answer.Share.Length != 32 || answer.GroupCommitment.Length != 32) throw new ArgumentException("a FROST share and a group commitment are 32 bytes each");
            writer.Raw(answer.Share).Raw(answer.GroupCommitment);
        }
        return writer.ToArray();
    }

    public static IReadOnlyList<FrostSignAnswer> Decode(ReadOnlySpan<byte> payload, int maxItems)
    {
        var reader = new WireReader(payload, "FROST sign reply");
        int count = reader.Count(maxItems, ItemBytes, "answers");
        var answers = new FrostSignAnswer[count];
        for (int i = 0; i < count; i++) answers[i] = new FrostSignAnswer(reader.Raw(32).ToArray(), reader.Raw(32).ToArray());
        reader.End();
        return answers;
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
