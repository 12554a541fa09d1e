using InlineSigner.Cluster.Protocol;
using InlineSigner.Threshold.Frost;

namespace InlineSigner.Cluster.Keys;

/// <summary>
/// Binary forms of a FROST(Ed25519) key for the node protocol and the share store. Public key: version u8 | threshold u8 |
/// group key 32 | count u8 | each: identifier u8, verification share 32. Share (secret): version u8 | identifier u8 | scalar 32.
/// </summary>
public static class FrostKeyCodec
{
    private const byte Version = 1;

    public static byte[] EncodePublicKey(FrostPublicKey key)
    {
        var writer = new WireWriter(3 + 32 + key.VerificationShares.Count * 33).U8(Version).U8((byte)key.Threshold).Raw(key.GroupPublicKey)
            .U8((byte)key.VerificationShares.Count);
        foreach (var (id, share) in key.VerificationShares.OrderBy(p => p.Key)) writer.U8((byte)id).Raw(share);
        return writer.ToArray();
    }

    public static FrostPublicKey DecodePublicKey(ReadOnlySpan<byte> data)
    {
        var reader = new WireReader(data, "FROST public key");
        if (reader.U8() != Version) throw new ProtocolFormatException("FROST public key: unsupported version");
        int threshold = reader.U8();
        var group = reader.Raw(32).ToArray();
        int count = reader.U8();
        if (count is < 1 or > ProtocolLimits.MaxParties || threshold < 1 || threshold > count)
            throw new ProtocolFormatException($"FROST public key: threshold {threshold} of {count} is not valid");
        var shares = new Dictionary<int, byte[]>();
        for (int i = 0; i < count; i++)
        {
            int id = reader.U8();
            var share = reader.Raw(32).ToArray();
            if (id < 1 || !shares.TryAdd(id, share)) throw new ProtocolFormatException($"FROST public key: bad or repeated identifier {id}");
            if (!Ed25519Group.IsValidElement(share)) throw new ProtocolFormatException($"FROST public key: verification share {id} is not a valid point");
        }
        reader.End();
        if (!Ed25519Group.IsValidElement(group)) throw new ProtocolFormatException("FROST public key: group key is not a valid point");
        return new FrostPublicKey(group, shares, threshold);
    }

    public static byte[] EncodeShare(int identifier, ReadOnlySpan<byte> secret) =>
        new WireWriter(2 + 32).U8(Version).U8((byte)identifier).Raw(secret).ToArray();

    /// <summary>The share; the caller disposes it.</summary>
    public static FrostKeyShare DecodeShare(ReadOnlySpan<byte> data)
    {
        var reader = new WireReader(data, "FROST key share");
        if (reader.U8() != Version) throw new ProtocolFormatException("FROST key share: unsupported version");
        int identifier = reader.U8();
        var secret = reader.Raw(32);
        reader.End();
        try { return new FrostKeyShare(identifier, secret); }
        catch (ArgumentException e) { throw new ProtocolFormatException($"FROST key share: {e.Message}"); }
    }
}
