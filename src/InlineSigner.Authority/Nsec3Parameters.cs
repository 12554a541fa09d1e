using System.Security.Cryptography;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;

namespace InlineSigner.Authority;

/// <summary>
/// The parameters of the NSEC3 chain a zone is served with (RFC 5155 §4): hash algorithm (only SHA-1, 1, is defined),
/// extra iterations and salt. Only NSEC3 records carrying exactly these parameters are used for denial of existence.
/// </summary>
public sealed class Nsec3Parameters : IEquatable<Nsec3Parameters>
{
    public const int HashLength = 20;

    public Nsec3Parameters(int iterations, ReadOnlySpan<byte> salt, NSec3HashAlgorithm algorithm = NSec3HashAlgorithm.Sha1)
    {
        if (algorithm != NSec3HashAlgorithm.Sha1)
            throw new ArgumentException($"NSEC3 hash algorithm {(int)algorithm} is not supported; only SHA-1 (1) is defined (RFC 5155 §11)", nameof(algorithm));
        if (iterations is < 0 or > ushort.MaxValue) throw new ArgumentOutOfRangeException(nameof(iterations), iterations, "NSEC3 iterations must fit 16 bits");
        if (salt.Length > 255) throw new ArgumentException($"an NSEC3 salt has at most 255 octets, this one {salt.Length}", nameof(salt));
        Algorithm = algorithm;
        Iterations = iterations;
        Salt = salt.ToArray();
    }

    public NSec3HashAlgorithm Algorithm { get; }
    public int Iterations { get; }

    /// <summary>The salt octets (a private copy: callers cannot change it).</summary>
    public ReadOnlyMemory<byte> Salt { get; }

    /// <summary>The parameters announced by an NSEC3PARAM record (its flags field is ignored, RFC 5155 §4.1.2).</summary>
    public static Nsec3Parameters From(NSec3ParamRecord record) => new(record.Iterations, record.Salt ?? [], record.HashAlgorithm);

    /// <summary>True when <paramref name="record"/> belongs to the chain made with these parameters.</summary>
    public bool Matches(NSec3Record record) =>
        record.HashAlgorithm == Algorithm && record.Iterations == Iterations && (record.Salt ?? []).AsSpan().SequenceEqual(Salt.Span);

    /// <summary>IH(salt, name, iterations) of RFC 5155 §5 over the lower-case wire form of the name made of
    /// <paramref name="firstLabel"/> (when not null) followed by the last <paramref name="labelCount"/> labels of
    /// <paramref name="labels"/>, written into <paramref name="destination"/> (<see cref="HashLength"/> octets).
    /// Working on a label suffix lets callers hash ancestors of a query name, and the wildcard below them, without
    /// building a name object for each.</summary>
    public void Hash(string? firstLabel, string[] labels, int labelCount, Span<byte> destination)
    {
        var salt = Salt.Span;
        Span<byte> buffer = stackalloc byte[256 + 255];
        int p = 0;
        if (firstLabel is not null) p = AppendLabel(buffer, p, firstLabel);
        for (int i = labels.Length - labelCount; i < labels.Length; i++) p = AppendLabel(buffer, p, labels[i]);
        buffer[p++] = 0;
        salt.CopyTo(buffer[p..]);
        SHA1.HashData(buffer[..(p + salt.Length)], destination);
        for (int i = 0; i < Iterations; i++)
        {
            destination[..HashLength].CopyTo(buffer);
            salt.CopyTo(buffer[HashLength..]);
            SHA1.HashData(buffer[..(HashLength + salt.Length)], destination);
        }
    }

    private static int AppendLabel(Span<byte> buffer, int p, string label)
    {
        if (p + 1 + label.Length > 255) throw new ArgumentException("name longer than 255 octets");
        buffer[p++] = (byte)label.Length;
        foreach (char c in label) buffer[p++] = (byte)(c is >= 'A' and <= 'Z' ? c + 32 : c);
        return p;
    }

    public byte[] Hash(DomainName name)
    {
        var result = new byte[HashLength];
        Hash(null, name.Labels, name.LabelCount, result);
        return result;
    }

    public bool Equals(Nsec3Parameters? other) =>
        other is not null && Algorithm == other.Algorithm && Iterations == other.Iterations && Salt.Span.SequenceEqual(other.Salt.Span);

    public override bool Equals(object? obj) => Equals(obj as Nsec3Parameters);

    public override int GetHashCode() => HashCode.Combine(Algorithm, Iterations, Salt.Length);

    public override string ToString() => $"NSEC3 {(int)Algorithm} {Iterations} {(Salt.Length == 0 ? "-" : Convert.ToHexString(Salt.Span))}";
}
