using System.Buffers.Binary;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Dnssec.Keys;
using InlineSigner.Zones;

namespace InlineSigner.Dnssec.Signing;

/// <summary>
/// Keeps a signed zone in step with its unsigned source, signing only what changed. A full sign of the new unsigned
/// zone at the same moment with the same serial gives the same zone, record for record (the property tests hold
/// <see cref="ApplyAsync"/> to exactly that), and each result carries the exact signed delta, so it can be journalled
/// and served as IXFR as it is. Unchanged RRsets keep their signatures byte for byte; new signatures are verified
/// before use (<see cref="ZoneSigner.SignJobsAsync"/>).
/// <para>
/// Cost of a change: the names it touches, their NSEC or NSEC3 neighbours found in O(log n) through the zone's sorted
/// owner sets (<see cref="Zone.OwnersOf"/>, <see cref="Zone.Names"/>), and the SOA; ZONEMD, when the policy asks for
/// it, is the one part that reads the whole zone (RFC 8976's SIMPLE scheme has no incremental form).
/// </para>
/// </summary>
public static class IncrementalSigner
{
    /// <summary>Signs <paramref name="unsigned"/> from scratch, as <see cref="ZoneSigner.SignAsync"/> does, with the
    /// signed SOA serial <paramref name="signedSerial"/> (the serial policy is the caller's).</summary>
    public static async Task<SignedChange> SignFullAsync(Zone unsigned, uint signedSerial, SigningPolicy policy, ZoneKeys keys,
        DateTimeOffset now, IProgress<SigningProgress>? progress, CancellationToken cancellationToken)
    {
        var soa = RequireSoa(unsigned);
        int maxTtl = Math.Max(policy.DnsKeyTtl ?? soa.Ttl,
            unsigned.RRsets.Where(s => !ZoneSigner.SignerOwnedTypes.Contains(s.Type)).Select(s => s.Ttl).DefaultIfEmpty(0).Max());
        policy.Schedule.EnsureRefreshable(SoaExpire(soa), TimeSpan.FromSeconds(maxTtl));
        int ignored = unsigned.RRsets.Where(s => ZoneSigner.SignerOwnedTypes.Contains(s.Type)).Sum(s => s.Count);
        var (signed, stats) = await ZoneSigner.SignAsync(unsigned.With(WithSerial(soa, signedSerial)), policy, keys, now, progress, cancellationToken);
        return Result(Zone.Empty(unsigned.Origin), signed, stats.Signatures, stats.RRsetsSigned, ignored, null);
    }

    /// <summary>
    /// The signed zone for <paramref name="unsignedNew"/>, made from <paramref name="signed"/> (the signed form of
    /// <paramref name="unsignedOld"/>) by signing only what the change from <paramref name="unsignedOld"/> to
    /// <paramref name="unsignedNew"/> affects; its SOA is <paramref name="unsignedNew"/>'s with the serial
    /// <paramref name="signedSerial"/>. When the key set, the denial mode or its parameters, or the denial TTL
    /// changed, the zone is signed again in full (the reason is in <see cref="SignedChange.FullResignReason"/>) and the
    /// delta is still exact. Throws <see cref="ZoneDiffConflictException"/> when <paramref name="signed"/> does not hold
    /// <paramref name="unsignedOld"/>'s data where the change touches it.
    /// </summary>
    public static async Task<SignedChange> ApplyAsync(Zone signed, Zone unsignedOld, Zone unsignedNew, uint signedSerial, SigningPolicy policy,
        ZoneKeys keys, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var origin = signed.Origin;
        if (!SameName(unsignedOld.Origin, origin) || !SameName(unsignedNew.Origin, origin))
            throw new ArgumentException($"zones of different origins: signed {signed.Origin}, unsigned {unsignedOld.Origin} and {unsignedNew.Origin}");
        var oldSerial = signed.Serial;
        if (signedSerial != oldSerial && !SerialGreater(signedSerial, oldSerial))
            throw new ArgumentOutOfRangeException(nameof(signedSerial), $"signed serial {signedSerial} does not follow {oldSerial} (RFC 1982)");
        var soa = WithSerial(RequireSoa(unsignedNew), signedSerial);

        SignedChange change;
        if (FullResignReason(signed, soa, policy, keys) is { } reason)
        {
            var full = await SignFullAsync(unsignedNew, signedSerial, policy, keys, now, null, cancellationToken);
            change = Result(signed, full.Signed, full.SignaturesMade, full.RRsetsSigned, full.UpstreamRecordsIgnored, reason);
        }
        else
        {
            change = await new IncrementalChange(signed, unsignedOld, unsignedNew, soa, policy, keys, now).RunAsync(cancellationToken);
        }
        if (!change.IsEmpty && signedSerial == oldSerial)
            throw new ArgumentOutOfRangeException(nameof(signedSerial), $"the signed zone changes but its serial stays {oldSerial}; secondaries would never see the change");
        return change;
    }

    /// <summary>
    /// Replaces the signatures that have reached the refresh point (<see cref="SignatureSchedule.RefreshPoint"/> for the
    /// zone's SOA EXPIRE and largest TTL) at <paramref name="now"/>: at most <paramref name="maxRRsets"/> RRsets, the
    /// soonest to expire first, plus the SOA (with <paramref name="signedSerial"/>) and ZONEMD. Null when nothing is due.
    /// The zone must be signed with <paramref name="keys"/> under <paramref name="policy"/> already (after a key or
    /// policy change, <see cref="ApplyAsync"/> re-signs it).
    /// </summary>
    public static async Task<SignedChange?> RefreshAsync(Zone signed, uint signedSerial, SigningPolicy policy, ZoneKeys keys, DateTimeOffset now,
        int maxRRsets, CancellationToken cancellationToken)
    {
        // At least one: a batch that re-signed only the SOA would leave everything due and the scheduler spinning.
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRRsets, 1);
        var origin = signed.Origin;
        var oldSoa = RequireSoa(signed);
        if (!SerialGreater(signedSerial, signed.Serial))
            throw new ArgumentOutOfRangeException(nameof(signedSerial), $"signed serial {signedSerial} does not follow {signed.Serial} (RFC 1982)");
        if (signed.Find(origin, RecordType.DnsKey) is not { } dnskey || !dnskey.ContentEquals(ZoneSigner.DnsKeyRRset(keys, policy, oldSoa)))
            throw new InvalidOperationException($"zone {origin} is not signed with these keys; apply the key change with ApplyAsync first");
        if ((policy.ZoneMdAlgorithms.Count > 0) != (signed.Find(origin, RecordType.ZoneMD) is not null))
            throw new InvalidOperationException($"zone {origin}'s ZONEMD does not follow the policy; apply the policy with ApplyAsync first");

        var scan = Scan(signed);
        var point = policy.Schedule.RefreshPoint(SoaExpire(oldSoa), scan.MaxTtl);
        policy.Schedule.EnsureRefreshable(SoaExpire(oldSoa), scan.MaxTtl);
        var due = scan.Signatures.Where(s => SignatureSchedule.NeedsRefresh(s.Expiration, now, point)).ToList();
        if (due.Count == 0) return null;

        // One entry per RRset, at its soonest expiry; the SOA and ZONEMD are re-signed anyway.
        var chosen = due
            .Where(s => !(SameName(s.Owner, origin) && s.Covered is RecordType.Soa or RecordType.ZoneMD))
            .GroupBy(s => (s.Owner, Type: s.Covered), OwnerTypeComparer.Instance)
            .Select(g => (g.Key.Owner, Covered: g.Key.Type, Expiration: g.Min(s => s.Expiration)))
            .OrderBy(s => s.Expiration).ThenBy(s => s.Owner, CanonicalNameComparer.Instance).ThenBy(s => (ushort)s.Covered)
            .Take(maxRRsets)
            .ToList();

        var soa = WithSerial(oldSoa, signedSerial);
        var zone = signed.With(soa);
        var jobs = new List<SigningJob>();
        foreach (var (owner, covered, _) in chosen)
            if (zone.Find(owner, covered) is { } set) jobs.AddRange(ZoneSigner.JobsFor(set, origin, keys, policy.Schedule, now));
        jobs.AddRange(ZoneSigner.JobsFor(soa, origin, keys, policy.Schedule, now));
        zone = ZoneSigner.AddSignatures(zone, await ZoneSigner.SignJobsAsync(jobs, policy.BatchSize, null, cancellationToken));
        if (policy.ZoneMdAlgorithms.Count > 0)
        {
            var (withDigest, zonemdJobs) = await SignZoneMdAsync(zone, policy, keys, now, cancellationToken);
            zone = withDigest;
            jobs.AddRange(zonemdJobs);
        }
        return Result(signed, zone, jobs.Count, CountRRsets(jobs), 0, null);
    }

    /// <summary>When the next signature of <paramref name="signed"/> reaches the refresh point (its expiration minus
    /// <see cref="SignatureSchedule.RefreshPoint"/>), for the scheduler; null for a zone without signatures. Reads every
    /// signature's expiration, so call it after a version is committed, not on the signing path.</summary>
    public static DateTimeOffset? NextRefreshDue(Zone signed, SigningPolicy policy)
    {
        var soa = RequireSoa(signed);
        var scan = Scan(signed);
        if (scan.Signatures.Count == 0) return null;
        uint earliest = scan.Signatures.Min(s => s.Expiration);
        return DateTimeOffset.FromUnixTimeSeconds(earliest) - policy.Schedule.RefreshPoint(SoaExpire(soa), scan.MaxTtl);
    }

    /// <summary>Why <paramref name="signed"/> cannot be changed incrementally under this policy and keys, or null.</summary>
    internal static string? FullResignReason(Zone signed, RRset soa, SigningPolicy policy, ZoneKeys keys)
    {
        var origin = signed.Origin;
        if (signed.Find(origin, RecordType.DnsKey) is not { } dnskey || !dnskey.ContentEquals(ZoneSigner.DnsKeyRRset(keys, policy, soa)))
            return "the DNSKEY RRset changes (other keys, or another DNSKEY TTL)";
        int denialTtl = DenialOfExistence.DenialTtl(soa);
        var param = signed.Find(origin, RecordType.NSec3Param);
        if (policy.Nsec3 is not { } nsec3)
        {
            if (param is not null) return "denial of existence changes from NSEC3 to NSEC";
            if (signed.Find(origin, RecordType.NSec) is not { } nsec) return "the signed zone has no NSEC chain";
            return nsec.Ttl != denialTtl ? "the NSEC TTL changes (SOA TTL or MINIMUM changed)" : null;
        }
        if (param is null) return "denial of existence changes from NSEC to NSEC3";
        if (!param.ContentEquals(ZoneSigner.Nsec3ParamRRset(origin, nsec3, soa))) return "the NSEC3 parameters (or the NSEC3PARAM TTL) change";
        if (signed.Find(DenialOfExistence.HashedOwner(origin, origin, nsec3), RecordType.NSec3) is not { } apex)
            return "the signed zone has no NSEC3 chain for these parameters";
        if ((DenialOfExistence.Nsec3Fields(apex.Records[0]).Flags & 1) != (nsec3.OptOut ? 1 : 0)) return "NSEC3 opt-out is switched";
        return apex.Ttl != denialTtl ? "the NSEC3 TTL changes (SOA TTL or MINIMUM changed)" : null;
    }

    /// <summary>Computes ZONEMD over <paramref name="zone"/> (whose other signatures are final) and signs it.</summary>
    internal static async Task<(Zone Zone, IReadOnlyList<SigningJob> Jobs)> SignZoneMdAsync(Zone zone, SigningPolicy policy, ZoneKeys keys,
        DateTimeOffset now, CancellationToken cancellationToken)
    {
        zone = ZoneMd.Refresh(zone, policy.ZoneMdAlgorithms);
        var jobs = ZoneSigner.JobsFor(zone.Find(zone.Origin, RecordType.ZoneMD)!, zone.Origin, keys, policy.Schedule, now).ToList();
        return (ZoneSigner.AddSignatures(zone, await ZoneSigner.SignJobsAsync(jobs, policy.BatchSize, null, cancellationToken)), jobs);
    }

    /// <summary>The result for going from <paramref name="before"/> to <paramref name="after"/>: the diff, and the
    /// record view with each side's SOA first.</summary>
    internal static SignedChange Result(Zone before, Zone after, int signatures, int rrsets, int ignored, string? reason)
    {
        var diff = ZoneDiff.Compute(before, after);
        return new SignedChange(after, SoaFirst(diff.RemovedRecords, after.Origin), SoaFirst(diff.AddedRecords, after.Origin), signatures, rrsets)
        {
            Diff = diff,
            UpstreamRecordsIgnored = ignored,
            FullResignReason = reason,
        };
    }

    internal static int CountRRsets(IEnumerable<SigningJob> jobs) => jobs.Select(j => (j.Set.Owner, j.Set.Type)).Distinct(OwnerTypeComparer.Instance).Count();

    private static List<DnsRecordBase> SoaFirst(IEnumerable<DnsRecordBase> records, DomainName origin)
    {
        var list = records.ToList();
        int soa = list.FindIndex(r => r.RecordType == RecordType.Soa && SameName(r.Name, origin));
        if (soa > 0)
        {
            var record = list[soa];
            list.RemoveAt(soa);
            list.Insert(0, record);
        }
        return list;
    }

    /// <summary>The SOA RRset with another serial, every other octet kept.</summary>
    internal static RRset WithSerial(RRset soa, uint serial)
    {
        var record = soa.Records[0];
        var rdata = RecordWire.RData(record);
        // SOA RDATA ends with SERIAL, REFRESH, RETRY, EXPIRE, MINIMUM: five 32-bit fields (RFC 1035 §3.3.13).
        BinaryPrimitives.WriteUInt32BigEndian(rdata.AsSpan(rdata.Length - 20), serial);
        return RRset.Create([RecordWire.FromRData(record.Name, RecordType.Soa, record.RecordClass, soa.Ttl, rdata)]);
    }

    /// <summary>RFC 1982 serial number arithmetic: <paramref name="a"/> follows <paramref name="b"/>.</summary>
    internal static bool SerialGreater(uint a, uint b) => a != b && unchecked(a - b) < 0x8000_0000u;

    private static RRset RequireSoa(Zone zone) =>
        zone.Find(zone.Origin, RecordType.Soa) ?? throw new InvalidOperationException($"zone {zone.Origin} has no SOA");

    internal static TimeSpan SoaExpire(RRset soa) => TimeSpan.FromSeconds(((SoaRecord)soa.Records[0]).ExpireInterval);

    private static bool SameName(DomainName a, DomainName b) => CanonicalNameComparer.Instance.Equals(a, b);

    private sealed record SignatureScan(TimeSpan MaxTtl, List<(DomainName Owner, RecordType Covered, uint Expiration)> Signatures);

    /// <summary>Every signature's owner, covered type and expiration, and the zone's largest TTL, in one pass that reads
    /// the fields straight from the cached canonical RDATA (the RRSIG header is not affected by canonical form).</summary>
    private static SignatureScan Scan(Zone zone)
    {
        int maxTtl = 0;
        var signatures = new List<(DomainName, RecordType, uint)>();
        foreach (var (name, node) in zone.Nodes)
        {
            foreach (var (type, set) in node)
            {
                maxTtl = Math.Max(maxTtl, set.Type == RecordType.RrSig ? set.Records.Max(r => r.TimeToLive) : set.Ttl);
                if (type != RecordType.RrSig) continue;
                foreach (var rdata in set.CanonicalRData)
                    signatures.Add((name, (RecordType)BinaryPrimitives.ReadUInt16BigEndian(rdata), BinaryPrimitives.ReadUInt32BigEndian(rdata.AsSpan(8))));
            }
        }
        return new SignatureScan(TimeSpan.FromSeconds(maxTtl), signatures);
    }
}

/// <summary>Owner (canonical, case-insensitive) and type as one key.</summary>
internal sealed class OwnerTypeComparer : IEqualityComparer<(DomainName Owner, RecordType Type)>
{
    public static OwnerTypeComparer Instance { get; } = new();

    public bool Equals((DomainName Owner, RecordType Type) x, (DomainName Owner, RecordType Type) y) =>
        x.Type == y.Type && CanonicalNameComparer.Instance.Equals(x.Owner, y.Owner);

    public int GetHashCode((DomainName Owner, RecordType Type) obj) => HashCode.Combine(CanonicalNameComparer.Instance.GetHashCode(obj.Owner), obj.Type);
}
