using System.Buffers.Binary;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Dnssec.Keys;
using InlineSigner.Zones;
using InlineSigner.Zones.Text;

namespace InlineSigner.Dnssec.Signing;

/// <summary>
/// One incremental step S + (U → U') = S' (see <see cref="IncrementalSigner.ApplyAsync"/>). It works in four passes:
/// <list type="number">
/// <item>the data change: the unsigned diff, minus signer-owned types, applied to S (checked against S as it goes);</item>
/// <item>the candidates: names whose signed form may change, i.e. the touched names, the apex (new SOA), every name
/// below a name that gains or loses a zone cut (it becomes occluded or visible again), and for NSEC3 their ancestors
/// (empty non-terminals come and go with their descendants);</item>
/// <item>the chain: for each candidate its NSEC/NSEC3 record as a full sign of U' would make it, compared with S's;
/// names joining or leaving the chain change their predecessor's next field, found in O(log n) in S's sorted chain
/// (<see cref="Zone.OwnersOf"/>);</item>
/// <item>the signatures: an RRset keeps its signatures when it is unchanged and was signed; changed or newly visible
/// RRsets are signed, signatures over what is gone or no longer signed (delegation NS, glue, occluded data) are dropped.</item>
/// </list>
/// "As a full sign would make it" is decided by the same predicates <see cref="DenialOfExistence"/> uses
/// (<see cref="DenialOfExistence.IsSigned"/>, <see cref="DenialOfExistence.InNsec3Chain"/>, the type lists), read from U'.
/// Names are assumed to keep one spelling within a name (a change of case alone is not re-signed).
/// </summary>
internal sealed class IncrementalChange
{
    private static readonly CanonicalNameComparer Names = CanonicalNameComparer.Instance;

    private readonly Zone _signed;
    private readonly Zone _old;
    private readonly Zone _new;
    private readonly RRset _soa;
    private readonly SigningPolicy _policy;
    private readonly ZoneKeys _keys;
    private readonly DateTimeOffset _now;
    private readonly DomainName _origin;
    private readonly int _denialTtl;

    /// <summary>Data RRsets of S' that differ from S (null: removed).</summary>
    private readonly Dictionary<(DomainName Owner, RecordType Type), RRset?> _data = new(OwnerTypeComparer.Instance);

    /// <summary>Chain records of S' that differ from S, by owner (NSEC at data names, NSEC3 at hashed owners; null: removed).</summary>
    private readonly Dictionary<DomainName, RRset?> _chain = new(Names);

    /// <summary>Per owner whose RRSIG set changes: the covered types whose signatures in S are kept.</summary>
    private readonly Dictionary<DomainName, HashSet<RecordType>> _keptSignatures = new(Names);

    private readonly List<SigningJob> _jobs = [];
    private int _ignored;

    public IncrementalChange(Zone signed, Zone unsignedOld, Zone unsignedNew, RRset soa, SigningPolicy policy, ZoneKeys keys, DateTimeOffset now)
    {
        _signed = signed;
        _old = unsignedOld;
        _new = unsignedNew;
        _soa = soa;
        _policy = policy;
        _keys = keys;
        _now = now;
        _origin = signed.Origin;
        _denialTtl = DenialOfExistence.DenialTtl(soa);
    }

    public async Task<SignedChange> RunAsync(CancellationToken cancellationToken)
    {
        var touched = CollectDataChanges(out int maxTtl);
        // The zone's largest TTL is only known for what changes (finding it costs a walk of the zone); the full sign
        // and every refresh check the whole zone.
        _policy.Schedule.EnsureRefreshable(IncrementalSigner.SoaExpire(_soa), TimeSpan.FromSeconds(Math.Max(maxTtl, _policy.DnsKeyTtl ?? _soa.Ttl)));
        var candidates = Candidates(touched);
        if (_policy.Nsec3 is { } settings)
        {
            UpdateNsec3(candidates, settings);
            foreach (var name in candidates) Reconcile(name);
            // A hashed owner holds its NSEC3 and the signature over it, nothing else.
            foreach (var (owner, set) in _chain)
            {
                _keptSignatures[owner] = [];
                if (set is not null) _jobs.AddRange(ZoneSigner.JobsFor(set, _origin, _keys, _policy.Schedule, _now));
            }
        }
        else
        {
            // The NSEC records that change outside the candidates (predecessors) are re-signed with the rest of their name.
            foreach (var name in candidates.Concat(UpdateNsec(candidates))) Reconcile(name);
        }

        var signatures = await ZoneSigner.SignJobsAsync(_jobs, _policy.BatchSize, null, cancellationToken);
        var zone = _signed.WithChanges(Upserts(signatures, out var removals), removals);
        var jobs = _jobs.AsEnumerable();
        // An unchanged zone keeps its digest (hashing the zone again would give the same one).
        if (_policy.ZoneMdAlgorithms.Count > 0 && (!ReferenceEquals(zone.Nodes, _signed.Nodes) || _signed.Find(_origin, RecordType.ZoneMD) is null))
        {
            var (withDigest, zonemdJobs) = await IncrementalSigner.SignZoneMdAsync(zone, _policy, _keys, _now, cancellationToken);
            zone = withDigest;
            jobs = jobs.Concat(zonemdJobs);
        }
        var all = jobs.ToList();
        return IncrementalSigner.Result(_signed, zone, all.Count, IncrementalSigner.CountRRsets(all), _ignored, null);
    }

    /// <summary>Pass 1: the unsigned diff as data edits of S; returns the owners it touches and the largest TTL it brings.</summary>
    private HashSet<DomainName> CollectDataChanges(out int maxTtl)
    {
        var touched = new HashSet<DomainName>(Names);
        maxTtl = _soa.Ttl;
        foreach (var change in ZoneDiff.Compute(_old, _new).Changes)
        {
            if (ZoneSigner.SignerOwnedTypes.Contains(change.Type))
            {
                _ignored += change.AddedRecords.Count;
                continue;
            }
            if (change.Type == RecordType.Soa && Names.Equals(change.Owner, _origin)) continue; // the new SOA is _soa
            var current = _signed.Find(change.Owner, change.Type);
            bool matches = change.Old is null ? current is null : current is not null && current.ContentEquals(change.Old);
            if (!matches)
            {
                throw new ZoneDiffConflictException(
                    $"the signed zone does not hold {change.Owner} {PresentationFormat.FormatType(change.Type)} as the old unsigned zone does; it was signed from another version");
            }
            _data[(change.Owner, change.Type)] = change.New;
            touched.Add(change.Owner);
            if (change.New is not null) maxTtl = Math.Max(maxTtl, change.New.Ttl);
        }
        if (_policy.ZoneMdAlgorithms.Count == 0 && _signed.Find(_origin, RecordType.ZoneMD) is not null)
            _data[(_origin, RecordType.ZoneMD)] = null; // the policy no longer asks for ZONEMD
        return touched;
    }

    /// <summary>Pass 2: the data names whose signed form may change.</summary>
    private HashSet<DomainName> Candidates(HashSet<DomainName> touched)
    {
        var candidates = new HashSet<DomainName>(touched, Names) { _origin };
        foreach (var name in touched)
        {
            if (Names.Equals(name, _origin)) continue;
            bool wasCut = _old.Find(name, RecordType.Ns) is not null;
            bool isCut = _new.Find(name, RecordType.Ns) is not null;
            // A new cut hides everything below it, a removed one shows it again. Names below that the change
            // removed are touched already; the others are all in U'.
            if (wasCut != isCut)
                foreach (var below in _new.Names.Below(name)) candidates.Add(below);
        }
        return candidates;
    }

    // ---- The new zone as a full sign of U' sees it ----

    private bool IsApex(DomainName name) => Names.Equals(name, _origin);

    /// <summary>A name of the prepared U': one with data other than signer-owned types (those are stripped), or the apex.</summary>
    private bool Exists(DomainName name) =>
        IsApex(name) || (_new.Nodes.TryGetValue(name, out var node) && node.Keys.Any(t => !ZoneSigner.SignerOwnedTypes.Contains(t)));

    private bool IsCut(DomainName name) => !IsApex(name) && _new.Find(name, RecordType.Ns) is not null;

    /// <summary>Below a zone cut of U' (glue or occluded data): some ancestor under the apex holds NS.</summary>
    private bool IsOccluded(DomainName name)
    {
        for (var ancestor = name; ancestor.LabelCount > _origin.LabelCount + 1;)
        {
            ancestor = ancestor.GetParentName();
            if (_new.Find(ancestor, RecordType.Ns) is not null) return true;
        }
        return false;
    }

    private bool IsAuthoritative(DomainName name) => Exists(name) && (IsApex(name) || !IsOccluded(name));

    /// <summary>The types at <paramref name="name"/> in the prepared U': its data and, at the apex, what the signer adds.</summary>
    private List<RecordType> Types(DomainName name)
    {
        var types = _new.Nodes.TryGetValue(name, out var node)
            ? node.Keys.Where(t => !ZoneSigner.SignerOwnedTypes.Contains(t)).ToList()
            : [];
        if (IsApex(name))
        {
            types.Add(RecordType.DnsKey);
            if (_policy.Nsec3 is not null) types.Add(RecordType.NSec3Param);
            if (_policy.ZoneMdAlgorithms.Count > 0) types.Add(RecordType.ZoneMD);
        }
        return types;
    }

    /// <summary>The RRset S' has at <paramref name="name"/> for a type that is signed there (ZONEMD is made last).</summary>
    private RRset? NewSet(DomainName name, RecordType type)
    {
        if (IsApex(name))
        {
            switch (type)
            {
                case RecordType.Soa: return _soa;
                case RecordType.DnsKey or RecordType.NSec3Param: return _signed.Find(name, type); // equal to the keys' and policy's (else a full re-sign)
            }
        }
        if (type == RecordType.NSec) return _chain.TryGetValue(name, out var nsec) ? nsec : _signed.Find(name, type);
        return _new.Find(name, type);
    }

    /// <summary>The spelling of a name as U' has it (a full sign takes names from the zone's keys).</summary>
    private DomainName Spelling(DomainName name) => _new.Nodes.TryGetKey(name, out var key) ? key : name;

    // ---- Pass 3: the chain ----

    /// <summary>NSEC: each candidate's record, and the next field of the predecessors of names joining or leaving the
    /// chain. Returns the names outside the candidates whose NSEC changes (they need a signature).</summary>
    private List<DomainName> UpdateNsec(HashSet<DomainName> candidates)
    {
        var chain = _signed.OwnersOf(RecordType.NSec);
        var members = new List<DomainName>();
        var moved = new List<DomainName>();
        var next = chain;
        foreach (var name in candidates)
        {
            bool member = IsAuthoritative(name);
            bool was = _signed.Find(name, RecordType.NSec) is not null;
            if (member) members.Add(name);
            if (member == was) continue;
            moved.Add(name);
            next = member ? next.Add(name) : next.Remove(name);
            if (!member) _chain[name] = null;
        }
        var rebuild = new HashSet<DomainName>(members, Names);
        foreach (var name in moved)
            if (next.BeforeCyclic(name) is { } before) rebuild.Add(before);

        var outside = new List<DomainName>();
        foreach (var name in rebuild)
        {
            var old = _signed.Find(name, RecordType.NSec);
            bool candidate = candidates.Contains(name);
            var types = candidate ? DenialOfExistence.NsecTypes(Types(name), IsCut(name)) : DenialOfExistence.NsecBitmap(old!.Records[0]);
            var owner = candidate ? Spelling(name) : old!.Owner;
            var set = DenialOfExistence.NsecRRset(owner, Spelling(next.AfterCyclic(name)!), types, _denialTtl);
            if (old is not null && old.ContentEquals(set)) continue;
            _chain[name] = set;
            if (!candidate) outside.Add(name);
        }
        return outside;
    }

    /// <summary>NSEC3: each candidate's and each candidate ancestor's record (real name, empty non-terminal, or none),
    /// and the next hash of the predecessors of hashes joining or leaving the chain.</summary>
    private void UpdateNsec3(HashSet<DomainName> candidates, Nsec3Settings settings)
    {
        var names = new HashSet<DomainName>(candidates, Names);
        var walked = new HashSet<DomainName>(Names);
        foreach (var name in candidates)
        {
            for (var ancestor = name; ancestor.LabelCount > _origin.LabelCount + 1;)
            {
                ancestor = ancestor.GetParentName();
                if (!walked.Add(ancestor)) break; // walked from here before: its ancestors are in already
                names.Add(ancestor);
            }
        }

        var chain = _signed.OwnersOf(RecordType.NSec3);
        var next = chain;
        var entries = new Dictionary<DomainName, List<RecordType>>(Names);
        var moved = new List<DomainName>();
        foreach (var name in names)
        {
            var types = Nsec3Entry(name, settings);
            var owner = DenialOfExistence.HashedOwner(name, _origin, settings);
            bool was = _signed.Find(owner, RecordType.NSec3) is not null;
            if (types is not null) entries[owner] = types;
            if (types is not null == was) continue;
            moved.Add(owner);
            next = types is not null ? next.Add(owner) : next.Remove(owner);
            if (types is null) _chain[owner] = null;
        }
        var rebuild = new HashSet<DomainName>(entries.Keys, Names);
        foreach (var owner in moved)
            if (next.BeforeCyclic(owner) is { } before) rebuild.Add(before);

        foreach (var owner in rebuild)
        {
            var old = _signed.Find(owner, RecordType.NSec3);
            var types = entries.TryGetValue(owner, out var listed) ? listed : DenialOfExistence.Nsec3Fields(old!.Records[0]).Types.ToList();
            var nextHash = Base32Hex.Decode(next.AfterCyclic(owner)!.Labels[0]);
            var set = DenialOfExistence.Nsec3RRset(old?.Owner ?? owner, settings, nextHash, types, _denialTtl);
            if (old is null || !old.ContentEquals(set)) _chain[owner] = set;
        }
    }

    /// <summary>The types of <paramref name="name"/>'s NSEC3 record in a full sign of U' (empty for an empty
    /// non-terminal), or null when it has none; mirrors <see cref="DenialOfExistence.BuildNsec3"/>.</summary>
    private List<RecordType>? Nsec3Entry(DomainName name, Nsec3Settings settings)
    {
        if (Exists(name))
        {
            if (!IsApex(name) && IsOccluded(name)) return null;
            bool delegation = IsCut(name);
            if (!DenialOfExistence.InNsec3Chain(delegation, _new.Find(name, RecordType.Ds) is not null, settings.OptOut)) return null;
            return DenialOfExistence.Nsec3Types(Types(name), delegation);
        }
        if (name.LabelCount <= _origin.LabelCount || !ZoneChecks.IsAtOrBelow(name, _origin) || IsOccluded(name)) return null;
        return HasChainMemberBelow(name, settings) ? [] : null;
    }

    /// <summary>Whether some name below <paramref name="ancestor"/> (itself not occluded) has an NSEC3 record of its own,
    /// which makes the ancestor an empty non-terminal. Walks the names below in canonical order, skipping what lies under
    /// a cut; usually the first name decides.</summary>
    private bool HasChainMemberBelow(DomainName ancestor, Nsec3Settings settings)
    {
        DomainName? cut = null;
        foreach (var name in _new.Names.Below(ancestor))
        {
            if (cut is not null && ZoneChecks.IsAtOrBelow(name, cut)) continue;
            cut = null;
            if (!Exists(name)) continue;
            if (!IsCut(name)) return true;
            cut = name;
            if (DenialOfExistence.InNsec3Chain(true, _new.Find(name, RecordType.Ds) is not null, settings.OptOut)) return true;
        }
        return false;
    }

    // ---- Pass 4: signatures ----

    /// <summary>Decides the signatures at data name <paramref name="name"/>: kept, made, or dropped.</summary>
    private void Reconcile(DomainName name)
    {
        if (_keptSignatures.ContainsKey(name)) return;
        var kept = new HashSet<RecordType>();
        _keptSignatures[name] = kept;
        if (!IsAuthoritative(name)) return; // gone, glue or occluded: no signatures at all

        bool apex = IsApex(name);
        bool delegation = IsCut(name);
        var types = Types(name).Where(t => DenialOfExistence.IsSigned(t, delegation)).ToList();
        if (_policy.Nsec3 is null) types.Add(RecordType.NSec);
        var signatures = _signed.Find(name, RecordType.RrSig);
        foreach (var type in types)
        {
            if (type == RecordType.ZoneMD)
            {
                kept.Add(type); // replaced once the digest is known
                continue;
            }
            var set = NewSet(name, type) ?? throw new InvalidOperationException($"no {PresentationFormat.FormatType(type)} RRset at {name} to sign");
            var old = _signed.Find(name, type);
            if (old is not null && old.ContentEquals(set) && SignedByAll(signatures, type, apex)) kept.Add(type);
            else _jobs.AddRange(ZoneSigner.JobsFor(set, _origin, _keys, _policy.Schedule, _now));
        }
    }

    /// <summary>Whether S's signatures at a name cover <paramref name="type"/> by exactly the keys that sign it.</summary>
    private bool SignedByAll(RRset? signatures, RecordType type, bool apex)
    {
        if (signatures is null) return false;
        var expected = _keys.SignersFor(type, apex).Select(k => ((byte)k.Algorithm, k.KeyTag)).ToHashSet();
        var found = new HashSet<(byte, ushort)>();
        foreach (var rdata in signatures.CanonicalRData)
            if (Covered(rdata) == type && !found.Add((rdata[2], BinaryPrimitives.ReadUInt16BigEndian(rdata.AsSpan(16))))) return false;
        return found.SetEquals(expected);
    }

    private static RecordType Covered(byte[] rrsigRData) => (RecordType)BinaryPrimitives.ReadUInt16BigEndian(rrsigRData);

    /// <summary>Every RRset of S' that differs from S, and the RRsets S' drops.</summary>
    private List<RRset> Upserts(IReadOnlyList<DnsRecordBase> signatures, out List<(DomainName Owner, RecordType Type)> removals)
    {
        var upserts = new List<RRset>();
        removals = [];
        foreach (var ((owner, type), set) in _data)
        {
            if (set is not null) upserts.Add(set);
            else removals.Add((owner, type));
        }
        if (!_soa.ContentEquals(_signed.Find(_origin, RecordType.Soa)!)) upserts.Add(_soa);
        var chainType = _policy.Nsec3 is null ? RecordType.NSec : RecordType.NSec3;
        foreach (var (owner, set) in _chain)
        {
            if (set is not null) upserts.Add(set);
            else removals.Add((owner, chainType));
        }

        var made = signatures.GroupBy(s => s.Name, Names).ToDictionary(g => g.Key, g => g.ToList(), Names);
        foreach (var (owner, kept) in _keptSignatures)
        {
            var old = _signed.Find(owner, RecordType.RrSig);
            var records = new List<DnsRecordBase>();
            if (old is not null)
                for (int i = 0; i < old.Count; i++)
                    if (kept.Contains(Covered(old.CanonicalRData[i]))) records.Add(old.Records[i]);
            if (made.TryGetValue(owner, out var fresh)) records.AddRange(fresh);
            if (records.Count == 0)
            {
                if (old is not null) removals.Add((owner, RecordType.RrSig));
                continue;
            }
            var set = RRset.Create(records);
            if (old is null || !old.ContentEquals(set)) upserts.Add(set);
        }
        return upserts;
    }
}
