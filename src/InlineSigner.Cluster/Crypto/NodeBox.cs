using System.Security.Cryptography;

namespace InlineSigner.Cluster.Crypto;

/// <summary>
/// Node-to-node authenticated encryption (libsodium crypto_box: X25519 + XSalsa20-Poly1305) with the nodes' CURVE
/// key pairs. The distributed key generation relays each participant's secret shares through the client; boxing them
/// for the receiving node keeps them from the client, so no single party ever sees the group secret.
/// </summary>
public static class NodeBox
{
    /// <summary>Encrypts for <paramref name="recipientPublicKey"/> from the holder of <paramref name="senderSecretKey"/>: nonce ‖ ciphertext.</summary>
    public static unsafe byte[] Seal(ReadOnlySpan<byte> plaintext, ReadOnlySpan<byte> recipientPublicKey, ReadOnlySpan<byte> senderSecretKey)
    {
        CheckKey(recipientPublicKey, "recipient public key");
        CheckKey(senderSecretKey, "sender secret key");
        SodiumNative.EnsureInitialised();
        var output = new byte[SodiumNative.BoxNonceBytes + SodiumNative.BoxMacBytes + plaintext.Length];
        RandomNumberGenerator.Fill(output.AsSpan(0, SodiumNative.BoxNonceBytes));
        fixed (byte* o = output, m = plaintext, pk = recipientPublicKey, sk = senderSecretKey)
            if (SodiumNative.crypto_box_easy(o + SodiumNative.BoxNonceBytes, m, (ulong)plaintext.Length, o, pk, sk) != 0)
                throw new CryptographicException("crypto_box_easy failed");
        return output;
    }

    /// <summary>Decrypts and authenticates; null when the box was not made by the holder of <paramref name="senderPublicKey"/> for us.</summary>
    public static unsafe byte[]? Open(ReadOnlySpan<byte> sealedBox, ReadOnlySpan<byte> senderPublicKey, ReadOnlySpan<byte> recipientSecretKey)
    {
        CheckKey(senderPublicKey, "sender public key");
        CheckKey(recipientSecretKey, "recipient secret key");
        if (sealedBox.Length < SodiumNative.BoxNonceBytes + SodiumNative.BoxMacBytes) return null;
        SodiumNative.EnsureInitialised();
        var plaintext = new byte[sealedBox.Length - SodiumNative.BoxNonceBytes - SodiumNative.BoxMacBytes];
        fixed (byte* c = sealedBox, m = plaintext, pk = senderPublicKey, sk = recipientSecretKey)
        {
            // libsodium may write through m even for an empty plaintext's null pointer; give it a valid one.
            byte dummy;
            byte* target = plaintext.Length == 0 ? &dummy : m;
            if (SodiumNative.crypto_box_open_easy(target, c + SodiumNative.BoxNonceBytes, (ulong)(sealedBox.Length - SodiumNative.BoxNonceBytes), c, pk, sk) != 0)
                return null;
        }
        return plaintext;
    }

    /// <summary>The X25519 public key of a secret key (a CURVE secret key's public half).</summary>
    public static unsafe byte[] PublicKeyOf(ReadOnlySpan<byte> secretKey)
    {
        CheckKey(secretKey, "secret key");
        SodiumNative.EnsureInitialised();
        var publicKey = new byte[SodiumNative.BoxKeyBytes];
        fixed (byte* q = publicKey, n = secretKey)
            if (SodiumNative.crypto_scalarmult_base(q, n) != 0) throw new CryptographicException("crypto_scalarmult_base failed");
        return publicKey;
    }

    private static void CheckKey(ReadOnlySpan<byte> key, string what)
    {
        if (key.Length != SodiumNative.BoxKeyBytes) throw new ArgumentException($"{what} must be {SodiumNative.BoxKeyBytes} bytes, not {key.Length}");
    }
}
