using System.Buffers.Binary;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Dnssec.Signing;
using InlineSigner.Dnssec.Verification;
using InlineSigner.Zones;
using static InlineSigner.Dnssec.Tests.Incremental;

namespace InlineSigner.Dnssec.Tests;

/// <summary>Signature refresh: only what is due, soonest first, in bounded batches; and, run when
/// <see cref="IncrementalSigner.NextRefreshDue"/> says, no signature ever has less than SOA EXPIRE + max TTL left.</summary>
public sealed class IncrementalRefreshTests
{
    private static readonly SignatureSchedule Schedule = new()
    {
        Validity = TimeSpan.FromDays(30), Refresh = TimeSpan.FromDays(5), Jitter = TimeSpan.FromHours(12),
    };

    private static readonly TimeSpan Expire = TimeSpan.FromSeconds(1209600); // the base zone's SOA EXPIRE
    private static readonly TimeSpan MaxTtl = TimeSpan.FromSeconds(3600);      // its largest TTL

    private static SigningPolicy Policy(string denial) => Incremental.Policy(denial, zonemd: true) with { Schedule = Schedule };

    /// <summary>Every signature: owner, covered type, expiration.</summary>
    private static List<(DomainName Owner, RecordType Covered, uint Expiration)> Signatures(Zone zone) =>
        zone.RRsets.Where(s => s.Type == RecordType.RrSig)
            .SelectMany(s => s.CanonicalRData.Select(r => (s.Owner, (RecordType)BinaryPrimitives.ReadUInt16BigEndian(r), BinaryPrimitives.ReadUInt32BigEndian(r.AsSpan(8)))))
            .ToList();

    private static bool IsSoaOrZoneMd((DomainName Owner, RecordType Covered, uint Expiration) s) =>
        CanonicalNameComparer.Instance.Equals(s.Owner, Origin) && s.Covered is RecordType.Soa or RecordType.ZoneMD;

    [Theory]
    [InlineData("nsec")]
    [InlineData("nsec3-optout")]
    public async Task Refresh_re_signs_only_what_is_due_soonest_first_in_bounded_batches(string denial)
    {
        using var keys = new TestKeys();
        var policy = Policy(denial);
        var t0 = DateTimeOffset.UtcNow;
        var signed = (await IncrementalSigner.SignFullAsync(BaseZone(), 1, policy, keys.Keys, t0, null, CancellationToken.None)).Signed;
        var point = Schedule.RefreshPoint(Expire, MaxTtl);
        Assert.Equal(Expire + MaxTtl, point);

        Assert.Null(await IncrementalSigner.RefreshAsync(signed, 2, policy, keys.Keys, t0, 4, CancellationToken.None));
        // Halfway through the jitter window, about half the signatures are due.
        var earliest = Signatures(signed).Min(s => s.Expiration);
        var now = DateTimeOffset.FromUnixTimeSeconds(earliest) - point + Schedule.Jitter / 2;
        var due = Signatures(signed).Where(s => !IsSoaOrZoneMd(s) && SignatureSchedule.NeedsRefresh(s.Expiration, now, point))
            .Select(s => (s.Owner, s.Covered)).Distinct().Count();
        int total = Signatures(signed).Where(s => !IsSoaOrZoneMd(s)).Select(s => (s.Owner, s.Covered)).Distinct().Count();
        Assert.InRange(due, 8, total - 8);

        uint serial = 1;
        int refreshed = 0, batches = 0;
        while (await IncrementalSigner.RefreshAsync(signed, ++serial, policy, keys.Keys, now, 4, CancellationToken.None) is { } change)
        {
            batches++;
            var before = Signatures(signed).Where(s => !IsSoaOrZoneMd(s)).ToList();
            var replaced = change.Removed.Where(r => r.RecordType == RecordType.RrSig).Select(r => (r.Name, RrsigFields.Of(r)))
                .Where(r => !(CanonicalNameComparer.Instance.Equals(r.Name, Origin) && r.Item2.TypeCovered is RecordType.Soa or RecordType.ZoneMD))
                .ToList();
            // Each batch: at most 4 RRsets, all of them due, none later than any due RRset left behind.
            Assert.InRange(replaced.Count, 1, 4);
            Assert.All(replaced, r => Assert.True(SignatureSchedule.NeedsRefresh(r.Item2.Expiration, now, point)));
            var left = Signatures(change.Signed).Where(s => !IsSoaOrZoneMd(s) && SignatureSchedule.NeedsRefresh(s.Expiration, now, point)).ToList();
            Assert.All(left, l => Assert.True(l.Expiration >= replaced.Max(r => r.Item2.Expiration)));
            // Nothing else changes but the SOA, ZONEMD and their signatures.
            Assert.Equal(replaced.Count + 2, change.SignaturesMade);
            Assert.All(change.Added.Where(r => r.RecordType != RecordType.RrSig), r => Assert.True(r.RecordType is RecordType.Soa or RecordType.ZoneMD));
            Assert.Equal(serial, change.Signed.Serial);
            AssertDelta(signed, change, $"batch {batches}");
            var report = ZoneVerifier.Verify(change.Signed, now);
            Assert.True(report.IsValid, string.Join('\n', report.Problems));
            refreshed += replaced.Count;
            signed = change.Signed;
        }
        Assert.Equal(due, refreshed);
        Assert.Equal((due + 3) / 4, batches);
        Assert.All(Signatures(signed), s => Assert.False(SignatureSchedule.NeedsRefresh(s.Expiration, now, point)));
        Assert.True(IncrementalSigner.NextRefreshDue(signed, policy) > now);
    }

    [Fact]
    public async Task Refreshing_when_the_scheduler_says_keeps_every_signature_valid_for_soa_expire_plus_the_largest_ttl()
    {
        using var keys = new TestKeys();
        var policy = Policy("nsec3");
        var t0 = DateTimeOffset.UtcNow;
        var unsigned = BaseZone();
        var signed = (await IncrementalSigner.SignFullAsync(unsigned, 1, policy, keys.Keys, t0, null, CancellationToken.None)).Signed;
        uint serial = 1;
        var now = t0;
        var end = t0.AddDays(100);
        long needed = (long)(Expire + MaxTtl).TotalSeconds;
        int runs = 0, resigned = 0, rounds = 0;
        while (true)
        {
            var due = IncrementalSigner.NextRefreshDue(signed, policy)!.Value;
            Assert.True(due > now, "a refresh is due that the last run left behind");
            now = due;
            if (now > end) break;
            // The worst moment: just before refreshing. Every signature still has the margin.
            Assert.All(Signatures(signed), s => Assert.True(s.Expiration - now.ToUnixTimeSeconds() >= needed,
                $"{s.Owner} {s.Covered}: {s.Expiration - now.ToUnixTimeSeconds()} s left at {now:u}, {needed} needed"));
            while (await IncrementalSigner.RefreshAsync(signed, ++serial, policy, keys.Keys, now, 3, CancellationToken.None) is { } change)
            {
                runs++;
                resigned += change.RRsetsSigned - 2;
                signed = change.Signed;
            }
            // Now and then the zone changes too; new signatures join the schedule.
            if (++rounds % 25 == 0)
            {
                var next = BumpSerial(unsigned.With(Set($"r{rounds} A 192.0.2.{rounds % 250}")));
                signed = (await IncrementalSigner.ApplyAsync(signed, unsigned, next, ++serial, policy, keys.Keys, now, CancellationToken.None)).Signed;
                unsigned = next;
            }
            if (rounds % 40 == 0)
            {
                var report = ZoneVerifier.Verify(signed, now);
                Assert.True(report.IsValid, string.Join('\n', report.Problems));
            }
        }
        // 100 days with 30-day signatures refreshed 14 days before expiry: every RRset went round several times.
        int rrsets = Signatures(signed).Select(s => (s.Owner, s.Covered)).Distinct().Count();
        Assert.True(resigned >= 4 * rrsets, $"{resigned} RRsets re-signed in {runs} runs, {rrsets} RRsets in the zone");
        Assert.True(ZoneVerifier.Verify(signed, now).IsValid);
    }

    [Fact]
    public async Task Next_refresh_is_the_earliest_expiry_minus_the_refresh_point()
    {
        using var keys = new TestKeys();
        var policy = Policy("nsec");
        var t0 = DateTimeOffset.UtcNow;
        var signed = (await IncrementalSigner.SignFullAsync(BaseZone(), 1, policy, keys.Keys, t0, null, CancellationToken.None)).Signed;
        var expected = DateTimeOffset.FromUnixTimeSeconds(Signatures(signed).Min(s => s.Expiration)) - (Expire + MaxTtl);
        Assert.Equal(expected, IncrementalSigner.NextRefreshDue(signed, policy));
        // The refresh point never drops below the schedule's own.
        Assert.Equal(TimeSpan.FromDays(5), Schedule.RefreshPoint(TimeSpan.FromDays(1), TimeSpan.FromHours(1)));
        Assert.Null(IncrementalSigner.NextRefreshDue(BaseZone(), policy));

        // A second before, nothing is due; at that moment, something is.
        Assert.Null(await IncrementalSigner.RefreshAsync(signed, 2, policy, keys.Keys, expected.AddSeconds(-1), 10, CancellationToken.None));
        Assert.NotNull(await IncrementalSigner.RefreshAsync(signed, 2, policy, keys.Keys, expected, 10, CancellationToken.None));

        using var other = new TestKeys(seed: 42);
        await Assert.ThrowsAsync<InvalidOperationException>(() =>
            IncrementalSigner.RefreshAsync(signed, 2, policy, other.Keys, expected, 10, CancellationToken.None));
    }
}
