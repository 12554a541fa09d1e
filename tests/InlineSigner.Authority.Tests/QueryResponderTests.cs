using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Authority;
using InlineSigner.Zones;
using InlineSigner.Zones.Text;

namespace InlineSigner.Authority.Tests;

[CollectionDefinition("signed zones")]
public sealed class SignedZonesCollection : ICollectionFixture<SignedZonesFixture>;

/// <summary>The responder's answers, encoded and parsed back, checked record by record against the BIND-signed zones.
/// (Whether a validator accepts them is checked with delv in <see cref="ValidationTests"/>.)</summary>
[Collection("signed zones")]
public sealed class QueryResponderTests(SignedZonesFixture zones)
{
    private readonly QueryResponder _responder = new(zones.Catalog());

    private DnsMessage Ask(string name, RecordType type, bool dnssec = true) => Queries.Ask(_responder, name, type, dnssec);

    [Fact]
    public void Positive_answer_is_authoritative_and_signed_when_DO_is_set()
    {
        var response = Ask("www.nsec.test", RecordType.A);
        Assert.Equal(ReturnCode.NoError, response.ReturnCode);
        Assert.True(response.IsAuthoritiveAnswer);
        Assert.Equal(4242, response.TransactionID);
        var a = Assert.Single(response.AnswerRecords.OfType(RecordType.A));
        Assert.Equal("192.0.2.10", ((ARecord)a).Address.ToString());
        Assert.Single(response.AnswerRecords.SignaturesOf(RecordType.A));
        Assert.Empty(response.AuthorityRecords);
        Assert.True(response.IsEDnsEnabled);
        Assert.True(response.IsDnsSecOk);
    }

    [Fact]
    public void Without_DO_no_DNSSEC_records_are_added()
    {
        var response = Ask("www.nsec.test", RecordType.A, dnssec: false);
        Assert.Single(response.AnswerRecords);
        var missing = Ask("nothere.nsec.test", RecordType.A, dnssec: false);
        Assert.Equal(ReturnCode.NxDomain, missing.ReturnCode);
        Assert.Equal([RecordType.Soa], missing.AuthorityRecords.Select(r => r.RecordType));
    }

    [Fact]
    public void Without_EDNS_there_is_no_OPT_and_no_signature()
    {
        var query = Queries.Make("www.nsec.test", RecordType.A, udpSize: null);
        var response = DnsMessage.Parse(ResponseEncoder.Encode(_responder.Respond(query)!, 512));
        Assert.False(response.IsEDnsEnabled);
        Assert.Single(response.AnswerRecords);
    }

    [Fact]
    public void NXDOMAIN_with_NSEC_covers_the_name_and_the_wildcard()
    {
        var response = Ask("nothere.nsec.test", RecordType.A);
        Assert.Equal(ReturnCode.NxDomain, response.ReturnCode);
        Assert.True(response.IsAuthoritiveAnswer);
        var soa = Assert.Single(response.AuthorityRecords.OfType(RecordType.Soa));
        Assert.Equal(300, soa.TimeToLive); // min(SOA TTL 3600, MINIMUM 300), RFC 2308 §3
        var nsecs = response.AuthorityRecords.OfType<NSecRecord>().ToList();
        Assert.Contains(nsecs, n => Covers(n, "nothere.nsec.test"));
        Assert.Contains(nsecs, n => Covers(n, "*.nsec.test"));
        Assert.Equal(nsecs.Count + 1, response.AuthorityRecords.SignaturesOf(RecordType.NSec).Count() + 1);
        Assert.Single(response.AuthorityRecords.SignaturesOf(RecordType.Soa));
    }

    [Fact]
    public void NODATA_with_NSEC_shows_the_type_bitmap_of_the_name()
    {
        var response = Ask("www.nsec.test", RecordType.Mx);
        Assert.Equal(ReturnCode.NoError, response.ReturnCode);
        Assert.Empty(response.AnswerRecords);
        var nsec = Assert.Single(response.AuthorityRecords.OfType<NSecRecord>());
        Assert.Equal(DomainName.Parse("www.nsec.test"), nsec.Name);
        Assert.DoesNotContain(RecordType.Mx, nsec.Types);
        Assert.Contains(RecordType.A, nsec.Types);
    }

    [Fact]
    public void Empty_non_terminal_is_NODATA_not_NXDOMAIN()
    {
        foreach (var name in new[] { "c.ent.nsec.test", "b.c.ent.nsec.test" })
        {
            var response = Ask(name, RecordType.A);
            Assert.Equal(ReturnCode.NoError, response.ReturnCode);
            Assert.Empty(response.AnswerRecords);
            var nsec = Assert.Single(response.AuthorityRecords.OfType<NSecRecord>());
            Assert.True(Covers(nsec, name) && nsec.NextDomainName.IsSubDomainOf(DomainName.Parse(name)), nsec.ToString());
        }
        var nsec3 = Ask("c.ent.nsec3.test", RecordType.A);
        Assert.Equal(ReturnCode.NoError, nsec3.ReturnCode);
        Assert.Contains(nsec3.AuthorityRecords.OfType<NSec3Record>(), n => Nsec3Matches(n, "c.ent.nsec3.test"));
    }

    [Fact]
    public void Wildcard_answer_is_expanded_with_proof_that_the_name_does_not_exist()
    {
        var response = Ask("foo.wild.nsec.test", RecordType.A);
        Assert.Equal(ReturnCode.NoError, response.ReturnCode);
        var a = Assert.Single(response.AnswerRecords.OfType(RecordType.A));
        Assert.Equal(DomainName.Parse("foo.wild.nsec.test"), a.Name);
        var sig = Assert.Single(response.AnswerRecords.SignaturesOf(RecordType.A));
        Assert.Equal(DomainName.Parse("foo.wild.nsec.test"), sig.Name);
        Assert.Equal(3, sig.Labels); // *.wild.nsec.test: the signature was made over the wildcard (RFC 4035 §5.3.2)
        Assert.Contains(response.AuthorityRecords.OfType<NSecRecord>(), n => Covers(n, "foo.wild.nsec.test"));

        var nsec3 = Ask("foo.wild.nsec3.test", RecordType.Txt);
        Assert.Single(nsec3.AnswerRecords.OfType(RecordType.Txt));
        Assert.Contains(nsec3.AuthorityRecords.OfType<NSec3Record>(), n => Nsec3Covers(n, "foo.wild.nsec3.test"));
    }

    [Fact]
    public void Wildcard_NODATA_proves_both_the_missing_name_and_the_missing_type()
    {
        var response = Ask("foo.wild.nsec.test", RecordType.Mx);
        Assert.Equal(ReturnCode.NoError, response.ReturnCode);
        Assert.Empty(response.AnswerRecords);
        var nsecs = response.AuthorityRecords.OfType<NSecRecord>().ToList();
        Assert.Contains(nsecs, n => Covers(n, "foo.wild.nsec.test"));
        Assert.Contains(nsecs, n => n.Name.Equals(DomainName.Parse("*.wild.nsec.test")) && !n.Types.Contains(RecordType.Mx));

        var nsec3 = Ask("foo.wild.nsec3.test", RecordType.Mx).AuthorityRecords.OfType<NSec3Record>().ToList();
        Assert.Contains(nsec3, n => Nsec3Matches(n, "wild.nsec3.test"));
        Assert.Contains(nsec3, n => Nsec3Covers(n, "foo.wild.nsec3.test"));
        Assert.Contains(nsec3, n => Nsec3Matches(n, "*.wild.nsec3.test"));
    }

    [Fact]
    public void Wildcard_CNAME_is_expanded_and_followed()
    {
        var response = Ask("x.wildcname.nsec.test", RecordType.A);
        var cname = Assert.Single(response.AnswerRecords.OfType<CNameRecord>());
        Assert.Equal(DomainName.Parse("x.wildcname.nsec.test"), cname.Name);
        Assert.Single(response.AnswerRecords.OfType(RecordType.A));
    }

    [Fact]
    public void CNAME_chain_inside_the_zone_is_followed_to_the_end()
    {
        var response = Ask("chain1.nsec.test", RecordType.A);
        Assert.Equal(ReturnCode.NoError, response.ReturnCode);
        Assert.Equal(["chain1", "chain2", "alias"], response.AnswerRecords.OfType<CNameRecord>().Select(c => c.Name.Labels[0]));
        Assert.Single(response.AnswerRecords.OfType(RecordType.A));
        Assert.Equal(4, response.AnswerRecords.Count(r => r is RrSigRecord));

        var cnameItself = Ask("alias.nsec.test", RecordType.CName);
        Assert.Single(cnameItself.AnswerRecords.OfType(RecordType.CName));
        Assert.Empty(cnameItself.AnswerRecords.OfType(RecordType.A));
    }

    [Fact]
    public void CNAME_to_a_missing_name_is_NXDOMAIN_for_the_target()
    {
        var response = Ask("dangling.nsec.test", RecordType.A);
        Assert.Equal(ReturnCode.NxDomain, response.ReturnCode); // RFC 6604: the rcode is the last name's
        Assert.Single(response.AnswerRecords.OfType(RecordType.CName));
        Assert.Contains(response.AuthorityRecords.OfType<NSecRecord>(), n => Covers(n, "nothere.nsec.test"));
    }

    [Fact]
    public void CNAME_loop_ends()
    {
        var response = Ask("loop1.nsec.test", RecordType.A);
        Assert.Equal(ReturnCode.NoError, response.ReturnCode);
        Assert.Equal(2, response.AnswerRecords.OfType(RecordType.CName).Count());
    }

    [Fact]
    public void DNAME_is_answered_with_a_synthesized_CNAME_and_followed()
    {
        var response = Ask("host.dname.nsec.test", RecordType.A);
        Assert.Equal(ReturnCode.NoError, response.ReturnCode);
        Assert.Single(response.AnswerRecords.OfType(RecordType.DName));
        Assert.Single(response.AnswerRecords.SignaturesOf(RecordType.DName));
        var cname = Assert.Single(response.AnswerRecords.OfType<CNameRecord>());
        Assert.Equal(DomainName.Parse("host.target.nsec.test"), cname.CanonicalName);
        Assert.Empty(response.AnswerRecords.SignaturesOf(RecordType.CName)); // synthesized: never signed
        Assert.Equal("192.0.2.80", ((ARecord)Assert.Single(response.AnswerRecords.OfType(RecordType.A))).Address.ToString());

        var tooLong = Ask(string.Join('.', Enumerable.Repeat(new string('a', 60), 3)) + ".a.dname.nsec.test", RecordType.A);
        Assert.Equal(ReturnCode.NxDomain, tooLong.ReturnCode); // the synthesized target does not exist (RFC 6604: last name's rcode)
        Assert.Single(tooLong.AnswerRecords.OfType(RecordType.DName));
        Assert.Single(tooLong.AnswerRecords.OfType(RecordType.CName));
    }

    [Fact]
    public void Referral_to_an_insecure_delegation_has_NS_glue_and_the_NSEC_proving_no_DS()
    {
        var response = Ask("host.insecure.nsec.test", RecordType.A);
        Assert.Equal(ReturnCode.NoError, response.ReturnCode);
        Assert.False(response.IsAuthoritiveAnswer);
        Assert.Empty(response.AnswerRecords);
        Assert.Equal(2, response.AuthorityRecords.OfType(RecordType.Ns).Count());
        Assert.Empty(response.AuthorityRecords.SignaturesOf(RecordType.Ns));
        var nsec = Assert.Single(response.AuthorityRecords.OfType<NSecRecord>());
        Assert.Equal(DomainName.Parse("insecure.nsec.test"), nsec.Name);
        Assert.DoesNotContain(RecordType.Ds, nsec.Types);
        var glue = Assert.Single(response.AdditionalRecords.OfType(RecordType.A));
        Assert.Equal(DomainName.Parse("ns.insecure.nsec.test"), glue.Name);
        Assert.Empty(response.AdditionalRecords.SignaturesOf(RecordType.A)); // glue is not signed
    }

    [Fact]
    public void Referral_to_a_signed_delegation_carries_the_DS_and_its_signature()
    {
        var parentOnly = new QueryResponder(new ZoneCatalog(zones.NsecZone));
        var response = Queries.Ask(parentOnly, "www.secure.nsec.test", RecordType.A);
        Assert.False(response.IsAuthoritiveAnswer);
        Assert.Single(response.AuthorityRecords.OfType(RecordType.Ns));
        Assert.Single(response.AuthorityRecords.OfType(RecordType.Ds));
        Assert.Single(response.AuthorityRecords.SignaturesOf(RecordType.Ds));
        Assert.Single(response.AdditionalRecords.OfType(RecordType.A));
    }

    [Fact]
    public void Referral_into_an_opt_out_span_proves_the_closest_provable_encloser()
    {
        var response = Ask("host.insecure.optout.test", RecordType.A);
        Assert.False(response.IsAuthoritiveAnswer);
        var nsec3 = response.AuthorityRecords.OfType<NSec3Record>().ToList();
        Assert.Equal(2, nsec3.Count);
        Assert.Contains(nsec3, n => Nsec3Matches(n, "optout.test", zones.OptOutZone));
        Assert.Contains(nsec3, n => Nsec3Covers(n, "insecure.optout.test", zones.OptOutZone) && (n.Flags & NSec3Flags.OptOut) != 0);

        // An empty non-terminal that exists only for an insecure delegation has no NSEC3 of its own under opt-out.
        var underEnt = Ask("host.x.unsignedent.optout.test", RecordType.A);
        Assert.False(underEnt.IsAuthoritiveAnswer);
        Assert.Contains(underEnt.AuthorityRecords.OfType<NSec3Record>(), n => Nsec3Covers(n, "unsignedent.optout.test", zones.OptOutZone));

        var insecureDs = Ask("insecure.optout.test", RecordType.Ds);
        Assert.True(insecureDs.IsAuthoritiveAnswer);
        Assert.Contains(insecureDs.AuthorityRecords.OfType<NSec3Record>(), n => Nsec3Covers(n, "insecure.optout.test", zones.OptOutZone));

        var secure = Ask("host.secure.optout.test", RecordType.A);
        Assert.Single(secure.AuthorityRecords.OfType(RecordType.Ds));
    }

    [Fact]
    public void DS_is_answered_by_the_parent_even_when_the_child_is_served_too()
    {
        var response = Ask("secure.nsec.test", RecordType.Ds);
        Assert.True(response.IsAuthoritiveAnswer);
        Assert.Single(response.AnswerRecords.OfType(RecordType.Ds));
        var sig = Assert.Single(response.AnswerRecords.SignaturesOf(RecordType.Ds));
        Assert.Equal(SignedZonesFixture.Nsec, sig.SignersName);

        var childData = Ask("www.secure.nsec.test", RecordType.A);
        Assert.True(childData.IsAuthoritiveAnswer);
        Assert.Equal(SignedZonesFixture.Child, Assert.Single(childData.AnswerRecords.SignaturesOf(RecordType.A)).SignersName);

        var noDs = Ask("insecure.nsec.test", RecordType.Ds);
        Assert.True(noDs.IsAuthoritiveAnswer);
        Assert.Equal(ReturnCode.NoError, noDs.ReturnCode);
        Assert.Single(noDs.AuthorityRecords.OfType(RecordType.Soa));
    }

    [Fact]
    public void NSEC3_NXDOMAIN_proves_closest_encloser_next_closer_and_wildcard()
    {
        var response = Ask("a.nothere.nsec3.test", RecordType.A);
        Assert.Equal(ReturnCode.NxDomain, response.ReturnCode);
        var nsec3 = response.AuthorityRecords.OfType<NSec3Record>().ToList();
        Assert.Contains(nsec3, n => Nsec3Matches(n, "nsec3.test"));
        Assert.Contains(nsec3, n => Nsec3Covers(n, "nothere.nsec3.test"));
        Assert.Contains(nsec3, n => Nsec3Covers(n, "*.nsec3.test"));
        Assert.Equal(nsec3.Count, response.AuthorityRecords.SignaturesOf(RecordType.NSec3).Count());
    }

    [Fact]
    public void NSEC3_NODATA_shows_the_matching_record()
    {
        var response = Ask("www.nsec3.test", RecordType.Mx);
        Assert.Equal(ReturnCode.NoError, response.ReturnCode);
        var nsec3 = Assert.Single(response.AuthorityRecords.OfType<NSec3Record>());
        Assert.True(Nsec3Matches(nsec3, "www.nsec3.test"));
        Assert.DoesNotContain(RecordType.Mx, nsec3.Types);
    }

    [Fact]
    public void NSEC3_owner_names_are_not_names_of_the_zone()
    {
        var owner = zones.Nsec3Zone.Zone.Nodes.Keys.First(n => n.LabelCount == 3 && zones.Nsec3Zone.Zone.Find(n, RecordType.NSec3) is not null);
        var response = Ask(owner.ToString(), RecordType.NSec3);
        Assert.Equal(ReturnCode.NxDomain, response.ReturnCode); // RFC 5155 §7.2.8
    }

    [Fact]
    public void Names_outside_served_zones_are_refused()
    {
        var response = Ask("www.example.org", RecordType.A);
        Assert.Equal(ReturnCode.Refused, response.ReturnCode);
        Assert.False(response.IsAuthoritiveAnswer);
        Assert.Empty(response.AnswerRecords);
    }

    [Fact]
    public void ANY_gets_one_RRset()
    {
        var response = Ask("www.nsec.test", RecordType.Any);
        Assert.Equal(ReturnCode.NoError, response.ReturnCode);
        Assert.Single(response.AnswerRecords.Where(r => r is not RrSigRecord).GroupBy(r => r.RecordType));
    }

    [Fact]
    public void RRSIG_query_returns_the_signatures_at_the_name()
    {
        var response = Ask("www.nsec.test", RecordType.RrSig);
        Assert.True(response.AnswerRecords.Count >= 3); // A, AAAA, NSEC
        Assert.All(response.AnswerRecords, r => Assert.IsType<RrSigRecord>(r));
    }

    [Fact]
    public void Requests_that_are_not_plain_queries_get_the_right_error()
    {
        var notify = Queries.Make("nsec.test", RecordType.Soa);
        notify.OperationCode = OperationCode.Status;
        Assert.Equal(ReturnCode.NotImplemented, _responder.Respond(notify)!.ReturnCode);

        var two = Queries.Make("nsec.test", RecordType.Soa);
        two.Questions.Add(new DnsQuestion(DomainName.Parse("www.nsec.test"), RecordType.A, RecordClass.INet));
        Assert.Equal(ReturnCode.FormatError, _responder.Respond(two)!.ReturnCode);

        var none = Queries.Make("nsec.test", RecordType.Soa);
        none.Questions.Clear();
        Assert.Equal(ReturnCode.FormatError, _responder.Respond(none)!.ReturnCode);

        var chaos = new DnsMessage { TransactionID = 1 };
        chaos.Questions.Add(new DnsQuestion(DomainName.Parse("version.bind"), RecordType.Txt, RecordClass.Chaos));
        Assert.Equal(ReturnCode.Refused, _responder.Respond(chaos)!.ReturnCode);

        var response = new DnsMessage { TransactionID = 1, IsQuery = false };
        Assert.Null(_responder.Respond(response));
    }

    [Fact]
    public void EDNS_version_above_zero_gets_BADVERS()
    {
        var query = Queries.Make("www.nsec.test", RecordType.A);
        query.EDnsOptions!.Version = 1;
        var encoded = ResponseEncoder.Encode(_responder.Respond(query)!, 512);
        var response = DnsMessage.Parse(encoded);
        Assert.Equal(ReturnCode.BadVersion, response.ReturnCode);
        Assert.Equal(0, response.EDnsOptions!.Version);
        Assert.Empty(response.AnswerRecords);
    }

    [Theory]
    [InlineData(512, true)]
    [InlineData(1232, true)]
    [InlineData(65535, false)]
    public void Large_answers_are_truncated_to_the_limit_with_TC(int limit, bool truncated)
    {
        var response = _responder.Respond(Queries.Make("big.nsec.test", RecordType.Txt))!;
        var encoded = ResponseEncoder.Encode(response, limit);
        Assert.True(encoded.Length <= limit);
        var parsed = DnsMessage.Parse(encoded);
        Assert.Equal(truncated, parsed.IsTruncated);
        Assert.True(parsed.IsEDnsEnabled); // OPT survives truncation
        if (!truncated) Assert.Equal(40, parsed.AnswerRecords.OfType(RecordType.Txt).Count());
        else Assert.Empty(parsed.AnswerRecords); // the one RRset does not fit whole: nothing of it is sent
    }

    [Fact]
    public void Medium_answer_fits_1232_but_not_512()
    {
        var response = _responder.Respond(Queries.Make("medium.nsec.test", RecordType.Txt))!;
        Assert.False(DnsMessage.Parse(ResponseEncoder.Encode(response, 1232)).IsTruncated);
        Assert.True(DnsMessage.Parse(ResponseEncoder.Encode(response, 512)).IsTruncated);
    }

    [Fact]
    public void UDP_limit_follows_the_client_payload_size_within_our_maximum()
    {
        Assert.Equal(512, _responder.Respond(Queries.Make("www.nsec.test", RecordType.A, udpSize: null))!.UdpSizeLimit);
        Assert.Equal(512, _responder.Respond(Queries.Make("www.nsec.test", RecordType.A, udpSize: 100))!.UdpSizeLimit);
        Assert.Equal(1000, _responder.Respond(Queries.Make("www.nsec.test", RecordType.A, udpSize: 1000))!.UdpSizeLimit);
        Assert.Equal(1232, _responder.Respond(Queries.Make("www.nsec.test", RecordType.A, udpSize: 4096))!.UdpSizeLimit);
    }

    [Fact]
    public void Additional_data_is_dropped_first_silently_unless_it_is_required_glue()
    {
        var zone = zones.NsecZone;
        var www = zone.Find(DomainName.Parse("www.nsec.test"))!.Find(RecordType.A)!;
        var big = zone.Find(DomainName.Parse("big.nsec.test"))!.Find(RecordType.Txt)!;
        var medium = zone.Find(DomainName.Parse("medium.nsec.test"))!.Find(RecordType.Txt)!;
        DnsResponse Build(bool required)
        {
            var response = new DnsResponse { Id = 7, Edns = new ResponseEdns(1232, true), Question = new DnsQuestion(www.Set.Owner, RecordType.A, RecordClass.INet) };
            response.Answer.Add(new ResponseRRset(www.Set.Owner, www, WithSignatures: true));
            response.Additional.Add(new ResponseRRset(big.Set.Owner, big, WithSignatures: true, Required: required));
            response.Additional.Add(new ResponseRRset(medium.Set.Owner, medium, WithSignatures: true));
            return response;
        }
        DnsResponse BuildBigOnly()
        {
            var response = BuildEmpty();
            response.Additional.Add(new ResponseRRset(big.Set.Owner, big, WithSignatures: true));
            return response;
        }
        DnsResponse BuildEmpty()
        {
            var response = new DnsResponse { Id = 7, Edns = new ResponseEdns(1232, true), Question = new DnsQuestion(www.Set.Owner, RecordType.A, RecordClass.INet) };
            response.Answer.Add(new ResponseRRset(www.Set.Owner, www, WithSignatures: true));
            return response;
        }
        var optional = DnsMessage.Parse(ResponseEncoder.Encode(Build(required: false), 1232));
        Assert.False(optional.IsTruncated);
        Assert.Single(optional.AnswerRecords.OfType(RecordType.A));
        Assert.DoesNotContain(optional.AdditionalRecords, r => r.Name.LabelCount > 0 && r.Name.Labels[0] == "big");
        Assert.Equal(8, optional.AdditionalRecords.OfType(RecordType.Txt).Count()); // the smaller set after it still fits
        Assert.Single(optional.AdditionalRecords.SignaturesOf(RecordType.Txt));

        // One octet short of room for medium's RRSIG: the RRSIG goes, the records stay, no TC (RFC 4035 §3.1.1).
        int fullLength = ResponseEncoder.Encode(Build(required: false), 65535).Length - ResponseEncoder.Encode(BuildBigOnly(), 65535).Length
            + ResponseEncoder.Encode(BuildEmpty(), 65535).Length;
        var tight = DnsMessage.Parse(ResponseEncoder.Encode(Build(required: false), fullLength - 1));
        Assert.False(tight.IsTruncated);
        Assert.Equal(8, tight.AdditionalRecords.OfType(RecordType.Txt).Count());
        Assert.Empty(tight.AdditionalRecords.SignaturesOf(RecordType.Txt));

        var required = DnsMessage.Parse(ResponseEncoder.Encode(Build(required: true), 1232));
        Assert.True(required.IsTruncated);
        Assert.Single(required.AnswerRecords.OfType(RecordType.A));
    }

    private static bool Covers(NSecRecord nsec, string name)
    {
        var n = DomainName.Parse(name);
        var cmp = CanonicalNameComparer.Instance;
        bool last = cmp.Compare(nsec.NextDomainName, nsec.Name) <= 0;
        return cmp.Compare(nsec.Name, n) < 0 && (last || cmp.Compare(n, nsec.NextDomainName) < 0);
    }

    private bool Nsec3Matches(NSec3Record record, string name, ServedZone? zone = null) =>
        Base32Hex.Decode(record.Name.Labels[0]).AsSpan().SequenceEqual((zone ?? zones.Nsec3Zone).Nsec3!.Hash(DomainName.Parse(name)));

    private bool Nsec3Covers(NSec3Record record, string name, ServedZone? zone = null)
    {
        var hash = (zone ?? zones.Nsec3Zone).Nsec3!.Hash(DomainName.Parse(name));
        var owner = Base32Hex.Decode(record.Name.Labels[0]);
        var next = record.NextHashedOwner;
        bool wraps = owner.AsSpan().SequenceCompareTo(next) >= 0;
        int a = owner.AsSpan().SequenceCompareTo(hash), b = hash.AsSpan().SequenceCompareTo(next);
        return wraps ? a < 0 || b < 0 : a < 0 && b < 0;
    }
}
