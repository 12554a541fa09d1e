using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace InlineSigner.Zones.Text;

/// <summary>SVCB/HTTPS SvcParams (RFC 9460 §2.1, Appendix A): presentation ↔ wire, keys in ascending order.</summary>
internal static class SvcParams
{
    private static readonly string[] KeyNames = ["mandatory", "alpn", "no-default-alpn", "port", "ipv4hint", "ech", "ipv6hint", "dohpath", "ohttp"];

    private static ushort ParseKey(string name)
    {
        int index = Array.IndexOf(KeyNames, name.ToLowerInvariant());
        if (index >= 0) return (ushort)index;
        if (name.StartsWith("key", StringComparison.OrdinalIgnoreCase) &&
            ushort.TryParse(name.AsSpan(3), NumberStyles.None, CultureInfo.InvariantCulture, out var number) && number != 65535)
            return number;
        throw new FormatException($"unknown SvcParamKey '{name}'");
    }

    private static string KeyName(ushort key) => key < KeyNames.Length ? KeyNames[key] : "key" + key.ToString(CultureInfo.InvariantCulture);

    public static byte[] Parse(IReadOnlyList<string> tokens)
    {
        var parameters = new SortedDictionary<ushort, byte[]>();
        foreach (var token in tokens)
        {
            int eq = token.IndexOf('=', StringComparison.Ordinal);
            string name = eq < 0 ? token : token[..eq];
            string? raw = eq < 0 ? null : token[(eq + 1)..];
            if (raw is { Length: >= 2 } && raw[0] == '"' && raw[^1] == '"') raw = raw[1..^1];
            ushort key = ParseKey(name);
            if (parameters.ContainsKey(key)) throw new FormatException($"SvcParamKey '{name}' appears twice");
            parameters[key] = EncodeValue(key, name, raw);
        }
        var w = new List<byte>();
        foreach (var (key, value) in parameters)
        {
            w.Add((byte)(key >> 8));
            w.Add((byte)key);
            w.Add((byte)(value.Length >> 8));
            w.Add((byte)value.Length);
            w.AddRange(value);
        }
        return w.ToArray();
    }

    private static byte[] EncodeValue(ushort key, string name, string? raw)
    {
        switch (key)
        {
            case 0: // mandatory
                return Items(raw, name).SelectMany(k => { var v = ParseKey(k); return new[] { (byte)(v >> 8), (byte)v }; }).ToArray();
            case 1: // alpn
                return Items(raw, name).SelectMany(id =>
                {
                    var bytes = PresentationFormat.DecodeCharacterString(id);
                    if (bytes.Length is 0 or > 255) throw new FormatException($"alpn id '{id}' must be 1 to 255 octets");
                    return new[] { (byte)bytes.Length }.Concat(bytes);
                }).ToArray();
            case 2: // no-default-alpn
                if (!string.IsNullOrEmpty(raw)) throw new FormatException("no-default-alpn takes no value");
                return [];
            case 3: // port
            {
                var port = PresentationFormat.ParseUInt(raw ?? throw new FormatException("port needs a value"), 65535, "port");
                return [(byte)(port >> 8), (byte)port];
            }
            case 4: // ipv4hint
            case 6: // ipv6hint
                return Items(raw, name).SelectMany(a =>
                {
                    var family = key == 4 ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6;
                    if (!IPAddress.TryParse(a, out var address) || address.AddressFamily != family) throw new FormatException($"'{a}' is not a valid {name} address");
                    return address.GetAddressBytes();
                }).ToArray();
            case 5: // ech
                try { return Convert.FromBase64String(raw ?? ""); }
                catch (FormatException) { throw new FormatException("ech value is not base64"); }
            default:
                return raw is null ? [] : PresentationFormat.DecodeCharacterString(raw);
        }
    }

    /// <summary>Comma-separated items; a backslash-escaped comma stays inside its item.</summary>
    private static List<string> Items(string? raw, string name)
    {
        if (string.IsNullOrEmpty(raw)) throw new FormatException($"{name} needs a value");
        var items = new List<string>();
        var current = new StringBuilder();
        for (int i = 0; i < raw.Length; i++)
        {
            if (raw[i] == '\\' && i + 1 < raw.Length)
            {
                if (raw[i + 1] == ',') current.Append(',');
                else current.Append(raw[i]).Append(raw[i + 1]);
                i++;
                continue;
            }
            if (raw[i] == ',')
            {
                items.Add(current.ToString());
                current.Clear();
                continue;
            }
            current.Append(raw[i]);
        }
        items.Add(current.ToString());
        if (items.Any(string.IsNullOrEmpty)) throw new FormatException($"{name} has an empty item");
        return items;
    }

    public static IEnumerable<string> Format(byte[] wire)
    {
        var parts = new List<string>();
        int p = 0;
        int last = -1;
        while (p < wire.Length)
        {
            if (p + 4 > wire.Length) throw new FormatException("truncated SvcParam");
            ushort key = BinaryPrimitives.ReadUInt16BigEndian(wire.AsSpan(p));
            int length = BinaryPrimitives.ReadUInt16BigEndian(wire.AsSpan(p + 2));
            if (key <= last) throw new FormatException("SvcParams out of order");
            if (p + 4 + length > wire.Length) throw new FormatException("truncated SvcParam value");
            var value = wire.AsSpan(p + 4, length);
            parts.Add(FormatParam(key, value));
            last = key;
            p += 4 + length;
        }
        return parts;
    }

    private static string FormatParam(ushort key, ReadOnlySpan<byte> value)
    {
        var name = KeyName(key);
        switch (key)
        {
            case 0:
                if (value.Length % 2 != 0) throw new FormatException("bad mandatory list");
                var keys = new List<string>();
                for (int i = 0; i < value.Length; i += 2) keys.Add(KeyName(BinaryPrimitives.ReadUInt16BigEndian(value[i..])));
                return $"{name}={string.Join(',', keys)}";
            case 1:
            {
                var sb = new StringBuilder();
                int i = 0;
                while (i < value.Length)
                {
                    int length = value[i];
                    if (length == 0 || i + 1 + length > value.Length) throw new FormatException("bad alpn list");
                    if (sb.Length > 0) sb.Append(',');
                    // Commas inside an id are escaped twice: once for the list, once for the string.
                    var id = new StringBuilder();
                    PresentationFormat.AppendEscapedValue(id, value.Slice(i + 1, length), escapeComma: true);
                    sb.Append(id.Replace("\\,", "\\\\,"));
                    i += 1 + length;
                }
                return $"{name}=\"{sb}\"";
            }
            case 2:
                if (value.Length != 0) throw new FormatException("no-default-alpn with a value");
                return name;
            case 3:
                if (value.Length != 2) throw new FormatException("bad port");
                return $"{name}={BinaryPrimitives.ReadUInt16BigEndian(value)}";
            case 4:
            case 6:
            {
                int size = key == 4 ? 4 : 16;
                if (value.Length == 0 || value.Length % size != 0) throw new FormatException($"bad {name}");
                var addresses = new List<string>();
                for (int i = 0; i < value.Length; i += size) addresses.Add(new IPAddress(value.Slice(i, size)).ToString());
                return $"{name}={string.Join(',', addresses)}";
            }
            case 5:
                return $"{name}={Convert.ToBase64String(value)}";
            default:
            {
                if (value.Length == 0) return name;
                var sb = new StringBuilder();
                PresentationFormat.AppendEscapedValue(sb, value, escapeComma: false);
                return $"{name}=\"{sb}\"";
            }
        }
    }
}
