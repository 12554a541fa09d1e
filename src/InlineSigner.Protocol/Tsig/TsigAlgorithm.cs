using System.Security.Cryptography;
using ARSoft.Tools.Net;

namespace InlineSigner.Protocol;

/// <summary>The TSIG MAC algorithms of RFC 8945 §6 (HMAC with these hashes).</summary>
public enum TsigAlgorithm
{
    HmacMd5,
    HmacSha1,
    HmacSha224,
    HmacSha256,
    HmacSha384,
    HmacSha512,
}

/// <summary>Names, sizes and MAC computation of the TSIG algorithms.</summary>
public static class TsigAlgorithms
{
    private static readonly (TsigAlgorithm Algorithm, string Name, int MacLength)[] Table =
    [
        (TsigAlgorithm.HmacMd5, "hmac-md5.sig-alg.reg.int", 16),
        (TsigAlgorithm.HmacSha1, "hmac-sha1", 20),
        (TsigAlgorithm.HmacSha224, "hmac-sha224", 28),
        (TsigAlgorithm.HmacSha256, "hmac-sha256", 32),
        (TsigAlgorithm.HmacSha384, "hmac-sha384", 48),
        (TsigAlgorithm.HmacSha512, "hmac-sha512", 64),
    ];

    /// <summary>The algorithm's name as it goes on the wire (RFC 8945 §6), e.g. "hmac-sha256".</summary>
    public static string Name(TsigAlgorithm algorithm) => Entry(algorithm).Name;

    public static DomainName DomainName(TsigAlgorithm algorithm) => ARSoft.Tools.Net.DomainName.Parse(Entry(algorithm).Name);

    /// <summary>The untruncated MAC length in octets.</summary>
    public static int MacLength(TsigAlgorithm algorithm) => Entry(algorithm).MacLength;

    /// <summary>
    /// Reads an algorithm name, in any case, with or without the final dot: the RFC 8945 names, plus "hmac-md5" as BIND's
    /// configuration and dig's -y spell HMAC-MD5.
    /// </summary>
    public static bool TryParse(string text, out TsigAlgorithm algorithm)
    {
        ArgumentNullException.ThrowIfNull(text);
        var name = text.EndsWith('.') ? text[..^1] : text;
        if (name.Equals("hmac-md5", StringComparison.OrdinalIgnoreCase))
        {
            algorithm = TsigAlgorithm.HmacMd5;
            return true;
        }
        foreach (var entry in Table)
        {
            if (entry.Name.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                algorithm = entry.Algorithm;
                return true;
            }
        }
        algorithm = default;
        return false;
    }

    internal static bool TryParse(DomainName name, out TsigAlgorithm algorithm) => TryParse(name.ToString(), out algorithm);

    /// <summary>The algorithm names <see cref="TryParse(string, out TsigAlgorithm)"/> knows, for error messages.</summary>
    public static string KnownNames => "hmac-md5, hmac-sha1, hmac-sha224, hmac-sha256, hmac-sha384, hmac-sha512";

    private static (TsigAlgorithm Algorithm, string Name, int MacLength) Entry(TsigAlgorithm algorithm)
    {
        foreach (var entry in Table)
            if (entry.Algorithm == algorithm) return entry;
        throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, "not a TSIG algorithm");
    }

    internal static TsigMac CreateMac(TsigAlgorithm algorithm, ReadOnlySpan<byte> secret) => algorithm switch
    {
        TsigAlgorithm.HmacMd5 => new IncrementalHashMac(HashAlgorithmName.MD5, secret),
        TsigAlgorithm.HmacSha1 => new IncrementalHashMac(HashAlgorithmName.SHA1, secret),
        // .NET has no SHA-224; ours is the SHA-256 compression function with the SHA-224 initial values (FIPS 180-4).
        TsigAlgorithm.HmacSha224 => new HmacSha224(secret),
        TsigAlgorithm.HmacSha256 => new IncrementalHashMac(HashAlgorithmName.SHA256, secret),
        TsigAlgorithm.HmacSha384 => new IncrementalHashMac(HashAlgorithmName.SHA384, secret),
        TsigAlgorithm.HmacSha512 => new IncrementalHashMac(HashAlgorithmName.SHA512, secret),
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, "not a TSIG algorithm"),
    };
}

/// <summary>An HMAC fed in pieces, as a TSIG MAC covers several buffers (prior MAC, messages, variables).</summary>
internal abstract class TsigMac : IDisposable
{
    public abstract void Append(ReadOnlySpan<byte> data);

    /// <summary>The MAC of everything appended since the last call; the instance is then ready for a new MAC.</summary>
    public abstract byte[] FinishAndReset();

    public abstract void Dispose();
}

internal sealed class IncrementalHashMac(HashAlgorithmName hash, ReadOnlySpan<byte> secret) : TsigMac
{
    private readonly IncrementalHash _hmac = IncrementalHash.CreateHMAC(hash, secret);

    public override void Append(ReadOnlySpan<byte> data) => _hmac.AppendData(data);
    public override byte[] FinishAndReset() => _hmac.GetHashAndReset();
    public override void Dispose() => _hmac.Dispose();
}
