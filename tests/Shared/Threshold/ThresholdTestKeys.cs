using InlineSigner.Threshold.OpenSsl;
using InlineSigner.Threshold.Rsa;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Crypto.Signers;

namespace InlineSigner.Tests.Shared;

/// <summary>
/// Test keys for the threshold schemes, shared by the test projects that use them (linked in explicitly, since not
/// every test project references the threshold library). RSA keys are dealt from pre-generated safe primes in
/// tests/InlineSigner.Threshold.Tests/Fixtures so that no test waits for a safe-prime search.
/// </summary>
public static class ThresholdTestKeys
{
    /// <summary>Deals a t-of-n key from the fixture safe primes of <paramref name="primeBits"/> bits (512, 1024, 2048).</summary>
    public static (ThresholdRsaPublicKey PublicKey, IReadOnlyList<RsaKeyShare> Shares) DealRsa(int primeBits, int t, int n)
    {
        var path = Path.Combine(RepositoryPaths.Root, "tests", "InlineSigner.Threshold.Tests", "Fixtures", $"safeprimes-{primeBits}.txt");
        var lines = File.ReadAllLines(path).Where(l => l.Length > 0).ToArray();
        using var p = BigNum.FromBytes(Convert.FromHexString(lines[0]));
        using var q = BigNum.FromBytes(Convert.FromHexString(lines[1]));
        return ThresholdRsaDealer.DealFromPrimes(p, q, t, n);
    }

    /// <summary>RFC 8032 verification by BouncyCastle: an implementation independent of the libsodium code under test.</summary>
    public static bool Ed25519Verify(byte[] publicKey, byte[] message, byte[] signature)
    {
        var verifier = new Ed25519Signer();
        verifier.Init(false, new Ed25519PublicKeyParameters(publicKey, 0));
        verifier.BlockUpdate(message, 0, message.Length);
        return verifier.VerifySignature(signature);
    }
}
