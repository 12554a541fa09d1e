using System.Buffers.Binary;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Zones;

namespace InlineSigner.Dnssec.Signing;

/// <summary>The fields of an RRSIG as they are on the wire (times as 32-bit serial values).</summary>
public sealed record RrsigFields(
    RecordType TypeCovered,
    DnsSecAlgorithm Algorithm,
    byte Labels,
    uint OriginalTtl,
    uint Expiration,
    uint Inception,
    ushort KeyTag,
    DomainName SignerName,
    byte[] Signature)
{
    /// <summary>Reads the fields of an RRSIG record from its wire RDATA.</summary>
    public static RrsigFields Of(DnsRecordBase rrsig)
    {
        var rdata = RecordWire.RData(rrsig);
        if (rdata.Length < 18) throw new FormatException($"RRSIG at {rrsig.Name} is too short");
        int p = 18;
        var labels = new List<string>();
        while (true)
        {
            if (p >= rdata.Length) throw new FormatException($"RRSIG at {rrsig.Name} has a truncated signer name");
            int length = rdata[p++];
            if (length == 0) break;
            if (length > 63 || p + length > rdata.Length) throw new FormatException($"RRSIG at {rrsig.Name} has a bad signer name");
            labels.Add(new string(Array.ConvertAll(rdata[p..(p + length)], b => (char)b)));
            p += length;
        }
        return new RrsigFields(
            (RecordType)BinaryPrimitives.ReadUInt16BigEndian(rdata),
            (DnsSecAlgorithm)rdata[2],
            rdata[3],
            BinaryPrimitives.ReadUInt32BigEndian(rdata.AsSpan(4)),
            BinaryPrimitives.ReadUInt32BigEndian(rdata.AsSpan(8)),
            BinaryPrimitives.ReadUInt32BigEndian(rdata.AsSpan(12)),
            BinaryPrimitives.ReadUInt16BigEndian(rdata.AsSpan(16)),
            labels.Count == 0 ? DomainName.Root : new DomainName(labels.ToArray()),
            rdata[p..]);
    }
}

/// <summary>
/// RRSIG construction per RFC 4034 §3.1.8.1: the signing input is the RRSIG RDATA without its signature (signer
/// name in canonical form) followed by the RRset in canonical form and order, each record with the original TTL.
/// Built here rather than by ARSoft, which lower-cases the NSEC next name (RFC 6840 §5.1 says not to).
/// </summary>
public static class Rrsig
{
    /// <summary>Labels field: the owner's labels, not counting a leading wildcard label (RFC 4034 §3.1.3).</summary>
    public static byte LabelCount(DomainName owner) =>
        (byte)(owner.LabelCount - (owner.LabelCount > 0 && owner.Labels[0] == "*" ? 1 : 0));

    public static byte[] RDataWithoutSignature(RecordType covered, DnsSecAlgorithm algorithm, byte labels, uint originalTtl,
        uint expiration, uint inception, ushort keyTag, DomainName signer)
    {
        var result = new byte[18 + RecordWire.NameLength(signer)];
        BinaryPrimitives.WriteUInt16BigEndian(result, (ushort)covered);
        result[2] = (byte)algorithm;
        result[3] = labels;
        BinaryPrimitives.WriteUInt32BigEndian(result.AsSpan(4), originalTtl);
        BinaryPrimitives.WriteUInt32BigEndian(result.AsSpan(8), expiration);
        BinaryPrimitives.WriteUInt32BigEndian(result.AsSpan(12), inception);
        BinaryPrimitives.WriteUInt16BigEndian(result.AsSpan(16), keyTag);
        RecordWire.WriteName(result.AsSpan(18), signer, lowercase: true);
        return result;
    }

    /// <summary>The bytes a signature is made over, for <paramref name="set"/> under the given RRSIG header.</summary>
    public static byte[] SigningInput(RRset set, ReadOnlySpan<byte> rdataWithoutSignature, uint originalTtl)
    {
        // Owner in canonical form; for a wildcard-expanded answer this would be "*.<closest encloser>", but in the
        // zone we sign the owner itself (already "*.…" for wildcards).
        var owner = RecordWire.Name(set.Owner, lowercase: true);
        int total = rdataWithoutSignature.Length;
        foreach (var rdata in set.CanonicalRData) total += owner.Length + 10 + rdata.Length;
        var result = new byte[total];
        rdataWithoutSignature.CopyTo(result);
        int p = rdataWithoutSignature.Length;
        foreach (var rdata in set.CanonicalRData)
        {
            owner.CopyTo(result, p);
            p += owner.Length;
            BinaryPrimitives.WriteUInt16BigEndian(result.AsSpan(p), (ushort)set.Type);
            BinaryPrimitives.WriteUInt16BigEndian(result.AsSpan(p + 2), (ushort)set.Class);
            BinaryPrimitives.WriteUInt32BigEndian(result.AsSpan(p + 4), originalTtl);
            BinaryPrimitives.WriteUInt16BigEndian(result.AsSpan(p + 8), (ushort)rdata.Length);
            rdata.CopyTo(result, p + 10);
            p += 10 + rdata.Length;
        }
        return result;
    }

    /// <summary>The RRSIG record for <paramref name="set"/> (TTL = the RRset's TTL).</summary>
    public static DnsRecordBase Build(RRset set, ReadOnlySpan<byte> rdataWithoutSignature, ReadOnlySpan<byte> signature) =>
        RecordWire.FromRData(set.Owner, RecordType.RrSig, set.Class, set.Ttl, [.. rdataWithoutSignature, .. signature]);
}
