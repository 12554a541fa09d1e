using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Dnssec;
using InlineSigner.Threshold.Frost;

namespace InlineSigner.Cluster;

/// <summary>
/// A FROST(Ed25519) key (DNSSEC algorithm 15) whose participants all live in this process: round one (fresh nonces
/// and commitments from t participants), round two (their signature shares), aggregation with every share verified.
/// The reference for the networked cluster and the way tests wire FROST signatures into zones.
/// </summary>
public sealed class InProcessFrostSigner : ISigner
{
    private readonly FrostPublicKey _publicKey;
    private readonly IReadOnlyList<FrostKeyShare> _shares;

    public InProcessFrostSigner(DomainName zone, bool ksk, FrostPublicKey publicKey, IReadOnlyList<FrostKeyShare> shares, int ttl = 3600)
    {
        if (shares.Count < publicKey.Threshold) throw new ArgumentException($"{shares.Count} shares given, {publicKey.Threshold} needed");
        _publicKey = publicKey;
        _shares = shares;
        var flags = ksk ? DnsKeyFlags.Zone | DnsKeyFlags.SecureEntryPoint : DnsKeyFlags.Zone;
        DnsKey = new DnsKeyRecord(zone, RecordClass.INet, ttl, flags, 3, DnsSecAlgorithm.Ed25519, publicKey.DnsKeyPublicKey(), null);
        KeyTag = DnsKey.CalculateKeyTag();
    }

    public DnsKeyRecord DnsKey { get; }
    public DnsSecAlgorithm Algorithm => DnsSecAlgorithm.Ed25519;
    public ushort KeyTag { get; }

    public Task<IReadOnlyList<byte[]>> SignAsync(IReadOnlyList<ReadOnlyMemory<byte>> signingInputs, CancellationToken cancellationToken)
    {
        var signatures = new byte[signingInputs.Count][];
        Parallel.For(0, signingInputs.Count, new ParallelOptions { CancellationToken = cancellationToken }, i =>
            signatures[i] = Sign(signingInputs[i].ToArray()));
        return Task.FromResult<IReadOnlyList<byte[]>>(signatures);
    }

    private byte[] Sign(byte[] message)
    {
        var signers = _shares.Take(_publicKey.Threshold).ToList();
        var nonces = signers.Select(FrostEd25519.Commit).ToList();
        try
        {
            var commitments = nonces.Select(n => n.Commitment).ToList();
            // Each participant derives the signing package itself (as a node does) and reports its R with its share;
            // the coordinator adds the shares and verifies, deriving the package itself only if that fails.
            var shares = new Dictionary<int, byte[]>();
            byte[]? groupCommitment = null;
            bool agree = true;
            for (int k = 0; k < signers.Count; k++)
            {
                var package = FrostEd25519.Prepare(message, commitments, _publicKey, nonces[k]);
                shares[signers[k].Identifier] = FrostEd25519.Sign(signers[k], nonces[k], package);
                agree &= groupCommitment is null || groupCommitment.AsSpan().SequenceEqual(package.GroupCommitment);
                groupCommitment = package.GroupCommitment;
            }
            if (agree && FrostEd25519.CombineVerified(groupCommitment, shares.Values, message, _publicKey) is { } signature) return signature;
            return FrostEd25519.Aggregate(FrostEd25519.Prepare(message, commitments, _publicKey), shares, _publicKey, verifyEachShare: false);
        }
        finally
        {
            foreach (var nonce in nonces) nonce.Dispose();
        }
    }
}
