using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Dnssec.Keys;
using InlineSigner.Dnssec.Signing;
using InlineSigner.Zones;
using InlineSigner.Zones.Text;

namespace InlineSigner.Dnssec.Verification;

/// <summary>One problem found in a signed zone.</summary>
public sealed record VerificationProblem(DomainName Owner, RecordType Type, string Reason)
{
    public override string ToString() => $"{PresentationFormat.FormatName(Owner)} {PresentationFormat.FormatType(Type)}: {Reason}";
}

/// <summary>The outcome of verifying a zone.</summary>
public sealed record VerificationReport(IReadOnlyList<VerificationProblem> Problems, int SignaturesChecked, int RRsetsChecked, string DenialKind)
{
    public bool IsValid => Problems.Count == 0;
}

/// <summary>
/// Checks a signed zone the way a validator would see it, and more: every RRSIG verifies with the zone's DNSKEYs
/// and is within its validity period; every authoritative RRset is signed by every algorithm of the DNSKEY set;
/// the NSEC or NSEC3 chain is complete, closed and has the right type bitmaps; ZONEMD digests match.
/// </summary>
public static class ZoneVerifier
{
    public static VerificationReport Verify(Zone zone, DateTimeOffset now)
    {
        var problems = new List<VerificationProblem>();
        var origin = zone.Origin;
        var dnskeys = zone.Find(origin, RecordType.DnsKey)?.Records.OfType<DnsKeyRecord>().Where(k => k.IsZoneKey && !k.IsRevoked).ToList() ?? [];
        if (dnskeys.Count == 0) problems.Add(new(origin, RecordType.DnsKey, "the zone has no DNSKEY at its apex"));
        var algorithms = dnskeys.Select(k => k.Algorithm).Distinct().ToList();
        uint nowSeconds = unchecked((uint)now.ToUnixTimeSeconds());

        int signatures = 0, rrsets = 0;
        foreach (var (set, _) in ZoneSigner.SignableRRsets(zone))
        {
            rrsets++;
            var rrsigs = zone.Find(set.Owner, RecordType.RrSig)?.Records
                .Select(r => (Record: r, Fields: RrsigFields.Of(r))).Where(r => r.Fields.TypeCovered == set.Type).ToList() ?? [];
            var validAlgorithms = new HashSet<DnsSecAlgorithm>();
            foreach (var (record, fields) in rrsigs)
            {
                signatures++;
                var problem = CheckSignature(zone, set, record, fields, dnskeys, nowSeconds);
                if (problem is null) validAlgorithms.Add(fields.Algorithm);
                else problems.Add(new(set.Owner, set.Type, problem));
            }
            foreach (var algorithm in algorithms.Where(a => !validAlgorithms.Contains(a)))
                problems.Add(new(set.Owner, set.Type, $"no valid signature by algorithm {DnssecAlgorithms.Mnemonic(algorithm)}"));
        }

        // Signatures where none belong: delegation NS, glue.
        foreach (var (name, node) in zone.Nodes)
        {
            if (!node.TryGetValue(RecordType.RrSig, out var set)) continue;
            foreach (var record in set.Records)
            {
                var covered = RrsigFields.Of(record).TypeCovered;
                if (!node.ContainsKey(covered)) problems.Add(new(name, covered, "RRSIG covers a type that does not exist here"));
            }
        }

        string denial;
        var nsec3param = zone.Find(origin, RecordType.NSec3Param);
        if (nsec3param is not null || zone.RRsets.Any(s => s.Type == RecordType.NSec3))
        {
            denial = "NSEC3";
            CheckNsec3(zone, nsec3param, problems);
        }
        else
        {
            denial = "NSEC";
            CheckNsec(zone, problems);
        }

        foreach (var check in ZoneMd.Verify(zone))
            if (!check.Matches) problems.Add(new(origin, RecordType.ZoneMD, check.Problem ?? "ZONEMD does not match"));

        return new VerificationReport(problems, signatures, rrsets, denial);
    }

    private static string? CheckSignature(Zone zone, RRset set, DnsRecordBase record, RrsigFields fields, List<DnsKeyRecord> dnskeys, uint now)
    {
        if (!CanonicalNameComparer.Instance.Equals(fields.SignerName, zone.Origin))
            return $"RRSIG signer name {fields.SignerName} is not the zone apex";
        if (fields.Labels > Rrsig.LabelCount(set.Owner)) return $"RRSIG labels field {fields.Labels} exceeds the owner's labels";
        if (fields.OriginalTtl != (uint)set.Ttl) return $"RRSIG original TTL {fields.OriginalTtl} differs from the RRset TTL {set.Ttl}";
        if (record.TimeToLive != set.Ttl) return $"RRSIG TTL {record.TimeToLive} differs from the RRset TTL {set.Ttl}";
        // RFC 1982 serial arithmetic on the 32-bit times (RFC 4034 §3.1.5).
        if ((int)(now - fields.Inception) < 0) return $"signature by key {fields.KeyTag} is not yet valid (inception {PresentationFormat.FormatSignatureTime(fields.Inception)})";
        if ((int)(fields.Expiration - now) < 0) return $"signature by key {fields.KeyTag} expired {PresentationFormat.FormatSignatureTime(fields.Expiration)}";
        var candidates = dnskeys.Where(k => k.Algorithm == fields.Algorithm && k.CalculateKeyTag() == fields.KeyTag).ToList();
        if (candidates.Count == 0) return $"RRSIG names key {fields.KeyTag} (algorithm {(int)fields.Algorithm}) which is not in the DNSKEY set";
        var header = Rrsig.RDataWithoutSignature(fields.TypeCovered, fields.Algorithm, fields.Labels, fields.OriginalTtl,
            fields.Expiration, fields.Inception, fields.KeyTag, fields.SignerName);
        var input = Rrsig.SigningInput(set, header, fields.OriginalTtl);
        foreach (var key in candidates)
            if (SignatureCheck.Verify(fields.Algorithm, key.PublicKey, input, fields.Signature)) return null;
        return $"signature by key {fields.KeyTag} does not verify";
    }

    private static void CheckNsec(Zone zone, List<VerificationProblem> problems)
    {
        var names = DenialOfExistence.AuthoritativeNames(zone).ToList();
        for (int i = 0; i < names.Count; i++)
        {
            var (name, node, delegation) = names[i];
            var expectedNext = names[(i + 1) % names.Count].Name;
            if (!node.TryGetValue(RecordType.NSec, out var nsecSet))
            {
                problems.Add(new(name, RecordType.NSec, "name has no NSEC record (the chain is broken here)"));
                continue;
            }
            var nsec = RecordWire.RData(nsecSet.Records[0]);
            var reader = new NameReader(nsec);
            var next = reader.Name();
            if (!CanonicalNameComparer.Instance.Equals(next, expectedNext))
                problems.Add(new(name, RecordType.NSec, $"NSEC points to {next}, but the next name is {expectedNext}"));
            var listed = TypeBitmap.Decode(nsec.AsSpan(reader.Position)).ToHashSet();
            var present = DenialOfExistence.NsecTypes(node.Keys, delegation).ToHashSet();
            foreach (var type in present.Where(t => !listed.Contains(t)))
                problems.Add(new(name, RecordType.NSec, $"NSEC type bitmap omits {PresentationFormat.FormatType(type)}"));
            foreach (var type in listed.Where(t => !present.Contains(t)))
                problems.Add(new(name, RecordType.NSec, $"NSEC type bitmap lists {PresentationFormat.FormatType(type)}, which is not authoritative data here"));
        }
        foreach (var (name, node) in zone.Nodes)
        {
            if (node.ContainsKey(RecordType.NSec) && !names.Any(n => CanonicalNameComparer.Instance.Equals(n.Name, name)))
                problems.Add(new(name, RecordType.NSec, "NSEC record at a name that is not authoritative (glue or occluded)"));
        }
    }

    private static void CheckNsec3(Zone zone, RRset? paramSet, List<VerificationProblem> problems)
    {
        var origin = zone.Origin;
        var nsec3Sets = zone.Nodes.Where(n => n.Value.ContainsKey(RecordType.NSec3)).Select(n => n.Value[RecordType.NSec3]).ToList();
        if (paramSet is null)
        {
            problems.Add(new(origin, RecordType.NSec3Param, "NSEC3 records but no NSEC3PARAM at the apex"));
            return;
        }
        var param = RecordWire.RData(paramSet.Records[0]);
        if (param.Length < 5 || param[0] != 1)
        {
            problems.Add(new(origin, RecordType.NSec3Param, "NSEC3PARAM is malformed or uses an unknown hash"));
            return;
        }
        ushort iterations = (ushort)((param[2] << 8) | param[3]);
        var salt = param.AsSpan(5, param[4]).ToArray();

        var byHash = new SortedDictionary<string, (RRset Set, byte Flags, byte[] Next, HashSet<RecordType> Types)>(StringComparer.Ordinal);
        foreach (var set in nsec3Sets)
        {
            var rdata = RecordWire.RData(set.Records[0]);
            int saltLength = rdata[4];
            int p = 5 + saltLength;
            var next = rdata.AsSpan(p + 1, rdata[p]).ToArray();
            var types = TypeBitmap.Decode(rdata.AsSpan(p + 1 + rdata[p])).ToHashSet();
            if (((rdata[2] << 8) | rdata[3]) != iterations || !rdata.AsSpan(5, saltLength).SequenceEqual(salt))
                problems.Add(new(set.Owner, RecordType.NSec3, "NSEC3 parameters differ from NSEC3PARAM"));
            byHash[set.Owner.Labels[0].ToLowerInvariant()] = (set, rdata[1], next, types);
        }
        var settings = new Nsec3Settings(iterations, salt);
        bool optOut = byHash.Values.Any(v => (v.Flags & 1) != 0);

        // Every authoritative name (and empty non-terminal) must have its NSEC3, with the right types.
        // The chain the zone's data calls for: computed from the zone without its hashed-owner nodes.
        var hashedNodes = zone.Nodes.Where(n => DenialOfExistence.IsNsec3Only(n.Value))
            .SelectMany(n => n.Value.Keys.Select(t => (n.Key, t))).ToList();
        var expected = DenialOfExistence.BuildNsec3(zone.WithChanges([], hashedNodes), settings with { OptOut = optOut });
        foreach (var want in expected)
        {
            var key = want.Owner.Labels[0].ToLowerInvariant();
            var wantTypes = TypeBitmap.Decode(RecordWire.RData(want.Records[0]).AsSpan(5 + salt.Length + 1 + 20)).ToHashSet();
            if (!byHash.TryGetValue(key, out var have))
            {
                problems.Add(new(want.Owner, RecordType.NSec3, "missing NSEC3 record for a name in the zone"));
                continue;
            }
            if (!have.Types.SetEquals(wantTypes))
                problems.Add(new(want.Owner, RecordType.NSec3, $"NSEC3 type bitmap is [{string.Join(' ', have.Types.Select(PresentationFormat.FormatType))}], expected [{string.Join(' ', wantTypes.Select(PresentationFormat.FormatType))}]"));
        }
        // The chain must be closed: each record's next hash is the following owner hash.
        var keys = byHash.Keys.ToList();
        for (int i = 0; i < keys.Count; i++)
        {
            var next = Base32Hex.Encode(byHash[keys[i]].Next);
            var expectedNext = keys[(i + 1) % keys.Count];
            if (next != expectedNext)
                problems.Add(new(byHash[keys[i]].Set.Owner, RecordType.NSec3, $"NSEC3 next hashed owner {next} is not the next owner {expectedNext}"));
        }
    }

    private ref struct NameReader(byte[] data)
    {
        public int Position { get; private set; }

        public DomainName Name()
        {
            var labels = new List<string>();
            while (true)
            {
                int length = data[Position++];
                if (length == 0) break;
                labels.Add(new string(Array.ConvertAll(data[Position..(Position + length)], b => (char)b)));
                Position += length;
            }
            return labels.Count == 0 ? DomainName.Root : new DomainName(labels.ToArray());
        }
    }
}
