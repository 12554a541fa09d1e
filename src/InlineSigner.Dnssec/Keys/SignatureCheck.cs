using System.Security.Cryptography;
using ARSoft.Tools.Net.Dns;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Crypto.Signers;

namespace InlineSigner.Dnssec.Keys;

/// <summary>Verifies one DNSSEC signature against a DNSKEY's public key; used by the verifier and to check every
/// signature an <see cref="ISigner"/> returns before it is published.</summary>
public static class SignatureCheck
{
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
