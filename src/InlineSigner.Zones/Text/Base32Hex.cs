namespace InlineSigner.Zones.Text;

/// <summary>Base 32 with the extended hex alphabet (RFC 4648 §7), unpadded, as NSEC3 uses it (RFC 5155 §3.3).</summary>
public static class Base32Hex
{
    private const string Alphabet = "0123456789abcdefghijklmnopqrstuv";

    public static string Encode(ReadOnlySpan<byte> data)
    {
        var chars = new char[(data.Length * 8 + 4) / 5];
        int buffer = 0, bits = 0, n = 0;
        foreach (byte b in data)
        {
            buffer = (buffer << 8) | b;
            bits += 8;
            while (bits >= 5)
            {
                chars[n++] = Alphabet[(buffer >> (bits - 5)) & 31];
                bits -= 5;
            }
        }
        if (bits > 0) chars[n++] = Alphabet[(buffer << (5 - bits)) & 31];
        return new string(chars, 0, n);
    }

    public static byte[] Decode(string text)
    {
        var trimmed = text.TrimEnd('=');
        var result = new List<byte>(trimmed.Length * 5 / 8);
        int buffer = 0, bits = 0;
        foreach (char c in trimmed)
        {
            int value = c switch
            {
                >= '0' and <= '9' => c - '0',
                >= 'a' and <= 'v' => c - 'a' + 10,
                >= 'A' and <= 'V' => c - 'A' + 10,
                _ => throw new FormatException($"'{c}' is not a base32hex digit in '{text}'"),
            };
            buffer = (buffer << 5) | value;
            bits += 5;
            if (bits >= 8)
            {
                result.Add((byte)(buffer >> (bits - 8)));
                bits -= 8;
            }
            buffer &= (1 << bits) - 1;
        }
        // Leftover bits must be zero padding of the last character (canonical encoding).
        if (buffer != 0) throw new FormatException($"'{text}' is not canonical base32hex");
        return result.ToArray();
    }
}
