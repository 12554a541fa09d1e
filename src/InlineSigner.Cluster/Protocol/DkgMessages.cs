using InlineSigner.Threshold.Frost;

namespace InlineSigner.Cluster.Protocol;

/// <summary>
/// Distributed key generation step 1: key id | session 16 | threshold u8 | parties u8 | peers u8 | each: node id u8,
/// CURVE public key 32. The node answers with its round-1 broadcast (<see cref="DkgCodec.EncodeRound1"/>).
/// </summary>
public sealed record DkgStartRequest(string KeyId, byte[] Session, int Threshold, int Parties, IReadOnlyDictionary<int, byte[]> PeerCurveKeys)
{
    public const int SessionBytes = 16;

    public byte[] Encode()
    {
        var writer = new WireWriter().String(KeyId).Raw(Session).U8((byte)Threshold).U8((byte)Parties).U8((byte)PeerCurveKeys.Count);
        foreach (var (id, key) in PeerCurveKeys.OrderBy(p => p.Key)) writer.U8((byte)id).Raw(key);
        return writer.ToArray();
    }

    public static DkgStartRequest Decode(ReadOnlySpan<byte> payload)
    {
        var reader = new WireReader(payload, "DKG start request");
        var keyId = ProtocolLimits.ReadKeyId(ref reader);
        var session = reader.Raw(SessionBytes).ToArray();
        int t = reader.U8(), n = reader.U8(), count = reader.U8();
        if (n is < 1 or > ProtocolLimits.MaxParties || t < 1 || t > n) throw new ProtocolFormatException($"DKG start request: threshold {t} of {n} is not valid");
        var peers = new Dictionary<int, byte[]>();
        for (int i = 0; i < count; i++)
        {
            int id = reader.U8();
            var key = reader.Raw(32).ToArray();
            if (id < 1 || id > n || !peers.TryAdd(id, key)) throw new ProtocolFormatException($"DKG start request: bad or repeated peer {id}");
        }
        reader.End();
        if (peers.Count != n) throw new ProtocolFormatException($"DKG start request: {peers.Count} peer keys for {n} parties");
        return new DkgStartRequest(keyId, session, t, n, peers);
    }
}

/// <summary>Step 2: key id | session | every participant's round-1 package. The node answers with its boxed shares for the others.</summary>
public sealed record DkgSharesRequest(string KeyId, byte[] Session, IReadOnlyList<DkgRound1Package> Packages)
{
    public byte[] Encode()
    {
        var writer = new WireWriter().String(KeyId).Raw(Session).U8((byte)Packages.Count);
        foreach (var package in Packages) writer.Bytes(DkgCodec.EncodeRound1(package));
        return writer.ToArray();
    }

    public static DkgSharesRequest Decode(ReadOnlySpan<byte> payload)
    {
        var reader = new WireReader(payload, "DKG shares request");
        var keyId = ProtocolLimits.ReadKeyId(ref reader);
        var session = reader.Raw(DkgStartRequest.SessionBytes).ToArray();
        int count = reader.U8();
        var packages = new List<DkgRound1Package>(count);
        for (int i = 0; i < count; i++) packages.Add(DkgCodec.DecodeRound1(reader.Bytes(4 + 65 * 32 + 64, "round-1 package")));
        reader.End();
        return new DkgSharesRequest(keyId, session, packages);
    }
}

/// <summary>Step 3: key id | session | boxes u8 | each: sender u8, box (u32 length). The node answers with the group's public key.</summary>
public sealed record DkgFinishRequest(string KeyId, byte[] Session, IReadOnlyDictionary<int, byte[]> BoxesBySender)
{
    public byte[] Encode()
    {
        var writer = new WireWriter().String(KeyId).Raw(Session).U8((byte)BoxesBySender.Count);
        foreach (var (sender, box) in BoxesBySender.OrderBy(p => p.Key)) writer.U8((byte)sender).Bytes(box);
        return writer.ToArray();
    }

    public static DkgFinishRequest Decode(ReadOnlySpan<byte> payload)
    {
        var reader = new WireReader(payload, "DKG finish request");
        var keyId = ProtocolLimits.ReadKeyId(ref reader);
        var session = reader.Raw(DkgStartRequest.SessionBytes).ToArray();
        var boxes = ReadBoxes(ref reader, "sender");
        reader.End();
        return new DkgFinishRequest(keyId, session, boxes);
    }

    internal static Dictionary<int, byte[]> ReadBoxes(ref WireReader reader, string role)
    {
        int count = reader.U8();
        var boxes = new Dictionary<int, byte[]>();
        for (int i = 0; i < count; i++)
        {
            int id = reader.U8();
            var box = reader.Bytes(256, "box");
            if (id < 1 || !boxes.TryAdd(id, box)) throw new ProtocolFormatException($"DKG: bad or repeated {role} {id}");
        }
        return boxes;
    }
}

/// <summary>Encodings of the DKG values that travel through the client.</summary>
public static class DkgCodec
{
    /// <summary>sender u8 | count u8 | commitments 32 each | R 32 | μ 32.</summary>
    public static byte[] EncodeRound1(DkgRound1Package package)
    {
        var writer = new WireWriter().U8((byte)package.Sender).U8((byte)package.Commitments.Count);
        foreach (var c in package.Commitments) writer.Raw(c);
        return writer.Raw(package.ProofR).Raw(package.ProofMu).ToArray();
    }

    public static DkgRound1Package DecodeRound1(ReadOnlySpan<byte> data)
    {
        var reader = new WireReader(data, "DKG round-1 package");
        int sender = reader.U8();
        int count = reader.U8();
        if (count is < 1 or > ProtocolLimits.MaxParties) throw new ProtocolFormatException($"DKG round-1 package: {count} commitments");
        var commitments = new List<byte[]>(count);
        for (int i = 0; i < count; i++) commitments.Add(reader.Raw(32).ToArray());
        var r = reader.Raw(32).ToArray();
        var mu = reader.Raw(32).ToArray();
        reader.End();
        return new DkgRound1Package(sender, commitments, r, mu);
    }

    /// <summary>The boxed shares a node sends: count u8 | each: receiver u8, box.</summary>
    public static byte[] EncodeBoxes(IReadOnlyDictionary<int, byte[]> boxes)
    {
        var writer = new WireWriter().U8((byte)boxes.Count);
        foreach (var (id, box) in boxes.OrderBy(p => p.Key)) writer.U8((byte)id).Bytes(box);
        return writer.ToArray();
    }

    public static Dictionary<int, byte[]> DecodeBoxes(ReadOnlySpan<byte> data)
    {
        var reader = new WireReader(data, "DKG shares reply");
        var boxes = DkgFinishRequest.ReadBoxes(ref reader, "receiver");
        reader.End();
        return boxes;
    }
}
