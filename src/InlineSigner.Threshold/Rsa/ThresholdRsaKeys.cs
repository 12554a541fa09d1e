using System.Numerics;
using System.Security.Cryptography;
using InlineSigner.Threshold.Encoding;
using InlineSigner.Threshold.OpenSsl;

namespace InlineSigner.Threshold.Rsa;

/// <summary>
/// The public side of a Shoup threshold RSA key: modulus N, exponent e, threshold t of n parties, the verification
/// base v (a random square) and each party's verification key v_i = v^{s_i} (for checking share proofs).
/// </summary>
public sealed class ThresholdRsaPublicKey
{
    internal const byte MessageType = 0x11;
    internal const byte Version = 1;
    public const int MaxModulusBytes = 1024; // 8192-bit moduli at most
    public const int MaxParties = 64;

    public ThresholdRsaPublicKey(byte[] modulus, byte[] exponent, int threshold, int parties, byte[] verificationBase, IReadOnlyList<byte[]> verificationKeys)
    {
        if (parties is < 1 or > MaxParties) throw new ArgumentException($"parties must be 1..{MaxParties}");
        if (threshold < 1 || threshold > parties) throw new ArgumentException($"threshold {threshold} must be 1..{parties}");
        if (verificationKeys.Count != parties) throw new ArgumentException("one verification key per party is needed");
        Modulus = modulus.SkipWhile(b => b == 0).ToArray();
        Exponent = exponent.SkipWhile(b => b == 0).ToArray();
        Threshold = threshold;
        Parties = parties;
        VerificationBase = verificationBase;
        VerificationKeys = verificationKeys;
        Delta = Factorial(parties);
        CombineExponents = ThresholdRsaMath.Bezout(4 * Delta * Delta, new BigInteger(Exponent, isUnsigned: true, isBigEndian: true));
    }

    /// <summary>a, b with 4Δ²·a + e·b = 1, fixed per key (the last step of combining).</summary>
    internal (BigInteger A, BigInteger B) CombineExponents { get; }

    public byte[] Modulus { get; }
    public byte[] Exponent { get; }
    public int Threshold { get; }
    public int Parties { get; }
    public byte[] VerificationBase { get; }
    public IReadOnlyList<byte[]> VerificationKeys { get; }

    /// <summary>Δ = n!, which makes the Lagrange coefficients integers.</summary>
    public BigInteger Delta { get; }

    public int ModulusBytes => Modulus.Length;

    public int ModulusBits => (int)new BigInteger(Modulus, isUnsigned: true, isBigEndian: true).GetBitLength();

    /// <summary>The public key in DNSKEY form (RFC 3110 §2): exponent length, exponent, modulus.</summary>
    public byte[] DnsKeyPublicKey()
    {
        var prefix = Exponent.Length < 256 ? new[] { (byte)Exponent.Length } : new byte[] { 0, (byte)(Exponent.Length >> 8), (byte)Exponent.Length };
        return [.. prefix, .. Exponent, .. Modulus];
    }

    public RSAParameters ToRsaParameters() => new() { Modulus = Modulus, Exponent = Exponent };

    public byte[] Encode()
    {
        var writer = new BinaryWriterBE(MessageType, Version).U8((byte)Threshold).U8((byte)Parties)
            .Bytes(Modulus).Bytes(Exponent).Bytes(VerificationBase);
        foreach (var key in VerificationKeys) writer.Bytes(key);
        return writer.ToArray();
    }

    public static ThresholdRsaPublicKey Decode(ReadOnlySpan<byte> data)
    {
        var reader = new BinaryReaderBE(data, MessageType, Version, "threshold RSA public key");
        int t = reader.U8(), n = reader.U8();
        if (n is < 1 or > MaxParties || t < 1 || t > n) throw new ThresholdFormatException($"threshold RSA public key: bad threshold {t} of {n}");
        var modulus = reader.Bytes(MaxModulusBytes);
        var exponent = reader.Bytes(8);
        var v = reader.Bytes(MaxModulusBytes);
        var keys = new byte[n][];
        for (int i = 0; i < n; i++) keys[i] = reader.Bytes(MaxModulusBytes);
        reader.End();
        if (modulus.Length < 64 || (modulus[^1] & 1) == 0) throw new ThresholdFormatException("threshold RSA public key: modulus is not an odd number of at least 512 bits");
        if (exponent.Length == 0) throw new ThresholdFormatException("threshold RSA public key: empty exponent");
        try
        {
            return new ThresholdRsaPublicKey(modulus, exponent, t, n, v, keys);
        }
        catch (Exception e) when (e is ArgumentException or CryptographicException)
        {
            throw new ThresholdFormatException($"threshold RSA public key: {e.Message}");
        }
    }

    internal static BigInteger Factorial(int n)
    {
        BigInteger result = 1;
        for (int i = 2; i <= n; i++) result *= i;
        return result;
    }
}

/// <summary>
/// One party's secret share s_i = f(i) of the private exponent. Disposing zeroes it; <see cref="ToString"/> says
/// nothing about it; it is never logged.
/// </summary>
public sealed class RsaKeyShare : IDisposable
{
    internal const byte MessageType = 0x12;
    internal const byte Version = 1;
    private readonly byte[] _secret;

    public RsaKeyShare(int index, ReadOnlySpan<byte> secret)
    {
        if (index < 1 || index > ThresholdRsaPublicKey.MaxParties) throw new ArgumentException($"share index {index} out of range");
        Index = index;
        _secret = secret.ToArray();
    }

    /// <summary>1-based party number i.</summary>
    public int Index { get; }

    internal ReadOnlySpan<byte> Secret => _secret;

    /// <summary>Serialises the share (secret!) for encrypted storage or transport to its node.</summary>
    public byte[] Encode() => new BinaryWriterBE(MessageType, Version).U8((byte)Index).Bytes(_secret).ToArray();

    public static RsaKeyShare Decode(ReadOnlySpan<byte> data)
    {
        var reader = new BinaryReaderBE(data, MessageType, Version, "threshold RSA key share");
        int index = reader.U8();
        var secret = reader.Bytes(ThresholdRsaPublicKey.MaxModulusBytes);
        reader.End();
        if (index < 1 || index > ThresholdRsaPublicKey.MaxParties) throw new ThresholdFormatException($"threshold RSA key share: index {index} out of range");
        try { return new RsaKeyShare(index, secret); }
        finally { CryptographicOperations.ZeroMemory(secret); }
    }

    public bool SecretEquals(RsaKeyShare other) => Index == other.Index && CryptographicOperations.FixedTimeEquals(_secret, other._secret);

    public void Dispose() => CryptographicOperations.ZeroMemory(_secret);

    public override string ToString() => $"RSA key share #{Index} (secret not shown)";
}

/// <summary>Shoup's proof that a signature share is x^{2Δ s_i} for the s_i behind v_i: c and z.</summary>
public sealed record RsaShareProof(byte[] C, byte[] Z);

/// <summary>A signature share x_i from party <see cref="Index"/>, with its proof when one was asked for.</summary>
public sealed record RsaSignatureShare(int Index, byte[] Value, RsaShareProof? Proof)
{
    internal const byte MessageType = 0x13;
    internal const byte Version = 1;

    public byte[] Encode()
    {
        var writer = new BinaryWriterBE(MessageType, Version).U8((byte)Index).Bytes(Value).U8(Proof is null ? (byte)0 : (byte)1);
        if (Proof is not null) writer.Bytes(Proof.C).Bytes(Proof.Z);
        return writer.ToArray();
    }

    public static RsaSignatureShare Decode(ReadOnlySpan<byte> data)
    {
        var reader = new BinaryReaderBE(data, MessageType, Version, "threshold RSA signature share");
        int index = reader.U8();
        var value = reader.Bytes(ThresholdRsaPublicKey.MaxModulusBytes);
        var hasProof = reader.U8();
        RsaShareProof? proof = null;
        if (hasProof == 1) proof = new RsaShareProof(reader.Bytes(64), reader.Bytes(2 * ThresholdRsaPublicKey.MaxModulusBytes));
        else if (hasProof != 0) throw new ThresholdFormatException("threshold RSA signature share: bad proof flag");
        reader.End();
        if (index < 1 || index > ThresholdRsaPublicKey.MaxParties) throw new ThresholdFormatException($"threshold RSA signature share: index {index} out of range");
        return new RsaSignatureShare(index, value, proof);
    }
}
