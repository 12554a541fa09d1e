using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;

namespace InlineSigner.Zones.Text;

/// <summary>A presentation-format error tied to the line of the token that caused it (records may span lines).</summary>
internal sealed class TokenFormatException(int line, string message) : FormatException(message)
{
    public int Line { get; } = line;
}

/// <summary>
/// RDATA in presentation format (RFC 1035 §5.1, RFC 3597, RFC 4034 §§2.2–5.3, RFC 5155 §3.3, RFC 6742, RFC 7043,
/// RFC 7553, RFC 8659, RFC 8976, RFC 9460). Parsing produces wire RDATA; printing reads wire RDATA, both from the
/// layouts in <see cref="RDataSchema"/>, so a value we write reads back to the same octets.
/// </summary>
public static partial class PresentationFormat
{
    /// <summary>DNSSEC algorithm mnemonics BIND accepts in DNSKEY, RRSIG and DS (IANA "DNS Security Algorithm Numbers").</summary>
    private static readonly Dictionary<string, byte> AlgorithmMnemonics = new(StringComparer.OrdinalIgnoreCase)
    {
        ["RSAMD5"] = 1, ["DH"] = 2, ["DSA"] = 3, ["RSASHA1"] = 5, ["DSA-NSEC3-SHA1"] = 6, ["NSEC3DSA"] = 6,
        ["RSASHA1-NSEC3-SHA1"] = 7, ["NSEC3RSASHA1"] = 7, ["RSASHA256"] = 8, ["RSASHA512"] = 10, ["ECC-GOST"] = 12,
        ["ECDSAP256SHA256"] = 13, ["ECDSAP384SHA384"] = 14, ["ED25519"] = 15, ["ED448"] = 16,
        ["INDIRECT"] = 252, ["PRIVATEDNS"] = 253, ["PRIVATEOID"] = 254,
    };

    /// <summary>Certificate type mnemonics of RFC 4398 §2.1.</summary>
    private static readonly Dictionary<string, ushort> CertTypeMnemonics = new(StringComparer.OrdinalIgnoreCase)
    {
        ["PKIX"] = 1, ["SPKI"] = 2, ["PGP"] = 3, ["IPKIX"] = 4, ["ISPKI"] = 5, ["IPGP"] = 6, ["ACPKIX"] = 7, ["IACPKIX"] = 8,
        ["URI"] = 253, ["OID"] = 254,
    };

    // ---------------------------------------------------------------- parsing

    /// <summary>
    /// Parses the RDATA tokens of <paramref name="type"/> into wire RDATA. <c>\# len hex</c> (RFC 3597) works for
    /// every type and is checked against the type's layout when we have one; other types need a layout.
    /// </summary>
    internal static byte[] ParseRData(RecordType type, IReadOnlyList<Token> tokens, int start, DomainName origin)
    {
        if (start < tokens.Count && !tokens[start].Quoted && tokens[start].Text == "\\#")
        {
            var data = ParseGeneric(tokens, start + 1);
            if (RDataSchema.Has(type))
            {
                try { ValidateRData(type, data); }
                catch (FormatException e) { throw new TokenFormatException(tokens[start].Line, $"the \\# data is not valid {FormatType(type)} RDATA: {e.Message}"); }
            }
            return data;
        }
        if (!RDataSchema.TryGet(type, out var layout))
        {
            throw new TokenFormatException(tokens[Math.Min(start, tokens.Count - 1)].Line,
                $"type {FormatType(type)} has no presentation parser here; write its data in RFC 3597 form (\\# length hex)");
        }
        var writer = new RDataWriter();
        int p = start;
        foreach (var field in layout)
        {
            int fieldStart = p;
            try
            {
                p = ParseField(type, field, tokens, p, origin, writer);
            }
            catch (FormatException e) when (e is not TokenFormatException)
            {
                throw new TokenFormatException(tokens[Math.Min(fieldStart, tokens.Count - 1)].Line, e.Message);
            }
        }
        if (p < tokens.Count) throw new TokenFormatException(tokens[p].Line, $"unexpected '{Shorten(tokens[p].Text)}' after the {FormatType(type)} data");
        return writer.ToArray();
    }

    private static byte[] ParseGeneric(IReadOnlyList<Token> tokens, int p)
    {
        if (p >= tokens.Count) throw new TokenFormatException(tokens[^1].Line, "\\# needs a length (RFC 3597 §5)");
        uint length;
        try { length = ParseUInt(tokens[p].Text, 65535, "RDATA length"); }
        catch (FormatException e) { throw new TokenFormatException(tokens[p].Line, e.Message); }
        var hex = new StringBuilder();
        for (int i = p + 1; i < tokens.Count; i++) hex.Append(tokens[i].Text);
        byte[] data;
        try { data = DecodeHex(hex.ToString(), "\\# RDATA"); }
        catch (FormatException e) { throw new TokenFormatException(tokens[^1].Line, e.Message); }
        if (data.Length != length) throw new TokenFormatException(tokens[^1].Line, $"\\# says {length} octets but {data.Length} follow");
        return data;
    }

    private static Token Need(IReadOnlyList<Token> tokens, int p, RecordType type, string what) =>
        p < tokens.Count ? tokens[p] : throw new FormatException($"{FormatType(type)} record is missing its {what}");

    private static string Rest(IReadOnlyList<Token> tokens, int p)
    {
        if (p + 1 == tokens.Count) return tokens[p].Text;
        var sb = new StringBuilder();
        for (int i = p; i < tokens.Count; i++) sb.Append(tokens[i].Text);
        return sb.ToString();
    }

    /// <summary>For data spread over several tokens (and lines): names the first token with a character outside the
    /// alphabet, on that token's line.</summary>
    private static void NameBadToken(IReadOnlyList<Token> tokens, int p, Func<char, bool> allowed, string what, string encoding)
    {
        for (int i = p; i < tokens.Count; i++)
        {
            foreach (char c in tokens[i].Text)
            {
                if (!allowed(c))
                    throw new TokenFormatException(tokens[i].Line, $"{what} '{Shorten(tokens[i].Text)}' is not valid {encoding} ('{c}' is not a {encoding} character)");
            }
        }
    }

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
            case Field.Algorithm:
            {
                var t = Need(tokens, p, type, "algorithm");
                if (AlgorithmMnemonics.TryGetValue(t.Text, out var algorithm)) w.U8(algorithm);
                else if (t.Text.Length > 0 && char.IsAsciiDigit(t.Text[0])) w.U8((byte)ParseUInt(t.Text, 255, "algorithm"));
                else throw new FormatException($"'{t.Text}' is not a DNSSEC algorithm number or mnemonic");
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
                var hex = p < tokens.Count ? Rest(tokens, p) : "";
                if (hex.Length == 0 && !RDataSchema.AllowsEmptyRest(type)) throw new FormatException($"{FormatType(type)} record is missing its hex data");
                NameBadToken(tokens, p, char.IsAsciiHexDigit, $"{FormatType(type)} data", "hex");
                w.Bytes(DecodeHex(hex, FormatType(type) + " data"));
                return tokens.Count;
            }
            case Field.Base64Rest:
            {
                var text = p < tokens.Count ? Rest(tokens, p) : "";
                if (text.Length == 0 && !RDataSchema.AllowsEmptyRest(type)) throw new FormatException($"{FormatType(type)} record is missing its base64 data");
                NameBadToken(tokens, p, c => char.IsAsciiLetterOrDigit(c) || c is '+' or '/' or '=', $"{FormatType(type)} data", "base64");
                try { w.Bytes(Convert.FromBase64String(text)); }
                catch (FormatException) { throw new FormatException($"{FormatType(type)} data '{Shorten(text)}' is not valid base64"); }
                return tokens.Count;
            }
            case Field.QuotedRest:
                w.Bytes(DecodeCharacterString(Need(tokens, p, type, "target").Text));
                return p + 1;
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
                    if (!TryParseType(tokens[p].Text, out var t)) throw new TokenFormatException(tokens[p].Line, $"'{tokens[p].Text}' is not a record type");
                    types.Add(t);
                }
                w.Bytes(TypeBitmap.Encode(types));
                return p;
            }
            case Field.Time:
                w.U32(ParseSignatureTime(Need(tokens, p, type, "signature time").Text));
                return p + 1;
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
                if (tag.Length is 0 or > 255 || !tag.All(char.IsAsciiLetterOrDigit)) throw new FormatException($"CAA tag '{tag}' must be letters and digits (RFC 8659 §4.1)");
                var value = DecodeCharacterString(Need(tokens, p + 1, type, "value").Text);
                w.U8((byte)tag.Length);
                w.Bytes(Encoding.ASCII.GetBytes(tag));
                w.Bytes(value);
                return p + 2;
            }
            case Field.SvcParams:
            {
                var texts = new List<string>(tokens.Count - p);
                for (int i = p; i < tokens.Count; i++) texts.Add(tokens[i].Text);
                w.Bytes(SvcParams.Parse(texts));
                return tokens.Count;
            }
            case Field.Eui48:
            case Field.Eui64:
            {
                int count = field == Field.Eui48 ? 6 : 8;
                var t = Need(tokens, p, type, "address");
                var parts = t.Text.Split('-');
                if (parts.Length != count || parts.Any(x => x.Length != 2 || !x.All(char.IsAsciiHexDigit)))
                    throw new FormatException($"'{t.Text}' is not {count} hex pairs joined by '-' (RFC 7043)");
                foreach (var part in parts) w.U8(byte.Parse(part, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture));
                return p + 1;
            }
            case Field.Locator64:
            {
                var t = Need(tokens, p, type, "locator");
                var parts = t.Text.Split(':');
                if (parts.Length != 4 || parts.Any(x => x.Length is 0 or > 4 || !x.All(char.IsAsciiHexDigit)))
                    throw new FormatException($"'{t.Text}' is not four 16-bit hex groups joined by ':' (RFC 6742)");
                foreach (var part in parts) w.U16(ushort.Parse(part, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture));
                return p + 1;
            }
            case Field.Loc:
                return LocFormat.Parse(tokens, p, w);
            case Field.CertType:
            {
                var t = Need(tokens, p, type, "certificate type");
                if (CertTypeMnemonics.TryGetValue(t.Text, out var certType)) w.U16(certType);
                else if (t.Text.Length > 0 && char.IsAsciiDigit(t.Text[0])) w.U16((ushort)ParseUInt(t.Text, 65535, "certificate type"));
                else throw new FormatException($"'{t.Text}' is not a certificate type number or mnemonic (RFC 4398 §2.1)");
                return p + 1;
            }
            case Field.IpSecKeyGateway:
            {
                var gatewayType = (byte)ParseUInt(Need(tokens, p, type, "gateway type").Text, 3, "gateway type");
                w.U8(gatewayType);
                w.U8((byte)ParseUInt(Need(tokens, p + 1, type, "algorithm").Text, 255, "algorithm"));
                var gateway = Need(tokens, p + 2, type, "gateway").Text;
                switch (gatewayType)
                {
                    case 0:
                        if (gateway != ".") throw new FormatException($"gateway type 0 takes '.' as its gateway, not '{gateway}'");
                        break;
                    case 1:
                    case 2:
                        if (!IPAddress.TryParse(gateway, out var address) || address.AddressFamily != (gatewayType == 1 ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6))
                            throw new FormatException($"'{gateway}' is not an IPv{(gatewayType == 1 ? 4 : 6)} gateway");
                        w.Bytes(address.GetAddressBytes());
                        break;
                    default:
                        w.Name(ParseName(gateway, origin));
                        break;
                }
                return p + 3;
            }
            default:
                throw new InvalidOperationException($"unhandled field {field}");
        }
    }

    // ---------------------------------------------------------------- printing, validation, canonical names

    /// <summary>Presentation form of wire RDATA of <paramref name="type"/>; RFC 3597 generic form when we have no layout.</summary>
    public static string FormatRData(RecordType type, ReadOnlySpan<byte> rdata)
    {
        var sb = new StringBuilder(rdata.Length * 2 + 16);
        AppendRData(sb, type, rdata);
        return sb.ToString();
    }

    /// <summary>Appends the presentation form of <paramref name="rdata"/>; data that does not fit the type's layout
    /// is still written faithfully, in generic form.</summary>
    internal static void AppendRData(StringBuilder sb, RecordType type, ReadOnlySpan<byte> rdata)
    {
        if (RDataSchema.TryGet(type, out var layout))
        {
            int mark = sb.Length;
            try
            {
                Walk(layout, rdata, sb, null);
                return;
            }
            catch (FormatException)
            {
                sb.Length = mark;
            }
        }
        AppendGeneric(sb, rdata);
    }

    public static string FormatGeneric(ReadOnlySpan<byte> rdata)
    {
        var sb = new StringBuilder(rdata.Length * 2 + 8);
        AppendGeneric(sb, rdata);
        return sb.ToString();
    }

    private static void AppendGeneric(StringBuilder sb, ReadOnlySpan<byte> rdata)
    {
        sb.Append("\\# ").Append(rdata.Length.ToString(CultureInfo.InvariantCulture));
        if (rdata.Length > 0) sb.Append(' ').Append(Convert.ToHexString(rdata));
    }

    /// <summary>Throws a <see cref="FormatException"/> saying what is wrong when <paramref name="rdata"/> does not fit
    /// the layout of <paramref name="type"/>; types without a layout are not checked.</summary>
    internal static void ValidateRData(RecordType type, ReadOnlySpan<byte> rdata)
    {
        if (RDataSchema.TryGet(type, out var layout)) Walk(layout, rdata, null, null);
    }

    /// <summary>A copy of <paramref name="rdata"/> with the ASCII letters of every embedded name lower-cased
    /// (RFC 4034 §6.2 item 3), for records ARSoft cannot hold as typed records.</summary>
    internal static byte[] LowercaseNames(RecordType type, ReadOnlySpan<byte> rdata)
    {
        var copy = rdata.ToArray();
        if (!RDataSchema.TryGet(type, out var layout)) return copy;
        try
        {
            Walk(layout, rdata, null, copy);
        }
        catch (FormatException e)
        {
            throw new FormatException($"{FormatType(type)} RDATA does not fit its type, so it has no canonical form: {e.Message}", e);
        }
        return copy;
    }

    /// <summary>
    /// Reads <paramref name="rdata"/> field by field: appends the presentation form to <paramref name="sb"/> when
    /// given, lower-cases names inside <paramref name="lowercase"/> when given, and throws when the data does not fit.
    /// </summary>
    private static void Walk(Field[] layout, ReadOnlySpan<byte> rdata, StringBuilder? sb, byte[]? lowercase)
    {
        var r = new RDataReader(rdata);
        int start = sb?.Length ?? 0;
        foreach (var field in layout) WalkField(field, ref r, sb, start, lowercase);
        if (!r.AtEnd) throw new FormatException($"{rdata.Length - r.Position} octets left over after the last field");
    }

    private static StringBuilder? Part(StringBuilder? sb, int start)
    {
        if (sb is not null && sb.Length > start) sb.Append(' ');
        return sb;
    }

    private static void WalkField(Field field, ref RDataReader r, StringBuilder? sb, int start, byte[]? lowercase)
    {
        switch (field)
        {
            case Field.U8:
            case Field.Algorithm:
            {
                // Read before printing: a null-conditional call would skip the read when only validating.
                byte value = r.U8();
                Part(sb, start)?.Append(value.ToString(CultureInfo.InvariantCulture));
                break;
            }
            case Field.U16:
            {
                ushort value = r.U16();
                Part(sb, start)?.Append(value.ToString(CultureInfo.InvariantCulture));
                break;
            }
            case Field.U32:
            case Field.Period:
            {
                uint value = r.U32();
                Part(sb, start)?.Append(value.ToString(CultureInfo.InvariantCulture));
                break;
            }
            case Field.Name:
            {
                int from = r.Position;
                var name = r.Name();
                if (lowercase is not null)
                {
                    // Label length octets are at most 63, below 'A', so lower-casing every octet of the name is safe.
                    for (int i = from; i < r.Position; i++)
                        if (lowercase[i] is >= (byte)'A' and <= (byte)'Z') lowercase[i] += 32;
                }
                if (sb is not null) AppendName(Part(sb, start)!, name);
                break;
            }
            case Field.CharString:
            {
                var s = r.CharString();
                if (sb is not null) AppendQuoted(Part(sb, start)!, s);
                break;
            }
            case Field.CharStrings:
                do
                {
                    var s = r.CharString();
                    if (sb is not null) AppendQuoted(Part(sb, start)!, s);
                } while (!r.AtEnd);
                break;
            case Field.HexRest:
            {
                var rest = r.Rest();
                if (rest.Length > 0) Part(sb, start)?.Append(Convert.ToHexString(rest));
                break;
            }
            case Field.Base64Rest:
            {
                var rest = r.Rest();
                if (rest.Length > 0) Part(sb, start)?.Append(Convert.ToBase64String(rest));
                break;
            }
            case Field.QuotedRest:
            {
                var rest = r.Rest();
                if (sb is not null) AppendQuoted(Part(sb, start)!, rest);
                break;
            }
            case Field.Ipv4:
            {
                var bytes = r.Take(4);
                Part(sb, start)?.Append(new IPAddress(bytes).ToString());
                break;
            }
            case Field.Ipv6:
            {
                var bytes = r.Take(16);
                Part(sb, start)?.Append(new IPAddress(bytes).ToString());
                break;
            }
            case Field.TypeCode:
            {
                var covered = (RecordType)r.U16();
                Part(sb, start)?.Append(FormatType(covered));
                break;
            }
            case Field.TypeBitmap:
                foreach (var t in TypeBitmap.Decode(r.Rest())) Part(sb, start)?.Append(FormatType(t));
                break;
            case Field.Time:
            {
                uint time = r.U32();
                Part(sb, start)?.Append(FormatSignatureTime(time));
                break;
            }
            case Field.SaltHex:
            {
                var salt = r.Take(r.U8());
                Part(sb, start)?.Append(salt.Length == 0 ? "-" : Convert.ToHexString(salt));
                break;
            }
            case Field.Base32HexPrefixed:
            {
                var hash = r.Take(r.U8());
                if (hash.Length == 0) throw new FormatException("empty next hashed owner name");
                Part(sb, start)?.Append(Base32Hex.Encode(hash));
                break;
            }
            case Field.CaaTagValue:
            {
                var tag = r.Take(r.U8());
                foreach (var b in tag)
                    if (b >= 128 || !char.IsAsciiLetterOrDigit((char)b)) throw new FormatException("CAA tag has characters other than letters and digits");
                if (tag.Length == 0) throw new FormatException("empty CAA tag");
                var value = r.Rest();
                if (sb is not null)
                {
                    Part(sb, start)!.Append(Encoding.ASCII.GetString(tag));
                    AppendQuoted(Part(sb, start)!, value);
                }
                break;
            }
            case Field.SvcParams:
                SvcParams.Format(r.Rest(), sb, start);
                break;
            case Field.Eui48:
            case Field.Eui64:
            {
                var bytes = r.Take(field == Field.Eui48 ? 6 : 8);
                if (sb is not null)
                {
                    Part(sb, start);
                    for (int i = 0; i < bytes.Length; i++)
                    {
                        if (i > 0) sb.Append('-');
                        sb.Append(bytes[i].ToString("x2", CultureInfo.InvariantCulture));
                    }
                }
                break;
            }
            case Field.Locator64:
            {
                ushort a = r.U16(), b = r.U16(), c = r.U16(), d = r.U16();
                Part(sb, start)?.Append(string.Create(CultureInfo.InvariantCulture, $"{a:x}:{b:x}:{c:x}:{d:x}"));
                break;
            }
            case Field.Loc:
                LocFormat.Format(ref r, Part(sb, start));
                break;
            case Field.CertType:
            {
                ushort certType = r.U16();
                Part(sb, start)?.Append(certType.ToString(CultureInfo.InvariantCulture));
                break;
            }
            case Field.IpSecKeyGateway:
            {
                byte gatewayType = r.U8(), algorithm = r.U8();
                string gateway = gatewayType switch
                {
                    0 => ".",
                    1 => new IPAddress(r.Take(4)).ToString(),
                    2 => new IPAddress(r.Take(16)).ToString(),
                    3 => FormatName(r.Name()),
                    _ => throw new FormatException($"unknown IPSECKEY gateway type {gatewayType}"),
                };
                Part(sb, start)?.Append(CultureInfo.InvariantCulture, $"{gatewayType} {algorithm} {gateway}");
                break;
            }
            default:
                throw new InvalidOperationException($"unhandled field {field}");
        }
    }
}
