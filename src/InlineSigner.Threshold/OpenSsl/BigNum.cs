using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace InlineSigner.Threshold.OpenSsl;

/// <summary>
/// OpenSSL's libcrypto big-number functions, the arithmetic under threshold RSA. Managed big integers measured
/// 8–13× slower for a 2048-bit modular exponentiation; libcrypto.so.3 is already required by .NET on Linux.
/// </summary>
internal static partial class LibCrypto
{
    private const string Library = "libcrypto.so.3";

    [LibraryImport(Library)] internal static partial IntPtr BN_new();
    [LibraryImport(Library)] internal static partial void BN_clear_free(IntPtr a);
    [LibraryImport(Library)] internal static unsafe partial IntPtr BN_bin2bn(byte* s, int len, IntPtr ret);
    [LibraryImport(Library)] internal static unsafe partial int BN_bn2binpad(BigNum a, byte* to, int tolen);
    [LibraryImport(Library)] internal static partial int BN_num_bits(BigNum a);
    [LibraryImport(Library)] internal static partial int BN_is_zero(BigNum a);
    [LibraryImport(Library)] internal static partial int BN_cmp(BigNum a, BigNum b);
    [LibraryImport(Library)] internal static partial IntPtr BN_CTX_new();
    [LibraryImport(Library)] internal static partial void BN_CTX_free(IntPtr c);
    [LibraryImport(Library)] internal static partial int BN_mod_exp(BigNum r, BigNum a, BigNum p, BigNum m, BigNumContext ctx);
    [LibraryImport(Library)] internal static partial int BN_mod_exp_mont_consttime(BigNum rr, BigNum a, BigNum p, BigNum m, BigNumContext ctx, IntPtr mont);
    [LibraryImport(Library)] internal static partial int BN_mod_mul(BigNum r, BigNum a, BigNum b, BigNum m, BigNumContext ctx);
    [LibraryImport(Library)] internal static partial int BN_mod_add(BigNum r, BigNum a, BigNum b, BigNum m, BigNumContext ctx);
    [LibraryImport(Library)] internal static partial int BN_mul(BigNum r, BigNum a, BigNum b, BigNumContext ctx);
    [LibraryImport(Library)] internal static partial int BN_add(BigNum r, BigNum a, BigNum b);
    [LibraryImport(Library)] internal static partial int BN_sub(BigNum r, BigNum a, BigNum b);
    [LibraryImport(Library)] internal static partial int BN_div(IntPtr dv, BigNum rem, BigNum a, BigNum d, BigNumContext ctx);
    [LibraryImport(Library)] internal static partial IntPtr BN_mod_inverse(BigNum ret, BigNum a, BigNum n, BigNumContext ctx);
    [LibraryImport(Library)] internal static partial int BN_rand_range(BigNum rnd, BigNum range);
    [LibraryImport(Library)] internal static partial int BN_rshift1(BigNum r, BigNum a);
    [LibraryImport(Library)] internal static partial int BN_set_word(BigNum a, ulong w);
    [LibraryImport(Library)] internal static partial int BN_generate_prime_ex(BigNum ret, int bits, int safe, IntPtr add, IntPtr rem, IntPtr cb);
    [LibraryImport(Library)] internal static partial IntPtr BN_GENCB_new();
    [LibraryImport(Library)] internal static partial void BN_GENCB_free(IntPtr cb);
    [LibraryImport(Library)] internal static unsafe partial void BN_GENCB_set(IntPtr gencb, delegate* unmanaged<int, int, IntPtr, int> callback, IntPtr arg);
    [LibraryImport(Library)] internal static partial IntPtr BN_GENCB_get_arg(IntPtr cb);
}

/// <summary>A scratch context for big-number operations; one per thread of work (not thread-safe).</summary>
public sealed class BigNumContext : SafeHandle
{
    public BigNumContext() : base(IntPtr.Zero, ownsHandle: true)
    {
        SetHandle(LibCrypto.BN_CTX_new());
        if (IsInvalid) throw new CryptographicException("BN_CTX_new failed");
    }

    public override bool IsInvalid => handle == IntPtr.Zero;

    protected override bool ReleaseHandle()
    {
        LibCrypto.BN_CTX_free(handle);
        return true;
    }
}

/// <summary>
/// An OpenSSL BIGNUM (non-negative here). Freed with BN_clear_free, which zeroes it: secrets held in a BigNum are
/// wiped when it is disposed.
/// </summary>
public sealed class BigNum : SafeHandle
{
    public BigNum() : base(IntPtr.Zero, ownsHandle: true)
    {
        SetHandle(LibCrypto.BN_new());
        if (IsInvalid) throw new CryptographicException("BN_new failed");
    }

    public override bool IsInvalid => handle == IntPtr.Zero;

    protected override bool ReleaseHandle()
    {
        LibCrypto.BN_clear_free(handle);
        return true;
    }

    public static unsafe BigNum FromBytes(ReadOnlySpan<byte> bigEndian)
    {
        var result = new BigNum();
        fixed (byte* p = bigEndian)
        {
            if (LibCrypto.BN_bin2bn(p, bigEndian.Length, result.DangerousGetHandle()) == IntPtr.Zero)
            {
                result.Dispose();
                throw new CryptographicException("BN_bin2bn failed");
            }
        }
        return result;
    }

    public static BigNum FromBigInteger(BigInteger value)
    {
        if (value.Sign < 0) throw new ArgumentOutOfRangeException(nameof(value), "BigNum holds non-negative values only");
        var bytes = value.ToByteArray(isUnsigned: true, isBigEndian: true);
        try { return FromBytes(bytes); }
        finally { CryptographicOperations.ZeroMemory(bytes); }
    }

    public static BigNum FromWord(ulong value)
    {
        var result = new BigNum();
        Check(LibCrypto.BN_set_word(result, value), "BN_set_word");
        return result;
    }

    public int BitLength => LibCrypto.BN_num_bits(this);

    public int ByteLength => (BitLength + 7) / 8;

    public bool IsZero => LibCrypto.BN_is_zero(this) == 1;

    /// <summary>Big-endian bytes, left-padded with zeros to <paramref name="length"/>.</summary>
    public unsafe byte[] ToBytes(int length)
    {
        var result = new byte[length];
        fixed (byte* p = result)
        {
            if (LibCrypto.BN_bn2binpad(this, p, length) < 0) throw new CryptographicException($"number does not fit in {length} bytes");
        }
        return result;
    }

    public byte[] ToBytes() => ToBytes(Math.Max(1, ByteLength));

    public BigInteger ToBigInteger() => new(ToBytes(), isUnsigned: true, isBigEndian: true);

    public int CompareTo(BigNum other) => LibCrypto.BN_cmp(this, other);

    // ---- arithmetic; every result is a new BigNum the caller disposes

    /// <summary>a^p mod m in constant time (for secret exponents); m must be odd.</summary>
    public static BigNum ModExpSecret(BigNum a, BigNum p, BigNum m, BigNumContext ctx)
    {
        var r = new BigNum();
        Check(LibCrypto.BN_mod_exp_mont_consttime(r, a, p, m, ctx, IntPtr.Zero), "BN_mod_exp_mont_consttime", r);
        return r;
    }

    /// <summary>a^p mod m for public values.</summary>
    public static BigNum ModExp(BigNum a, BigNum p, BigNum m, BigNumContext ctx)
    {
        var r = new BigNum();
        Check(LibCrypto.BN_mod_exp(r, a, p, m, ctx), "BN_mod_exp", r);
        return r;
    }

    public static BigNum ModMul(BigNum a, BigNum b, BigNum m, BigNumContext ctx)
    {
        var r = new BigNum();
        Check(LibCrypto.BN_mod_mul(r, a, b, m, ctx), "BN_mod_mul", r);
        return r;
    }

    public static BigNum ModAdd(BigNum a, BigNum b, BigNum m, BigNumContext ctx)
    {
        var r = new BigNum();
        Check(LibCrypto.BN_mod_add(r, a, b, m, ctx), "BN_mod_add", r);
        return r;
    }

    public static BigNum Mul(BigNum a, BigNum b, BigNumContext ctx)
    {
        var r = new BigNum();
        Check(LibCrypto.BN_mul(r, a, b, ctx), "BN_mul", r);
        return r;
    }

    public static BigNum Add(BigNum a, BigNum b)
    {
        var r = new BigNum();
        Check(LibCrypto.BN_add(r, a, b), "BN_add", r);
        return r;
    }

    /// <summary>a − b; the caller guarantees a ≥ b.</summary>
    public static BigNum Sub(BigNum a, BigNum b)
    {
        var r = new BigNum();
        Check(LibCrypto.BN_sub(r, a, b), "BN_sub", r);
        return r;
    }

    public static BigNum Mod(BigNum a, BigNum m, BigNumContext ctx)
    {
        var r = new BigNum();
        Check(LibCrypto.BN_div(IntPtr.Zero, r, a, m, ctx), "BN_div", r);
        return r;
    }

    public static BigNum ShiftRight1(BigNum a)
    {
        var r = new BigNum();
        Check(LibCrypto.BN_rshift1(r, a), "BN_rshift1", r);
        return r;
    }

    /// <summary>a⁻¹ mod m; throws when it does not exist.</summary>
    public static BigNum ModInverse(BigNum a, BigNum m, BigNumContext ctx)
    {
        var r = new BigNum();
        if (LibCrypto.BN_mod_inverse(r, a, m, ctx) == IntPtr.Zero)
        {
            r.Dispose();
            throw new CryptographicException("value has no inverse modulo m");
        }
        return r;
    }

    /// <summary>Uniform random value in [0, range) from OpenSSL's CSPRNG.</summary>
    public static BigNum RandomBelow(BigNum range)
    {
        var r = new BigNum();
        Check(LibCrypto.BN_rand_range(r, range), "BN_rand_range", r);
        return r;
    }

    /// <summary>A random prime of <paramref name="bits"/> bits; a safe prime (p = 2p'+1, p' prime) when asked.
    /// Cancellation is checked from OpenSSL's progress callback, so a long search stops promptly.</summary>
    public static unsafe BigNum GeneratePrime(int bits, bool safe, CancellationToken cancellationToken, IProgress<int>? progress = null)
    {
        var result = new BigNum();
        var state = new PrimeSearchState(cancellationToken, progress);
        var handle = GCHandle.Alloc(state);
        var callback = LibCrypto.BN_GENCB_new();
        try
        {
            LibCrypto.BN_GENCB_set(callback, &PrimeCallback, GCHandle.ToIntPtr(handle));
            int ok = LibCrypto.BN_generate_prime_ex(result, bits, safe ? 1 : 0, IntPtr.Zero, IntPtr.Zero, callback);
            cancellationToken.ThrowIfCancellationRequested();
            Check(ok, "BN_generate_prime_ex", result);
            return result;
        }
        catch
        {
            result.Dispose();
            throw;
        }
        finally
        {
            LibCrypto.BN_GENCB_free(callback);
            handle.Free();
        }
    }

    private sealed class PrimeSearchState(CancellationToken token, IProgress<int>? progress)
    {
        public CancellationToken Token { get; } = token;
        public IProgress<int>? Progress { get; } = progress;
        public int Candidates { get; set; }
    }

    [UnmanagedCallersOnly]
    private static int PrimeCallback(int stage, int n, IntPtr cb)
    {
        var state = (PrimeSearchState)GCHandle.FromIntPtr(LibCrypto.BN_GENCB_get_arg(cb)).Target!;
        if (stage == 0)
        {
            state.Candidates++;
            state.Progress?.Report(state.Candidates);
        }
        return state.Token.IsCancellationRequested ? 0 : 1;
    }

    private static void Check(int ok, string function, BigNum? result = null)
    {
        if (ok == 1) return;
        result?.Dispose();
        throw new CryptographicException($"{function} failed");
    }

    /// <summary>Renders nothing of the value: a BigNum may hold a secret.</summary>
    public override string ToString() => $"BigNum({BitLength} bits)";
}
