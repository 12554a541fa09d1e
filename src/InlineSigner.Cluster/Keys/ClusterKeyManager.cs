using System.Security.Cryptography;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Cluster.Client;
using InlineSigner.Cluster.Protocol;
using InlineSigner.Dnssec.Keys;
using InlineSigner.Threshold.Frost;
using InlineSigner.Threshold.Rsa;
using InlineSigner.Zones;
using InlineSigner.Zones.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace InlineSigner.Cluster.Keys;

/// <summary>Key generation, distribution or distributed generation failed; nothing usable was left behind (partial shares were deleted).</summary>
public sealed class ClusterKeyException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>One key as the cluster holds it now: which nodes have its share, which do not, and what went wrong asking.</summary>
public sealed record ClusterKeyStatus(
    string KeyId,
    KeyScheme Scheme,
    ClusterKeyRecord? Record,
    IReadOnlyList<int> HeldBy,
    IReadOnlyList<int> MissingOn,
    IReadOnlyList<int> MismatchedOn)
{
    /// <summary>Held by fewer than all n nodes (or held with a different public key somewhere): worth a warning.</summary>
    public bool Degraded(int parties) => HeldBy.Count < parties || MismatchedOn.Count > 0;
}

/// <summary>What <see cref="ClusterKeyManager.ListAsync"/> found: every key any node or the key store knows, and unreachable nodes.</summary>
public sealed record ClusterKeyListing(IReadOnlyList<ClusterKeyStatus> Keys, IReadOnlyDictionary<int, string> UnreachableNodes, int Parties, int Threshold);

/// <summary>A key's public parts ready to publish: the DNSKEY, and the DS (SHA-256) of a KSK, as records and as text.</summary>
public sealed record ClusterKeyExport(ClusterKeyRecord Record, DnsKeyRecord DnsKey, DnsRecordBase? Ds)
{
    public string DnsKeyText => MasterFileWriter.FormatRecord(DnsKey);
    public string? DsText => Ds is null ? null : MasterFileWriter.FormatRecord(Ds);
}

/// <summary>
/// The library behind `inline-signer keys …` with a cluster: generates keys into the cluster (threshold RSA with a
/// dealer that erases the key once the shares are out; Ed25519 by distributed key generation, no dealer), lists what
/// the nodes hold, deletes, and exports public keys. Public metadata goes to the client key store beside cluster.json.
/// </summary>
public sealed class ClusterKeyManager(ClusterClient client, ILogger? logger = null)
{
    private readonly ILogger _logger = logger ?? NullLogger.Instance;

    public ClientKeyStore KeyStore { get; } = new(client.Config.KeyStorePath);

    private int Parties => client.Config.Nodes.Count;

    /// <summary>
    /// Generates a threshold RSA key (algorithm 8 or 10) of <paramref name="bits"/> bits: safe primes, shares dealt t of
    /// n, each share sent to its node, then every secret erased here. Safe-prime search takes a while (progress reported).
    /// </summary>
    public async Task<ClusterKeyRecord> GenerateRsaAsync(string zone, DnsSecAlgorithm algorithm, int bits, bool ksk, IProgress<string>? progress, CancellationToken cancellationToken)
    {
        CheckRsaAlgorithm(algorithm);
        var (publicKey, shares) = await Task.Run(() => ThresholdRsaDealer.Deal(bits, client.Threshold, Parties, progress, cancellationToken), cancellationToken);
        return await DistributeRsaAsync(zone, algorithm, ksk, publicKey, shares, progress, cancellationToken);
    }

    /// <summary>
    /// Sends an already dealt threshold RSA key to the nodes (migration, or test keys dealt from fixture primes) and
    /// disposes the shares. The key must be t of n for this cluster.
    /// </summary>
    public async Task<ClusterKeyRecord> DistributeRsaAsync(string zone, DnsSecAlgorithm algorithm, bool ksk, ThresholdRsaPublicKey publicKey,
        IReadOnlyList<RsaKeyShare> shares, IProgress<string>? progress, CancellationToken cancellationToken)
    {
        try
        {
            CheckRsaAlgorithm(algorithm);
            if (publicKey.Threshold != client.Threshold || publicKey.Parties != Parties || shares.Count != Parties)
                throw new ClusterKeyException($"the key is {publicKey.Threshold} of {publicKey.Parties} with {shares.Count} shares; the cluster is {client.Threshold} of {Parties}");
            var origin = ParseZone(zone);
            var keyId = NewKeyId(origin, algorithm, ksk);
            var encodedPublic = publicKey.Encode();
            progress?.Report($"sending {Parties} shares of {keyId}");
            var results = await Task.WhenAll(shares.Select(async share =>
            {
                var encoded = share.Encode();
                try
                {
                    await client.StoreShareAsync(share.Index, new StoreShareRequest(keyId, KeyScheme.ShoupRsa, false, encodedPublic, encoded), cancellationToken);
                    return (share.Index, (string?)null);
                }
                catch (Exception e) when (e is NodeErrorException or NodeUnavailableException or TimeoutException)
                {
                    return (share.Index, ClusterClient.Reason(e));
                }
                finally
                {
                    CryptographicOperations.ZeroMemory(encoded);
                }
            }));
            await RequireStoredAsync(keyId, results, cancellationToken);
            var record = Record(keyId, origin, algorithm, ksk, KeyScheme.ShoupRsa, publicKey.DnsKeyPublicKey(), encodedPublic);
            KeyStore.Add(record);
            return record;
        }
        finally
        {
            foreach (var share in shares) share.Dispose();
        }
    }

    /// <summary>
    /// Generates an Ed25519 key (algorithm 15) by Pedersen DKG among all n nodes: the client only relays round-1
    /// broadcasts and the nodes' shares, which are boxed node-to-node with their CURVE keys, so no party — the client
    /// included — ever holds the group secret. Every node must take part; every node must end with the same public key.
    /// </summary>
    public async Task<ClusterKeyRecord> GenerateEd25519Async(string zone, bool ksk, IProgress<string>? progress, CancellationToken cancellationToken)
    {
        var origin = ParseZone(zone);
        var keyId = NewKeyId(origin, DnsSecAlgorithm.Ed25519, ksk);
        var session = RandomNumberGenerator.GetBytes(DkgStartRequest.SessionBytes);
        var nodes = client.Config.Nodes.Select(n => n.Id).Order().ToList();
        var timeout = TimeSpan.FromMilliseconds(client.Config.File.RequestTimeoutMs);
        try
        {
            progress?.Report($"DKG {keyId}: round 1 on {nodes.Count} nodes");
            var start = new DkgStartRequest(keyId, session, client.Threshold, Parties, client.Config.NodeCurveKeys).Encode();
            var round1 = await AllOrFailAsync(nodes, n => client.RequestAsync(n, MessageType.DkgStart, start, timeout, 0, cancellationToken), "DKG round 1");
            var packages = nodes.Select(n => DkgCodec.DecodeRound1(round1[n])).ToList();
            foreach (var (node, package) in nodes.Zip(packages))
                if (package.Sender != node) throw new ClusterKeyException($"DKG: node {node} answered as participant {package.Sender}");

            progress?.Report($"DKG {keyId}: relaying boxed shares");
            var sharesRequest = new DkgSharesRequest(keyId, session, packages).Encode();
            var boxed = await AllOrFailAsync(nodes, n => client.RequestAsync(n, MessageType.DkgShares, sharesRequest, timeout, 0, cancellationToken), "DKG round 2");
            var boxesFrom = nodes.ToDictionary(n => n, n => DkgCodec.DecodeBoxes(boxed[n]));

            var finished = await AllOrFailAsync(nodes, n =>
            {
                var forNode = nodes.Where(s => s != n && boxesFrom[s].ContainsKey(n)).ToDictionary(s => s, s => boxesFrom[s][n]);
                return client.RequestAsync(n, MessageType.DkgFinish, new DkgFinishRequest(keyId, session, forNode).Encode(), timeout, 0, cancellationToken);
            }, "DKG finish");
            var first = finished[nodes[0]];
            var disagreeing = nodes.Where(n => !finished[n].AsSpan().SequenceEqual(first)).ToList();
            if (disagreeing.Count > 0) throw new ClusterKeyException($"DKG: nodes [{string.Join(", ", disagreeing)}] ended with a different group key than node {nodes[0]}");
            var publicKey = FrostKeyCodec.DecodePublicKey(first);
            if (publicKey.Threshold != client.Threshold || publicKey.VerificationShares.Count != Parties)
                throw new ClusterKeyException($"DKG produced a {publicKey.Threshold}-of-{publicKey.VerificationShares.Count} key");
            var record = Record(keyId, origin, DnsSecAlgorithm.Ed25519, ksk, KeyScheme.FrostEd25519, publicKey.DnsKeyPublicKey(), first);
            KeyStore.Add(record);
            progress?.Report($"DKG {keyId}: done");
            return record;
        }
        catch (Exception e) when (e is ClusterKeyException or FormatException)
        {
            // Some nodes may have finished and stored their share: remove them, a key not everywhere is no key.
            await client.DeleteAllAsync(keyId, CancellationToken.None);
            throw e as ClusterKeyException ?? new ClusterKeyException($"DKG failed: {e.Message}", e);
        }
    }

    private async Task<Dictionary<int, byte[]>> AllOrFailAsync(IReadOnlyList<int> nodes, Func<int, Task<byte[]>> request, string step)
    {
        var tasks = nodes.ToDictionary(n => n, request);
        try { await Task.WhenAll(tasks.Values); }
        catch (Exception) { /* examined per node below */ }
        var failures = tasks.Where(t => !t.Value.IsCompletedSuccessfully)
            .Select(t => $"node {t.Key}: {(t.Value.Exception?.InnerException is { } e ? ClusterClient.Reason(e) : "cancelled")}").ToList();
        if (failures.Count > 0) throw new ClusterKeyException($"{step} failed (every node must take part): {string.Join("; ", failures)}");
        return tasks.ToDictionary(t => t.Key, t => t.Value.Result);
    }

    /// <summary>Every key that any node or the key store knows, with who holds it; flags keys held by fewer than n nodes.</summary>
    public async Task<ClusterKeyListing> ListAsync(CancellationToken cancellationToken)
    {
        var records = KeyStore.Load().ToDictionary(r => r.KeyId);
        var answers = await client.ListAllAsync(cancellationToken);
        var unreachable = answers.Where(a => !a.Ok).ToDictionary(a => a.NodeId, a => a.Error!);
        var held = new Dictionary<string, List<(int Node, HeldKeyInfo Info)>>();
        foreach (var answer in answers.Where(a => a.Ok))
            foreach (var info in answer.Value!)
                (held.TryGetValue(info.KeyId, out var list) ? list : held[info.KeyId] = []).Add((answer.NodeId, info));
        var keys = held.Keys.Union(records.Keys).Order(StringComparer.Ordinal).Select(keyId =>
        {
            records.TryGetValue(keyId, out var record);
            var holders = held.GetValueOrDefault(keyId) ?? [];
            var expected = record is null ? holders.FirstOrDefault().Info?.PublicKey : Convert.FromBase64String(record.ThresholdPublicKey);
            var mismatched = holders.Where(h => expected is not null && !h.Info.PublicKey.AsSpan().SequenceEqual(expected)).Select(h => h.Node).Order().ToList();
            var heldBy = holders.Select(h => h.Node).Order().ToList();
            var missing = client.Config.Nodes.Select(n => n.Id).Where(n => !heldBy.Contains(n) && !unreachable.ContainsKey(n)).Order().ToList();
            var scheme = record?.Scheme ?? holders[0].Info.Scheme;
            return new ClusterKeyStatus(keyId, scheme, record, heldBy, missing, mismatched);
        }).ToList();
        return new ClusterKeyListing(keys, unreachable, Parties, client.Threshold);
    }

    /// <summary>Deletes the key's share on every node and its record in the key store. Returns each node's outcome.</summary>
    public async Task<IReadOnlyList<NodeResult<bool>>> DeleteAsync(string keyId, CancellationToken cancellationToken)
    {
        if (!ProtocolLimits.IsValidKeyId(keyId)) throw new ArgumentException($"'{keyId}' is not a key id");
        var results = await client.DeleteAllAsync(keyId, cancellationToken);
        KeyStore.Remove(keyId);
        return results;
    }

    /// <summary>The DNSKEY (and for a KSK the SHA-256 DS) of a recorded key.</summary>
    public ClusterKeyExport ExportPublic(string keyId, int ttl = 3600)
    {
        var record = KeyStore.Find(keyId) ?? throw new ClusterKeyException($"key {keyId} is not in the key store {KeyStore.Path}");
        var dnsKey = record.ToDnsKey(ttl);
        return new ClusterKeyExport(record, dnsKey, record.IsKsk ? DelegationSigner.FromKey(dnsKey, 2) : null);
    }

    /// <summary>A signer for a recorded key, for the signing engine.</summary>
    public ClusterSigner Signer(string keyId, int ttl = 3600) =>
        new(client, KeyStore.Find(keyId) ?? throw new ClusterKeyException($"key {keyId} is not in the key store {KeyStore.Path}"), ttl);

    /// <summary>Signers for every recorded key of a zone (KSK and ZSK alike; the engine picks by flags).</summary>
    public IReadOnlyList<ClusterSigner> SignersForZone(string zone, int ttl = 3600) =>
        KeyStore.ForZone(zone).Select(r => new ClusterSigner(client, r, ttl)).ToList();

    private async Task RequireStoredAsync(string keyId, IReadOnlyList<(int Node, string? Error)> results, CancellationToken cancellationToken)
    {
        var failed = results.Where(r => r.Error is not null).ToList();
        if (failed.Count == 0) return;
        var description = string.Join("; ", failed.Select(f => $"node {f.Node}: {f.Error}"));
        if (results.Count - failed.Count < client.Threshold)
        {
            await client.DeleteAllAsync(keyId, CancellationToken.None);
            throw new ClusterKeyException($"key {keyId}: only {results.Count - failed.Count} nodes stored their share, {client.Threshold} are needed; the shares were deleted again ({description})");
        }
        _logger.LogWarning("key {KeyId}: {Count} node(s) did not store their share and cannot help sign it: {Failures}", keyId, failed.Count, description);
    }

    private ClusterKeyRecord Record(string keyId, DomainName origin, DnsSecAlgorithm algorithm, bool ksk, KeyScheme scheme, byte[] dnsKeyPublic, byte[] thresholdPublic)
    {
        int flags = ksk ? 257 : 256;
        var dnsKey = new DnsKeyRecord(origin, RecordClass.INet, 3600, (DnsKeyFlags)flags, 3, algorithm, dnsKeyPublic, null);
        return new ClusterKeyRecord
        {
            KeyId = keyId,
            Zone = PresentationFormat.FormatName(origin),
            Algorithm = (int)algorithm,
            Flags = flags,
            KeyTag = dnsKey.CalculateKeyTag(),
            Scheme = scheme,
            Threshold = client.Threshold,
            Parties = Parties,
            PublicKey = Convert.ToBase64String(dnsKeyPublic),
            ThresholdPublicKey = Convert.ToBase64String(thresholdPublic),
            Created = DateTimeOffset.UtcNow,
        };
    }

    private static void CheckRsaAlgorithm(DnsSecAlgorithm algorithm)
    {
        if (algorithm is not (DnsSecAlgorithm.RsaSha256 or DnsSecAlgorithm.RsaSha512))
            throw new ArgumentException($"threshold RSA signs algorithms 8 (RSASHA256) and 10 (RSASHA512), not {algorithm}");
    }

    private static DomainName ParseZone(string zone)
    {
        try { return PresentationFormat.ParseName(zone.EndsWith('.') ? zone : zone + ".", null); }
        catch (FormatException e) { throw new ArgumentException($"zone '{zone}': {e.Message}"); }
    }

    /// <summary>zone-algorithm-role-random: readable, unique, and a valid key id whatever the zone name.</summary>
    private static string NewKeyId(DomainName origin, DnsSecAlgorithm algorithm, bool ksk)
    {
        var zone = PresentationFormat.FormatName(origin).TrimEnd('.');
        var cleaned = new string(zone.Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' ? char.ToLowerInvariant(c) : '_').ToArray());
        if (cleaned.Length == 0) cleaned = "root";
        if (cleaned.Length > 36) cleaned = cleaned[..36];
        if (!char.IsAsciiLetterOrDigit(cleaned[0])) cleaned = "z" + cleaned;
        return $"{cleaned}-{DnssecAlgorithms.Mnemonic(algorithm).ToLowerInvariant()}-{(ksk ? "ksk" : "zsk")}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}";
    }
}
