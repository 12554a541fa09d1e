using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Dnssec.Keys;
using InlineSigner.Dnssec.Signing;
using InlineSigner.Dnssec.Verification;
using InlineSigner.Zones;
using InlineSigner.Zones.Text;
using static InlineSigner.Dnssec.Tests.Incremental;

namespace InlineSigner.Dnssec.Tests;

/// <summary>
/// One change at a time, with the exact delta it must give: which records leave and enter the signed zone, and how
/// many signatures that takes. Every step is also held to <see cref="Incremental.AssertStep"/> (equal to a full sign).
/// </summary>
public sealed class IncrementalSignerTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.UtcNow;

    /// <summary>A signed zone and the unsigned zone it was signed from, moved on one change at a time.</summary>
    private sealed class Run(TestKeys keys, SigningPolicy policy, Zone unsigned, Zone signed)
    {
        public Zone Unsigned { get; private set; } = unsigned;
        public Zone Signed { get; private set; } = signed;
        public uint Serial { get; private set; } = signed.Serial;
        public SigningPolicy Policy { get; set; } = policy;
        public TestKeys Keys { get; set; } = keys;

        public static async Task<Run> StartAsync(TestKeys keys, SigningPolicy policy, Zone? unsigned = null)
        {
            unsigned ??= BaseZone();
            var full = await IncrementalSigner.SignFullAsync(unsigned, 100, policy, keys.Keys, Now, null, CancellationToken.None);
            return new Run(keys, policy, unsigned, full.Signed);
        }

        public async Task<SignedChange> StepAsync(Func<Zone, Zone> edit)
        {
            var next = BumpSerial(edit(Unsigned));
            var change = await IncrementalSigner.ApplyAsync(Signed, Unsigned, next, Serial + 1, Policy, Keys.Keys, Now, CancellationToken.None);
            var full = await IncrementalSigner.SignFullAsync(next, Serial + 1, Policy, Keys.Keys, Now, null, CancellationToken.None);
            AssertStep(Signed, change, full, "step");
            Unsigned = next;
            Signed = change.Signed;
            Serial++;
            return change;
        }
    }

    /// <summary>"owner TYPE" per record, owner relative to the apex ("@"), signatures as "owner RRSIG/COVERED"; sorted.</summary>
    private static List<string> Describe(IEnumerable<DnsRecordBase> records) => records.Select(r =>
    {
        var name = r.Name.ToString().ToLowerInvariant();
        var owner = name == "example.com." ? "@" : name[..^".example.com.".Length];
        var type = r.RecordType == RecordType.RrSig
            ? "RRSIG/" + PresentationFormat.FormatType(RrsigFields.Of(r).TypeCovered)
            : PresentationFormat.FormatType(r.RecordType);
        return $"{owner} {type}";
    }).Order(StringComparer.Ordinal).ToList();

    private static List<string> Sorted(params string[] items) => items.Order(StringComparer.Ordinal).ToList();

    private static string Hashed(string name, Nsec3Settings settings) =>
        DenialOfExistence.HashedOwner(DomainName.Parse(name), Origin, settings).Labels[0];

    /// <summary>The NSEC3 predecessor (in the new chain) of each hashed owner, leaving out the owners themselves.</summary>
    private static IEnumerable<string> Predecessors(Zone signed, params string[] hashed)
    {
        var chain = signed.OwnersOf(RecordType.NSec3);
        return hashed.Select(h => chain.BeforeCyclic(new DomainName([h, .. Origin.Labels]))!.Labels[0]).Where(p => !hashed.Contains(p)).Distinct();
    }

    private static readonly string[] SoaChange = ["@ SOA", "@ RRSIG/SOA"];

    [Fact]
    public async Task A_record_added_to_an_rrset_re_signs_that_rrset_and_the_soa_only()
    {
        using var keys = new TestKeys();
        var run = await Run.StartAsync(keys, Policy("nsec", zonemd: false));
        var change = await run.StepAsync(z => z.With(Set("www A 192.0.2.4", "www A 192.0.2.40")));
        Assert.Equal(Sorted([.. SoaChange, "www RRSIG/A"]), Describe(change.Removed));
        Assert.Equal(Sorted([.. SoaChange, "www A", "www RRSIG/A"]), Describe(change.Added));
        Assert.Equal(2, change.SignaturesMade);
        Assert.Equal(2, change.RRsetsSigned);
        Assert.Null(change.FullResignReason);
        Assert.Equal(100u, change.RemovedSoa!.SerialNumber);
        Assert.Equal(101u, change.AddedSoa!.SerialNumber);
    }

    [Fact]
    public async Task With_zonemd_every_change_also_replaces_the_digest_and_its_signature()
    {
        using var keys = new TestKeys();
        var run = await Run.StartAsync(keys, Policy("nsec", zonemd: true));
        var change = await run.StepAsync(z => z.With(Set("www A 192.0.2.4", "www A 192.0.2.40")));
        Assert.Equal(Sorted([.. SoaChange, "www RRSIG/A", "@ ZONEMD", "@ RRSIG/ZONEMD"]), Describe(change.Removed));
        Assert.Equal(Sorted([.. SoaChange, "www A", "www RRSIG/A", "@ ZONEMD", "@ RRSIG/ZONEMD"]), Describe(change.Added));
        Assert.Equal(3, change.SignaturesMade);
        var check = Assert.Single(ZoneMd.Verify(change.Signed));
        Assert.True(check.Matches, check.Problem);
    }

    [Fact]
    public async Task Nsec_a_new_name_joins_the_chain_after_its_predecessor()
    {
        using var keys = new TestKeys();
        var run = await Run.StartAsync(keys, Policy("nsec", zonemd: false));
        var change = await run.StepAsync(z => z.With(Set("new A 192.0.2.77")));
        // "new" sorts between "MiXeD" and "ns1": MiXeD's NSEC now points to it, and it points to ns1.
        Assert.Equal(Sorted([.. SoaChange, "mixed NSEC", "mixed RRSIG/NSEC"]), Describe(change.Removed));
        Assert.Equal(Sorted([.. SoaChange, "mixed NSEC", "mixed RRSIG/NSEC", "new A", "new RRSIG/A", "new NSEC", "new RRSIG/NSEC"]), Describe(change.Added));
        Assert.Equal(4, change.SignaturesMade);
        static string Next(Zone zone, string owner) => PresentationFormat.FormatRData(RecordType.NSec,
            RecordWire.RData(zone.Find(DomainName.Parse(owner), RecordType.NSec)!.Records[0])).Split(' ')[0];
        Assert.Equal("new.example.com.", Next(change.Signed, "MiXeD.example.com"));
        Assert.Equal("ns1.example.com.", Next(change.Signed, "new.example.com"));
        var back = await run.StepAsync(z => z.Without(DomainName.Parse("new.example.com"), RecordType.A));
        Assert.Equal("ns1.example.com.", Next(back.Signed, "MiXeD.example.com"));
        // A predecessor keeps the case of the name it points to (RFC 6840 §5.1) when it is rebuilt.
        var before = await run.StepAsync(z => z.With(Set("mb A 192.0.2.78")));
        Assert.Equal("MiXeD.example.com.", Next(before.Signed, "mb.example.com"));
        Assert.Equal(Sorted([.. SoaChange, "mixed NSEC", "mixed RRSIG/NSEC", "new A", "new RRSIG/A", "new NSEC", "new RRSIG/NSEC"]), Describe(back.Removed));
    }

    [Fact]
    public async Task Nsec_a_new_type_changes_the_owners_bitmap_only()
    {
        using var keys = new TestKeys();
        var run = await Run.StartAsync(keys, Policy("nsec", zonemd: false));
        var change = await run.StepAsync(z => z.With(Set("www TXT \"hello\"")));
        Assert.Equal(Sorted([.. SoaChange, "www NSEC", "www RRSIG/NSEC"]), Describe(change.Removed));
        Assert.Equal(Sorted([.. SoaChange, "www NSEC", "www RRSIG/NSEC", "www TXT", "www RRSIG/TXT"]), Describe(change.Added));
        Assert.Equal(3, change.SignaturesMade);
    }

    [Fact]
    public async Task Nsec_a_removed_name_leaves_the_chain_and_its_predecessor_skips_it()
    {
        using var keys = new TestKeys();
        var run = await Run.StartAsync(keys, Policy("nsec", zonemd: false));
        var change = await run.StepAsync(z => z.Without(DomainName.Parse("h2.example.com"), RecordType.Txt));
        Assert.Equal(Sorted([.. SoaChange, "h2 TXT", "h2 RRSIG/TXT", "h2 NSEC", "h2 RRSIG/NSEC", "h1 NSEC", "h1 RRSIG/NSEC"]), Describe(change.Removed));
        Assert.Equal(Sorted([.. SoaChange, "h1 NSEC", "h1 RRSIG/NSEC"]), Describe(change.Added));
        Assert.Equal(2, change.SignaturesMade);
    }

    [Fact]
    public async Task Nsec_a_new_delegation_is_in_the_chain_but_its_ns_and_glue_are_never_signed()
    {
        using var keys = new TestKeys();
        var run = await Run.StartAsync(keys, Policy("nsec", zonemd: false));
        var change = await run.StepAsync(z => z.WithChanges([Set("deleg NS ns.deleg"), Set("ns.deleg A 192.0.2.60")], []));
        // "deleg" follows the d1 subtree, whose only name is x.d1.
        Assert.Equal(Sorted([.. SoaChange, "x.d1 NSEC", "x.d1 RRSIG/NSEC"]), Describe(change.Removed));
        Assert.Equal(Sorted([.. SoaChange, "x.d1 NSEC", "x.d1 RRSIG/NSEC", "deleg NS", "ns.deleg A", "deleg NSEC", "deleg RRSIG/NSEC"]), Describe(change.Added));
        Assert.Equal(3, change.SignaturesMade);

        var secure = await run.StepAsync(z => z.With(Set("deleg DS 4711 15 2 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE7EC0E4E3A2B2B6A9BB22C1B5")));
        Assert.Equal(Sorted([.. SoaChange, "deleg NSEC", "deleg RRSIG/NSEC"]), Describe(secure.Removed));
        Assert.Equal(Sorted([.. SoaChange, "deleg DS", "deleg RRSIG/DS", "deleg NSEC", "deleg RRSIG/NSEC"]), Describe(secure.Added));
    }

    [Fact]
    public async Task Nsec_delegating_a_name_with_data_below_takes_that_data_out_of_the_chain_and_undelegating_brings_it_back()
    {
        using var keys = new TestKeys();
        var run = await Run.StartAsync(keys, Policy("nsec", zonemd: false));
        var original = run.Signed;
        var change = await run.StepAsync(z => z.With(Set("d1 NS ns.elsewhere.net.")));
        // x.d1 keeps its A (occluded now), loses its signature and NSEC; d1 takes its place in the chain.
        Assert.Equal(Sorted([.. SoaChange, "x.d1 RRSIG/A", "x.d1 NSEC", "x.d1 RRSIG/NSEC", "a.b.c NSEC", "a.b.c RRSIG/NSEC"]), Describe(change.Removed));
        Assert.Equal(Sorted([.. SoaChange, "d1 NS", "d1 NSEC", "d1 RRSIG/NSEC", "a.b.c NSEC", "a.b.c RRSIG/NSEC"]), Describe(change.Added));
        Assert.Equal(3, change.SignaturesMade);
        Assert.NotNull(change.Signed.Find(DomainName.Parse("x.d1.example.com"), RecordType.A));

        var back = await run.StepAsync(z => z.Without(DomainName.Parse("d1.example.com"), RecordType.Ns));
        Assert.Equal(Describe(change.Added.Skip(1).Where(r => r.RecordType != RecordType.RrSig || RrsigFields.Of(r).TypeCovered != RecordType.Soa)),
            Describe(back.Removed.Skip(1).Where(r => r.RecordType != RecordType.RrSig || RrsigFields.Of(r).TypeCovered != RecordType.Soa)));
        // Apart from the SOA, the zone is the one before the delegation again.
        var soaless = (Zone z) => z.WithChanges([], [(Origin, RecordType.Soa), (Origin, RecordType.RrSig)]);
        Assert.True(ZoneDiff.Compute(soaless(original), soaless(back.Signed)).IsEmpty);
    }

    [Theory]
    [InlineData("nsec3")]
    [InlineData("nsec3-optout")]
    public async Task Nsec3_a_new_name_adds_one_hashed_record_and_changes_its_predecessor(string denial)
    {
        using var keys = new TestKeys();
        var policy = Policy(denial, zonemd: false);
        var run = await Run.StartAsync(keys, policy);
        var change = await run.StepAsync(z => z.With(Set("new A 192.0.2.77")));
        var h = Hashed("new.example.com", policy.Nsec3!);
        var p = Assert.Single(Predecessors(change.Signed, h));
        Assert.Equal(Sorted([.. SoaChange, $"{p} NSEC3", $"{p} RRSIG/NSEC3"]), Describe(change.Removed));
        Assert.Equal(Sorted([.. SoaChange, $"{p} NSEC3", $"{p} RRSIG/NSEC3", $"{h} NSEC3", $"{h} RRSIG/NSEC3", "new A", "new RRSIG/A"]), Describe(change.Added));
        Assert.Equal(4, change.SignaturesMade);
    }

    [Fact]
    public async Task Nsec3_empty_non_terminals_appear_with_their_first_descendant_and_go_with_the_last()
    {
        using var keys = new TestKeys();
        var policy = Policy("nsec3", zonemd: false);
        var run = await Run.StartAsync(keys, policy);
        var add = await run.StepAsync(z => z.With(Set("p.q.r TXT \"deep\"")));
        string[] hashes = [Hashed("p.q.r.example.com", policy.Nsec3!), Hashed("q.r.example.com", policy.Nsec3!), Hashed("r.example.com", policy.Nsec3!)];
        var predecessors = Predecessors(add.Signed, hashes).ToList();
        Assert.Equal(Sorted([.. SoaChange, .. predecessors.SelectMany(x => new[] { $"{x} NSEC3", $"{x} RRSIG/NSEC3" })]), Describe(add.Removed));
        Assert.Equal(Sorted([.. SoaChange, .. predecessors.Concat(hashes).SelectMany(x => new[] { $"{x} NSEC3", $"{x} RRSIG/NSEC3" }), "p.q.r TXT", "p.q.r RRSIG/TXT"]),
            Describe(add.Added));
        // The empty non-terminals' records have no type bitmap at all.
        foreach (var ent in hashes.Skip(1))
            Assert.Empty(DenialOfExistence.Nsec3Fields(add.Signed.Find(new DomainName([ent, .. Origin.Labels]), RecordType.NSec3)!.Records[0]).Types);

        // A second name below q.r: q.r and r stay as they are.
        var sibling = await run.StepAsync(z => z.With(Set("s.q.r TXT \"sibling\"")));
        var s = Hashed("s.q.r.example.com", policy.Nsec3!);
        Assert.Equal(Sorted([.. SoaChange, .. Predecessors(sibling.Signed, s).SelectMany(x => new[] { $"{x} NSEC3", $"{x} RRSIG/NSEC3" })]), Describe(sibling.Removed));

        // Both gone: so are the empty non-terminals.
        await run.StepAsync(z => z.Without(DomainName.Parse("s.q.r.example.com"), RecordType.Txt));
        var gone = await run.StepAsync(z => z.Without(DomainName.Parse("p.q.r.example.com"), RecordType.Txt));
        Assert.Equal(hashes.Length, gone.Removed.Count(r => r.RecordType == RecordType.NSec3 && hashes.Contains(r.Name.Labels[0])));
        Assert.DoesNotContain(gone.Added, r => r.RecordType == RecordType.NSec3 && hashes.Contains(r.Name.Labels[0]));
    }

    [Fact]
    public async Task Opt_out_an_insecure_delegation_and_the_empty_non_terminal_it_alone_creates_stay_out_of_the_chain_until_a_ds_arrives()
    {
        using var keys = new TestKeys();
        var policy = Policy("nsec3-optout", zonemd: false);
        var run = await Run.StartAsync(keys, policy);
        var insecure = await run.StepAsync(z => z.WithChanges([Set("deleg.ent NS ns.deleg.ent"), Set("ns.deleg.ent A 192.0.2.61")], []));
        Assert.Equal(Sorted(SoaChange), Describe(insecure.Removed));
        Assert.Equal(Sorted([.. SoaChange, "deleg.ent NS", "ns.deleg.ent A"]), Describe(insecure.Added));
        Assert.Equal(1, insecure.SignaturesMade);

        var secure = await run.StepAsync(z => z.With(Set("deleg.ent DS 4711 15 2 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE7EC0E4E3A2B2B6A9BB22C1B5")));
        string[] hashes = [Hashed("deleg.ent.example.com", policy.Nsec3!), Hashed("ent.example.com", policy.Nsec3!)];
        var predecessors = Predecessors(secure.Signed, hashes).ToList();
        Assert.Equal(Sorted([.. SoaChange, .. predecessors.SelectMany(x => new[] { $"{x} NSEC3", $"{x} RRSIG/NSEC3" })]), Describe(secure.Removed));
        Assert.Equal(Sorted([.. SoaChange, "deleg.ent DS", "deleg.ent RRSIG/DS", .. predecessors.Concat(hashes).SelectMany(x => new[] { $"{x} NSEC3", $"{x} RRSIG/NSEC3" })]),
            Describe(secure.Added));
        // The delegation's bitmap: NS, DS and RRSIG; never the glue.
        var types = DenialOfExistence.Nsec3Fields(secure.Signed.Find(new DomainName([hashes[0], .. Origin.Labels]), RecordType.NSec3)!.Records[0]);
        Assert.Equal(1, types.Flags);
        Assert.Equal([RecordType.Ns, RecordType.Ds, RecordType.RrSig], types.Types);

        var back = await run.StepAsync(z => z.Without(DomainName.Parse("deleg.ent.example.com"), RecordType.Ds));
        Assert.Equal(Describe(secure.Added.Skip(2).Where(r => r.Name.ToString() != "example.com.")),
            Describe(back.Removed.Skip(2).Where(r => r.Name.ToString() != "example.com.")));
    }

    [Fact]
    public async Task Upstream_dnssec_records_are_ignored_and_counted()
    {
        using var keys = new TestKeys();
        var run = await Run.StartAsync(keys, Policy("nsec", zonemd: false));
        var change = await run.StepAsync(z => z.WithChanges(
        [
            Set("@ DNSKEY 256 3 15 l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4="),
            Set("@ CDS 12345 15 2 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE7EC0E4E3A2B2B6A9BB22C1B5"),
            Set("www RRSIG A 15 3 3600 20300101000000 20200101000000 12345 example.com. AQIDBA==",
                "www RRSIG AAAA 15 3 3600 20300101000000 20200101000000 12345 example.com. AQIDBA=="),
        ], []));
        Assert.Equal(4, change.UpstreamRecordsIgnored);
        Assert.Equal(Sorted(SoaChange), Describe(change.Removed));
        Assert.Equal(Sorted(SoaChange), Describe(change.Added));
        Assert.Null(change.Signed.Find(Origin, RecordType.CDs));

        var full = await IncrementalSigner.SignFullAsync(run.Unsigned, 500, run.Policy, keys.Keys, Now, null, CancellationToken.None);
        Assert.Equal(4, full.UpstreamRecordsIgnored);
        Assert.Equal(RecordType.Soa, full.Added[0].RecordType);
        Assert.Equal(full.Signed.Records.Count(), full.Added.Count);
        Assert.Empty(full.Removed);
    }

    [Fact]
    public async Task Changed_keys_denial_or_denial_ttl_sign_the_zone_again_with_an_exact_delta()
    {
        using var keys = new TestKeys();
        using var other = new TestKeys(seed: 9);
        var run = await Run.StartAsync(keys, Policy("nsec", zonemd: true));

        run.Keys = other; // a new KSK and ZSK: every signature changes
        var rekeyed = await run.StepAsync(z => z);
        Assert.Contains("DNSKEY", rekeyed.FullResignReason, StringComparison.Ordinal);
        Assert.Equal(rekeyed.Signed.Records.Count(r => r.RecordType == RecordType.RrSig), rekeyed.Added.Count(r => r.RecordType == RecordType.RrSig));

        run.Policy = Policy("nsec3", zonemd: true);
        var nsec3 = await run.StepAsync(z => z);
        Assert.Contains("NSEC to NSEC3", nsec3.FullResignReason, StringComparison.Ordinal);
        Assert.Contains(nsec3.Removed, r => r.RecordType == RecordType.NSec);
        Assert.DoesNotContain(nsec3.Signed.Records, r => r.RecordType == RecordType.NSec);

        run.Policy = Policy("nsec3-optout", zonemd: true);
        var optOut = await run.StepAsync(z => z);
        Assert.Contains("NSEC3 parameters", optOut.FullResignReason, StringComparison.Ordinal);

        run.Policy = run.Policy with { Nsec3 = run.Policy.Nsec3! with { Iterations = 2, Salt = [0xAB, 0xCD], OptOut = false } };
        var optIn = await run.StepAsync(z => z);
        Assert.Contains("opt-out", optIn.FullResignReason, StringComparison.Ordinal);

        var minimum = await run.StepAsync(z =>
        {
            var soa = (SoaRecord)z.Find(Origin, RecordType.Soa)!.Records[0];
            return z.With(RRset.Create([new SoaRecord(Origin, 3600, soa.MasterName, soa.ResponsibleName, soa.SerialNumber, soa.RefreshInterval,
                soa.RetryInterval, soa.ExpireInterval, 60)]));
        });
        Assert.Contains("TTL", minimum.FullResignReason, StringComparison.Ordinal);

        // And back to incremental signing once nothing of that changes.
        var plain = await run.StepAsync(z => z.With(Set("www TXT \"after\"")));
        Assert.Null(plain.FullResignReason);
        Assert.True(ZoneVerifier.Verify(plain.Signed, Now).IsValid);
    }

    [Fact]
    public async Task Switching_zonemd_on_and_off_is_incremental()
    {
        using var keys = new TestKeys();
        var run = await Run.StartAsync(keys, Policy("nsec3", zonemd: false));
        run.Policy = Policy("nsec3", zonemd: true);
        var on = await run.StepAsync(z => z);
        Assert.Null(on.FullResignReason);
        var apexNsec3 = Hashed("example.com", run.Policy.Nsec3!);
        Assert.Equal(Sorted([.. SoaChange, $"{apexNsec3} NSEC3", $"{apexNsec3} RRSIG/NSEC3"]), Describe(on.Removed));
        Assert.Equal(Sorted([.. SoaChange, $"{apexNsec3} NSEC3", $"{apexNsec3} RRSIG/NSEC3", "@ ZONEMD", "@ RRSIG/ZONEMD"]), Describe(on.Added));
        run.Policy = Policy("nsec3", zonemd: false);
        var off = await run.StepAsync(z => z);
        Assert.Equal(Describe(on.Added.Skip(2).Where(r => r.Name.ToString() != "example.com." || r.RecordType is not (RecordType.Soa or RecordType.RrSig) || RrsigFields.Of(r).TypeCovered != RecordType.Soa)),
            Describe(off.Removed.Skip(2).Where(r => r.Name.ToString() != "example.com." || r.RecordType is not (RecordType.Soa or RecordType.RrSig) || RrsigFields.Of(r).TypeCovered != RecordType.Soa)));
    }

    [Fact]
    public async Task A_signed_zone_that_was_not_made_from_the_old_unsigned_zone_is_refused()
    {
        using var keys = new TestKeys();
        var run = await Run.StartAsync(keys, Policy("nsec", zonemd: false));
        var elsewhere = run.Unsigned.With(Set("www A 192.0.2.99"));
        var next = elsewhere.Without(DomainName.Parse("www.example.com"), RecordType.A);
        await Assert.ThrowsAsync<ZoneDiffConflictException>(() =>
            IncrementalSigner.ApplyAsync(run.Signed, elsewhere, next, 200, run.Policy, keys.Keys, Now, CancellationToken.None));
    }

    [Fact]
    public async Task The_signed_serial_must_move_forward_when_the_zone_changes()
    {
        using var keys = new TestKeys();
        var run = await Run.StartAsync(keys, Policy("nsec", zonemd: true));
        var next = run.Unsigned.With(Set("www TXT \"x\""));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() =>
            IncrementalSigner.ApplyAsync(run.Signed, run.Unsigned, next, 100, run.Policy, keys.Keys, Now, CancellationToken.None));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() =>
            IncrementalSigner.ApplyAsync(run.Signed, run.Unsigned, next, 99, run.Policy, keys.Keys, Now, CancellationToken.None));
        // The same zone with the same serial: nothing to publish.
        var same = await IncrementalSigner.ApplyAsync(run.Signed, run.Unsigned, run.Unsigned, 100, run.Policy, keys.Keys, Now, CancellationToken.None);
        Assert.True(same.IsEmpty);
        Assert.Equal(0, same.SignaturesMade);
        Assert.Same(run.Signed.Nodes, same.Signed.Nodes);
        // Serial arithmetic wraps (RFC 1982).
        var wrapped = await IncrementalSigner.SignFullAsync(run.Unsigned, uint.MaxValue, run.Policy, keys.Keys, Now, null, CancellationToken.None);
        var after = await IncrementalSigner.ApplyAsync(wrapped.Signed, run.Unsigned, next, 3, run.Policy, keys.Keys, Now, CancellationToken.None);
        Assert.Equal(3u, after.Signed.Serial);
    }

    [Theory]
    [InlineData("nsec")]
    [InlineData("nsec3")]
    public async Task A_delegation_point_lists_only_ns_and_ds_even_with_glue_at_the_cut(string denial)
    {
        // RFC 4035 §2.3: the parent is not authoritative for the glue at the cut, so its bit must be clear.
        using var keys = new TestKeys();
        var unsigned = BaseZone(BaseText + "\nself NS self\nself A 192.0.2.70\nself AAAA 2001:db8::70\n");
        var full = await IncrementalSigner.SignFullAsync(unsigned, 7, Policy(denial, zonemd: false), keys.Keys, Now, null, CancellationToken.None);
        var self = DomainName.Parse("self.example.com");
        var types = denial == "nsec"
            ? DenialOfExistence.NsecBitmap(full.Signed.Find(self, RecordType.NSec)!.Records[0])
            : DenialOfExistence.Nsec3Fields(full.Signed.Find(DenialOfExistence.HashedOwner(self, Origin, new Nsec3Settings()), RecordType.NSec3)!.Records[0]).Types;
        Assert.Equal(denial == "nsec" ? [RecordType.Ns, RecordType.RrSig, RecordType.NSec] : [RecordType.Ns], types);
        Assert.DoesNotContain(full.Signed.Find(self, RecordType.RrSig)?.Records.Select(RrsigFields.Of) ?? [], s => s.TypeCovered is not RecordType.NSec);
        Assert.True(ZoneVerifier.Verify(full.Signed, Now).IsValid);
        await AssertValidatorsAccept(full.Signed, zonemd: false, denial);
    }

    [Fact]
    public async Task A_validity_too_short_for_soa_expire_is_refused_with_what_would_work()
    {
        using var keys = new TestKeys();
        var policy = Policy("nsec", zonemd: false) with { Schedule = new SignatureSchedule { Validity = TimeSpan.FromDays(14) } };
        var error = await Assert.ThrowsAsync<SigningPolicyException>(() =>
            IncrementalSigner.SignFullAsync(BaseZone(), 1, policy, keys.Keys, Now, null, CancellationToken.None));
        Assert.Contains("SOA EXPIRE (14d)", error.Message, StringComparison.Ordinal);
        Assert.Contains("at least 29d", error.Message, StringComparison.Ordinal);

        // A change that raises SOA EXPIRE beyond what the validity can keep is refused too, before anything is signed.
        var run = await Run.StartAsync(keys, Policy("nsec", zonemd: false));
        var soa = (SoaRecord)run.Unsigned.Find(Origin, RecordType.Soa)!.Records[0];
        var longer = run.Unsigned.With(RRset.Create([new SoaRecord(Origin, 3600, soa.MasterName, soa.ResponsibleName, soa.SerialNumber + 1,
            soa.RefreshInterval, soa.RetryInterval, (int)TimeSpan.FromDays(30).TotalSeconds, soa.NegativeCachingTTL)]));
        await Assert.ThrowsAsync<SigningPolicyException>(() =>
            IncrementalSigner.ApplyAsync(run.Signed, run.Unsigned, longer, 101, run.Policy, keys.Keys, Now, CancellationToken.None));
    }
}
