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
    public static int DenialTtl(Zone zone) =>
        DenialTtl(zone.Find(zone.Origin, RecordType.Soa) ?? throw new InvalidOperationException($"zone {zone.Origin} has no SOA"));

    /// <summary>NSEC/NSEC3 TTL for a zone whose SOA RRset is <paramref name="soaSet"/>.</summary>
    public static int DenialTtl(RRset soaSet)
    {
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
            result.Add(NsecRRset(name, next, NsecTypes(node.Keys, delegation), ttl));
        }
        return result;
    }

    /// <summary>The types an NSEC record lists for a name holding <paramref name="nodeTypes"/>: its data (at a delegation
    /// only what the parent is authoritative for, see <see cref="ListedTypes"/>), NSEC and RRSIG.</summary>
    public static IEnumerable<RecordType> NsecTypes(IEnumerable<RecordType> nodeTypes, bool isDelegation) =>
        ListedTypes(nodeTypes, isDelegation).Append(RecordType.NSec).Append(RecordType.RrSig);

    /// <summary>
    /// The data types a denial record lists for a name: all but the chain's own, and at a delegation point only NS and
    /// DS. RFC 4035 §2.3: bits for non-NS RRsets the parent is not authoritative for (glue at the cut, occluded data)
    /// MUST be clear; BIND's and ldns's validators reject the record otherwise.
    /// </summary>
    public static IEnumerable<RecordType> ListedTypes(IEnumerable<RecordType> nodeTypes, bool isDelegation) =>
        nodeTypes.Where(t => !ChainTypes.Contains(t) && (!isDelegation || t is RecordType.Ns or RecordType.Ds));

    /// <summary>The NSEC RRset at <paramref name="owner"/> pointing to <paramref name="next"/>.</summary>
    public static RRset NsecRRset(DomainName owner, DomainName next, IEnumerable<RecordType> types, int ttl)
    {
        var rdata = new List<byte>(RecordWire.Name(next, lowercase: false)); // next name keeps its case (RFC 6840 §5.1)
        rdata.AddRange(TypeBitmap.Encode(types));
        return RRset.Create([RecordWire.FromRData(owner, RecordType.NSec, RecordClass.INet, ttl, rdata.ToArray())]);
    }

    /// <summary>The types listed in the bitmap of an NSEC record.</summary>
    public static IReadOnlyList<RecordType> NsecBitmap(DnsRecordBase nsec)
    {
        var rdata = RecordWire.RData(nsec);
        int p = 0;
        while (rdata[p] != 0) p += 1 + rdata[p];
        return TypeBitmap.Decode(rdata.AsSpan(p + 1));
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

    /// <summary>Whether an authoritative name has an NSEC3 record of its own: every one but, with opt-out, an insecure delegation.</summary>
    public static bool InNsec3Chain(bool isDelegation, bool hasDs, bool optOut) => !(optOut && isDelegation && !hasDs);

    /// <summary>The types an NSEC3 record lists for an authoritative name holding <paramref name="nodeTypes"/>: its data (at a
    /// delegation NS and DS only, see <see cref="ListedTypes"/>), and RRSIG when any of it is signed (an insecure
    /// delegation's NS is not).</summary>
    public static List<RecordType> Nsec3Types(IEnumerable<RecordType> nodeTypes, bool isDelegation)
    {
        var types = ListedTypes(nodeTypes, isDelegation).ToList();
        if (types.Any(t => IsSigned(t, isDelegation))) types.Add(RecordType.RrSig);
        return types;
    }

    /// <summary>The owner of the NSEC3 record for the name hashing to <paramref name="hash"/>.</summary>
    public static DomainName Nsec3Owner(ReadOnlySpan<byte> hash, DomainName origin) => new([Base32Hex.Encode(hash), .. origin.Labels]);

    /// <summary>The NSEC3 RRset at <paramref name="owner"/> with the next hashed owner <paramref name="nextHash"/>; an empty
    /// <paramref name="types"/> (an empty non-terminal) has no bitmap at all.</summary>
    public static RRset Nsec3RRset(DomainName owner, Nsec3Settings settings, ReadOnlySpan<byte> nextHash, IReadOnlyCollection<RecordType> types, int ttl)
    {
        var salt = settings.SaltBytes;
        byte flags = settings.OptOut ? (byte)1 : (byte)0;
        var rdata = new List<byte> { 1, flags, (byte)(settings.Iterations >> 8), (byte)settings.Iterations, (byte)salt.Length };
        rdata.AddRange(salt);
        rdata.Add((byte)nextHash.Length);
        rdata.AddRange(nextHash.ToArray());
        if (types.Count > 0) rdata.AddRange(TypeBitmap.Encode(types));
        return RRset.Create([RecordWire.FromRData(owner, RecordType.NSec3, RecordClass.INet, ttl, rdata.ToArray())]);
    }

    /// <summary>The flags octet and the types listed in the bitmap of an NSEC3 record.</summary>
    public static (byte Flags, IReadOnlyList<RecordType> Types) Nsec3Fields(DnsRecordBase nsec3)
    {
        var rdata = RecordWire.RData(nsec3);
        int p = 5 + rdata[4];
        p += 1 + rdata[p];
        return (rdata[1], TypeBitmap.Decode(rdata.AsSpan(p)));
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
            if (!InNsec3Chain(delegation, node.ContainsKey(RecordType.Ds), settings.OptOut)) continue;
            entries[name] = Nsec3Types(node.Keys, delegation);
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
        var result = new List<RRset>(hashed.Count);
        for (int i = 0; i < hashed.Count; i++)
        {
            var (hash, types) = hashed[i];
            var next = hashed[(i + 1) % hashed.Count].Hash;
            result.Add(Nsec3RRset(Nsec3Owner(hash, origin), settings, next, types, ttl));
        }
        return result;
    }

    internal sealed class ByteOrder : IComparer<byte[]>
    {
        public static ByteOrder Instance { get; } = new();
        public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);
    }
}
