using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;

namespace InlineSigner.Zones.Text;

/// <summary>
/// Presentation format of names, TTLs, types, classes and character-strings (RFC 1035 §5.1, RFC 3597).
/// The RDATA codec built on these is in RDataCodec.cs.
/// <para>
/// Text handed to the parsing methods is a string of <em>octet characters</em>: each char from U+0000 to U+00FF
/// stands for one octet, as when a file is read as ISO-8859-1. That is how the master-file reader feeds them, so a
/// zone file's bytes reach the RDATA unchanged whatever their encoding, as they do in BIND. (A char above U+00FF,
/// which only a caller outside the reader can pass, is taken as UTF-8.)
/// </para>
/// </summary>
public static partial class PresentationFormat
{
    // ---------------------------------------------------------------- names

    /// <summary>
    /// Parses a domain name as written in a master file: <c>@</c> is the origin, a name without a trailing dot is
    /// relative to <paramref name="origin"/>, <c>\X</c> and <c>\DDD</c> escapes are decoded. Octets above 127 are
    /// refused: ARSoft.Tools.Net's <see cref="DomainName"/> writes them to the wire as '?'.
    /// </summary>
    public static DomainName ParseName(string text, DomainName? origin)
    {
        if (text.Length == 0) throw new FormatException("empty domain name");
        if (text == "@") return origin ?? throw new FormatException("'@' used but no origin is known");
        if (text == ".") return DomainName.Root;
        var labels = new List<string>(8);
        var label = new StringBuilder(16);
        bool absolute = false;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c == '\\')
            {
                if (i + 1 >= text.Length) throw new FormatException($"name '{text}' ends with a backslash");
                if (char.IsAsciiDigit(text[i + 1]))
                {
                    int value = ParseDecimalEscape(text, i, "name");
                    if (value > 127) throw HighOctetInName(text, value);
                    label.Append((char)value);
                    i += 3;
                }
                else
                {
                    if (text[i + 1] > 127) throw HighOctetInName(text, text[i + 1]);
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
            if (c > 127) throw HighOctetInName(text, c);
            label.Append(c);
        }
        if (label.Length > 0) labels.Add(CheckLabel(label.ToString(), text));
        if (!absolute)
        {
            if (origin is null) throw new FormatException($"relative name '{text}' but no origin is known");
            labels.AddRange(origin.Labels);
        }
        int wireLength = 1;
        foreach (var l in labels) wireLength += l.Length + 1;
        if (wireLength > 255) throw new FormatException($"name '{text}' is longer than 255 octets");
        return new DomainName(labels.ToArray());
    }

    private static FormatException HighOctetInName(string text, int octet) =>
        new($"name '{text}' has the octet \\{octet.ToString("D3", CultureInfo.InvariantCulture)} (above 127), which ARSoft.Tools.Net " +
            "cannot keep in a name; write internationalised names in their IDNA (xn--) form");

    private static string CheckLabel(string label, string name) =>
        label.Length > 63 ? throw new FormatException($"label '{label}' in name '{name}' is longer than 63 octets") : label;

    /// <summary>Reads the \DDD escape starting at <paramref name="i"/> (the backslash); returns its value (0–255).</summary>
    private static int ParseDecimalEscape(string text, int i, string what)
    {
        if (i + 3 >= text.Length || !char.IsAsciiDigit(text[i + 2]) || !char.IsAsciiDigit(text[i + 3]))
            throw new FormatException($"bad \\DDD escape in {what} '{text}' (three decimal digits are needed)");
        int value = (text[i + 1] - '0') * 100 + (text[i + 2] - '0') * 10 + (text[i + 3] - '0');
        if (value > 255) throw new FormatException($"escape \\{text.Substring(i + 1, 3)} in {what} '{text}' is above 255");
        return value;
    }

    /// <summary>Absolute name in presentation form with every special character escaped.</summary>
    public static string FormatName(DomainName name)
    {
        if (name.LabelCount == 0) return ".";
        var sb = new StringBuilder(64);
        AppendName(sb, name);
        return sb.ToString();
    }

    internal static void AppendName(StringBuilder sb, DomainName name)
    {
        if (name.LabelCount == 0)
        {
            sb.Append('.');
            return;
        }
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
    }

    // ---------------------------------------------------------------- TTLs and numbers

    /// <summary>A TTL or period: seconds, or BIND units (1w2d3h4m5s, case-insensitive).</summary>
    public static bool TryParsePeriod(string text, out uint seconds)
    {
        seconds = 0;
        if (text.Length == 0) return false;
        bool allDigits = true;
        foreach (char c in text) allDigits &= char.IsAsciiDigit(c);
        if (allDigits) return uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out seconds);
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

    /// <summary>Mnemonics that differ from ARSoft's enum names (compared case-insensitively).</summary>
    private static readonly Dictionary<string, RecordType> ExtraMnemonics = new(StringComparer.OrdinalIgnoreCase)
    {
        ["NSAP-PTR"] = RecordType.NsapPtr,
    };

    /// <summary>Type mnemonic (BIND spelling, any case) or TYPEnnn (RFC 3597 §5).</summary>
    public static bool TryParseType(string text, out RecordType type)
    {
        type = default;
        if (text.Length == 0 || !char.IsAsciiLetter(text[0])) return false;
        if (text.Length > 4 && text.StartsWith("TYPE", StringComparison.OrdinalIgnoreCase) && IsAsciiDigits(text.AsSpan(4)))
        {
            if (!ushort.TryParse(text.AsSpan(4), NumberStyles.None, CultureInfo.InvariantCulture, out var number)) return false;
            type = (RecordType)number;
            return true;
        }
        if (ExtraMnemonics.TryGetValue(text, out type)) return true;
        // Enum.TryParse also takes "A,NS" (OR-ed values) and numbers; only a plain letters-and-digits name is a mnemonic.
        foreach (char c in text)
            if (!char.IsAsciiLetterOrDigit(c)) return false;
        if (Enum.TryParse(text, ignoreCase: true, out RecordType parsed) && Enum.IsDefined(parsed) && IsDataType(parsed))
        {
            type = parsed;
            return true;
        }
        return false;
    }

    private static bool IsAsciiDigits(ReadOnlySpan<char> text)
    {
        foreach (char c in text)
            if (!char.IsAsciiDigit(c)) return false;
        return text.Length > 0;
    }

    // Meta types and query types are not valid in zone data (RFC 6895 §3.1).
    private static bool IsDataType(RecordType type) =>
        type is not (RecordType.Opt or RecordType.TKey or RecordType.TSig or RecordType.Ixfr or RecordType.Axfr or RecordType.Any
            or (RecordType)253 /* MAILB */ or (RecordType)254 /* MAILA */ or RecordType.Invalid);

    /// <summary>
    /// The type's mnemonic when we read and write its RDATA ourselves (BIND knows all of those), TYPEnnn otherwise:
    /// such types are written in RFC 3597 generic form, which every server reads whatever mnemonics it knows.
    /// </summary>
    public static string FormatType(RecordType type)
    {
        if (RDataSchema.Has(type)) return type.ToString().ToUpperInvariant();
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
        if (text.Length > 5 && text.StartsWith("CLASS", StringComparison.OrdinalIgnoreCase) && IsAsciiDigits(text.AsSpan(5)) &&
            ushort.TryParse(text.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out var number))
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

    /// <summary>
    /// Decodes a character-string's escapes (<c>\X</c>, <c>\DDD</c>) into octets. Each char up to U+00FF is one
    /// octet (see the class remarks); a char above it is encoded as UTF-8.
    /// </summary>
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
                    bytes.Add((byte)ParseDecimalEscape(text, i, "string"));
                    i += 3;
                }
                else
                {
                    i++;
                    AppendOctets(bytes, text, ref i);
                }
                continue;
            }
            AppendOctets(bytes, text, ref i);
        }
        return bytes.ToArray();
    }

    private static void AppendOctets(List<byte> bytes, string text, ref int i)
    {
        char c = text[i];
        if (c <= 0xFF)
        {
            bytes.Add((byte)c);
            return;
        }
        int length = char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]) ? 2 : 1;
        bytes.AddRange(Encoding.UTF8.GetBytes(text.Substring(i, length)));
        i += length - 1;
    }

    /// <summary>A character-string in quotes; quote and backslash escaped, other non-printables as \DDD.</summary>
    public static string FormatCharacterString(ReadOnlySpan<byte> bytes)
    {
        var sb = new StringBuilder(bytes.Length + 2);
        AppendQuoted(sb, bytes);
        return sb.ToString();
    }

    internal static void AppendQuoted(StringBuilder sb, ReadOnlySpan<byte> bytes)
    {
        sb.Append('"');
        AppendEscaped(sb, bytes);
        sb.Append('"');
    }

    /// <summary>Octets as the inside of a quoted string: '"' and '\' escaped, non-printable and non-ASCII as \DDD.</summary>
    internal static void AppendEscaped(StringBuilder sb, ReadOnlySpan<byte> bytes)
    {
        foreach (byte b in bytes)
        {
            if (b is (byte)'"' or (byte)'\\') sb.Append('\\').Append((char)b);
            else if (b < 0x20 || b >= 0x7F) sb.Append('\\').Append(b.ToString("D3", CultureInfo.InvariantCulture));
            else sb.Append((char)b);
        }
    }

    // ---------------------------------------------------------------- RRSIG times and hex

    /// <summary>RRSIG time: YYYYMMDDHHmmSS (UTC) or seconds since 1970 (RFC 4034 §3.2).</summary>
    public static uint ParseSignatureTime(string text)
    {
        if (text.Length == 14 && IsAsciiDigits(text))
        {
            if (!DateTime.TryParseExact(text, "yyyyMMddHHmmss", CultureInfo.InvariantCulture,
                    DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var time))
                throw new FormatException($"'{text}' is not a valid YYYYMMDDHHmmSS time");
            long seconds = new DateTimeOffset(time, TimeSpan.Zero).ToUnixTimeSeconds();
            // RFC 4034 §3.1.5: serial-number arithmetic, so times past 2106 wrap around.
            return unchecked((uint)seconds);
        }
        return ParseUInt(text, uint.MaxValue, "signature time");
    }

    public static string FormatSignatureTime(uint seconds) =>
        DateTimeOffset.FromUnixTimeSeconds(seconds).UtcDateTime.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture);

    public static byte[] DecodeHex(string hex, string what)
    {
        try { return Convert.FromHexString(hex); }
        catch (FormatException) { throw new FormatException($"{what} '{Shorten(hex)}' is not valid hex"); }
    }

    /// <summary>Long tokens (keys, digests) are cut in error messages so the message stays one readable line.</summary>
    internal static string Shorten(string text) => text.Length <= 40 ? text : text[..37] + "...";
}

/// <summary>Builds wire RDATA.</summary>
internal sealed class RDataWriter
{
    private byte[] _buffer = new byte[64];
    private int _length;

    public void U8(byte value)
    {
        Ensure(1);
        _buffer[_length++] = value;
    }

    public void U16(ushort value)
    {
        Ensure(2);
        BinaryPrimitives.WriteUInt16BigEndian(_buffer.AsSpan(_length), value);
        _length += 2;
    }

    public void U32(uint value)
    {
        Ensure(4);
        BinaryPrimitives.WriteUInt32BigEndian(_buffer.AsSpan(_length), value);
        _length += 4;
    }

    public void Bytes(ReadOnlySpan<byte> bytes)
    {
        Ensure(bytes.Length);
        bytes.CopyTo(_buffer.AsSpan(_length));
        _length += bytes.Length;
    }

    public void Name(DomainName name)
    {
        Ensure(RecordWire.NameLength(name));
        _length += RecordWire.WriteName(_buffer.AsSpan(_length), name, lowercase: false);
    }

    public void CharString(byte[] bytes)
    {
        if (bytes.Length > 255) throw new FormatException($"character-string of {bytes.Length} octets is longer than 255 octets");
        U8((byte)bytes.Length);
        Bytes(bytes);
    }

    private void Ensure(int more)
    {
        if (_length + more > 65535) throw new FormatException("RDATA longer than 65535 octets");
        if (_length + more <= _buffer.Length) return;
        Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + more));
    }

    public byte[] ToArray() => _buffer.AsSpan(0, _length).ToArray();
}

/// <summary>Reads wire RDATA; every overrun is a <see cref="FormatException"/>.</summary>
internal ref struct RDataReader(ReadOnlySpan<byte> data)
{
    private readonly ReadOnlySpan<byte> _data = data;
    private int _p;

    public readonly bool AtEnd => _p == _data.Length;

    public readonly int Position => _p;

    public byte U8() => Take(1)[0];

    public ushort U16() => BinaryPrimitives.ReadUInt16BigEndian(Take(2));

    public uint U32() => BinaryPrimitives.ReadUInt32BigEndian(Take(4));

    public ReadOnlySpan<byte> Take(int count)
    {
        if (count < 0 || _p + count > _data.Length) throw new FormatException("RDATA too short");
        var result = _data.Slice(_p, count);
        _p += count;
        return result;
    }

    public ReadOnlySpan<byte> Rest() => Take(_data.Length - _p);

    public ReadOnlySpan<byte> CharString() => Take(U8());

    /// <summary>An uncompressed name; octets above 127 are refused as in <see cref="PresentationFormat.ParseName"/>.</summary>
    public DomainName Name()
    {
        var labels = new List<string>(8);
        int total = 1;
        while (true)
        {
            int length = U8();
            if (length == 0) break;
            if (length > 63) throw new FormatException("compressed or invalid name in RDATA");
            total += length + 1;
            if (total > 255) throw new FormatException("name longer than 255 octets in RDATA");
            var bytes = Take(length);
            var chars = new char[length];
            for (int i = 0; i < length; i++)
            {
                if (bytes[i] > 127)
                    throw new FormatException($"a name in the RDATA has the octet \\{bytes[i].ToString("D3", CultureInfo.InvariantCulture)} (above 127), which ARSoft.Tools.Net cannot keep in a name");
                chars[i] = (char)bytes[i];
            }
            labels.Add(new string(chars));
        }
        return labels.Count == 0 ? DomainName.Root : new DomainName(labels.ToArray());
    }
}
