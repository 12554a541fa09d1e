using System.Security.Cryptography;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Dnssec;
using InlineSigner.Dnssec.Keys;
using InlineSigner.Threshold;
using InlineSigner.Threshold.Rsa;

namespace InlineSigner.Cluster;

/// <summary>
/// A threshold RSA key whose share holders all live in this process: the reference the networked cluster is measured
/// against (bench threshold), and the way tests wire threshold signatures into zones. Each signing input is hashed and
/// PKCS#1-encoded, t holders make their shares, and the combiner checks y^e = x before the signature is returned.
/// </summary>
public sealed class InProcessThresholdRsaSigner : ISigner, IDisposable
{
    private readonly ThresholdRsaPublicKey _publicKey;
    private readonly IReadOnlyList<RsaShareHolder> _holders;

    public InProcessThresholdRsaSigner(DomainName zone, DnsSecAlgorithm algorithm, bool ksk, ThresholdRsaPublicKey publicKey,
        IReadOnlyList<RsaKeyShare> shares, int ttl = 3600)
    {
        if (algorithm is not (DnsSecAlgorithm.RsaSha256 or DnsSecAlgorithm.RsaSha512))
            throw new ArgumentException($"threshold RSA signs algorithms 8 and 10, not {algorithm}");
        if (shares.Count < publicKey.Threshold) throw new ArgumentException($"{shares.Count} shares given, {publicKey.Threshold} needed");
        _publicKey = publicKey;
        _holders = shares.Select(s => new RsaShareHolder(publicKey, s)).ToList();
        Algorithm = algorithm;
        var flags = ksk ? DnsKeyFlags.Zone | DnsKeyFlags.SecureEntryPoint : DnsKeyFlags.Zone;
        DnsKey = new DnsKeyRecord(zone, RecordClass.INet, ttl, flags, 3, algorithm, publicKey.DnsKeyPublicKey(), null);
        KeyTag = DnsKey.CalculateKeyTag();
    }

    public DnsKeyRecord DnsKey { get; }
    public DnsSecAlgorithm Algorithm { get; }
    public ushort KeyTag { get; }

    /// <summary>Share holders named as bad by the combiner since this signer was made.</summary>
    public IReadOnlyCollection<int> BadHolders => _badHolders.Keys.ToList();

    private readonly System.Collections.Concurrent.ConcurrentDictionary<int, bool> _badHolders = new();

    public Task<IReadOnlyList<byte[]>> SignAsync(IReadOnlyList<ReadOnlyMemory<byte>> signingInputs, CancellationToken cancellationToken)
    {
        var hash = DnssecAlgorithms.Hash(Algorithm);
        var signatures = new byte[signingInputs.Count][];
        // In chunks, so that each chunk's combinations share one modular inversion.
        const int chunk = 16;
        Parallel.For(0, (signingInputs.Count + chunk - 1) / chunk, new ParallelOptions { CancellationToken = cancellationToken }, c =>
        {
            int from = c * chunk, count = Math.Min(chunk, signingInputs.Count - from);
            var encoded = new byte[count][];
            var shares = new IReadOnlyList<RsaSignatureShare>[count];
            for (int i = 0; i < count; i++)
            {
                encoded[i] = Pkcs1.Encode(signingInputs[from + i].Span, hash, _publicKey.ModulusBytes);
                // Optimistic: t shares without proofs.
                shares[i] = _holders.Take(_publicKey.Threshold).Select(h => h.Sign(encoded[i], withProof: false)).ToList();
            }
            var combined = ThresholdRsaCombiner.CombineOptimistic(_publicKey, encoded, shares);
            for (int i = 0; i < count; i++) signatures[from + i] = combined[i] ?? SignWithProofs(encoded[i]);
        });
        return Task.FromResult<IReadOnlyList<byte[]>>(signatures);
    }

    /// <summary>When the optimistic combination failed: every holder's share with its proof, the liars remembered.</summary>
    private byte[] SignWithProofs(byte[] em)
    {
        var proven = _holders.Select(h => h.Sign(em, withProof: true)).ToList();
        var result = ThresholdRsaCombiner.Combine(_publicKey, em, proven);
        foreach (var bad in result.BadHolders) _badHolders[bad] = true;
        return result.Signature;
    }

    public void Dispose()
    {
        foreach (var holder in _holders) holder.Dispose();
    }
}
