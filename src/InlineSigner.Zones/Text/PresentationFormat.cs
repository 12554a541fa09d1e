using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;

namespace InlineSigner.Zones.Text;

/// <summary>
/// Presentation format of names, TTLs, types and RDATA fields (RFC 1035 §5.1, RFC 3597, RFC 4034 §§2.2–5.3,
/// RFC 5155 §3.3, RFC 8976, RFC 9460). Parsing produces wire RDATA; printing reads wire RDATA, so a value we write
/// reads back to the same bytes.
/// </summary>
public static class PresentationFormat
{
    // ---------------------------------------------------------------- names

    /// <summary>
    /// Parses a domain name as written in a master file: <c>@</c> is the origin, a name without a trailing dot is
    /// relative to <paramref name="origin"/>, <c>\X</c> and <c>\DDD</c> escapes are decoded.
    /// </summary>
    public static DomainName ParseName(string text, DomainName? origin)
    {
        if (text == "@") return origin ?? throw new FormatException("'@' used but no origin is known");
        if (text == ".") return DomainName.Root;
        var labels = new List<string>();
        var label = new StringBuilder();
        bool absolute = false;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c == '\\')
            {
                if (i + 1 >= text.Length) throw new FormatException($"name '{text}' ends with a backslash");
                if (char.IsAsciiDigit(text[i + 1]))
                {
                    if (i + 3 >= text.Length || !char.IsAsciiDigit(text[i + 2]) || !char.IsAsciiDigit(text[i + 3]))
                        throw new FormatException($"bad \\DDD escape in name '{text}'");
                    int value = (text[i + 1] - '0') * 100 + (text[i + 2] - '0') * 10 + (text[i + 3] - '0');
                    if (value > 255) throw new FormatException($"escape \\{text.Substring(i + 1, 3)} in name '{text}' is above 255");
                    if (value > 127)
                        throw new FormatException($"escape \\{text.Substring(i + 1, 3)} in name '{text}': octets above 127 in names are not supported");
                    label.Append((char)value);
                    i += 3;
                }
                else
                {
                    label.Append(text[i + 1]);
                    i++;
                }
                continue;
            }
            if (c == '.')
            {
                if (label.Length == 0) throw new FormatException($"empty label in name '{text}'");
                labels.Add(CheckLabel(label.ToString(), text));
                label.Clear();
                if (i == text.Length - 1) absolute = true;
                continue;
            }
            if (c > 127) throw new FormatException($"name '{text}' has a non-ASCII character; use its IDNA (xn--) form");
            label.Append(c);
        }
        if (label.Length > 0) labels.Add(CheckLabel(label.ToString(), text));
        if (!absolute)
        {
            if (origin is null) throw new FormatException($"relative name '{text}' but no origin is known");
            labels.AddRange(origin.Labels);
        }
        int wireLength = 1 + labels.Sum(l => l.Length + 1);
        if (wireLength > 255) throw new FormatException($"name '{text}' is longer than 255 octets");
        return new DomainName(labels.ToArray());
    }

    private static string CheckLabel(string label, string name) =>
        label.Length > 63 ? throw new FormatException($"label '{label}' in name '{name}' is longer than 63 octets") : label;

    /// <summary>Absolute name in presentation form with every special character escaped.</summary>
    public static string FormatName(DomainName name)
    {
        if (name.LabelCount == 0) return ".";
        var sb = new StringBuilder();
        foreach (var label in name.Labels)
        {
            foreach (char c in label)
            {
                if (c is '.' or ';' or '(' or ')' or '"' or '\\' or '@' or '$') sb.Append('\\').Append(c);
                else if (c <= ' ' || c >= 127) sb.Append('\\').Append(((int)c).ToString("D3", CultureInfo.InvariantCulture));
                else sb.Append(c);
            }
            sb.Append('.');
        }
        return sb.ToString();
    }

    // ---------------------------------------------------------------- TTLs and numbers

    /// <summary>A TTL or period: seconds, or BIND units (1w2d3h4m5s, case-insensitive).</summary>
    public static bool TryParsePeriod(string text, out uint seconds)
    {
        seconds = 0;
        if (text.Length == 0) return false;
        if (text.All(char.IsAsciiDigit)) return uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out seconds);
        ulong total = 0;
        ulong number = 0;
        bool haveDigits = false;
        foreach (char c in text)
        {
            if (char.IsAsciiDigit(c))
            {
                number = number * 10 + (ulong)(c - '0');
                if (number > uint.MaxValue) return false;
                haveDigits = true;
                continue;
            }
            if (!haveDigits) return false;
            ulong unit = char.ToLowerInvariant(c) switch { 'w' => 604800, 'd' => 86400, 'h' => 3600, 'm' => 60, 's' => 1, _ => 0 };
            if (unit == 0) return false;
            total += number * unit;
            if (total > uint.MaxValue) return false;
            number = 0;
            haveDigits = false;
        }
        if (haveDigits) return false; // "1h30" is ambiguous; BIND rejects it too
        seconds = (uint)total;
        return true;
    }

    public static uint ParseUInt(string text, uint max, string what)
    {
        if (!uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value > max)
            throw new FormatException($"{what} '{text}' is not a number from 0 to {max}");
        return value;
    }

    // ---------------------------------------------------------------- types and classes

    /// <summary>Type mnemonic (BIND spelling, any case) or TYPEnnn.</summary>
    public static bool TryParseType(string text, out RecordType type)
    {
        type = default;
        if (text.Length == 0 || !char.IsAsciiLetter(text[0])) return false;
        if (text.StartsWith("TYPE", StringComparison.OrdinalIgnoreCase) && text.Length > 4 && text[4..].All(char.IsAsciiDigit))
        {
            if (!ushort.TryParse(text[4..], NumberStyles.None, CultureInfo.InvariantCulture, out var number)) return false;
            type = (RecordType)number;
            return true;
        }
        if (Enum.TryParse(text, ignoreCase: true, out RecordType parsed) && Enum.IsDefined(parsed) && IsDataType(parsed))
        {
            type = parsed;
            return true;
        }
        return false;
    }

    // Meta types and query types are not valid in zone data.
    private static bool IsDataType(RecordType type) =>
        type is not (RecordType.Opt or RecordType.TKey or RecordType.TSig or RecordType.Ixfr or RecordType.Axfr or RecordType.Any
            or RecordType.Invalid);

    public static string FormatType(RecordType type)
    {
        if (Enum.IsDefined(type) && IsDataType(type))
        {
            var name = type.ToString();
            if (!name.All(char.IsAsciiDigit)) return name.ToUpperInvariant();
        }
        return "TYPE" + ((ushort)type).ToString(CultureInfo.InvariantCulture);
    }

    public static bool TryParseClass(string text, out RecordClass recordClass)
    {
        recordClass = default;
        switch (text.ToUpperInvariant())
        {
            case "IN": recordClass = RecordClass.INet; return true;
            case "CH": recordClass = RecordClass.Chaos; return true;
            case "HS": recordClass = RecordClass.Hesiod; return true;
        }
        if (text.StartsWith("CLASS", StringComparison.OrdinalIgnoreCase) && text.Length > 5 &&
            ushort.TryParse(text[5..], NumberStyles.None, CultureInfo.InvariantCulture, out var number))
        {
            recordClass = (RecordClass)number;
            return true;
        }
        return false;
    }

    public static string FormatClass(RecordClass recordClass) => recordClass switch
    {
        RecordClass.INet => "IN",
        RecordClass.Chaos => "CH",
        RecordClass.Hesiod => "HS",
        _ => "CLASS" + ((ushort)recordClass).ToString(CultureInfo.InvariantCulture),
    };

    // ---------------------------------------------------------------- character-strings

    /// <summary>Decodes a character-string's escapes (<c>\X</c>, <c>\DDD</c>); non-ASCII text is taken as UTF-8.</summary>
    public static byte[] DecodeCharacterString(string text)
    {
        var bytes = new List<byte>(text.Length);
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c == '\\')
            {
                if (i + 1 >= text.Length) throw new FormatException($"string '{text}' ends with a backslash");
                if (char.IsAsciiDigit(text[i + 1]))
                {
                    if (i + 3 >= text.Length || !char.IsAsciiDigit(text[i + 2]) || !char.IsAsciiDigit(text[i + 3]))
                        throw new FormatException($"bad \\DDD escape in string '{text}'");
                    int value = (text[i + 1] - '0') * 100 + (text[i + 2] - '0') * 10 + (text[i + 3] - '0');
                    if (value > 255) throw new FormatException($"escape \\{text.Substring(i + 1, 3)} is above 255");
                    bytes.Add((byte)value);
                    i += 3;
                }
                else
                {
                    AppendUtf8(bytes, text[i + 1]);
                    i++;
                }
                continue;
            }
            if (char.IsHighSurrogate(c) && i + 1 < text.Length)
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(text.Substring(i, 2)));
                i++;
                continue;
            }
            AppendUtf8(bytes, c);
        }
        return bytes.ToArray();
    }

    private static void AppendUtf8(List<byte> bytes, char c)
    {
        if (c < 128) bytes.Add((byte)c);
        else bytes.AddRange(Encoding.UTF8.GetBytes(c.ToString()));
    }

    /// <summary>A character-string in quotes; quote and backslash escaped, other non-printables as \DDD.</summary>
    public static string FormatCharacterString(ReadOnlySpan<byte> bytes)
    {
        var sb = new StringBuilder(bytes.Length + 2);
        sb.Append('"');
        AppendEscaped(sb, bytes, escapeComma: false);
        sb.Append('"');
        return sb.ToString();
    }

    private static void AppendEscaped(StringBuilder sb, ReadOnlySpan<byte> bytes, bool escapeComma)
    {
        foreach (byte b in bytes)
        {
            if (b is (byte)'"' or (byte)'\\' || (escapeComma && b == (byte)',')) sb.Append('\\').Append((char)b);
            else if (b < 0x20 || b >= 0x7F) sb.Append('\\').Append(b.ToString("D3", CultureInfo.InvariantCulture));
            else sb.Append((char)b);
        }
    }

    // ---------------------------------------------------------------- RDATA

    /// <summary>
    /// Parses the RDATA tokens of <paramref name="type"/> into wire RDATA. <c>\# len hex</c> (RFC 3597) works for
    /// every type; other types need a layout in <see cref="RDataSchema"/>.
    /// </summary>
    internal static byte[] ParseRData(RecordType type, IReadOnlyList<Token> tokens, int start, DomainName origin)
    {
        if (start < tokens.Count && !tokens[start].Quoted && tokens[start].Text == "\\#")
            return ParseGeneric(tokens, start + 1);
        if (!RDataSchema.TryGet(type, out var layout))
            throw new FormatException($"type {FormatType(type)} has no presentation parser here; write it in RFC 3597 form (\\# length hex)");
        var writer = new RDataWriter();
        int p = start;
        foreach (var field in layout)
        {
            p = ParseField(type, field, tokens, p, origin, writer);
        }
        if (p < tokens.Count) throw new FormatException($"unexpected '{tokens[p].Text}' after the {FormatType(type)} data");
        return writer.ToArray();
    }

    private static byte[] ParseGeneric(IReadOnlyList<Token> tokens, int p)
    {
        if (p >= tokens.Count) throw new FormatException("\\# needs a length");
        uint length = ParseUInt(tokens[p].Text, 65535, "RDATA length");
        var hex = string.Concat(tokens.Skip(p + 1).Select(t => t.Text));
        var data = DecodeHex(hex, "RDATA");
        if (data.Length != length) throw new FormatException($"\\# says {length} octets but {data.Length} follow");
        return data;
    }

    private static Token Need(IReadOnlyList<Token> tokens, int p, RecordType type, string what) =>
        p < tokens.Count ? tokens[p] : throw new FormatException($"{FormatType(type)} record is missing its {what}");

    private static int ParseField(RecordType type, Field field, IReadOnlyList<Token> tokens, int p, DomainName origin, RDataWriter w)
    {
        switch (field)
        {
            case Field.U8:
                w.U8((byte)ParseUInt(Need(tokens, p, type, "8-bit field").Text, 255, "value"));
                return p + 1;
            case Field.U16:
                w.U16((ushort)ParseUInt(Need(tokens, p, type, "16-bit field").Text, 65535, "value"));
                return p + 1;
            case Field.U32:
                w.U32(ParseUInt(Need(tokens, p, type, "32-bit field").Text, uint.MaxValue, "value"));
                return p + 1;
            case Field.Period:
            {
                var t = Need(tokens, p, type, "period");
                if (!TryParsePeriod(t.Text, out var seconds)) throw new FormatException($"'{t.Text}' is not a period (seconds or 1w2d3h4m5s)");
                w.U32(seconds);
                return p + 1;
            }
            case Field.Name:
                w.Name(ParseName(Need(tokens, p, type, "domain name").Text, origin));
                return p + 1;
            case Field.CharString:
                w.CharString(DecodeCharacterString(Need(tokens, p, type, "character-string").Text));
                return p + 1;
            case Field.CharStrings:
                Need(tokens, p, type, "text");
                for (; p < tokens.Count; p++) w.CharString(DecodeCharacterString(tokens[p].Text));
                return p;
            case Field.HexRest:
            {
                var hex = string.Concat(tokens.Skip(p).Select(t => t.Text));
                if (hex.Length == 0 && !RDataSchema.AllowsEmptyRest(type)) throw new FormatException($"{FormatType(type)} record is missing its hex data");
                w.Bytes(DecodeHex(hex, FormatType(type) + " data"));
                return tokens.Count;
            }
            case Field.Base64Rest:
            {
                var text = string.Concat(tokens.Skip(p).Select(t => t.Text));
                if (text.Length == 0 && !RDataSchema.AllowsEmptyRest(type)) throw new FormatException($"{FormatType(type)} record is missing its base64 data");
                try { w.Bytes(Convert.FromBase64String(text)); }
                catch (FormatException) { throw new FormatException($"{FormatType(type)} data is not valid base64"); }
                return tokens.Count;
            }
            case Field.Ipv4:
            {
                var t = Need(tokens, p, type, "IPv4 address");
                if (!IPAddress.TryParse(t.Text, out var address) || address.AddressFamily != AddressFamily.InterNetwork || t.Text.Count(ch => ch == '.') != 3)
                    throw new FormatException($"'{t.Text}' is not an IPv4 address");
                w.Bytes(address.GetAddressBytes());
                return p + 1;
            }
            case Field.Ipv6:
            {
                var t = Need(tokens, p, type, "IPv6 address");
                if (!IPAddress.TryParse(t.Text, out var address) || address.AddressFamily != AddressFamily.InterNetworkV6 || t.Text.Contains('%'))
                    throw new FormatException($"'{t.Text}' is not an IPv6 address");
                w.Bytes(address.GetAddressBytes());
                return p + 1;
            }
            case Field.TypeCode:
            {
                var t = Need(tokens, p, type, "type covered");
                if (!TryParseType(t.Text, out var covered)) throw new FormatException($"'{t.Text}' is not a record type");
                w.U16((ushort)covered);
                return p + 1;
            }
            case Field.TypeBitmap:
            {
                var types = new List<RecordType>();
                for (; p < tokens.Count; p++)
                {
                    if (!TryParseType(tokens[p].Text, out var t)) throw new FormatException($"'{tokens[p].Text}' is not a record type");
                    types.Add(t);
                }
                w.Bytes(TypeBitmap.Encode(types));
                return p;
            }
            case Field.Time:
            {
                var t = Need(tokens, p, type, "signature time");
                w.U32(ParseSignatureTime(t.Text));
                return p + 1;
            }
            case Field.SaltHex:
            {
                var t = Need(tokens, p, type, "salt");
                var salt = t.Text == "-" ? [] : DecodeHex(t.Text, "salt");
                if (salt.Length > 255) throw new FormatException("salt is longer than 255 octets");
                w.U8((byte)salt.Length);
                w.Bytes(salt);
                return p + 1;
            }
            case Field.Base32HexPrefixed:
            {
                var t = Need(tokens, p, type, "next hashed owner");
                var bytes = Base32Hex.Decode(t.Text);
                if (bytes.Length is 0 or > 255) throw new FormatException($"'{t.Text}' is not a base32hex hash");
                w.U8((byte)bytes.Length);
                w.Bytes(bytes);
                return p + 1;
            }
            case Field.CaaTagValue:
            {
                var tag = Need(tokens, p, type, "tag").Text;
                if (tag.Length is 0 or > 255 || !tag.All(char.IsAsciiLetterOrDigit)) throw new FormatException($"CAA tag '{tag}' must be letters and digits");
                var value = DecodeCharacterString(Need(tokens, p + 1, type, "value").Text);
                w.U8((byte)tag.Length);
                w.Bytes(Encoding.ASCII.GetBytes(tag));
                w.Bytes(value);
                return p + 2;
            }
            case Field.SvcParams:
                w.Bytes(SvcParams.Parse(tokens.Skip(p).Select(t => t.Text).ToList()));
                return tokens.Count;
            default:
                throw new InvalidOperationException($"unhandled field {field}");
        }
    }

    /// <summary>RRSIG time: YYYYMMDDHHmmSS (UTC) or seconds since 1970 (RFC 4034 §3.2).</summary>
    public static uint ParseSignatureTime(string text)
    {
        if (text.Length == 14 && text.All(char.IsAsciiDigit))
        {
            if (!DateTime.TryParseExact(text, "yyyyMMddHHmmss", CultureInfo.InvariantCulture,
                    DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var time))
                throw new FormatException($"'{text}' is not a valid YYYYMMDDHHmmSS time");
            long seconds = new DateTimeOffset(time, TimeSpan.Zero).ToUnixTimeSeconds();
            return unchecked((uint)seconds);
        }
        return ParseUInt(text, uint.MaxValue, "signature time");
    }

    public static string FormatSignatureTime(uint seconds) =>
        DateTimeOffset.FromUnixTimeSeconds(seconds).UtcDateTime.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture);

    public static byte[] DecodeHex(string hex, string what)
    {
        try { return Convert.FromHexString(hex); }
        catch (FormatException) { throw new FormatException($"{what} is not valid hex"); }
    }

    /// <summary>Presentation form of wire RDATA of <paramref name="type"/>; RFC 3597 generic form when we have no layout.</summary>
    public static string FormatRData(RecordType type, ReadOnlySpan<byte> rdata)
    {
        if (!RDataSchema.TryGet(type, out var layout)) return FormatGeneric(rdata);
        try
        {
            var parts = new List<string>();
            var r = new RDataReader(rdata.ToArray());
            foreach (var field in layout) FormatField(field, ref r, parts);
            if (!r.AtEnd) return FormatGeneric(rdata);
            return string.Join(' ', parts);
        }
        catch (FormatException)
        {
            // RDATA that does not fit its type's layout is still written faithfully, in generic form.
            return FormatGeneric(rdata);
        }
    }

    public static string FormatGeneric(ReadOnlySpan<byte> rdata) =>
        rdata.Length == 0 ? "\\# 0" : $"\\# {rdata.Length} {Convert.ToHexString(rdata)}";

    private static void FormatField(Field field, ref RDataReader r, List<string> parts)
    {
        switch (field)
        {
            case Field.U8: parts.Add(r.U8().ToString(CultureInfo.InvariantCulture)); break;
            case Field.U16: parts.Add(r.U16().ToString(CultureInfo.InvariantCulture)); break;
            case Field.U32:
            case Field.Period: parts.Add(r.U32().ToString(CultureInfo.InvariantCulture)); break;
            case Field.Name: parts.Add(FormatName(r.Name())); break;
            case Field.CharString: parts.Add(FormatCharacterString(r.CharString())); break;
            case Field.CharStrings:
                do parts.Add(FormatCharacterString(r.CharString())); while (!r.AtEnd);
                break;
            case Field.HexRest:
            {
                var rest = r.Rest();
                parts.Add(rest.Length == 0 ? "" : Convert.ToHexString(rest));
                break;
            }
            case Field.Base64Rest: parts.Add(Convert.ToBase64String(r.Rest())); break;
            case Field.Ipv4: parts.Add(new IPAddress(r.Take(4)).ToString()); break;
            case Field.Ipv6: parts.Add(new IPAddress(r.Take(16)).ToString()); break;
            case Field.TypeCode: parts.Add(FormatType((RecordType)r.U16())); break;
            case Field.TypeBitmap:
                foreach (var t in TypeBitmap.Decode(r.Rest())) parts.Add(FormatType(t));
                break;
            case Field.Time: parts.Add(FormatSignatureTime(r.U32())); break;
            case Field.SaltHex:
            {
                var salt = r.Take(r.U8());
                parts.Add(salt.Length == 0 ? "-" : Convert.ToHexString(salt));
                break;
            }
            case Field.Base32HexPrefixed: parts.Add(Base32Hex.Encode(r.Take(r.U8()))); break;
            case Field.CaaTagValue:
            {
                var tag = r.Take(r.U8());
                if (tag.Length == 0 || !tag.All(b => b < 128 && char.IsAsciiLetterOrDigit((char)b))) throw new FormatException("bad CAA tag");
                parts.Add(Encoding.ASCII.GetString(tag));
                parts.Add(FormatCharacterString(r.Rest()));
                break;
            }
            case Field.SvcParams:
                parts.AddRange(SvcParams.Format(r.Rest()));
                break;
            default:
                throw new InvalidOperationException($"unhandled field {field}");
        }
        parts.RemoveAll(string.IsNullOrEmpty);
    }

    internal static void AppendEscapedValue(StringBuilder sb, ReadOnlySpan<byte> bytes, bool escapeComma) => AppendEscaped(sb, bytes, escapeComma);
}

/// <summary>Builds wire RDATA.</summary>
internal sealed class RDataWriter
{
    private readonly List<byte> _bytes = new(64);

    public void U8(byte value) => _bytes.Add(value);

    public void U16(ushort value)
    {
        _bytes.Add((byte)(value >> 8));
        _bytes.Add((byte)value);
    }

    public void U32(uint value)
    {
        U16((ushort)(value >> 16));
        U16((ushort)value);
    }

    public void Bytes(ReadOnlySpan<byte> bytes)
    {
        foreach (var b in bytes) _bytes.Add(b);
    }

    public void Name(DomainName name) => Bytes(RecordWire.Name(name, lowercase: false));

    public void CharString(byte[] bytes)
    {
        if (bytes.Length > 255) throw new FormatException("character-string longer than 255 octets");
        U8((byte)bytes.Length);
        Bytes(bytes);
    }

    public byte[] ToArray()
    {
        if (_bytes.Count > 65535) throw new FormatException("RDATA longer than 65535 octets");
        return _bytes.ToArray();
    }
}

/// <summary>Reads wire RDATA; every overrun is a <see cref="FormatException"/>.</summary>
internal ref struct RDataReader(byte[] data)
{
    private int _p;

    public readonly bool AtEnd => _p == data.Length;

    public byte U8() => Take(1)[0];

    public ushort U16() => BinaryPrimitives.ReadUInt16BigEndian(Take(2));

    public uint U32() => BinaryPrimitives.ReadUInt32BigEndian(Take(4));

    public byte[] Take(int count)
    {
        if (count < 0 || _p + count > data.Length) throw new FormatException("RDATA too short");
        var result = data.AsSpan(_p, count).ToArray();
        _p += count;
        return result;
    }

    public byte[] Rest() => Take(data.Length - _p);

    public byte[] CharString() => Take(U8());

    public DomainName Name()
    {
        var labels = new List<string>();
        int total = 1;
        while (true)
        {
            int length = U8();
            if (length == 0) break;
            if (length > 63) throw new FormatException("compressed or invalid name in RDATA");
            total += length + 1;
            if (total > 255) throw new FormatException("name longer than 255 octets");
            var bytes = Take(length);
            labels.Add(new string(Array.ConvertAll(bytes, b => (char)b)));
        }
        return labels.Count == 0 ? DomainName.Root : new DomainName(labels.ToArray());
    }
}
