using System.Security.Cryptography;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Zones;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Crypto.Signers;

namespace InlineSigner.Dnssec.Keys;

/// <summary>
/// A software DNSSEC key held in this process: RSA (8, 10) and ECDSA (13, 14) through System.Security.Cryptography,
/// Ed25519 (15) through BouncyCastle (.NET has no Ed25519). Batches are signed in parallel on all cores.
/// </summary>
public sealed class LocalKey : ISigner, IDisposable
{
    private readonly RSA? _rsa;
    private readonly ECDsa? _ecdsa;
    private readonly byte[]? _ed25519Seed;
    private readonly Ed25519PrivateKeyParameters? _ed25519;

    private LocalKey(DomainName zone, DnsSecAlgorithm algorithm, DnsKeyFlags flags, RSA? rsa, ECDsa? ecdsa, byte[]? ed25519Seed, int ttl)
    {
        Zone = zone;
        Algorithm = algorithm;
        _rsa = rsa;
        _ecdsa = ecdsa;
        if (ed25519Seed is not null)
        {
            _ed25519Seed = ed25519Seed;
            _ed25519 = new Ed25519PrivateKeyParameters(ed25519Seed, 0);
        }
        DnsKey = new DnsKeyRecord(zone, RecordClass.INet, ttl, flags, 3, algorithm, PublicKeyBytes(), null);
        KeyTag = DnsKey.CalculateKeyTag();
    }

    public DomainName Zone { get; }
    public DnsKeyRecord DnsKey { get; }
    public DnsSecAlgorithm Algorithm { get; }
    public ushort KeyTag { get; }
    public bool IsKsk => DnsKey.Flags.HasFlag(DnsKeyFlags.SecureEntryPoint);

    /// <summary>When the key was created/published/activated (BIND timing metadata, kept for key files).</summary>
    public DateTimeOffset Created { get; internal set; } = DateTimeOffset.UtcNow;

    public static LocalKey Generate(DomainName zone, DnsSecAlgorithm algorithm, bool ksk, int rsaBits = 2048, int ttl = 3600)
    {
        var flags = ksk ? DnsKeyFlags.Zone | DnsKeyFlags.SecureEntryPoint : DnsKeyFlags.Zone;
        return algorithm switch
        {
            DnsSecAlgorithm.RsaSha256 or DnsSecAlgorithm.RsaSha512 => rsaBits is < 1024 or > 4096
                ? throw new ArgumentException($"RSA key size {rsaBits} is outside 1024..4096")
                : new LocalKey(zone, algorithm, flags, RSA.Create(rsaBits), null, null, ttl),
            DnsSecAlgorithm.EcDsaP256Sha256 => new LocalKey(zone, algorithm, flags, null, ECDsa.Create(ECCurve.NamedCurves.nistP256), null, ttl),
            DnsSecAlgorithm.EcDsaP384Sha384 => new LocalKey(zone, algorithm, flags, null, ECDsa.Create(ECCurve.NamedCurves.nistP384), null, ttl),
            DnsSecAlgorithm.Ed25519 => new LocalKey(zone, algorithm, flags, null, null, RandomNumberGenerator.GetBytes(32), ttl),
            _ => throw new NotSupportedException($"cannot generate keys for algorithm {algorithm}"),
        };
    }

    public static LocalKey FromRsa(DomainName zone, DnsSecAlgorithm algorithm, DnsKeyFlags flags, RSAParameters parameters, int ttl = 3600) =>
        new(zone, algorithm, flags, RSA.Create(parameters), null, null, ttl);

    public static LocalKey FromEcdsa(DomainName zone, DnsSecAlgorithm algorithm, DnsKeyFlags flags, byte[] privateScalar, int ttl = 3600)
    {
        var curve = algorithm == DnsSecAlgorithm.EcDsaP256Sha256 ? ECCurve.NamedCurves.nistP256 : ECCurve.NamedCurves.nistP384;
        var ecdsa = ECDsa.Create(new ECParameters { Curve = curve, D = privateScalar });
        return new LocalKey(zone, algorithm, flags, null, ecdsa, null, ttl);
    }

    public static LocalKey FromEd25519(DomainName zone, DnsKeyFlags flags, byte[] seed, int ttl = 3600) =>
        seed.Length != 32 ? throw new ArgumentException("an Ed25519 private key is 32 bytes") : new(zone, DnsSecAlgorithm.Ed25519, flags, null, null, seed.ToArray(), ttl);

    /// <summary>The private parts, for writing BIND key files. The caller zeroes what it gets.</summary>
    internal RSAParameters ExportRsa() => (_rsa ?? throw new InvalidOperationException("not an RSA key")).ExportParameters(true);

    internal byte[] ExportEcdsaScalar() => (_ecdsa ?? throw new InvalidOperationException("not an ECDSA key")).ExportParameters(true).D!;

    internal byte[] ExportEd25519Seed() => (_ed25519Seed ?? throw new InvalidOperationException("not an Ed25519 key")).ToArray();

    private byte[] PublicKeyBytes()
    {
        if (_rsa is not null) return RsaPublicKey.Encode(_rsa.ExportParameters(false));
        if (_ecdsa is not null)
        {
            var q = _ecdsa.ExportParameters(false).Q;
            return [.. q.X!, .. q.Y!];
        }
        return _ed25519!.GeneratePublicKey().GetEncoded();
    }

    public Task<IReadOnlyList<byte[]>> SignAsync(IReadOnlyList<ReadOnlyMemory<byte>> signingInputs, CancellationToken cancellationToken)
    {
        var signatures = new byte[signingInputs.Count][];
        if (signingInputs.Count < 8)
        {
            for (int i = 0; i < signatures.Length; i++) signatures[i] = Sign(signingInputs[i].Span);
        }
        else
        {
            Parallel.For(0, signatures.Length, new ParallelOptions { CancellationToken = cancellationToken },
                i => signatures[i] = Sign(signingInputs[i].Span));
        }
        return Task.FromResult<IReadOnlyList<byte[]>>(signatures);
    }

    public byte[] Sign(ReadOnlySpan<byte> data)
    {
        if (_rsa is not null) return _rsa.SignData(data.ToArray(), DnssecAlgorithms.Hash(Algorithm), RSASignaturePadding.Pkcs1);
        if (_ecdsa is not null)
            // IEEE P1363 fixed-width r||s: leading zero bytes kept, as RFC 6605 requires.
            return _ecdsa.SignData(data, DnssecAlgorithms.Hash(Algorithm), DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        var signer = new Ed25519Signer();
        signer.Init(true, _ed25519!);
        var bytes = data.ToArray();
        signer.BlockUpdate(bytes, 0, bytes.Length);
        return signer.GenerateSignature();
    }

    public void Dispose()
    {
        _rsa?.Dispose();
        _ecdsa?.Dispose();
        if (_ed25519Seed is not null) CryptographicOperations.ZeroMemory(_ed25519Seed);
    }

    public override string ToString() => $"{Zone} {DnssecAlgorithms.Mnemonic(Algorithm)} key {KeyTag} ({(IsKsk ? "KSK" : "ZSK")})";
}

/// <summary>RSA public keys in DNSKEY form (RFC 3110 §2).</summary>
public static class RsaPublicKey
{
    public static byte[] Encode(RSAParameters parameters)
    {
        var exponent = parameters.Exponent!.SkipWhile(b => b == 0).ToArray();
        var modulus = parameters.Modulus!.SkipWhile(b => b == 0).ToArray();
        var prefix = exponent.Length < 256 ? new[] { (byte)exponent.Length } : new byte[] { 0, (byte)(exponent.Length >> 8), (byte)exponent.Length };
        return [.. prefix, .. exponent, .. modulus];
    }

    public static RSAParameters Decode(ReadOnlySpan<byte> key)
    {
        if (key.Length < 3) throw new FormatException("RSA DNSKEY too short");
        int exponentLength = key[0];
        int offset = 1;
        if (exponentLength == 0)
        {
            exponentLength = (key[1] << 8) | key[2];
            offset = 3;
        }
        if (exponentLength == 0 || offset + exponentLength >= key.Length) throw new FormatException("RSA DNSKEY exponent length is wrong");
        return new RSAParameters
        {
            Exponent = key.Slice(offset, exponentLength).ToArray(),
            Modulus = key[(offset + exponentLength)..].ToArray(),
        };
    }
}
