using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Zones;
using InlineSigner.Zones.Text;

namespace InlineSigner.Dnssec.Keys;

/// <summary>
/// BIND's key files, <c>K&lt;zone&gt;+&lt;alg&gt;+&lt;tag&gt;.key</c> (the DNSKEY) and <c>.private</c>
/// (Private-key-format v1.3), read and written so keys move between BIND's tools and ours.
/// </summary>
public static class BindKeyFile
{
    public static string BaseName(DomainName zone, DnsSecAlgorithm algorithm, ushort keyTag) =>
        string.Create(CultureInfo.InvariantCulture, $"K{PresentationFormat.FormatName(zone)}+{(int)algorithm:D3}+{keyTag:D5}");

    /// <summary>Writes both files (private one with mode 0600) and returns the base path.</summary>
    public static string Write(LocalKey key, string directory)
    {
        Directory.CreateDirectory(directory);
        var basePath = Path.Combine(directory, BaseName(key.Zone, key.Algorithm, key.KeyTag));
        var created = key.Created.UtcDateTime.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture);
        var kind = key.IsKsk ? "key-signing" : "zone-signing";
        var publicText = new StringBuilder()
            .Append(CultureInfo.InvariantCulture, $"; This is a {kind} key, keyid {key.KeyTag}, for {PresentationFormat.FormatName(key.Zone)}\n")
            .Append(CultureInfo.InvariantCulture, $"; Created: {created}\n; Publish: {created}\n; Activate: {created}\n")
            .Append(CultureInfo.InvariantCulture, $"{PresentationFormat.FormatName(key.Zone)} {key.DnsKey.TimeToLive} IN DNSKEY {PresentationFormat.FormatRData(RecordType.DnsKey, RecordWire.RData(key.DnsKey))}\n")
            .ToString();

        var lines = new List<string>
        {
            "Private-key-format: v1.3",
            $"Algorithm: {(int)key.Algorithm} ({DnssecAlgorithms.Mnemonic(key.Algorithm)})",
        };
        var secrets = new List<byte[]>();
        switch (key.Algorithm)
        {
            case DnsSecAlgorithm.RsaSha256:
            case DnsSecAlgorithm.RsaSha512:
            {
                var p = key.ExportRsa();
                secrets.AddRange([p.D!, p.P!, p.Q!, p.DP!, p.DQ!, p.InverseQ!]);
                lines.Add($"Modulus: {Convert.ToBase64String(p.Modulus!)}");
                lines.Add($"PublicExponent: {Convert.ToBase64String(p.Exponent!)}");
                lines.Add($"PrivateExponent: {Convert.ToBase64String(p.D!)}");
                lines.Add($"Prime1: {Convert.ToBase64String(p.P!)}");
                lines.Add($"Prime2: {Convert.ToBase64String(p.Q!)}");
                lines.Add($"Exponent1: {Convert.ToBase64String(p.DP!)}");
                lines.Add($"Exponent2: {Convert.ToBase64String(p.DQ!)}");
                lines.Add($"Coefficient: {Convert.ToBase64String(p.InverseQ!)}");
                break;
            }
            case DnsSecAlgorithm.EcDsaP256Sha256:
            case DnsSecAlgorithm.EcDsaP384Sha384:
            {
                var d = key.ExportEcdsaScalar();
                secrets.Add(d);
                lines.Add($"PrivateKey: {Convert.ToBase64String(d)}");
                break;
            }
            case DnsSecAlgorithm.Ed25519:
            {
                var seed = key.ExportEd25519Seed();
                secrets.Add(seed);
                lines.Add($"PrivateKey: {Convert.ToBase64String(seed)}");
                break;
            }
            default:
                throw new NotSupportedException($"cannot write algorithm {key.Algorithm}");
        }
        lines.Add($"Created: {created}");
        lines.Add($"Publish: {created}");
        lines.Add($"Activate: {created}");
        try
        {
            WriteAtomically(basePath + ".key", publicText, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
            WriteAtomically(basePath + ".private", string.Join('\n', lines) + "\n", UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        finally
        {
            foreach (var secret in secrets) CryptographicOperations.ZeroMemory(secret);
        }
        return basePath;
    }

    private static void WriteAtomically(string path, string text, UnixFileMode mode)
    {
        var temp = path + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = mode;
        using (var stream = new FileStream(temp, options))
        {
            var bytes = Encoding.ASCII.GetBytes(text);
            stream.Write(bytes);
            stream.Flush(flushToDisk: true);
        }
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>Reads a key pair from its base path (with or without the .key/.private extension).</summary>
    public static LocalKey Read(string path)
    {
        var basePath = path.EndsWith(".key", StringComparison.Ordinal) || path.EndsWith(".private", StringComparison.Ordinal)
            ? path[..path.LastIndexOf('.')]
            : path;
        var keyPath = basePath + ".key";
        var privatePath = basePath + ".private";
        if (!File.Exists(keyPath)) throw new FileNotFoundException($"key file {keyPath} not found", keyPath);
        if (!File.Exists(privatePath)) throw new FileNotFoundException($"private key file {privatePath} not found", privatePath);

        var dnskeyFile = MasterFileReader.ReadFile(keyPath, DomainName.Root, 3600);
        var dnskey = dnskeyFile.Records.OfType<DnsKeyRecord>().SingleOrDefault()
                     ?? throw new FormatException($"{keyPath}: expected exactly one DNSKEY record");

        var fields = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        int lineNumber = 0;
        foreach (var line in File.ReadAllLines(privatePath))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line) || line.StartsWith(';')) continue;
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0) throw new ZoneFileException(privatePath, lineNumber, "expected 'Field: value'");
            fields[line[..colon].Trim()] = line[(colon + 1)..].Trim();
        }
        string Field(string name) => fields.TryGetValue(name, out var value) ? value
            : throw new ZoneFileException(privatePath, 0, $"missing field '{name}'");
        byte[] Bytes(string name)
        {
            try { return Convert.FromBase64String(Field(name)); }
            catch (FormatException) { throw new ZoneFileException(privatePath, 0, $"field '{name}' is not base64"); }
        }

        if (!Field("Private-key-format").StartsWith("v1.", StringComparison.Ordinal))
            throw new ZoneFileException(privatePath, 0, $"unsupported Private-key-format '{Field("Private-key-format")}'");
        var algorithmText = Field("Algorithm").Split(' ')[0];
        var algorithm = DnssecAlgorithms.Parse(algorithmText);
        if (algorithm != dnskey.Algorithm)
            throw new ZoneFileException(privatePath, 0, $"algorithm {algorithmText} does not match the DNSKEY's {(int)dnskey.Algorithm}");

        var created = fields.TryGetValue("Created", out var c) && DateTime.TryParseExact(c, "yyyyMMddHHmmss", CultureInfo.InvariantCulture,
            DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var when) ? new DateTimeOffset(when, TimeSpan.Zero) : DateTimeOffset.UtcNow;

        LocalKey key;
        switch (algorithm)
        {
            case DnsSecAlgorithm.RsaSha256:
            case DnsSecAlgorithm.RsaSha512:
            {
                var modulus = Bytes("Modulus");
                int half = (modulus.Length + 1) / 2;
                var parameters = new RSAParameters
                {
                    Modulus = modulus,
                    Exponent = Bytes("PublicExponent"),
                    D = Pad(Bytes("PrivateExponent"), modulus.Length),
                    P = Pad(Bytes("Prime1"), half),
                    Q = Pad(Bytes("Prime2"), half),
                    DP = Pad(Bytes("Exponent1"), half),
                    DQ = Pad(Bytes("Exponent2"), half),
                    InverseQ = Pad(Bytes("Coefficient"), half),
                };
                try
                {
                    key = LocalKey.FromRsa(dnskey.Name, algorithm, dnskey.Flags, parameters, dnskey.TimeToLive);
                }
                finally
                {
                    foreach (var secret in new[] { parameters.D, parameters.P, parameters.Q, parameters.DP, parameters.DQ, parameters.InverseQ })
                        CryptographicOperations.ZeroMemory(secret);
                }
                break;
            }
            case DnsSecAlgorithm.EcDsaP256Sha256:
            case DnsSecAlgorithm.EcDsaP384Sha384:
            {
                var d = Pad(Bytes("PrivateKey"), algorithm == DnsSecAlgorithm.EcDsaP256Sha256 ? 32 : 48);
                try { key = LocalKey.FromEcdsa(dnskey.Name, algorithm, dnskey.Flags, d, dnskey.TimeToLive); }
                finally { CryptographicOperations.ZeroMemory(d); }
                break;
            }
            case DnsSecAlgorithm.Ed25519:
            {
                var seed = Bytes("PrivateKey");
                try { key = LocalKey.FromEd25519(dnskey.Name, dnskey.Flags, seed, dnskey.TimeToLive); }
                finally { CryptographicOperations.ZeroMemory(seed); }
                break;
            }
            default:
                throw new NotSupportedException($"algorithm {algorithm} is not supported");
        }
        if (!key.DnsKey.PublicKey.AsSpan().SequenceEqual(dnskey.PublicKey))
        {
            key.Dispose();
            throw new ZoneFileException(privatePath, 0, $"private key does not match the public key in {keyPath}");
        }
        key.Created = created;
        return key;
    }

    private static byte[] Pad(byte[] value, int length)
    {
        if (value.Length >= length) return value;
        var padded = new byte[length];
        value.CopyTo(padded, length - value.Length);
        CryptographicOperations.ZeroMemory(value);
        return padded;
    }
}
