using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Zones;

namespace InlineSigner.Dnssec.Signing;

/// <summary>
/// Zone message digests (RFC 8976), SIMPLE scheme with SHA-384 (1) or SHA-512 (2): a hash over every record of the
/// zone in canonical order and form, leaving out the apex ZONEMD RRset and the RRSIGs that cover it.
/// </summary>
public static class ZoneMd
{
    public const byte SchemeSimple = 1;
    public const byte Sha384 = 1;
    public const byte Sha512 = 2;

    public static int DigestLength(byte algorithm) => algorithm switch
    {
        Sha384 => 48,
        Sha512 => 64,
        _ => throw new NotSupportedException($"ZONEMD hash algorithm {algorithm} is not supported"),
    };

    public static byte ParseAlgorithm(string text) => text.ToLowerInvariant() switch
    {
        "sha384" or "sha-384" or "1" => Sha384,
        "sha512" or "sha-512" or "2" => Sha512,
        _ => throw new ArgumentException($"unknown ZONEMD hash '{text}'; use sha384 or sha512"),
    };

    /// <summary>The SIMPLE digest of <paramref name="zone"/> with <paramref name="algorithm"/>.</summary>
    public static byte[] Compute(Zone zone, byte algorithm)
    {
        using var hash = IncrementalHash.CreateHash(algorithm switch
        {
            Sha384 => HashAlgorithmName.SHA384,
            Sha512 => HashAlgorithmName.SHA512,
            _ => throw new NotSupportedException($"ZONEMD hash algorithm {algorithm} is not supported"),
        });
        // Records are gathered in a large buffer and hashed a buffer at a time: one hash call per record field cost more
        // than the hashing itself, and the incremental signer digests the whole zone on every change.
        var buffer = ArrayPool<byte>.Shared.Rent(1 << 18);
        try
        {
            int used = 0;
            var owner = new byte[256];
            foreach (var (name, node) in zone.Nodes)
            {
                bool apex = CanonicalNameComparer.Instance.Equals(name, zone.Origin);
                var ownerWire = owner.AsSpan(0, RecordWire.WriteName(owner, name, lowercase: true));
                foreach (var (type, set) in node)
                {
                    if (apex && type == RecordType.ZoneMD) continue;
                    for (int i = 0; i < set.Count; i++)
                    {
                        var rdata = set.CanonicalRData[i];
                        // The RRSIG's type-covered field is the first of its RDATA, canonical form or not.
                        if (apex && type == RecordType.RrSig && (RecordType)BinaryPrimitives.ReadUInt16BigEndian(rdata) == RecordType.ZoneMD) continue;
                        if (used + ownerWire.Length + 10 + rdata.Length > buffer.Length)
                        {
                            hash.AppendData(buffer, 0, used);
                            used = 0;
                        }
                        var span = buffer.AsSpan(used);
                        ownerWire.CopyTo(span);
                        int p = ownerWire.Length;
                        BinaryPrimitives.WriteUInt16BigEndian(span[p..], (ushort)type);
                        BinaryPrimitives.WriteUInt16BigEndian(span[(p + 2)..], (ushort)set.Class);
                        BinaryPrimitives.WriteUInt32BigEndian(span[(p + 4)..], (uint)set.Records[i].TimeToLive);
                        BinaryPrimitives.WriteUInt16BigEndian(span[(p + 8)..], (ushort)rdata.Length);
                        rdata.CopyTo(span[(p + 10)..]);
                        used += p + 10 + rdata.Length;
                    }
                }
            }
            hash.AppendData(buffer, 0, used);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        return hash.GetHashAndReset();
    }

    public static DnsRecordBase Record(DomainName origin, int ttl, uint serial, byte algorithm, ReadOnlySpan<byte> digest)
    {
        var rdata = new byte[6 + digest.Length];
        BinaryPrimitives.WriteUInt32BigEndian(rdata, serial);
        rdata[4] = SchemeSimple;
        rdata[5] = algorithm;
        digest.CopyTo(rdata.AsSpan(6));
        return RecordWire.FromRData(origin, RecordType.ZoneMD, RecordClass.INet, ttl, rdata);
    }

    /// <summary>Placeholder ZONEMD RRset (zero digests) so NSEC bitmaps and the zone shape are final before hashing.</summary>
    public static RRset Placeholder(Zone zone, IEnumerable<byte> algorithms)
    {
        var soa = zone.Find(zone.Origin, RecordType.Soa)!;
        return RRset.Create(algorithms.Select(a => Record(zone.Origin, soa.Ttl, zone.Serial, a, new byte[DigestLength(a)])));
    }

    /// <summary>The zone with its ZONEMD RRset replaced by freshly computed digests (signatures over it untouched).</summary>
    public static Zone Refresh(Zone zone, IEnumerable<byte> algorithms)
    {
        var list = algorithms.Distinct().ToList();
        var soa = zone.Find(zone.Origin, RecordType.Soa) ?? throw new InvalidOperationException($"zone {zone.Origin} has no SOA");
        var records = list.Select(a => Record(zone.Origin, soa.Ttl, zone.Serial, a, Compute(zone, a))).ToList();
        return zone.With(RRset.Create(records));
    }

    public sealed record Check(byte Algorithm, bool Matches, string? Problem);

    /// <summary>Checks every ZONEMD record at the apex; an empty result means the zone has none.</summary>
    public static IReadOnlyList<Check> Verify(Zone zone)
    {
        var set = zone.Find(zone.Origin, RecordType.ZoneMD);
        if (set is null) return [];
        var results = new List<Check>();
        foreach (var rdata in set.Records.Select(RecordWire.RData))
        {
            if (rdata.Length < 6) { results.Add(new Check(0, false, "ZONEMD record is too short")); continue; }
            uint serial = BinaryPrimitives.ReadUInt32BigEndian(rdata);
            byte scheme = rdata[4];
            byte algorithm = rdata[5];
            if (scheme != SchemeSimple || algorithm is not (Sha384 or Sha512))
            {
                results.Add(new Check(algorithm, false, $"unsupported ZONEMD scheme {scheme} / hash {algorithm}"));
                continue;
            }
            if (serial != zone.Serial)
            {
                results.Add(new Check(algorithm, false, $"ZONEMD serial {serial} does not match the SOA serial {zone.Serial}"));
                continue;
            }
            bool matches = CryptographicOperations.FixedTimeEquals(rdata.AsSpan(6), Compute(zone, algorithm));
            results.Add(new Check(algorithm, matches, matches ? null : $"ZONEMD digest (hash {algorithm}) does not match the zone content"));
        }
        return results;
    }
}
