using System.Diagnostics;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Dnssec.Keys;
using InlineSigner.Zones;

namespace InlineSigner.Dnssec.Signing;

/// <summary>Counts of one signing run.</summary>
public sealed record SigningStats(int RRsetsSigned, int Signatures, TimeSpan Elapsed);

/// <summary>Progress of a signing run, for progress bars.</summary>
public readonly record struct SigningProgress(int SignaturesDone, int SignaturesTotal);

/// <summary>A signature that failed its check against the signer's public key; never published.</summary>
public sealed class SignatureVerificationException(string message) : Exception(message);

/// <summary>One RRset to sign with one key. The signing input is built when the job is signed (in parallel).</summary>
public sealed record SigningJob(RRset Set, ISigner Key, byte[] Header)
{
    public byte[] Input() => Rrsig.SigningInput(Set, Header, (uint)Set.Ttl);
}

/// <summary>
/// Signs whole zones: strips old DNSSEC data, publishes the DNSKEY RRset, builds the NSEC or NSEC3 chain,
/// signs every authoritative RRset with the right keys through <see cref="ISigner"/> batches, checks every returned
/// signature against the key's public key, and finally adds and signs ZONEMD. The pieces (which RRsets are signed,
/// RRSIG construction, chain building) are public so the incremental signer re-uses them.
/// </summary>
public static class ZoneSigner
{
    /// <summary>Record types a signer owns: whatever arrives in the unsigned input is replaced by ours. CDS and CDNSKEY
    /// (RFC 7344) describe the keys that sign the zone, which are ours, so an upstream copy could only be wrong.</summary>
    public static readonly IReadOnlySet<RecordType> SignerOwnedTypes = new HashSet<RecordType>
    {
        RecordType.RrSig, RecordType.NSec, RecordType.NSec3, RecordType.NSec3Param, RecordType.ZoneMD, RecordType.DnsKey,
        RecordType.CDs, RecordType.CDnsKey,
    };

    public static async Task<(Zone Signed, SigningStats Stats)> SignAsync(Zone unsigned, SigningPolicy policy, ZoneKeys keys,
        DateTimeOffset now, IProgress<SigningProgress>? progress, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var zone = Prepare(unsigned, policy, keys);

        // Everything that gets a signature, except ZONEMD, which is signed once its digest is known.
        var jobs = new List<SigningJob>();
        foreach (var (set, delegation) in SignableRRsets(zone))
        {
            if (set.Type == RecordType.ZoneMD) continue;
            jobs.AddRange(JobsFor(set, zone.Origin, keys, policy.Schedule, now));
        }
        var signatures = await SignJobsAsync(jobs, policy.BatchSize, progress, cancellationToken);
        zone = AddSignatures(zone, signatures);

        if (policy.ZoneMdAlgorithms.Count > 0)
        {
            zone = ZoneMd.Refresh(zone, policy.ZoneMdAlgorithms);
            var zonemd = zone.Find(zone.Origin, RecordType.ZoneMD)!;
            var zonemdJobs = JobsFor(zonemd, zone.Origin, keys, policy.Schedule, now).ToList();
            var zonemdSignatures = await SignJobsAsync(zonemdJobs, policy.BatchSize, null, cancellationToken);
            zone = AddSignatures(zone, zonemdSignatures);
            jobs.AddRange(zonemdJobs);
        }
        int rrsets = jobs.Select(j => (j.Set.Owner, j.Set.Type)).Distinct().Count();
        return (zone, new SigningStats(rrsets, jobs.Count, clock.Elapsed));
    }

    /// <summary>The unsigned zone with our DNSKEY, NSEC3PARAM, ZONEMD placeholder and denial chain, no signatures.</summary>
    public static Zone Prepare(Zone unsigned, SigningPolicy policy, ZoneKeys keys)
    {
        var origin = unsigned.Origin;
        var soa = unsigned.Find(origin, RecordType.Soa) ?? throw new InvalidOperationException($"zone {origin} has no SOA");
        var removals = unsigned.RRsets.Where(s => SignerOwnedTypes.Contains(s.Type)).Select(s => (s.Owner, s.Type)).ToList();
        var zone = unsigned.WithChanges([], removals);

        zone = zone.With(DnsKeyRRset(keys, policy, soa));
        if (policy.Nsec3 is { } nsec3)
            zone = zone.With(Nsec3ParamRRset(origin, nsec3, soa));
        if (policy.ZoneMdAlgorithms.Count > 0)
            zone = zone.With(ZoneMd.Placeholder(zone, policy.ZoneMdAlgorithms.Distinct()));

        var chain = policy.Nsec3 is { } settings ? DenialOfExistence.BuildNsec3(zone, settings) : DenialOfExistence.BuildNsec(zone);
        return zone.WithChanges(chain, []);
    }

    /// <summary>The DNSKEY RRset the keys publish (TTL: the policy's, else the SOA's).</summary>
    public static RRset DnsKeyRRset(ZoneKeys keys, SigningPolicy policy, RRset soa)
    {
        int ttl = policy.DnsKeyTtl ?? soa.Ttl;
        return RRset.Create(keys.Keys.Select(k => RRset.WithTtl(k.DnsKey, ttl)), ttl);
    }

    /// <summary>The NSEC3PARAM RRset for <paramref name="settings"/> (TTL: the SOA's).</summary>
    public static RRset Nsec3ParamRRset(DomainName origin, Nsec3Settings settings, RRset soa) =>
        RRset.Create([DenialOfExistence.Nsec3ParamRecord(origin, settings, soa.Ttl)]);

    /// <summary>Every RRset that carries signatures, with whether its owner is a delegation point.</summary>
    public static IEnumerable<(RRset Set, bool AtDelegation)> SignableRRsets(Zone zone)
    {
        foreach (var (name, node, delegation) in DenialOfExistence.AuthoritativeNames(zone))
            foreach (var (type, set) in node)
                if (DenialOfExistence.IsSigned(type, delegation)) yield return (set, delegation);
        // NSEC3 records live at hashed names that are not in the authoritative name list (they are not data names).
        foreach (var (name, node) in zone.Nodes)
            if (DenialOfExistence.IsNsec3Only(node)) yield return (node[RecordType.NSec3], false);
    }

    /// <summary>The signing jobs for one RRset: one per key that signs it.</summary>
    public static IEnumerable<SigningJob> JobsFor(RRset set, DomainName origin, ZoneKeys keys, SignatureSchedule schedule, DateTimeOffset now)
    {
        bool apex = CanonicalNameComparer.Instance.Equals(set.Owner, origin);
        var (inception, expiration) = schedule.TimesFor(set.Owner, set.Type, now);
        foreach (var key in keys.SignersFor(set.Type, apex))
        {
            var header = Rrsig.RDataWithoutSignature(set.Type, key.Algorithm, Rrsig.LabelCount(set.Owner), (uint)set.Ttl,
                expiration, inception, key.KeyTag, origin);
            yield return new SigningJob(set, key, header);
        }
    }

    /// <summary>
    /// Sends the jobs to their signers in batches (several batches in flight), checks every signature against the
    /// key's public key, and returns the RRSIG records. Throws, publishing nothing, if any signature is bad.
    /// </summary>
    public static async Task<IReadOnlyList<DnsRecordBase>> SignJobsAsync(IReadOnlyList<SigningJob> jobs, int batchSize,
        IProgress<SigningProgress>? progress, CancellationToken cancellationToken)
    {
        var results = new DnsRecordBase[jobs.Count];
        int done = 0;
        var batches = new List<(ISigner Key, int[] Indexes)>();
        foreach (var group in Enumerable.Range(0, jobs.Count).GroupBy(i => jobs[i].Key))
            foreach (var chunk in group.Chunk(Math.Max(1, batchSize)))
                batches.Add((group.Key, chunk));
        // One imported public key per signer: importing it per signature cost more than the check itself.
        var verifiers = jobs.Select(j => j.Key).Distinct().ToDictionary(k => k, k => SignatureCheck.For(k.Algorithm, k.DnsKey.PublicKey));
        try
        {
            await Parallel.ForEachAsync(batches, new ParallelOptions { CancellationToken = cancellationToken, MaxDegreeOfParallelism = Math.Max(2, Environment.ProcessorCount) },
                async (batch, ct) =>
                {
                    var inputs = batch.Indexes.Select(i => jobs[i].Input()).ToArray();
                    var signatures = await batch.Key.SignAsync(inputs.Select(i => (ReadOnlyMemory<byte>)i).ToList(), ct);
                    if (signatures.Count != inputs.Length)
                        throw new SignatureVerificationException($"signer {batch.Key.KeyTag} returned {signatures.Count} signatures for {inputs.Length} inputs");
                    var verifier = verifiers[batch.Key];
                    for (int k = 0; k < batch.Indexes.Length; k++)
                    {
                        var job = jobs[batch.Indexes[k]];
                        if (!verifier.Verify(inputs[k], signatures[k]))
                            throw new SignatureVerificationException($"signature over {job.Set.Owner} {job.Set.Type} by key {job.Key.KeyTag} does not verify; nothing was published");
                        results[batch.Indexes[k]] = Rrsig.Build(job.Set, job.Header, signatures[k]);
                    }
                    int total = Interlocked.Add(ref done, batch.Indexes.Length);
                    progress?.Report(new SigningProgress(total, jobs.Count));
                });
        }
        finally
        {
            foreach (var verifier in verifiers.Values) verifier.Dispose();
        }
        return results;
    }

    /// <summary>Adds RRSIG records to the RRSIG set of their owner, replacing earlier signatures of the same type and key.</summary>
    public static Zone AddSignatures(Zone zone, IReadOnlyList<DnsRecordBase> rrsigs)
    {
        var upserts = new List<RRset>();
        foreach (var group in rrsigs.GroupBy(r => r.Name, CanonicalNameComparer.Instance))
        {
            var current = zone.Find(group.Key, RecordType.RrSig);
            if (current is null)
            {
                upserts.Add(RRset.Create(group));
                continue;
            }
            var fresh = group.Select(r => (Record: r, Fields: RrsigFields.Of(r))).ToList();
            var replaced = fresh.Select(f => (f.Fields.TypeCovered, f.Fields.KeyTag, f.Fields.Algorithm)).ToHashSet();
            var existing = current.Records
                .Where(r => { var f = RrsigFields.Of(r); return !replaced.Contains((f.TypeCovered, f.KeyTag, f.Algorithm)); });
            upserts.Add(RRset.Create(existing.Concat(fresh.Select(f => f.Record))));
        }
        return zone.WithChanges(upserts, []);
    }
}
