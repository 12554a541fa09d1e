using System.Security.Cryptography;

namespace InlineSigner.Cluster.Crypto;

/// <summary>
/// A client's long-term Ed25519 key (RFC 8032, through libsodium): every request to a node is signed with it and
/// nodes accept only public keys on their allow-list. The secret lives in sodium_malloc memory and is zeroed on dispose.
/// </summary>
public sealed class Ed25519SigningKey : IDisposable
{
    private readonly SodiumSecret _secretKey = new(SodiumNative.SignSecretKeyBytes);

    private unsafe Ed25519SigningKey(ReadOnlySpan<byte> seed)
    {
        if (seed.Length != SodiumNative.SignSeedBytes) throw new ArgumentException($"an Ed25519 seed is {SodiumNative.SignSeedBytes} bytes, not {seed.Length}");
        var publicKey = new byte[SodiumNative.SignPublicKeyBytes];
        bool added = false;
        _secretKey.DangerousAddRef(ref added);
        try
        {
            fixed (byte* pk = publicKey, s = seed, sk = _secretKey.Span)
                if (SodiumNative.crypto_sign_seed_keypair(pk, sk, s) != 0) throw new CryptographicException("crypto_sign_seed_keypair failed");
        }
        finally
        {
            if (added) _secretKey.DangerousRelease();
        }
        PublicKey = publicKey;
    }

    /// <summary>The 32-byte public key (what a node's allow-list holds).</summary>
    public byte[] PublicKey { get; }

    public static Ed25519SigningKey Generate()
    {
        var seed = RandomNumberGenerator.GetBytes(SodiumNative.SignSeedBytes);
        try { return new Ed25519SigningKey(seed); }
        finally { CryptographicOperations.ZeroMemory(seed); }
    }

    /// <summary>The key from its 32-byte RFC 8032 seed (the form stored in cluster.json).</summary>
    public static Ed25519SigningKey FromSeed(ReadOnlySpan<byte> seed) => new(seed);

    /// <summary>The 32-byte seed (secret!), for writing the client's configuration.</summary>
    public byte[] ExportSeed() => _secretKey.Span[..SodiumNative.SignSeedBytes].ToArray();

    public unsafe byte[] Sign(ReadOnlySpan<byte> message)
    {
        var signature = new byte[SodiumNative.SignatureBytes];
        bool added = false;
        _secretKey.DangerousAddRef(ref added);
        try
        {
            ulong length;
            fixed (byte* sig = signature, m = message, sk = _secretKey.Span)
                if (SodiumNative.crypto_sign_detached(sig, &length, m, (ulong)message.Length, sk) != 0) throw new CryptographicException("crypto_sign_detached failed");
        }
        finally
        {
            if (added) _secretKey.DangerousRelease();
        }
        return signature;
    }

    /// <summary>RFC 8032 verification by libsodium (rejects non-canonical encodings and small-order keys).</summary>
    public static unsafe bool Verify(ReadOnlySpan<byte> publicKey, ReadOnlySpan<byte> message, ReadOnlySpan<byte> signature)
    {
        if (publicKey.Length != SodiumNative.SignPublicKeyBytes || signature.Length != SodiumNative.SignatureBytes) return false;
        SodiumNative.EnsureInitialised();
        fixed (byte* sig = signature, m = message, pk = publicKey)
            return SodiumNative.crypto_sign_verify_detached(sig, m, (ulong)message.Length, pk) == 0;
    }

    public void Dispose() => _secretKey.Dispose();

    public override string ToString() => $"Ed25519 key {Convert.ToBase64String(PublicKey)} (secret not shown)";
}
