using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace InlineSigner.Zones.Text;

/// <summary>
/// SVCB/HTTPS SvcParams (RFC 9460 §2.1, §7, §8, Appendix A): presentation ↔ wire. We do this ourselves rather than
/// through ARSoft's SvcBRecord because ARSoft decodes alpn ids as ASCII (octets above 127 become '?') and sorts
/// parameters silently; the wire form here is exactly what RFC 9460 prescribes (keys strictly increasing, mandatory
/// keys sorted and present).
/// </summary>
internal static class SvcParams
{
    private const ushort Mandatory = 0, Alpn = 1, NoDefaultAlpn = 2, Port = 3, Ipv4Hint = 4, Ech = 5, Ipv6Hint = 6, DohPath = 7, Ohttp = 8;

    /// <summary>Names we read (RFC 9460 §14.3.2, RFC 9461 dohpath, RFC 9540 ohttp).</summary>
    private static readonly string[] KeyNames = ["mandatory", "alpn", "no-default-alpn", "port", "ipv4hint", "ech", "ipv6hint", "dohpath", "ohttp"];

    /// <summary>Keys we print by name: those BIND 9.18 prints and reads. Later keys are printed as keyNNNNN, which every
    /// implementation reads (BIND 9.18 refuses "ohttp").</summary>
    private const int LastNamedKeyPrinted = Ipv6Hint;

    private static ushort ParseKey(string name)
    {
        int index = Array.FindIndex(KeyNames, k => k.Equals(name, StringComparison.OrdinalIgnoreCase));
        if (index >= 0) return (ushort)index;
        if (name.Length > 3 && name.StartsWith("key", StringComparison.OrdinalIgnoreCase) && name.Skip(3).All(char.IsAsciiDigit) &&
            ushort.TryParse(name.AsSpan(3), NumberStyles.None, CultureInfo.InvariantCulture, out var number))
        {
            if (number == 65535) throw new FormatException("SvcParamKey key65535 is reserved (RFC 9460 §14.3.2)");
            return number;
        }
        throw new FormatException($"unknown SvcParamKey '{name}'");
    }

    private static string KeyName(ushort key) => key <= LastNamedKeyPrinted ? KeyNames[key] : "key" + key.ToString(CultureInfo.InvariantCulture);

    // ---------------------------------------------------------------- presentation → wire

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
            // Values are char-strings first (RFC 9460 Appendix A): decode \DDD and \X before any list splitting.
            var value = raw is null ? null : PresentationFormat.DecodeCharacterString(raw);
            parameters[key] = EncodeValue(key, name, value);
        }
        if (parameters.TryGetValue(Mandatory, out var mandatory))
        {
            for (int i = 0; i < mandatory.Length; i += 2)
            {
                ushort listed = BinaryPrimitives.ReadUInt16BigEndian(mandatory.AsSpan(i));
                if (!parameters.ContainsKey(listed)) throw new FormatException($"mandatory lists {KeyName(listed)}, which the record does not have (RFC 9460 §8)");
            }
        }
        var w = new List<byte>();
        foreach (var (key, value) in parameters)
        {
            if (value.Length > 65535) throw new FormatException($"SvcParam {KeyName(key)} is longer than 65535 octets");
            w.Add((byte)(key >> 8));
            w.Add((byte)key);
            w.Add((byte)(value.Length >> 8));
            w.Add((byte)value.Length);
            w.AddRange(value);
        }
        return w.ToArray();
    }

    private static byte[] EncodeValue(ushort key, string name, byte[]? value)
    {
        switch (key)
        {
            case Mandatory:
            {
                var keys = new SortedSet<ushort>();
                foreach (var item in SplitList(Need(value, name), name))
                {
                    var listed = ParseKey(Encoding.ASCII.GetString(item));
                    if (listed == Mandatory) throw new FormatException("mandatory must not list itself (RFC 9460 §8)");
                    if (!keys.Add(listed)) throw new FormatException($"mandatory lists {KeyName(listed)} twice");
                }
                // RFC 9460 §8: the keys appear in strictly increasing order on the wire.
                return keys.SelectMany(k => new[] { (byte)(k >> 8), (byte)k }).ToArray();
            }
            case Alpn:
            {
                var result = new List<byte>();
                foreach (var id in SplitList(Need(value, name), name))
                {
                    if (id.Length > 255) throw new FormatException("an alpn id is longer than 255 octets");
                    result.Add((byte)id.Length);
                    result.AddRange(id);
                }
                return result.ToArray();
            }
            case NoDefaultAlpn:
            case Ohttp:
                if (value is { Length: > 0 }) throw new FormatException($"{name} takes no value");
                return [];
            case Port:
            {
                var port = PresentationFormat.ParseUInt(Encoding.ASCII.GetString(Need(value, name)), 65535, "port");
                return [(byte)(port >> 8), (byte)port];
            }
            case Ipv4Hint:
            case Ipv6Hint:
            {
                var family = key == Ipv4Hint ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6;
                var result = new List<byte>();
                foreach (var item in SplitList(Need(value, name), name))
                {
                    var text = Encoding.ASCII.GetString(item);
                    if (!IPAddress.TryParse(text, out var address) || address.AddressFamily != family || text.Contains('%'))
                        throw new FormatException($"'{text}' is not a valid {name} address");
                    result.AddRange(address.GetAddressBytes());
                }
                return result.ToArray();
            }
            case Ech:
                try { return Convert.FromBase64String(Encoding.ASCII.GetString(Need(value, name))); }
                catch (FormatException) { throw new FormatException("ech value is not base64"); }
            default:
                return value ?? [];
        }
    }

    private static byte[] Need(byte[]? value, string name) =>
        value is { Length: > 0 } ? value : throw new FormatException($"SvcParam {name} needs a value");

    /// <summary>RFC 9460 Appendix A.1 value-list: items split on ',', where "\," and "\\" stand for ',' and '\'.</summary>
    private static List<byte[]> SplitList(byte[] value, string name)
    {
        var items = new List<byte[]>();
        var current = new List<byte>();
        for (int i = 0; i < value.Length; i++)
        {
            byte b = value[i];
            if (b == '\\' && i + 1 < value.Length)
            {
                current.Add(value[++i]);
                continue;
            }
            if (b == ',')
            {
                items.Add(current.ToArray());
                current.Clear();
                continue;
            }
            current.Add(b);
        }
        items.Add(current.ToArray());
        if (items.Any(item => item.Length == 0)) throw new FormatException($"SvcParam {name} has an empty item in its list");
        return items;
    }

    // ---------------------------------------------------------------- wire → presentation

    /// <summary>Appends the parameters to <paramref name="sb"/> (or only checks them when null); throws a
    /// <see cref="FormatException"/> for wire data RFC 9460 does not allow.</summary>
    public static void Format(ReadOnlySpan<byte> wire, StringBuilder? sb, int start)
    {
        var keys = new List<ushort>();
        ReadOnlySpan<byte> mandatory = default;
        int p = 0;
        while (p < wire.Length)
        {
            if (p + 4 > wire.Length) throw new FormatException("truncated SvcParam");
            ushort key = BinaryPrimitives.ReadUInt16BigEndian(wire[p..]);
            int length = BinaryPrimitives.ReadUInt16BigEndian(wire[(p + 2)..]);
            if (keys.Count > 0 && key <= keys[^1]) throw new FormatException("SvcParamKeys not in strictly increasing order (RFC 9460 §2.2)");
            if (key == 65535) throw new FormatException("reserved SvcParamKey 65535");
            if (p + 4 + length > wire.Length) throw new FormatException("truncated SvcParam value");
            var value = wire.Slice(p + 4, length);
            if (key == Mandatory) mandatory = value;
            if (sb is not null && sb.Length > start) sb.Append(' ');
            FormatParam(key, value, sb ?? new StringBuilder());
            keys.Add(key);
            p += 4 + length;
        }
        for (int i = 0; i < mandatory.Length; i += 2)
        {
            ushort listed = BinaryPrimitives.ReadUInt16BigEndian(mandatory[i..]);
            if (!keys.Contains(listed)) throw new FormatException($"mandatory lists {KeyName(listed)}, which the record does not have");
        }
    }

    private static void FormatParam(ushort key, ReadOnlySpan<byte> value, StringBuilder sb)
    {
        sb.Append(KeyName(key));
        switch (key)
        {
            case Mandatory:
            {
                if (value.Length == 0 || value.Length % 2 != 0) throw new FormatException("bad mandatory list");
                sb.Append('=');
                int previous = -1;
                for (int i = 0; i < value.Length; i += 2)
                {
                    ushort listed = BinaryPrimitives.ReadUInt16BigEndian(value[i..]);
                    if (listed <= previous || listed == Mandatory) throw new FormatException("mandatory keys not strictly increasing or listing mandatory");
                    if (i > 0) sb.Append(',');
                    sb.Append(KeyName(listed));
                    previous = listed;
                }
                return;
            }
            case Alpn:
            {
                // Each id is escaped for the value-list ("\," and "\\"), and the joined list then as a char-string.
                var list = new List<byte>();
                int i = 0;
                if (value.Length == 0) throw new FormatException("empty alpn list");
                while (i < value.Length)
                {
                    int length = value[i];
                    if (length == 0 || i + 1 + length > value.Length) throw new FormatException("bad alpn list");
                    if (list.Count > 0) list.Add((byte)',');
                    foreach (var b in value.Slice(i + 1, length))
                    {
                        if (b is (byte)',' or (byte)'\\') list.Add((byte)'\\');
                        list.Add(b);
                    }
                    i += 1 + length;
                }
                sb.Append('=');
                PresentationFormat.AppendQuoted(sb, list.ToArray());
                return;
            }
            case NoDefaultAlpn:
            case Ohttp:
                if (value.Length != 0) throw new FormatException($"{KeyNames[key]} with a value");
                return;
            case Port:
                if (value.Length != 2) throw new FormatException("bad port");
                sb.Append('=').Append(BinaryPrimitives.ReadUInt16BigEndian(value).ToString(CultureInfo.InvariantCulture));
                return;
            case Ipv4Hint:
            case Ipv6Hint:
            {
                int size = key == Ipv4Hint ? 4 : 16;
                if (value.Length == 0 || value.Length % size != 0) throw new FormatException($"bad {KeyNames[key]}");
                sb.Append('=');
                for (int i = 0; i < value.Length; i += size)
                {
                    if (i > 0) sb.Append(',');
                    sb.Append(new IPAddress(value.Slice(i, size)).ToString());
                }
                return;
            }
            case Ech:
                if (value.Length == 0) throw new FormatException("empty ech");
                sb.Append('=').Append(Convert.ToBase64String(value));
                return;
            default:
                if (value.Length == 0) return;
                sb.Append('=');
                PresentationFormat.AppendQuoted(sb, value);
                return;
        }
    }
}
