using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Zones;

namespace InlineSigner.Authority;

/// <summary>Settings of <see cref="QueryResponder"/>.</summary>
public sealed class QueryResponderOptions
{
    /// <summary>The largest UDP response we send whatever the client offers, and the size our OPT record announces.
    /// 1232 octets avoids IP fragmentation on nearly every path (the DNS Flag Day 2020 value, BIND's default).</summary>
    public ushort MaxUdpPayloadSize { get; init; } = 1232;

    /// <summary>How many CNAME/DNAME links inside a zone are followed for one query (BIND also stops at 16).</summary>
    public int MaxChainLength { get; init; } = 16;
}

/// <summary>
/// Builds authoritative answers (RFC 1034 §4.3.2 with the DNSSEC rules of RFC 4035 §3.1 and RFC 5155 §7.2) from the
/// zones of an <see cref="IZoneCatalog"/>. Thread-safe and stateless: each query takes one snapshot of its zone.
/// Transfers (AXFR/IXFR) and NOTIFY are not queries; the listener hands them to their own handlers.
/// </summary>
public sealed class QueryResponder
{
    private readonly IZoneCatalog _catalog;
    private readonly QueryResponderOptions _options;

    public QueryResponder(IZoneCatalog catalog, QueryResponderOptions? options = null)
    {
        _catalog = catalog ?? throw new ArgumentNullException(nameof(catalog));
        _options = options ?? new QueryResponderOptions();
        if (_options.MaxUdpPayloadSize < 512) throw new ArgumentOutOfRangeException(nameof(options), "MaxUdpPayloadSize must be at least 512");
    }

    public QueryResponderOptions Options => _options;

    /// <summary>
    /// The response to <paramref name="query"/>, or null when nothing must be sent (the message is itself a response).
    /// Never throws for anything a client can send: malformed requests get FORMERR, unsupported opcodes NOTIMP, EDNS
    /// versions above 0 BADVERS, names outside our zones REFUSED.
    /// </summary>
    public DnsResponse? Respond(DnsMessage query)
    {
        ArgumentNullException.ThrowIfNull(query);
        if (!query.IsQuery) return null;
        var response = StartResponse(query, out bool dnssecOk);
        if (response.ReturnCode != ReturnCode.NoError) return response;
        if (query.OperationCode != OperationCode.Query) return Fail(response, ReturnCode.NotImplemented);
        if (query.Questions.Count != 1 || query.AnswerRecords.Count != 0 || query.AuthorityRecords.Count != 0)
            return Fail(response, ReturnCode.FormatError);

        var question = query.Questions[0];
        if (WireLength(question.Name) > 255) return Fail(response, ReturnCode.FormatError); // RFC 1035 §3.1; ARSoft lets it through
        response.Question = question;
        var qtype = question.RecordType;
        if (question.RecordClass != RecordClass.INet && question.RecordClass != RecordClass.Any) return Fail(response, ReturnCode.Refused);
        if (qtype == RecordType.Opt) return Fail(response, ReturnCode.FormatError);
        if (qtype is RecordType.Axfr or RecordType.Ixfr) return Fail(response, ReturnCode.Refused); // transfers have their own handler
        if ((ushort)qtype is >= 128 and < 255) return Fail(response, ReturnCode.NotImplemented); // MAILA, MAILB, TKEY, TSIG, …

        var zone = _catalog.FindZone(question.Name);
        if (zone is null) return Fail(response, ReturnCode.Refused);
        // A secondary whose primary stayed unreachable past SOA EXPIRE must stop answering (RFC 1034 §4.3.5).
        if (zone.Expired) return Fail(response, ReturnCode.ServerFailure);
        // DS lives in the parent (RFC 4035 §3.1.4.1): at a child apex, answer from the parent when we serve it too.
        if (qtype == RecordType.Ds && question.Name.LabelCount == zone.Origin.LabelCount && zone.Origin.LabelCount > 0 &&
            _catalog.FindZone(zone.Origin.GetParentName()) is { } parent)
        {
            zone = parent;
        }
        response.IsAuthoritativeAnswer = true;
        var lookup = new Lookup(response, zone, qtype, dnssecOk && zone.IsSigned, _options.MaxChainLength);
        lookup.Run(question.Name);
        return response;
    }

    /// <summary>A FORMERR for a request whose header could be read but whose body could not (RFC 1035 §4.1.1), or null
    /// when the packet is too short to have a header or is itself a response. The header is echoed (ID, opcode, RD).</summary>
    public static DnsResponse? FormatErrorFor(ReadOnlySpan<byte> packet)
    {
        if (packet.Length < 12 || (packet[2] & 0x80) != 0) return null;
        return new DnsResponse
        {
            Id = (ushort)(packet[0] << 8 | packet[1]),
            OperationCode = (OperationCode)((packet[2] >> 3) & 0x0F),
            RecursionDesired = (packet[2] & 0x01) != 0,
            ReturnCode = ReturnCode.FormatError,
        };
    }

    private static int WireLength(DomainName name)
    {
        int length = 1;
        foreach (var label in name.Labels) length += 1 + label.Length;
        return length;
    }

    private DnsResponse StartResponse(DnsMessage query, out bool dnssecOk)
    {
        var response = new DnsResponse
        {
            Id = query.TransactionID,
            OperationCode = query.OperationCode,
            RecursionDesired = query.IsRecursionDesired,
            CheckingDisabled = query.IsCheckingDisabled,
        };
        dnssecOk = false;
        int optCount = 0;
        foreach (var record in query.AdditionalRecords)
            if (record.RecordType == RecordType.Opt) optCount++;
        if (optCount > 1) return Fail(response, ReturnCode.FormatError); // RFC 6891 §6.1.1
        if (optCount == 1 && query.EDnsOptions is { } opt)
        {
            response.Edns = new ResponseEdns(_options.MaxUdpPayloadSize, opt.IsDnsSecOk);
            response.UdpSizeLimit = Math.Clamp((int)opt.UdpPayloadSize, 512, _options.MaxUdpPayloadSize);
            if (opt.Version > 0)
            {
                // RFC 6891 §6.1.3: BADVERS with the highest version we support (0), question echoed.
                response.Question = query.Questions.Count == 1 ? query.Questions[0] : null;
                return Fail(response, ReturnCode.BadVersion);
            }
            dnssecOk = opt.IsDnsSecOk;
        }
        return response;
    }

    private static DnsResponse Fail(DnsResponse response, ReturnCode code)
    {
        response.ReturnCode = code;
        response.IsAuthoritativeAnswer = false;
        response.Answer.Clear();
        response.Authority.Clear();
        response.Additional.Clear();
        return response;
    }

    /// <summary>The lookup of one query in one zone: the name walk, CNAME/DNAME links, and the proofs.</summary>
    private sealed class Lookup(DnsResponse response, ServedZone zone, RecordType qtype, bool dnssec, int maxChain)
    {
        private readonly int _originDepth = zone.Origin.LabelCount;

        public void Run(DomainName name)
        {
            for (int link = 0; ; link++)
            {
                var next = LookupName(name, isFirst: link == 0);
                if (next is null) return;
                // Links are followed inside this zone only, and only so far (loops end here too).
                if (link + 1 >= maxChain || !IsAtOrBelow(next, zone.Origin)) return;
                name = next;
            }
        }

        /// <summary>Answers <paramref name="name"/>; returns the next name of a CNAME or DNAME chain, or null when done.</summary>
        private DomainName? LookupName(DomainName name, bool isFirst)
        {
            var labels = name.Labels;
            int depth = _originDepth;
            var node = zone.Apex;
            while (true)
            {
                if (depth == labels.Length)
                {
                    if (node.IsDelegation && depth > _originDepth)
                    {
                        if (qtype == RecordType.Ds) return AnswerDs(node);
                        if (isFirst) Referral(node);
                        return null;
                    }
                    return AnswerExisting(name, node);
                }
                if (node.IsDelegation && depth > _originDepth)
                {
                    if (isFirst) Referral(node);
                    return null;
                }
                if (node.HasDName) return SynthesizeFromDName(name, node);
                var child = zone.Find(labels, depth + 1);
                if (child is null) return AnswerMissing(name, node, depth);
                node = child;
                depth++;
            }
        }

        // ---- names that exist ----

        private DomainName? AnswerExisting(DomainName name, ZoneNode node)
        {
            if (node.IsEmptyNonTerminal)
            {
                NoData(name, node);
                return null;
            }
            if (qtype == RecordType.RrSig)
            {
                if (node.AllSignatures is { } sigs) Answer(node.Name, SignedRRset.Unsigned(sigs), signed: false);
                else NoData(name, node);
                return null;
            }
            var set = qtype == RecordType.Any ? PickForAny(node) : node.Find(qtype);
            if (set is not null)
            {
                Answer(node.Name, set);
                return null;
            }
            if (node.HasCName && node.Find(RecordType.CName) is { } cname)
            {
                if (!Answer(node.Name, cname)) return null; // already answered: a loop
                return ((CNameRecord)cname.Set.Records[0]).CanonicalName;
            }
            NoData(name, node);
            return null;
        }

        /// <summary>RFC 8482 §4.1: ANY gets one RRset, not all of them.</summary>
        private static SignedRRset? PickForAny(ZoneNode node)
        {
            if (node.Find(RecordType.CName) is { } cname) return cname;
            foreach (var set in node.Sets)
                if (set.Type is not (RecordType.NSec or RecordType.NSec3 or RecordType.NSec3Param)) return set;
            return null;
        }

        /// <summary>NODATA (RFC 2308 §2.2) at an existing name, with its proof (RFC 4035 §3.1.3.1, RFC 5155 §7.2.3/7.2.4).</summary>
        private void NoData(DomainName name, ZoneNode node)
        {
            AddSoa();
            if (!dnssec) return;
            if (zone.Nsec3 is null)
            {
                // An empty non-terminal owns no NSEC; the one covering it, whose next name is below it, proves it (RFC 4035 §3.1.3.2 note).
                if (node.Find(RecordType.NSec) is { } nsec) AddProof(node.Name, nsec);
                else AddNsecCovering(name.Labels, name.LabelCount);
            }
            else if (node.MatchingNsec3 is { } matching) AddProof(matching);
            else ClosestEncloserProof(name.Labels, name.LabelCount - 1); // opt-out: no NSEC3 of its own (RFC 5155 §7.2.4)
        }

        // ---- names that do not exist ----

        private DomainName? AnswerMissing(DomainName name, ZoneNode closestEncloser, int encloserDepth)
        {
            var labels = name.Labels;
            var wildcard = zone.Find(WildcardBelow(closestEncloser.Name));
            if (wildcard is null)
            {
                NameError(labels, encloserDepth);
                return null;
            }
            // RFC 4592 §3.3.1: the wildcard's data, answered as the query name, and the proof that the name itself is absent.
            var set = wildcard.IsEmptyNonTerminal ? null
                : qtype == RecordType.Any ? PickForAny(wildcard)
                : qtype == RecordType.RrSig ? null
                : wildcard.Find(qtype);
            if (set is not null || wildcard.Find(RecordType.CName) is not null)
            {
                var answer = set ?? wildcard.Find(RecordType.CName)!;
                bool added = Answer(name, answer);
                if (dnssec)
                {
                    if (zone.Nsec3 is null) AddNsecCovering(labels, labels.Length);
                    else AddNsec3Covering(null, labels, encloserDepth + 1); // the next closer name (RFC 5155 §7.2.6)
                }
                return set is null && added ? ((CNameRecord)answer.Set.Records[0]).CanonicalName : null;
            }
            // Wildcard NODATA: RFC 4035 §3.1.3.4, RFC 5155 §7.2.5.
            AddSoa();
            if (!dnssec) return null;
            if (zone.Nsec3 is null)
            {
                AddNsecCovering(labels, labels.Length);
                if (wildcard.Find(RecordType.NSec) is { } nsec) AddProof(wildcard.Name, nsec);
                else AddNsecCovering(wildcard.Name.Labels, wildcard.Name.LabelCount);
            }
            else
            {
                if (closestEncloser.MatchingNsec3 is { } ce) AddProof(ce);
                AddNsec3Covering(null, labels, encloserDepth + 1);
                if (wildcard.MatchingNsec3 is { } w) AddProof(w);
            }
            return null;
        }

        /// <summary>NXDOMAIN (RFC 1035 §4.1.1) with the proofs that neither the name nor a wildcard that could have
        /// produced it exists (RFC 4035 §3.1.3.2, RFC 5155 §7.2.2).</summary>
        private void NameError(string[] labels, int encloserDepth)
        {
            response.ReturnCode = ReturnCode.NxDomain;
            AddSoa();
            if (!dnssec) return;
            if (zone.Nsec3 is null)
            {
                AddNsecCovering(labels, labels.Length);
                var wildcard = WildcardBelow(labels, encloserDepth);
                AddNsecCovering(wildcard.Labels, wildcard.LabelCount);
            }
            else
            {
                int provable = ClosestEncloserProof(labels, encloserDepth);
                if (provable >= 0) AddNsec3Covering("*", labels, provable);
            }
        }

        // ---- delegations ----

        /// <summary>A referral (RFC 1034 §4.3.2 step 3b): not authoritative; NS in authority, the DS or proof of its absence
        /// (RFC 4035 §3.1.4), glue in additional.</summary>
        private void Referral(ZoneNode cut)
        {
            response.IsAuthoritativeAnswer = false;
            var ns = cut.Find(RecordType.Ns)!;
            response.Authority.Add(new ResponseRRset(cut.Name, ns, WithSignatures: false));
            if (dnssec)
            {
                if (cut.Find(RecordType.Ds) is { } ds) AddProof(cut.Name, ds);
                else if (zone.Nsec3 is null)
                {
                    if (cut.Find(RecordType.NSec) is { } nsec) AddProof(cut.Name, nsec);
                }
                else if (cut.MatchingNsec3 is { } matching) AddProof(matching);
                else ClosestEncloserProof(cut.Name.Labels, cut.Name.LabelCount - 1); // opt-out span (RFC 5155 §7.2.7)
            }
            AddGlue(cut, ns);
        }

        private void AddGlue(ZoneNode cut, SignedRRset ns)
        {
            foreach (var record in ns.Set.Records)
            {
                if (record is not NsRecord nsRecord) continue;
                var target = nsRecord.NameServer;
                if (!IsAtOrBelow(target, zone.Origin)) continue;
                var node = zone.Find(target);
                if (node is null) continue;
                // In-domain glue is needed to reach the child at all (RFC 9471 §3); other addresses only help.
                bool required = IsAtOrBelow(target, cut.Name);
                foreach (var type in (ReadOnlySpan<RecordType>)[RecordType.A, RecordType.Aaaa])
                {
                    if (node.Find(type) is not { } address) continue;
                    DnsResponse.AddOnce(response.Additional,
                        new ResponseRRset(node.Name, address, WithSignatures: dnssec && !node.IsOccluded, Required: required));
                }
            }
        }

        /// <summary>QTYPE=DS at a delegation: the parent side answers (RFC 4035 §3.1.4.1).</summary>
        private DomainName? AnswerDs(ZoneNode cut)
        {
            if (cut.Find(RecordType.Ds) is { } ds)
            {
                Answer(cut.Name, ds);
                return null;
            }
            NoData(cut.Name, cut);
            return null;
        }

        // ---- DNAME (RFC 6672 §3) ----

        private DomainName? SynthesizeFromDName(DomainName name, ZoneNode owner)
        {
            var dnameSet = owner.Find(RecordType.DName)!;
            if (!Answer(owner.Name, dnameSet)) return null;
            var dname = (DNameRecord)dnameSet.Set.Records[0];
            var prefix = name.Labels.AsSpan(0, name.LabelCount - owner.Name.LabelCount);
            string[] targetLabels = [.. prefix, .. dname.Target.Labels];
            int length = 1;
            foreach (var label in targetLabels) length += label.Length + 1;
            if (length > 255)
            {
                response.ReturnCode = ReturnCode.YXDomain; // RFC 6672 §2.2: the substitution overflows
                return null;
            }
            var target = new DomainName(targetLabels);
            var cname = RRset.Create([new CNameRecord(name, dnameSet.Set.Ttl, target)]);
            Answer(name, SignedRRset.Unsigned(cname), signed: false);
            return target;
        }

        // ---- proofs ----

        /// <summary>Proves the closest provable encloser of the name made of the last <paramref name="labelCount"/>...
        /// of <paramref name="labels"/> (RFC 5155 §7.2.1): the NSEC3 matching the deepest ancestor, at or above
        /// <paramref name="startDepth"/>, that has one, and the NSEC3 covering the next closer name. Returns that
        /// encloser's depth in labels, or -1 when the chain cannot prove anything (a broken zone).</summary>
        private int ClosestEncloserProof(string[] labels, int startDepth)
        {
            for (int depth = startDepth; depth >= _originDepth; depth--)
            {
                var node = zone.Find(labels, depth);
                if (node?.MatchingNsec3 is not { } matching) continue;
                AddProof(matching);
                AddNsec3Covering(null, labels, depth + 1);
                return depth;
            }
            return -1;
        }

        private void AddNsec3Covering(string? firstLabel, string[] labels, int labelCount)
        {
            Span<byte> hash = stackalloc byte[Nsec3Parameters.HashLength];
            zone.Nsec3!.Hash(firstLabel, labels, labelCount, hash);
            if (zone.Nsec3AtOrBefore(hash) is { } entry) AddProof(entry);
        }

        private void AddNsecCovering(string[] labels, int labelCount)
        {
            if (zone.NsecAtOrBefore(labels, labelCount) is { } node && node.Find(RecordType.NSec) is { } nsec) AddProof(node.Name, nsec);
        }

        private void AddProof(Nsec3Entry entry) =>
            DnsResponse.AddOnce(response.Authority, new ResponseRRset(entry.RRset.Set.Owner, entry.RRset, WithSignatures: true));

        private void AddProof(DomainName owner, SignedRRset set) =>
            DnsResponse.AddOnce(response.Authority, new ResponseRRset(owner, set, WithSignatures: true));

        private void AddSoa()
        {
            // RFC 2308 §3: the SOA of a negative answer lives no longer than its MINIMUM field says.
            var soa = zone.Soa;
            int ttl = Math.Min(zone.SoaSet.Set.Ttl, (int)Math.Min(soa.NegativeCachingTTL, int.MaxValue));
            DnsResponse.AddOnce(response.Authority, new ResponseRRset(zone.Origin, zone.SoaSet, WithSignatures: dnssec, Ttl: ttl));
        }

        /// <summary>Adds an answer RRset; false when that RRset was already answered (a CNAME loop).</summary>
        private bool Answer(DomainName owner, SignedRRset set, bool signed = true)
        {
            int before = response.Answer.Count;
            DnsResponse.AddOnce(response.Answer, new ResponseRRset(owner, set, WithSignatures: signed && dnssec));
            return response.Answer.Count > before;
        }

        private static DomainName WildcardBelow(DomainName name) => new(["*", .. name.Labels]);

        private static DomainName WildcardBelow(string[] labels, int depth) => new(["*", .. labels.AsSpan(labels.Length - depth)]);

        private static bool IsAtOrBelow(DomainName name, DomainName ancestor)
        {
            if (name.LabelCount < ancestor.LabelCount) return false;
            var a = name.Labels;
            var b = ancestor.Labels;
            for (int i = 1; i <= b.Length; i++)
                if (CanonicalNameComparer.CompareLabel(a[^i], b[^i]) != 0) return false;
            return true;
        }
    }
}
