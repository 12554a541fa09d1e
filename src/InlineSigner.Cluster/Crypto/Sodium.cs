using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace InlineSigner.Cluster.Crypto;

/// <summary>The libsodium functions the cluster needs: Ed25519 request signatures and crypto_box for DKG shares.</summary>
internal static partial class SodiumNative
{
    private const string Library = "libsodium";

    [LibraryImport(Library)] internal static partial int sodium_init();
    [LibraryImport(Library)] internal static partial IntPtr sodium_malloc(nuint size);
    [LibraryImport(Library)] internal static partial void sodium_free(IntPtr pointer);
    [LibraryImport(Library)] internal static unsafe partial int crypto_sign_seed_keypair(byte* pk, byte* sk, byte* seed);
    [LibraryImport(Library)] internal static unsafe partial int crypto_sign_detached(byte* sig, ulong* siglen, byte* m, ulong mlen, byte* sk);
    [LibraryImport(Library)] internal static unsafe partial int crypto_sign_verify_detached(byte* sig, byte* m, ulong mlen, byte* pk);
    [LibraryImport(Library)] internal static unsafe partial int crypto_scalarmult_base(byte* q, byte* n);
    [LibraryImport(Library)] internal static unsafe partial int crypto_box_easy(byte* c, byte* m, ulong mlen, byte* n, byte* pk, byte* sk);
    [LibraryImport(Library)] internal static unsafe partial int crypto_box_open_easy(byte* m, byte* c, ulong clen, byte* n, byte* pk, byte* sk);

    internal const int SignPublicKeyBytes = 32;
    internal const int SignSecretKeyBytes = 64;
    internal const int SignSeedBytes = 32;
    internal const int SignatureBytes = 64;
    internal const int BoxKeyBytes = 32;
    internal const int BoxNonceBytes = 24;
    internal const int BoxMacBytes = 16;

    private static readonly Lazy<bool> Initialised = new(() => sodium_init() >= 0);

    internal static void EnsureInitialised()
    {
        if (!Initialised.Value) throw new CryptographicException("libsodium failed to initialise");
    }
}

/// <summary>Secret bytes in memory from sodium_malloc (guard pages, never swapped out where the OS allows), freed and zeroed by libsodium.</summary>
internal sealed class SodiumSecret : SafeHandle
{
    public SodiumSecret(int length) : base(IntPtr.Zero, ownsHandle: true)
    {
        SodiumNative.EnsureInitialised();
        var pointer = SodiumNative.sodium_malloc((nuint)length);
        if (pointer == IntPtr.Zero) throw new OutOfMemoryException("sodium_malloc failed");
        SetHandle(pointer);
        Length = length;
    }

    public int Length { get; }

    public override bool IsInvalid => handle == IntPtr.Zero;

    public unsafe Span<byte> Span => IsClosed ? throw new ObjectDisposedException(nameof(SodiumSecret)) : new((void*)handle, Length);

    protected override bool ReleaseHandle()
    {
        SodiumNative.sodium_free(handle); // sodium_free zeroes the memory before releasing it
        return true;
    }
}
