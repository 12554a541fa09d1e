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

/// <summary>A signing policy that cannot work for the zone it is applied to; the message says what to change.</summary>
public sealed class SigningPolicyException(string message) : Exception(message);

/// <summary>
/// Deterministic signature times. Signing time is quantised to <see cref="Refresh"/> periods so that every
/// signer fed the same zone at about the same time computes the same inception and expiration; each RRset's
/// expiration gets a jitter derived from a hash of its owner and type (no thundering herd of expiries, and
/// no randomness, so RSA signatures are byte-identical across signers).
/// </summary>
public sealed record SignatureSchedule
{
    /// <summary>Signature lifetime before jitter. 30 days by default: a published signature must keep SOA EXPIRE plus the
    /// largest TTL of validity (see <see cref="RefreshPoint"/>), and with the common EXPIRE of two to four weeks a 14-day
    /// lifetime cannot (the offline <c>sign</c> command keeps its own 14-day default).</summary>
    public TimeSpan Validity { get; init; } = TimeSpan.FromDays(30);

    /// <summary>How far back inception is set, for clocks running behind.</summary>
    public TimeSpan InceptionOffset { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Quantum of the signing time, and how long before expiry a signature is refreshed at the latest.</summary>
    public TimeSpan Refresh { get; init; } = TimeSpan.FromDays(5);

    /// <summary>Largest extra lifetime added per RRset.</summary>
    public TimeSpan Jitter { get; init; } = TimeSpan.FromHours(12);

    /// <summary>The step signing times are rounded down to (an eighth of <see cref="Refresh"/>), so that signers fed the
    /// same zone within one step agree; a fresh signature has between <see cref="Validity"/> minus this and
    /// <see cref="Validity"/> plus <see cref="Jitter"/> to live.</summary>
    public TimeSpan Quantum => TimeSpan.FromSeconds(Math.Max(1, (long)Refresh.TotalSeconds / 8));

    /// <summary>Inception and expiration for an RRset signed at <paramref name="now"/>.</summary>
    public (uint Inception, uint Expiration) TimesFor(DomainName owner, RecordType type, DateTimeOffset now)
    {
        long quantum = (long)Quantum.TotalSeconds;
        long baseTime = now.ToUnixTimeSeconds() / quantum * quantum;
        long inception = baseTime - (long)InceptionOffset.TotalSeconds;
        long expiration = baseTime + (long)Validity.TotalSeconds + JitterSeconds(owner, type);
        return (unchecked((uint)inception), unchecked((uint)expiration));
    }

    /// <summary>True when a signature expiring at <paramref name="expiration"/> must be replaced at <paramref name="now"/>.</summary>
    public bool NeedsRefresh(uint expiration, DateTimeOffset now) => NeedsRefresh(expiration, now, Refresh);

    /// <summary>True when a signature expiring at <paramref name="expiration"/> has no more than <paramref name="refreshPoint"/>
    /// left at <paramref name="now"/>. The bound is inclusive so that a refresh run at exactly the moment
    /// <see cref="IncrementalSigner.NextRefreshDue"/> names finds the signature due while it still has the full refresh point left.</summary>
    public static bool NeedsRefresh(uint expiration, DateTimeOffset now, TimeSpan refreshPoint) =>
        expiration - now.ToUnixTimeSeconds() <= (long)refreshPoint.TotalSeconds;

    /// <summary>
    /// How much validity a signature must have left when it is served, and so when it is replaced: at least
    /// <see cref="Refresh"/>, and at least SOA EXPIRE plus the largest TTL of the zone. A secondary that loses contact
    /// with us keeps serving its copy for up to EXPIRE, and a resolver may cache what it got for up to the TTL, so a
    /// signature with less left could be handed to a validator after it expired.
    /// </summary>
    public TimeSpan RefreshPoint(TimeSpan soaExpire, TimeSpan maxTtl)
    {
        var needed = soaExpire + maxTtl;
        return needed > Refresh ? needed : Refresh;
    }

    /// <summary>
    /// Throws <see cref="SigningPolicyException"/> when a signature made now would already have less validity than the
    /// refresh point for a zone with this SOA EXPIRE and largest TTL: such a zone could never be kept fresh (every
    /// refresh would be due again at once), so it is refused up front with the validity that would work.
    /// </summary>
    public void EnsureRefreshable(TimeSpan soaExpire, TimeSpan maxTtl)
    {
        var point = RefreshPoint(soaExpire, maxTtl);
        if (Validity - Quantum > point) return;
        throw new SigningPolicyException(
            $"signature validity {Describe(Validity)} is too short for this zone: signatures must keep SOA EXPIRE ({Describe(soaExpire)}) " +
            $"plus the largest TTL ({Describe(maxTtl)}) = {Describe(point)} of validity while served, and a fresh one has only " +
            $"{Describe(Validity - Quantum)} for sure; use a validity of at least {Math.Ceiling((point + point).TotalDays):0}d " +
            "(twice that, so signatures are not refreshed all the time), or lower SOA EXPIRE");
    }

    private static string Describe(TimeSpan span) =>
        span.TotalSeconds % 86400 == 0 ? $"{span.TotalDays:0}d" : span.TotalSeconds % 3600 == 0 ? $"{span.TotalHours:0}h" : $"{span.TotalSeconds:0}s";

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
