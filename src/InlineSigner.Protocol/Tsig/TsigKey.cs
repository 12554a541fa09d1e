using System.Security.Cryptography;
using ARSoft.Tools.Net;
using InlineSigner.Zones;

namespace InlineSigner.Protocol;

/// <summary>A key or key text that cannot be read; the message says which part is wrong (never the secret).</summary>
public sealed class TsigKeyFormatException : FormatException
{
    public TsigKeyFormatException(string message) : base(message)
    {
    }

    public TsigKeyFormatException(string message, Exception inner) : base(message, inner)
    {
    }
}

/// <summary>
/// A TSIG shared secret (RFC 8945): the key's name, its MAC algorithm and the secret octets. The secret is zeroed on
/// <see cref="Dispose"/> and never appears in <see cref="ToString"/>.
/// </summary>
public sealed class TsigKey : IDisposable
{
    private readonly byte[] _secret;
    private bool _disposed;

    /// <exception cref="ArgumentException">The secret is empty.</exception>
    public TsigKey(DomainName name, TsigAlgorithm algorithm, ReadOnlySpan<byte> secret)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (secret.IsEmpty) throw new ArgumentException($"the secret of TSIG key {name} is empty", nameof(secret));
        if (name.LabelCount == 0) throw new ArgumentException("a TSIG key cannot be named '.'", nameof(name));
        _ = TsigAlgorithms.Name(algorithm); // throws for values outside the enum
        Name = name;
        Algorithm = algorithm;
        _secret = secret.ToArray();
    }

    public DomainName Name { get; }
    public TsigAlgorithm Algorithm { get; }

    /// <summary>The secret; valid until the key is disposed.</summary>
    internal ReadOnlySpan<byte> Secret
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _secret;
        }
    }

    internal TsigMac CreateMac() => TsigAlgorithms.CreateMac(Algorithm, Secret);

    /// <summary>True when <paramref name="name"/> is this key's name (names compare without regard to ASCII case).</summary>
    public bool HasName(DomainName name) => CanonicalNameComparer.Instance.Equals(Name, name);

    /// <summary>
    /// Reads a key from one line of text with three colon-separated fields: <c>algorithm:name:secret</c> (the order of
    /// <c>dig -y</c>) or <c>name:algorithm:secret</c>. The algorithm is recognised by its name (see
    /// <see cref="TsigAlgorithms.TryParse(string, out TsigAlgorithm)"/>), so the order needs no flag: when the first field
    /// is an algorithm name it is dig's order. The secret is base64. Unlike dig there is no default algorithm: a key of
    /// the wrong algorithm fails as BADKEY far from where it was configured.
    /// </summary>
    /// <exception cref="TsigKeyFormatException">Wrong number of fields, unknown algorithm, bad name, or bad base64.</exception>
    public static TsigKey Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var fields = text.Trim().Split(':');
        if (fields.Length != 3)
        {
            throw new TsigKeyFormatException(
                $"a TSIG key must be 'algorithm:name:secret' or 'name:algorithm:secret', found {fields.Length} colon-separated field{(fields.Length == 1 ? "" : "s")}");
        }
        string nameText, algorithmText;
        if (TsigAlgorithms.TryParse(fields[0], out _))
        {
            (algorithmText, nameText) = (fields[0], fields[1]);
        }
        else if (TsigAlgorithms.TryParse(fields[1], out _))
        {
            (nameText, algorithmText) = (fields[0], fields[1]);
        }
        else
        {
            throw new TsigKeyFormatException(
                $"neither '{fields[0]}' nor '{fields[1]}' is a TSIG algorithm (known: {TsigAlgorithms.KnownNames})");
        }
        return Create(nameText, algorithmText, fields[2], "the key");
    }

    /// <summary>Builds a key from its three texts, naming <paramref name="where"/> in errors.</summary>
    internal static TsigKey Create(string nameText, string algorithmText, string secretText, string where)
    {
        if (!TsigAlgorithms.TryParse(algorithmText, out var algorithm))
            throw new TsigKeyFormatException($"{where}: '{algorithmText}' is not a TSIG algorithm (known: {TsigAlgorithms.KnownNames})");
        if (nameText.Length == 0 || !DomainName.TryParse(nameText, out var parsed) || parsed is not { LabelCount: > 0 } name)
            throw new TsigKeyFormatException($"{where}: '{nameText}' is not a key name (a domain name such as xfr-key or xfr.example)");
        byte[] secret;
        try
        {
            secret = Convert.FromBase64String(secretText.Trim());
        }
        catch (FormatException e)
        {
            throw new TsigKeyFormatException($"{where}: the secret of key {name} is not valid base64", e);
        }
        if (secret.Length == 0) throw new TsigKeyFormatException($"{where}: the secret of key {name} is empty");
        try
        {
            return new TsigKey(name, algorithm, secret);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(secret);
        }
    }

    /// <summary>Reads every <c>key "name" { algorithm …; secret "…"; };</c> statement of a BIND key file (what
    /// <c>tsig-keygen</c> writes, or a <c>named.conf</c> fragment of keys).</summary>
    /// <exception cref="TsigKeyFormatException">Anything else in the text, or a key statement that is incomplete; the
    /// message gives the line.</exception>
    public static IReadOnlyList<TsigKey> ParseBindKeys(string text) => BindKeyFileParser.Parse(text ?? throw new ArgumentNullException(nameof(text)));

    /// <summary>Reads a BIND key file; see <see cref="ParseBindKeys"/>.</summary>
    public static async Task<IReadOnlyList<TsigKey>> LoadBindKeyFileAsync(string path, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(path);
        var text = await File.ReadAllTextAsync(path, cancellationToken).ConfigureAwait(false);
        try
        {
            return BindKeyFileParser.Parse(text);
        }
        catch (TsigKeyFormatException e)
        {
            throw new TsigKeyFormatException($"{path}: {e.Message}", e);
        }
    }

    public override string ToString() => $"{Name} ({TsigAlgorithms.Name(Algorithm)})";

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        CryptographicOperations.ZeroMemory(_secret);
    }
}
