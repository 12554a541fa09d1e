using System.Security.Cryptography;
using ARSoft.Tools.Net.Dns;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Crypto.Signers;

namespace InlineSigner.Dnssec.Keys;

/// <summary>Verifies one DNSSEC signature against a DNSKEY's public key; used by the verifier and to check every
/// signature an <see cref="ISigner"/> returns before it is published.</summary>
public static class SignatureCheck
{
    /// <summary>A verifier with the public key imported once, for checking many signatures by the same key.</summary>
    public static PublicKeyVerifier For(DnsSecAlgorithm algorithm, ReadOnlySpan<byte> publicKey) => new(algorithm, publicKey.ToArray());

    public static bool Verify(DnsSecAlgorithm algorithm, ReadOnlySpan<byte> publicKey, ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature)
    {
        try
        {
            switch (algorithm)
            {
                case DnsSecAlgorithm.RsaSha256:
                case DnsSecAlgorithm.RsaSha512:
                {
                    using var rsa = RSA.Create(RsaPublicKey.Decode(publicKey));
                    return rsa.VerifyData(data, signature, DnssecAlgorithms.Hash(algorithm), RSASignaturePadding.Pkcs1);
                }
                case DnsSecAlgorithm.EcDsaP256Sha256:
                case DnsSecAlgorithm.EcDsaP384Sha384:
                {
                    int size = algorithm == DnsSecAlgorithm.EcDsaP256Sha256 ? 32 : 48;
                    if (publicKey.Length != 2 * size || signature.Length != 2 * size) return false;
                    using var ecdsa = ECDsa.Create(new ECParameters
                    {
                        Curve = size == 32 ? ECCurve.NamedCurves.nistP256 : ECCurve.NamedCurves.nistP384,
                        Q = new ECPoint { X = publicKey[..size].ToArray(), Y = publicKey[size..].ToArray() },
                    });
                    return ecdsa.VerifyData(data, signature, DnssecAlgorithms.Hash(algorithm), DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
                }
                case DnsSecAlgorithm.Ed25519:
                {
                    if (publicKey.Length != 32 || signature.Length != 64) return false;
                    var verifier = new Ed25519Signer();
                    verifier.Init(false, new Ed25519PublicKeyParameters(publicKey.ToArray(), 0));
                    var bytes = data.ToArray();
                    verifier.BlockUpdate(bytes, 0, bytes.Length);
                    return verifier.VerifySignature(signature.ToArray());
                }
                default:
                    return false;
            }
        }
        catch (Exception e) when (e is CryptographicException or FormatException or ArgumentException)
        {
            return false;
        }
    }
}

/// <summary>One imported public key. Thread-safe: System.Security.Cryptography keys may verify concurrently.</summary>
public sealed class PublicKeyVerifier : IDisposable
{
    private readonly DnsSecAlgorithm _algorithm;
    private readonly byte[] _publicKey;
    private readonly RSA? _rsa;
    private readonly ECDsa? _ecdsa;

    internal PublicKeyVerifier(DnsSecAlgorithm algorithm, byte[] publicKey)
    {
        _algorithm = algorithm;
        _publicKey = publicKey;
        try
        {
            switch (algorithm)
            {
                case DnsSecAlgorithm.RsaSha256:
                case DnsSecAlgorithm.RsaSha512:
                    _rsa = RSA.Create(RsaPublicKey.Decode(publicKey));
                    break;
                case DnsSecAlgorithm.EcDsaP256Sha256 when publicKey.Length == 64:
                case DnsSecAlgorithm.EcDsaP384Sha384 when publicKey.Length == 96:
                {
                    int size = publicKey.Length / 2;
                    _ecdsa = ECDsa.Create(new ECParameters
                    {
                        Curve = size == 32 ? ECCurve.NamedCurves.nistP256 : ECCurve.NamedCurves.nistP384,
                        Q = new ECPoint { X = publicKey[..size], Y = publicKey[size..] },
                    });
                    break;
                }
            }
        }
        catch (Exception e) when (e is CryptographicException or FormatException)
        {
            _rsa = null;
            _ecdsa = null;
        }
    }

    public bool Verify(ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature)
    {
        try
        {
            if (_rsa is not null) return _rsa.VerifyData(data, signature, DnssecAlgorithms.Hash(_algorithm), RSASignaturePadding.Pkcs1);
            if (_ecdsa is not null)
                return signature.Length == _publicKey.Length &&
                       _ecdsa.VerifyData(data, signature, DnssecAlgorithms.Hash(_algorithm), DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
            return _algorithm == DnsSecAlgorithm.Ed25519 && SignatureCheck.Verify(_algorithm, _publicKey, data, signature);
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    public void Dispose()
    {
        _rsa?.Dispose();
        _ecdsa?.Dispose();
    }
}
