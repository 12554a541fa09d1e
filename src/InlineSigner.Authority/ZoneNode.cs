using System.Collections.Immutable;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Zones;

namespace InlineSigner.Authority;

/// <summary>An RRset as served: the records and the RRSIG records covering them (empty in an unsigned zone).</summary>
public sealed class SignedRRset
{
    internal SignedRRset(RRset set, ImmutableArray<DnsRecordBase> signatures)
    {
        Set = set;
        Signatures = signatures;
    }

    public RRset Set { get; }
    public RecordType Type => Set.Type;
    public ImmutableArray<DnsRecordBase> Signatures { get; }

    private byte[][]? _wire;
    private byte[][]? _signatureWire;

    /// <summary>Uncompressed RDATA of each record as the zone holds it, computed on first use and kept with this version.</summary>
    internal byte[][] WireRData => _wire ??= Encode(Set.Records.AsSpan());

    /// <summary>Uncompressed RDATA of each signature, computed on first use.</summary>
    internal byte[][] SignatureWireRData => _signatureWire ??= Encode(Signatures.AsSpan());

    private static byte[][] Encode(ReadOnlySpan<DnsRecordBase> records)
    {
        var result = new byte[records.Length][];
        for (int i = 0; i < records.Length; i++) result[i] = RecordWire.RData(records[i]);
        return result;
    }

    /// <summary>A one-off RRset made for one response (a CNAME synthesized from a DNAME, RFC 6672 §3.1): never signed.</summary>
    public static SignedRRset Unsigned(RRset set) => new(set, []);
}

[Flags]
internal enum NodeFlags : byte
{
    None = 0,
    /// <summary>No records, but names below it exist (RFC 4592 §2.2.2): it exists, and owns no data.</summary>
    EmptyNonTerminal = 1,
    /// <summary>NS records at a name other than the apex: a zone cut, the name is the child's apex.</summary>
    Delegation = 2,
    /// <summary>Below a zone cut or a DNAME: glue or occluded data, never answered authoritatively.</summary>
    Occluded = 4,
    DName = 8,
    CName = 16,
}

/// <summary>One owner name of a served zone, with everything a query for it needs precomputed.</summary>
internal sealed class ZoneNode
{
    private static readonly SignedRRset[] NoSets = [];

    private readonly SignedRRset[] _sets; // ordered by type number; RRSIG is kept apart

    private ZoneNode(DomainName name, NodeFlags flags, SignedRRset[] sets, RRset? signatures,
        ImmutableSortedDictionary<RecordType, RRset>? source = null)
    {
        Name = name;
        Flags = flags;
        _sets = sets;
        AllSignatures = signatures;
        Source = source;
    }

    /// <summary>The zone's RRsets this node was built from: a later version holding the very same (immutable) dictionary
    /// for the name has the same node, so it can be reused with everything cached in it.</summary>
    public ImmutableSortedDictionary<RecordType, RRset>? Source { get; }

    /// <summary>This node for another version: the same RRsets (their cached wire form included), fresh NSEC3 links,
    /// which that version sets. The hash depends on the name alone and is kept.</summary>
    public ZoneNode ForNextVersion() => new(Name, Flags, _sets, AllSignatures, Source) { Nsec3Hash = Nsec3Hash };

    public DomainName Name { get; }
    public NodeFlags Flags { get; }

    /// <summary>Every RRSIG at the name (answers to QTYPE=RRSIG).</summary>
    public RRset? AllSignatures { get; }

    /// <summary>RFC 5155 hash of the name, for nodes in an NSEC3 zone that are not occluded.</summary>
    public byte[]? Nsec3Hash { get; set; }

    /// <summary>The NSEC3 record whose owner is this name's hash, when the chain has one (opt-out may leave it out).</summary>
    public Nsec3Entry? MatchingNsec3 { get; set; }

    public ReadOnlySpan<SignedRRset> Sets => _sets;

    public bool IsEmptyNonTerminal => (Flags & NodeFlags.EmptyNonTerminal) != 0;
    public bool IsDelegation => (Flags & NodeFlags.Delegation) != 0;
    public bool IsOccluded => (Flags & NodeFlags.Occluded) != 0;
    public bool HasDName => (Flags & NodeFlags.DName) != 0;
    public bool HasCName => (Flags & NodeFlags.CName) != 0;

    public SignedRRset? Find(RecordType type)
    {
        foreach (var set in _sets)
            if (set.Type == type) return set;
        return null;
    }

    public static ZoneNode EmptyNonTerminal(DomainName name, bool occluded) =>
        new(name, NodeFlags.EmptyNonTerminal | (occluded ? NodeFlags.Occluded : NodeFlags.None), NoSets, null);

    public static ZoneNode Create(DomainName name, ImmutableSortedDictionary<RecordType, RRset> rrsets, bool isApex, bool occluded)
    {
        rrsets.TryGetValue(RecordType.RrSig, out var rrsigs);
        var sets = new SignedRRset[rrsets.Count - (rrsigs is null ? 0 : 1)];
        var flags = occluded ? NodeFlags.Occluded : NodeFlags.None;
        int n = 0;
        foreach (var (type, set) in rrsets)
        {
            if (type == RecordType.RrSig) continue;
            sets[n++] = new SignedRRset(set, rrsigs is null ? [] : Covering(rrsigs, type));
            if (type == RecordType.Ns && !isApex) flags |= NodeFlags.Delegation;
            else if (type == RecordType.DName) flags |= NodeFlags.DName;
            else if (type == RecordType.CName) flags |= NodeFlags.CName;
        }
        return new ZoneNode(name, flags, sets, rrsigs, rrsets);
    }

    private static ImmutableArray<DnsRecordBase> Covering(RRset rrsigs, RecordType type)
    {
        var builder = ImmutableArray.CreateBuilder<DnsRecordBase>();
        foreach (var record in rrsigs.Records)
            if (record is RrSigRecord sig && sig.TypeCovered == type) builder.Add(record);
        return builder.Count == 0 ? [] : builder.ToImmutable();
    }

    public override string ToString() => $"{Name} [{Flags}] {string.Join(' ', _sets.Select(s => s.Type))}";
}

/// <summary>One NSEC3 record of the chain, keyed by the hash its owner name spells.</summary>
internal sealed class Nsec3Entry
{
    public Nsec3Entry(byte[] hash, SignedRRset rrset, NSec3Record record)
    {
        Hash = hash;
        RRset = rrset;
        Record = record;
    }

    public byte[] Hash { get; }
    public SignedRRset RRset { get; }
    public NSec3Record Record { get; }
    public bool OptOut => (Record.Flags & NSec3Flags.OptOut) != 0;

    /// <summary>True when this record covers <paramref name="hash"/> (RFC 5155 §1.3: owner &lt; hash &lt; next, with wrap-around).</summary>
    public bool Covers(ReadOnlySpan<byte> hash)
    {
        var next = Record.NextHashedOwner;
        int ownerVsHash = Hash.AsSpan().SequenceCompareTo(hash);
        int hashVsNext = hash.SequenceCompareTo(next);
        bool wraps = Hash.AsSpan().SequenceCompareTo(next) >= 0; // the last record points back to the first
        return wraps ? ownerVsHash < 0 || hashVsNext < 0 : ownerVsHash < 0 && hashVsNext < 0;
    }
}
