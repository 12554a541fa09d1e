using System.Buffers.Binary;
using System.Security.Cryptography;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Zones;

namespace InlineSigner.Dnssec.Signing;

/// <summary>NSEC3 parameters (RFC 5155); defaults follow RFC 9276: no extra iterations, empty salt.</summary>
public sealed record Nsec3Settings(ushort Iterations = 0, byte[]? Salt = null, bool OptOut = false)
{
    public byte[] SaltBytes => Salt ?? [];
}

/// <summary>How a zone is signed.</summary>
public sealed record SigningPolicy
{
    /// <summary>Null: NSEC. Otherwise NSEC3 with these parameters.</summary>
    public Nsec3Settings? Nsec3 { get; init; }

    /// <summary>ZONEMD (RFC 8976) digests to publish: 1 = SHA-384, 2 = SHA-512. Empty: no ZONEMD.</summary>
    public IReadOnlyList<byte> ZoneMdAlgorithms { get; init; } = [];

    public SignatureSchedule Schedule { get; init; } = new();

    /// <summary>TTL of the DNSKEY RRset; null: the SOA TTL.</summary>
    public int? DnsKeyTtl { get; init; }

    /// <summary>How many signing inputs go to the signer in one call.</summary>
    public int BatchSize { get; init; } = 2048;
}

/// <summary>
/// Deterministic signature times. Signing time is quantised to <see cref="Refresh"/> periods so that every
/// signer fed the same zone at about the same time computes the same inception and expiration; each RRset's
/// expiration gets a jitter derived from a hash of its owner and type (no thundering herd of expiries, and
/// no randomness, so RSA signatures are byte-identical across signers).
/// </summary>
public sealed record SignatureSchedule
{
    /// <summary>Signature lifetime before jitter.</summary>
    public TimeSpan Validity { get; init; } = TimeSpan.FromDays(14);

    /// <summary>How far back inception is set, for clocks running behind.</summary>
    public TimeSpan InceptionOffset { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Quantum of the signing time, and how long before expiry a signature is refreshed at the latest.</summary>
    public TimeSpan Refresh { get; init; } = TimeSpan.FromDays(5);

    /// <summary>Largest extra lifetime added per RRset.</summary>
    public TimeSpan Jitter { get; init; } = TimeSpan.FromHours(12);

    /// <summary>Inception and expiration for an RRset signed at <paramref name="now"/>.</summary>
    public (uint Inception, uint Expiration) TimesFor(DomainName owner, RecordType type, DateTimeOffset now)
    {
        long quantum = Math.Max(1, (long)Refresh.TotalSeconds / 8);
        long baseTime = now.ToUnixTimeSeconds() / quantum * quantum;
        long inception = baseTime - (long)InceptionOffset.TotalSeconds;
        long expiration = baseTime + (long)Validity.TotalSeconds + JitterSeconds(owner, type);
        return (unchecked((uint)inception), unchecked((uint)expiration));
    }

    /// <summary>True when a signature expiring at <paramref name="expiration"/> must be replaced at <paramref name="now"/>.</summary>
    public bool NeedsRefresh(uint expiration, DateTimeOffset now) =>
        expiration - (long)now.ToUnixTimeSeconds() < (long)Refresh.TotalSeconds;

    private long JitterSeconds(DomainName owner, RecordType type)
    {
        long span = (long)Jitter.TotalSeconds;
        if (span <= 0) return 0;
        Span<byte> input = stackalloc byte[RecordWire.NameLength(owner) + 2];
        int n = RecordWire.WriteName(input, owner, lowercase: true);
        BinaryPrimitives.WriteUInt16BigEndian(input[n..], (ushort)type);
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(input, hash);
        return (long)(BinaryPrimitives.ReadUInt64BigEndian(hash) % (ulong)span);
    }
}
