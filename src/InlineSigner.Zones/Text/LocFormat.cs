using System.Globalization;
using System.Text;

namespace InlineSigner.Zones.Text;

/// <summary>
/// LOC RDATA (RFC 1876): <c>d1 [m1 [s1]] N|S d2 [m2 [s2]] E|W alt[m] [size[m] [hp[m] [vp[m]]]]</c> ↔ version,
/// size, horizontal and vertical precision (4-bit mantissa and power of ten, in centimetres), latitude and longitude
/// (thousandths of an arc second offset by 2^31), altitude (centimetres above 100,000 m below the WGS 84 spheroid).
/// </summary>
internal static class LocFormat
{
    private const long Equator = 1L << 31;
    private const long AltitudeOffset = 10_000_000;
    private const long MaxCoordinateOffset = 90L * 3_600_000; // per hemisphere for latitude; longitude uses 180
    // RFC 1876 §3 defaults: size 1 m, horizontal precision 10,000 m, vertical precision 10 m.
    private const long DefaultSize = 100, DefaultHorizontal = 1_000_000, DefaultVertical = 1_000;

    public static int Parse(IReadOnlyList<Token> tokens, int p, RDataWriter w)
    {
        long latitude = Coordinate(tokens, ref p, 90, 'N', 'S', "latitude");
        long longitude = Coordinate(tokens, ref p, 180, 'E', 'W', "longitude");
        if (p >= tokens.Count) throw new FormatException("LOC record is missing its altitude");
        long altitude = Metres(tokens[p++].Text, negativeAllowed: true, "altitude") + AltitudeOffset;
        if (altitude is < 0 or > uint.MaxValue) throw new FormatException($"LOC altitude '{tokens[p - 1].Text}' is out of range (-100000m to 42849672.95m)");
        byte size = Precision(p < tokens.Count ? Metres(tokens[p++].Text, false, "size") : DefaultSize, "size");
        byte horizontal = Precision(p < tokens.Count ? Metres(tokens[p++].Text, false, "horizontal precision") : DefaultHorizontal, "horizontal precision");
        byte vertical = Precision(p < tokens.Count ? Metres(tokens[p++].Text, false, "vertical precision") : DefaultVertical, "vertical precision");
        w.U8(0);
        w.U8(size);
        w.U8(horizontal);
        w.U8(vertical);
        w.U32((uint)latitude);
        w.U32((uint)longitude);
        w.U32((uint)altitude);
        return p;
    }

    /// <summary>Degrees, optional minutes and seconds, then the hemisphere letter.</summary>
    private static long Coordinate(IReadOnlyList<Token> tokens, ref int p, int maxDegrees, char positive, char negative, string what)
    {
        long[] parts = [0, 0, 0];
        int count = 0;
        while (true)
        {
            if (p >= tokens.Count) throw new FormatException($"LOC record is missing its {what} hemisphere ({positive} or {negative})");
            var text = tokens[p++].Text;
            if (text.Length == 1 && (char.ToUpperInvariant(text[0]) == positive || char.ToUpperInvariant(text[0]) == negative))
            {
                if (count == 0) throw new FormatException($"LOC {what} has no degrees");
                long thousandths = ((parts[0] * 60 + parts[1]) * 60) * 1000 + parts[2];
                if (thousandths > maxDegrees * 3_600_000L) throw new FormatException($"LOC {what} is beyond {maxDegrees} degrees");
                return char.ToUpperInvariant(text[0]) == positive ? Equator + thousandths : Equator - thousandths;
            }
            if (count == 3) throw new FormatException($"'{text}' is not a {what} hemisphere ({positive} or {negative})");
            long value = count == 2 ? Fixed(text, 3, false, $"{what} seconds") : Fixed(text, 0, false, $"{what} {(count == 0 ? "degrees" : "minutes")}");
            long limit = count switch { 0 => maxDegrees, 1 => 59, _ => 59_999 };
            if (value > limit) throw new FormatException($"LOC {what} {(count switch { 0 => "degrees", 1 => "minutes", _ => "seconds" })} '{text}' is out of range");
            parts[count++] = value;
        }
    }

    /// <summary>Metres with up to two decimals and an optional 'm', as centimetres.</summary>
    private static long Metres(string text, bool negativeAllowed, string what) =>
        Fixed(text.EndsWith('m') || text.EndsWith('M') ? text[..^1] : text, 2, negativeAllowed, $"LOC {what}");

    /// <summary>A decimal with at most <paramref name="decimals"/> places, scaled to an integer.</summary>
    private static long Fixed(string text, int decimals, bool negativeAllowed, string what)
    {
        bool negative = negativeAllowed && text.StartsWith('-');
        var body = negative ? text[1..] : text;
        int dot = body.IndexOf('.', StringComparison.Ordinal);
        var whole = dot < 0 ? body : body[..dot];
        var fraction = dot < 0 ? "" : body[(dot + 1)..];
        if (whole.Length is 0 or > 10 || !whole.All(char.IsAsciiDigit) || fraction.Length > decimals || !fraction.All(char.IsAsciiDigit) || (dot >= 0 && fraction.Length == 0))
            throw new FormatException($"{what} '{text}' is not a number{(decimals > 0 ? $" with at most {decimals} decimals" : "")}");
        long value = long.Parse(whole, CultureInfo.InvariantCulture);
        for (int i = 0; i < decimals; i++) value = value * 10 + (i < fraction.Length ? fraction[i] - '0' : 0);
        return negative ? -value : value;
    }

    /// <summary>Centimetres as RFC 1876's mantissa and power of ten (the mantissa truncated, as in its Appendix A).</summary>
    private static byte Precision(long centimetres, string what)
    {
        int exponent = 0;
        while (centimetres >= 10)
        {
            centimetres /= 10;
            exponent++;
        }
        if (exponent > 9) throw new FormatException($"LOC {what} is above 90000000m");
        return (byte)((centimetres << 4) | (long)exponent);
    }

    public static void Format(ref RDataReader r, StringBuilder? sb)
    {
        if (r.U8() != 0) throw new FormatException("LOC version is not 0");
        long size = Centimetres(r.U8()), horizontal = Centimetres(r.U8()), vertical = Centimetres(r.U8());
        long latitude = r.U32(), longitude = r.U32(), altitude = r.U32() - AltitudeOffset;
        if (Math.Abs(latitude - Equator) > MaxCoordinateOffset || Math.Abs(longitude - Equator) > 2 * MaxCoordinateOffset)
            throw new FormatException("LOC coordinates out of range");
        if (sb is null) return;
        AppendCoordinate(sb, latitude, 'N', 'S');
        sb.Append(' ');
        AppendCoordinate(sb, longitude, 'E', 'W');
        sb.Append(' ');
        if (altitude < 0) sb.Append('-');
        long absolute = Math.Abs(altitude);
        sb.Append(CultureInfo.InvariantCulture, $"{absolute / 100}.{absolute % 100:D2}m");
        foreach (var value in (long[])[size, horizontal, vertical])
        {
            sb.Append(' ');
            if (value % 100 == 0 && value != 0) sb.Append(CultureInfo.InvariantCulture, $"{value / 100}m");
            else sb.Append(CultureInfo.InvariantCulture, $"{value / 100}.{value % 100:D2}m");
        }
    }

    private static long Centimetres(byte precision)
    {
        int mantissa = precision >> 4, exponent = precision & 0xF;
        if (mantissa > 9 || exponent > 9) throw new FormatException("LOC precision out of range");
        long value = mantissa;
        for (int i = 0; i < exponent; i++) value *= 10;
        return value;
    }

    private static void AppendCoordinate(StringBuilder sb, long value, char positive, char negative)
    {
        long offset = value - Equator;
        long thousandths = Math.Abs(offset);
        long seconds = thousandths / 1000 % 60, minutes = thousandths / 60_000 % 60, degrees = thousandths / 3_600_000;
        sb.Append(CultureInfo.InvariantCulture, $"{degrees} {minutes} {seconds}.{thousandths % 1000:D3} {(offset >= 0 ? positive : negative)}");
    }
}
