using System.Globalization;
using System.Security.Cryptography;
using ARSoft.Tools.Net.Dns;

namespace InlineSigner.Dnssec.Keys;

/// <summary>The DNSSEC algorithms we sign with, their BIND mnemonics and hashes.</summary>
public static class DnssecAlgorithms
{
    private static readonly (DnsSecAlgorithm Algorithm, string Mnemonic)[] Known =
    [
        (DnsSecAlgorithm.RsaSha256, "RSASHA256"),
        (DnsSecAlgorithm.RsaSha512, "RSASHA512"),
        (DnsSecAlgorithm.EcDsaP256Sha256, "ECDSAP256SHA256"),
        (DnsSecAlgorithm.EcDsaP384Sha384, "ECDSAP384SHA384"),
        (DnsSecAlgorithm.Ed25519, "ED25519"),
    ];

    /// <summary>Accepts BIND's mnemonic (any case) or the algorithm number.</summary>
    public static DnsSecAlgorithm Parse(string text)
    {
        foreach (var (algorithm, mnemonic) in Known)
        {
            if (string.Equals(text, mnemonic, StringComparison.OrdinalIgnoreCase)) return algorithm;
            if (text == ((int)algorithm).ToString(CultureInfo.InvariantCulture)) return algorithm;
        }
        throw new ArgumentException($"unsupported DNSSEC algorithm '{text}'; use one of {string.Join(", ", Known.Select(k => $"{k.Mnemonic} ({(int)k.Algorithm})"))}");
    }

    public static bool IsSupported(DnsSecAlgorithm algorithm) => Known.Any(k => k.Algorithm == algorithm);

    public static string Mnemonic(DnsSecAlgorithm algorithm) =>
        Known.FirstOrDefault(k => k.Algorithm == algorithm).Mnemonic ?? ((int)algorithm).ToString(CultureInfo.InvariantCulture);

    /// <summary>The hash an RSA or ECDSA signature of this algorithm is made over (Ed25519 signs the message itself).</summary>
    public static HashAlgorithmName Hash(DnsSecAlgorithm algorithm) => algorithm switch
    {
        DnsSecAlgorithm.RsaSha256 or DnsSecAlgorithm.EcDsaP256Sha256 => HashAlgorithmName.SHA256,
        DnsSecAlgorithm.RsaSha512 => HashAlgorithmName.SHA512,
        DnsSecAlgorithm.EcDsaP384Sha384 => HashAlgorithmName.SHA384,
        _ => throw new NotSupportedException($"algorithm {algorithm} has no separate hash"),
    };
}
