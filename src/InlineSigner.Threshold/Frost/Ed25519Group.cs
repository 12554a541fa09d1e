using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace InlineSigner.Threshold.Frost;

/// <summary>libsodium's edwards25519 group and scalar operations (the `libsodium` NuGet package ships the library).</summary>
internal static partial class Sodium
{
    private const string Library = "libsodium";

    [LibraryImport(Library)] internal static partial int sodium_init();
    [LibraryImport(Library)] internal static unsafe partial int crypto_core_ed25519_is_valid_point(byte* p);
    [LibraryImport(Library)] internal static unsafe partial int crypto_core_ed25519_add(byte* r, byte* p, byte* q);
    [LibraryImport(Library)] internal static unsafe partial int crypto_core_ed25519_sub(byte* r, byte* p, byte* q);
    [LibraryImport(Library)] internal static unsafe partial int crypto_scalarmult_ed25519_base_noclamp(byte* q, byte* n);
    [LibraryImport(Library)] internal static unsafe partial int crypto_scalarmult_ed25519_noclamp(byte* q, byte* n, byte* p);
    [LibraryImport(Library)] internal static unsafe partial void crypto_core_ed25519_scalar_reduce(byte* r, byte* s);
    [LibraryImport(Library)] internal static unsafe partial void crypto_core_ed25519_scalar_add(byte* z, byte* x, byte* y);
    [LibraryImport(Library)] internal static unsafe partial void crypto_core_ed25519_scalar_sub(byte* z, byte* x, byte* y);
    [LibraryImport(Library)] internal static unsafe partial void crypto_core_ed25519_scalar_mul(byte* z, byte* x, byte* y);
    [LibraryImport(Library)] internal static unsafe partial void crypto_core_ed25519_scalar_random(byte* r);
    [LibraryImport(Library)] internal static unsafe partial int crypto_sign_verify_detached(byte* sig, byte* m, ulong mlen, byte* pk);
}

/// <summary>
/// The edwards25519 prime-order group as FROST(Ed25519, SHA-512) uses it (RFC 9591 §6.5): 32-byte little-endian
/// scalars mod L and 32-byte compressed points. Scalars are plain byte arrays the caller zeroes when secret.
/// </summary>
public static unsafe class Ed25519Group
{
    public const int ScalarSize = 32;
    public const int ElementSize = 32;

    /// <summary>The group order L = 2^252 + 27742317777372353535851937790883648493, little-endian.</summary>
    private static readonly byte[] Order = Convert.FromHexString("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010");

    /// <summary>Encoding of the identity element (0, 1).</summary>
    public static readonly IReadOnlyList<byte> Identity = [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

    static Ed25519Group()
    {
        if (Sodium.sodium_init() < 0) throw new CryptographicException("libsodium failed to initialise");
    }

    public static byte[] RandomScalar()
    {
        var r = new byte[32];
        fixed (byte* p = r) Sodium.crypto_core_ed25519_scalar_random(p);
        return r;
    }

    /// <summary>A 64-byte little-endian integer reduced mod L.</summary>
    public static byte[] Reduce64(ReadOnlySpan<byte> wide)
    {
        if (wide.Length != 64) throw new ArgumentException("reduce takes 64 bytes");
        var input = wide.ToArray();
        var r = new byte[32];
        fixed (byte* pr = r, pi = input) Sodium.crypto_core_ed25519_scalar_reduce(pr, pi);
        CryptographicOperations.ZeroMemory(input);
        return r;
    }

    public static byte[] Add(ReadOnlySpan<byte> x, ReadOnlySpan<byte> y) => Scalar2(x, y, 0);
    public static byte[] Sub(ReadOnlySpan<byte> x, ReadOnlySpan<byte> y) => Scalar2(x, y, 1);
    public static byte[] Mul(ReadOnlySpan<byte> x, ReadOnlySpan<byte> y) => Scalar2(x, y, 2);

    private static byte[] Scalar2(ReadOnlySpan<byte> x, ReadOnlySpan<byte> y, int op)
    {
        CheckScalar(x);
        CheckScalar(y);
        var z = new byte[32];
        fixed (byte* pz = z, px = x, py = y)
        {
            switch (op)
            {
                case 0: Sodium.crypto_core_ed25519_scalar_add(pz, px, py); break;
                case 1: Sodium.crypto_core_ed25519_scalar_sub(pz, px, py); break;
                default: Sodium.crypto_core_ed25519_scalar_mul(pz, px, py); break;
            }
        }
        return z;
    }

    public static byte[] ScalarFromInt(int value)
    {
        if (value < 0) throw new ArgumentOutOfRangeException(nameof(value));
        var s = new byte[32];
        BitConverter.TryWriteBytes(s, value);
        if (!BitConverter.IsLittleEndian) Array.Reverse(s, 0, 4);
        return s;
    }

    public static bool IsZero(ReadOnlySpan<byte> s) => s.IndexOfAnyExcept((byte)0) < 0;

    /// <summary>True when <paramref name="s"/> is a canonical scalar (below L).</summary>
    public static bool IsCanonicalScalar(ReadOnlySpan<byte> s)
    {
        if (s.Length != 32) return false;
        for (int i = 31; i >= 0; i--)
        {
            if (s[i] < Order[i]) return true;
            if (s[i] > Order[i]) return false;
        }
        return false; // equal to L
    }

    private static void CheckScalar(ReadOnlySpan<byte> s)
    {
        if (s.Length != 32) throw new ArgumentException("a scalar is 32 bytes");
    }

    /// <summary>[s]B. Zero gives the identity.</summary>
    public static byte[] BaseMul(ReadOnlySpan<byte> s)
    {
        CheckScalar(s);
        if (IsZero(s)) return Identity.ToArray();
        var q = new byte[32];
        fixed (byte* pq = q, ps = s)
            if (Sodium.crypto_scalarmult_ed25519_base_noclamp(pq, ps) != 0) throw new CryptographicException("scalar multiplication failed");
        return q;
    }

    /// <summary>Whether <paramref name="p"/> is the canonical encoding of the identity.</summary>
    public static bool IsIdentity(ReadOnlySpan<byte> p) => p.Length == 32 && p[0] == 1 && p[1..].IndexOfAnyExcept((byte)0) < 0;

    /// <summary>
    /// [s]P for a point P; the identity when s is zero or P is the identity. Otherwise P must be a valid element
    /// (canonical, not of small order, in the prime-order subgroup: libsodium checks, CryptographicException if not).
    /// </summary>
    public static byte[] MulPoint(ReadOnlySpan<byte> s, ReadOnlySpan<byte> point)
    {
        CheckScalar(s);
        if (point.Length != 32) throw new ArgumentException("a point is 32 bytes");
        if (IsZero(s) || IsIdentity(point)) return Identity.ToArray();
        var q = new byte[32];
        fixed (byte* pq = q, ps = s, pp = point)
        {
            // libsodium refuses an identity result; that can only happen for a zero scalar or small-order point here.
            if (Sodium.crypto_scalarmult_ed25519_noclamp(pq, ps, pp) != 0) throw new CryptographicException("point is not a valid group element");
        }
        return q;
    }

    public static byte[] AddPoints(ReadOnlySpan<byte> p, ReadOnlySpan<byte> q)
    {
        var r = new byte[32];
        fixed (byte* pr = r, pp = p, pq = q)
            if (Sodium.crypto_core_ed25519_add(pr, pp, pq) != 0) throw new CryptographicException("point addition on an invalid point");
        return r;
    }

    public static byte[] SubPoints(ReadOnlySpan<byte> p, ReadOnlySpan<byte> q)
    {
        var r = new byte[32];
        fixed (byte* pr = r, pp = p, pq = q)
            if (Sodium.crypto_core_ed25519_sub(pr, pp, pq) != 0) throw new CryptographicException("point subtraction on an invalid point");
        return r;
    }

    /// <summary>RFC 8032 Ed25519 verification (libsodium's, which also rejects non-canonical and small-order values).</summary>
    public static bool VerifySignature(ReadOnlySpan<byte> signature, ReadOnlySpan<byte> message, ReadOnlySpan<byte> publicKey)
    {
        if (signature.Length != 64 || publicKey.Length != 32) return false;
        fixed (byte* ps = signature, pm = message, pk = publicKey)
            return Sodium.crypto_sign_verify_detached(ps, pm, (ulong)message.Length, pk) == 0;
    }

    /// <summary>DeserializeElement of RFC 9591: a valid point in the prime-order subgroup, not the identity.</summary>
    public static bool IsValidElement(ReadOnlySpan<byte> p)
    {
        if (p.Length != 32) return false;
        fixed (byte* pp = p) return Sodium.crypto_core_ed25519_is_valid_point(pp) == 1;
    }
}
