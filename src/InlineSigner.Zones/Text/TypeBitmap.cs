using ARSoft.Tools.Net.Dns;

namespace InlineSigner.Zones.Text;

/// <summary>The NSEC/NSEC3 type bitmap (RFC 4034 §4.1.2): windows of up to 32 octets, types in ascending order.</summary>
public static class TypeBitmap
{
    public static byte[] Encode(IEnumerable<RecordType> types)
    {
        var sorted = types.Select(t => (ushort)t).Distinct().Order().ToList();
        var result = new List<byte>();
        int i = 0;
        while (i < sorted.Count)
        {
            int window = sorted[i] >> 8;
            var bits = new byte[32];
            int used = 0;
            for (; i < sorted.Count && sorted[i] >> 8 == window; i++)
            {
                int low = sorted[i] & 0xFF;
                bits[low / 8] |= (byte)(0x80 >> (low % 8));
                used = Math.Max(used, low / 8 + 1);
            }
            result.Add((byte)window);
            result.Add((byte)used);
            result.AddRange(bits.AsSpan(0, used).ToArray());
        }
        return result.ToArray();
    }

    public static IReadOnlyList<RecordType> Decode(ReadOnlySpan<byte> bitmap)
    {
        var types = new List<RecordType>();
        int p = 0;
        int lastWindow = -1;
        while (p < bitmap.Length)
        {
            if (p + 2 > bitmap.Length) throw new FormatException("truncated type bitmap window");
            int window = bitmap[p];
            int length = bitmap[p + 1];
            if (window <= lastWindow) throw new FormatException("type bitmap windows out of order");
            if (length is 0 or > 32 || p + 2 + length > bitmap.Length) throw new FormatException("bad type bitmap window length");
            // RFC 4034 §4.1.2: trailing zero octets are omitted, so a window's last octet is never zero.
            if (bitmap[p + 1 + length] == 0) throw new FormatException("type bitmap window ends with a zero octet");
            for (int octet = 0; octet < length; octet++)
            {
                byte b = bitmap[p + 2 + octet];
                for (int bit = 0; bit < 8; bit++)
                    if ((b & (0x80 >> bit)) != 0) types.Add((RecordType)(window * 256 + octet * 8 + bit));
            }
            lastWindow = window;
            p += 2 + length;
        }
        return types;
    }
}
