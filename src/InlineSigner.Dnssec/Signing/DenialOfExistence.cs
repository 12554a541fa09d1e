using System.Security.Cryptography;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Zones;
using InlineSigner.Zones.Text;

namespace InlineSigner.Dnssec.Signing;

/// <summary>
/// Computes NSEC (RFC 4034 §4) and NSEC3 (RFC 5155) chains for a zone. The zone given holds the data to be
/// signed (DNSKEY, NSEC3PARAM and ZONEMD already in place, no old chain). Names below a zone cut (glue, occluded
/// data) are not part of the chain; delegation points are.
/// </summary>
public static class DenialOfExistence
{
    /// <summary>The types that denial records never list themselves from the data (they are added per record kind).</summary>
    public static readonly IReadOnlySet<RecordType> ChainTypes = new HashSet<RecordType> { RecordType.NSec, RecordType.NSec3, RecordType.RrSig };

    /// <summary>NSEC/NSEC3 TTL per RFC 9077: the lower of SOA MINIMUM and the SOA's own TTL.</summary>
    public static int DenialTtl(Zone zone)
    {
        var soaSet = zone.Find(zone.Origin, RecordType.Soa) ?? throw new InvalidOperationException($"zone {zone.Origin} has no SOA");
        var soa = (SoaRecord)soaSet.Records[0];
        return (int)Math.Min((uint)soaSet.Ttl, soa.NegativeCachingTTL);
    }

    /// <summary>Names in the chain, in canonical order, each with its node, and whether it is a delegation point.</summary>
    public static IEnumerable<(DomainName Name, IReadOnlyDictionary<RecordType, RRset> Node, bool IsDelegation)> AuthoritativeNames(Zone zone)
    {
        DomainName? cut = null;
        foreach (var (name, node) in zone.Nodes)
        {
            if (cut is not null && name.IsSubDomainOf(cut)) continue; // glue or occluded
            cut = null;
            if (IsNsec3Only(node)) continue; // an NSEC3 record's hashed owner is not a data name
            bool isApex = CanonicalNameComparer.Instance.Equals(name, zone.Origin);
            bool delegation = !isApex && node.ContainsKey(RecordType.Ns);
            if (delegation) cut = name;
            if (!name.IsEqualOrSubDomainOf(zone.Origin)) continue;
            yield return (name, node, delegation);
        }
    }

    /// <summary>A node that holds only NSEC3 (and its RRSIGs): a hashed owner name.</summary>
    public static bool IsNsec3Only(IReadOnlyDictionary<RecordType, RRset> node) =>
        node.ContainsKey(RecordType.NSec3) && node.Keys.All(t => t is RecordType.NSec3 or RecordType.RrSig);

    /// <summary>Whether an RRset is signed: authoritative data and DS/NSEC at cuts, but not the NS of a delegation.</summary>
    public static bool IsSigned(RecordType type, bool isDelegation) =>
        type != RecordType.RrSig && (!isDelegation || type is RecordType.Ds or RecordType.NSec);

    public static IReadOnlyList<RRset> BuildNsec(Zone zone)
    {
        int ttl = DenialTtl(zone);
        var names = AuthoritativeNames(zone).ToList();
        var result = new List<RRset>(names.Count);
        for (int i = 0; i < names.Count; i++)
        {
            var (name, node, delegation) = names[i];
            var next = names[(i + 1) % names.Count].Name;
            var types = node.Keys.Where(t => !ChainTypes.Contains(t)).Append(RecordType.NSec).Append(RecordType.RrSig);
            var rdata = new List<byte>(RecordWire.Name(next, lowercase: false)); // next name keeps its case (RFC 6840 §5.1)
            rdata.AddRange(TypeBitmap.Encode(types));
            result.Add(RRset.Create([RecordWire.FromRData(name, RecordType.NSec, RecordClass.INet, ttl, rdata.ToArray())]));
        }
        return result;
    }

    /// <summary>IH(salt, name, iterations) of RFC 5155 §5 with SHA-1, over the lower-case wire name.</summary>
    public static byte[] Nsec3Hash(DomainName name, ReadOnlySpan<byte> salt, int iterations)
    {
        var wire = RecordWire.Name(name, lowercase: true);
        var buffer = new byte[Math.Max(wire.Length, 20) + salt.Length];
        wire.CopyTo(buffer, 0);
        salt.CopyTo(buffer.AsSpan(wire.Length));
        var digest = SHA1.HashData(buffer.AsSpan(0, wire.Length + salt.Length));
        for (int i = 0; i < iterations; i++)
        {
            digest.CopyTo(buffer, 0);
            salt.CopyTo(buffer.AsSpan(20));
            digest = SHA1.HashData(buffer.AsSpan(0, 20 + salt.Length));
        }
        return digest;
    }

    public static DomainName HashedOwner(DomainName name, DomainName origin, Nsec3Settings settings) =>
        new([Base32Hex.Encode(Nsec3Hash(name, settings.SaltBytes, settings.Iterations)), .. origin.Labels]);

    /// <summary>The NSEC3PARAM record announcing <paramref name="settings"/> (flags 0, RFC 5155 §4.1.2).</summary>
    public static DnsRecordBase Nsec3ParamRecord(DomainName origin, Nsec3Settings settings, int ttl)
    {
        var salt = settings.SaltBytes;
        byte[] rdata = [1, 0, (byte)(settings.Iterations >> 8), (byte)settings.Iterations, (byte)salt.Length, .. salt];
        return RecordWire.FromRData(origin, RecordType.NSec3Param, RecordClass.INet, ttl, rdata);
    }

    /// <summary>
    /// The NSEC3 chain: one record per authoritative name and empty non-terminal; with opt-out, insecure
    /// delegations (and empty non-terminals that exist only because of them) are left out.
    /// </summary>
    public static IReadOnlyList<RRset> BuildNsec3(Zone zone, Nsec3Settings settings)
    {
        int ttl = DenialTtl(zone);
        var origin = zone.Origin;
        // name (lower-cased text) → types; ENTs have none.
        var entries = new Dictionary<DomainName, List<RecordType>>(CanonicalNameComparer.Instance);
        var keepForEnt = new HashSet<DomainName>(CanonicalNameComparer.Instance);
        foreach (var (name, node, delegation) in AuthoritativeNames(zone))
        {
            bool insecure = delegation && !node.ContainsKey(RecordType.Ds);
            if (insecure && settings.OptOut) continue;
            bool anySigned = node.Keys.Any(t => !ChainTypes.Contains(t) && IsSigned(t, delegation));
            var types = node.Keys.Where(t => !ChainTypes.Contains(t)).ToList();
            if (anySigned) types.Add(RecordType.RrSig);
            entries[name] = types;
            // Ancestors up to the apex that hold no data are empty non-terminals.
            for (var parent = name; parent.LabelCount > origin.LabelCount + 1;)
            {
                parent = parent.GetParentName();
                if (!keepForEnt.Add(parent)) break;
            }
        }
        foreach (var ent in keepForEnt)
            if (!zone.HasName(ent) && !entries.ContainsKey(ent)) entries[ent] = [];

        var hashed = entries.Select(e => (Hash: Nsec3Hash(e.Key, settings.SaltBytes, settings.Iterations), Types: e.Value))
            .OrderBy(e => e.Hash, ByteOrder.Instance).ToList();
        var salt = settings.SaltBytes;
        byte flags = settings.OptOut ? (byte)1 : (byte)0;
        var result = new List<RRset>(hashed.Count);
        for (int i = 0; i < hashed.Count; i++)
        {
            var (hash, types) = hashed[i];
            var next = hashed[(i + 1) % hashed.Count].Hash;
            var rdata = new List<byte> { 1, flags, (byte)(settings.Iterations >> 8), (byte)settings.Iterations, (byte)salt.Length };
            rdata.AddRange(salt);
            rdata.Add((byte)next.Length);
            rdata.AddRange(next);
            if (types.Count > 0) rdata.AddRange(TypeBitmap.Encode(types));
            var owner = new DomainName([Base32Hex.Encode(hash), .. origin.Labels]);
            result.Add(RRset.Create([RecordWire.FromRData(owner, RecordType.NSec3, RecordClass.INet, ttl, rdata.ToArray())]));
        }
        return result;
    }

    internal sealed class ByteOrder : IComparer<byte[]>
    {
        public static ByteOrder Instance { get; } = new();
        public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);
    }
}
