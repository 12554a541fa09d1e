using System.Security.Cryptography;
using InlineSigner.Cluster.Protocol;
using InlineSigner.Threshold;
using InlineSigner.Threshold.Frost;
using InlineSigner.Threshold.Rsa;

namespace InlineSigner.Cluster.Keys;

/// <summary>
/// Where a <see cref="KeyScheme"/> meets its implementation of the threshold shape (InlineSigner.Threshold's
/// <see cref="IThresholdCoordinator"/> and <see cref="IShareHolder"/>). The client and the node drive every scheme
/// through those interfaces; a new scheme is its implementation, a <see cref="KeyScheme"/> value and a case here.
/// </summary>
public static class ThresholdSchemes
{
    /// <summary>The coordinator for a key, from its recorded threshold public key (scheme encoding) and DNSSEC algorithm.</summary>
    /// <exception cref="ArgumentException">the scheme cannot sign that algorithm.</exception>
    /// <exception cref="FormatException">the public key does not decode.</exception>
    public static IThresholdCoordinator Coordinator(KeyScheme scheme, int algorithm, ReadOnlySpan<byte> thresholdPublicKey) => scheme switch
    {
        KeyScheme.ShoupRsa => new ShoupRsaCoordinator(new ShoupRsaKey(ThresholdRsaPublicKey.Decode(thresholdPublicKey), checked((byte)algorithm))),
        KeyScheme.FrostEd25519 when algorithm == FrostKey.DnsSecAlgorithm => new FrostCoordinator(new FrostKey(FrostKeyCodec.DecodePublicKey(thresholdPublicKey))),
        KeyScheme.FrostEd25519 => throw new ArgumentException($"FROST(Ed25519) signs DNSSEC algorithm 15, not {algorithm}"),
        _ => throw new ArgumentException($"unknown key scheme {scheme}"),
    };

    /// <summary>
    /// The share holder for a stored share: public key and share in the scheme's encodings, and the secret seed and
    /// durable next number of its single-use material (FROST nonces; unused by RSA).
    /// </summary>
    /// <exception cref="FormatException">the public key or share does not decode.</exception>
    /// <exception cref="ArgumentException">they do not fit together.</exception>
    public static IShareHolder Holder(KeyScheme scheme, ReadOnlySpan<byte> publicKey, ReadOnlySpan<byte> share, ReadOnlySpan<byte> nonceSeed, ulong nextNonce)
    {
        switch (scheme)
        {
            case KeyScheme.ShoupRsa:
            {
                var key = ThresholdRsaPublicKey.Decode(publicKey);
                using var decoded = RsaKeyShare.Decode(share);
                return new ShoupRsaHolder(key, decoded);
            }
            case KeyScheme.FrostEd25519:
            {
                var key = FrostKeyCodec.DecodePublicKey(publicKey);
                if (nonceSeed.Length != 32) throw new ArgumentException("nonce seed missing");
                var decoded = FrostKeyCodec.DecodeShare(share);
                try
                {
                    return new FrostShareHolder(key, decoded, nonceSeed, nextNonce);
                }
                catch
                {
                    decoded.Dispose();
                    throw;
                }
            }
            default:
                throw new ProtocolFormatException($"unknown scheme {scheme}");
        }
    }

    /// <summary>The scheme's name in log lines and errors ("FROST signing with key …").</summary>
    public static string Name(KeyScheme scheme) => scheme switch
    {
        KeyScheme.ShoupRsa => "threshold RSA",
        KeyScheme.FrostEd25519 => "FROST",
        _ => scheme.ToString(),
    };

    /// <summary>Whether the key's scheme uses single-use material that needs a nonce seed.</summary>
    public static bool NeedsNonceSeed(KeyScheme scheme) => scheme == KeyScheme.FrostEd25519;

    /// <summary>A fresh nonce seed for a new share of <paramref name="scheme"/> (empty when it needs none).</summary>
    internal static byte[] NewNonceSeed(KeyScheme scheme) => NeedsNonceSeed(scheme) ? RandomNumberGenerator.GetBytes(32) : [];
}
