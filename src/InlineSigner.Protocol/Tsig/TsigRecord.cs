using System.Buffers.Binary;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Protocol.Wire;
using InlineSigner.Zones;

namespace InlineSigner.Protocol.Tsig;

/// <summary>
/// A TSIG record (RFC 8945 §4.2) read from, or written into, a message's raw octets, and the pieces of the MAC input
/// (§4.3). Everything here works on wire bytes: a TSIG MAC covers the message exactly as sent, which no parsed form keeps.
/// </summary>
internal sealed record TsigRecord(
    int Start, DomainName KeyName, DomainName AlgorithmName, ulong TimeSigned, ushort Fudge, byte[] Mac, ushort OriginalId, ushort Error, byte[] OtherData)
{
    public const ushort Type = 250;
    private const ushort ClassAny = 255;

    /// <summary>
    /// Finds the TSIG record of a message: it must be the last record of the additional section (RFC 8945 §5.1); null when
    /// the message has none.
    /// </summary>
    /// <exception cref="DnsFormatException">The message is malformed, has a TSIG record elsewhere or more than one, or the
    /// TSIG record itself is malformed.</exception>
    public static TsigRecord? Find(byte[] message, int length)
    {
        var reader = new MessageReader(message, length);
        var header = reader.Header;
        for (int i = 0; i < header.QuestionCount; i++) reader.ReadQuestion();
        int records = header.AnswerCount + header.AuthorityCount + header.AdditionalCount;
        RawRecord last = default;
        for (int i = 0; i < records; i++)
        {
            last = reader.ReadRawRecord();
            if ((ushort)last.Type == Type && i != records - 1)
                throw new DnsFormatException($"a TSIG record at offset {last.Start} is not the last record of the message (RFC 8945 §5.1)");
        }
        if (reader.Position != length)
            throw new DnsFormatException($"{length - reader.Position} octets follow the last record of the message");
        if (header.AdditionalCount == 0 || (ushort)last.Type != Type) return null;
        if ((ushort)last.Class != ClassAny)
            throw new DnsFormatException($"the TSIG record has class {(ushort)last.Class}, not ANY (RFC 8945 §4.2)");

        int p = last.RDataOffset;
        int end = last.End;
        var algorithm = reader.ReadNameAt(p, end, out p);
        if (end - p < 10) throw Short();
        var span = message.AsSpan(p, end - p);
        ulong timeSigned = ((ulong)BinaryPrimitives.ReadUInt16BigEndian(span) << 32) | BinaryPrimitives.ReadUInt32BigEndian(span[2..]);
        ushort fudge = BinaryPrimitives.ReadUInt16BigEndian(span[6..]);
        int macSize = BinaryPrimitives.ReadUInt16BigEndian(span[8..]);
        if (span.Length < 10 + macSize + 6) throw Short();
        var mac = span.Slice(10, macSize).ToArray();
        var rest = span[(10 + macSize)..];
        ushort originalId = BinaryPrimitives.ReadUInt16BigEndian(rest);
        ushort error = BinaryPrimitives.ReadUInt16BigEndian(rest[2..]);
        int otherLength = BinaryPrimitives.ReadUInt16BigEndian(rest[4..]);
        if (rest.Length != 6 + otherLength)
            throw new DnsFormatException($"the TSIG RDATA has {rest.Length - 6} octets of other data where it announces {otherLength}");
        var other = rest.Slice(6, otherLength).ToArray();
        return new TsigRecord(last.Start, last.Owner, algorithm, timeSigned, fudge, mac, originalId, error, other);

        static DnsFormatException Short() => new("the TSIG RDATA is too short for its fields");
    }

    public static ulong ToWireTime(DateTimeOffset time) => (ulong)Math.Max(0, time.ToUnixTimeSeconds()) & 0xFFFF_FFFF_FFFF;

    public static DateTimeOffset FromWireTime(ulong seconds) => DateTimeOffset.FromUnixTimeSeconds((long)seconds);

    /// <summary>True when <paramref name="now"/> is within <see cref="Fudge"/> seconds of <see cref="TimeSigned"/> (§5.2.3).</summary>
    public bool IsTimely(DateTimeOffset now)
    {
        long difference = now.ToUnixTimeSeconds() - (long)TimeSigned;
        return Math.Abs(difference) <= Fudge;
    }

    /// <summary>Feeds the message as it was before this record was added (§4.3.1): original ID, ARCOUNT one less, the
    /// record itself left out.</summary>
    public void AppendUnsignedMessage(TsigMac mac, byte[] message)
    {
        Span<byte> header = stackalloc byte[MessageHeader.Length];
        message.AsSpan(0, MessageHeader.Length).CopyTo(header);
        BinaryPrimitives.WriteUInt16BigEndian(header, OriginalId);
        BinaryPrimitives.WriteUInt16BigEndian(header[10..], (ushort)(BinaryPrimitives.ReadUInt16BigEndian(header[10..]) - 1));
        mac.Append(header);
        mac.Append(message.AsSpan(MessageHeader.Length, Start - MessageHeader.Length));
    }

    /// <summary>Rewrites <paramref name="message"/> in place to what it was before the record was added; returns its length.</summary>
    public int Strip(byte[] message)
    {
        BinaryPrimitives.WriteUInt16BigEndian(message, OriginalId);
        BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(10), (ushort)(BinaryPrimitives.ReadUInt16BigEndian(message.AsSpan(10)) - 1));
        return Start;
    }

    /// <summary>The "TSIG variables" of §4.3.3: key name and algorithm in canonical (lower-case, uncompressed) form, class
    /// ANY, TTL 0, time signed, fudge, error and other data.</summary>
    public static void AppendVariables(TsigMac mac, DomainName keyName, DomainName algorithm, ulong timeSigned, ushort fudge, ushort error, ReadOnlySpan<byte> other)
    {
        mac.Append(RecordWire.Name(keyName, lowercase: true));
        Span<byte> fixedPart = stackalloc byte[6];
        BinaryPrimitives.WriteUInt16BigEndian(fixedPart, ClassAny);
        BinaryPrimitives.WriteUInt32BigEndian(fixedPart[2..], 0);
        mac.Append(fixedPart);
        mac.Append(RecordWire.Name(algorithm, lowercase: true));
        AppendTimers(mac, timeSigned, fudge);
        Span<byte> tail = stackalloc byte[4];
        BinaryPrimitives.WriteUInt16BigEndian(tail, error);
        BinaryPrimitives.WriteUInt16BigEndian(tail[2..], (ushort)other.Length);
        mac.Append(tail);
        mac.Append(other);
    }

    /// <summary>The "TSIG timers" of §4.3.1 that the later messages of a stream are signed with: time signed and fudge.</summary>
    public static void AppendTimers(TsigMac mac, ulong timeSigned, ushort fudge)
    {
        Span<byte> timers = stackalloc byte[8];
        WriteTime(timers, timeSigned);
        BinaryPrimitives.WriteUInt16BigEndian(timers[6..], fudge);
        mac.Append(timers);
    }

    /// <summary>A prior MAC as it is prefixed to the MAC input (§4.3.1): its 2-octet size, then the MAC.</summary>
    public static void AppendPriorMac(TsigMac mac, ReadOnlySpan<byte> priorMac)
    {
        Span<byte> size = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(size, (ushort)priorMac.Length);
        mac.Append(size);
        mac.Append(priorMac);
    }

    public static int WireLength(DomainName keyName, DomainName algorithm, int macLength, int otherLength) =>
        RecordWire.NameLength(keyName) + 10 + RecordWire.NameLength(algorithm) + 16 + macLength + otherLength;

    /// <summary>Appends a TSIG record to the message in <paramref name="buffer"/>[0..<paramref name="length"/>) and
    /// increments ARCOUNT; returns the new length.</summary>
    /// <exception cref="ArgumentException">The buffer has no room for the record, or ARCOUNT is already 65535.</exception>
    public static int Append(byte[] buffer, int length, DomainName keyName, DomainName algorithm, ulong timeSigned, ushort fudge,
        ReadOnlySpan<byte> mac, ushort originalId, ushort error, ReadOnlySpan<byte> other)
    {
        int recordLength = WireLength(keyName, algorithm, mac.Length, other.Length);
        if (length < MessageHeader.Length) throw new ArgumentException($"a message of {length} octets has no DNS header to sign", nameof(length));
        if (buffer.Length - length < recordLength)
            throw new ArgumentException($"no room for the {recordLength}-octet TSIG record: the buffer holds {buffer.Length} octets, the message {length}", nameof(buffer));
        ushort additional = BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(10));
        if (additional == ushort.MaxValue) throw new ArgumentException("the message already has 65535 additional records", nameof(buffer));

        var span = buffer.AsSpan(length);
        int p = RecordWire.WriteName(span, keyName, lowercase: false);
        BinaryPrimitives.WriteUInt16BigEndian(span[p..], Type);
        BinaryPrimitives.WriteUInt16BigEndian(span[(p + 2)..], ClassAny);
        BinaryPrimitives.WriteUInt32BigEndian(span[(p + 4)..], 0);
        int rdataLength = recordLength - p - 10;
        BinaryPrimitives.WriteUInt16BigEndian(span[(p + 8)..], (ushort)rdataLength);
        p += 10;
        p += RecordWire.WriteName(span[p..], algorithm, lowercase: true);
        WriteTime(span[p..], timeSigned);
        BinaryPrimitives.WriteUInt16BigEndian(span[(p + 6)..], fudge);
        BinaryPrimitives.WriteUInt16BigEndian(span[(p + 8)..], (ushort)mac.Length);
        p += 10;
        mac.CopyTo(span[p..]);
        p += mac.Length;
        BinaryPrimitives.WriteUInt16BigEndian(span[p..], originalId);
        BinaryPrimitives.WriteUInt16BigEndian(span[(p + 2)..], error);
        BinaryPrimitives.WriteUInt16BigEndian(span[(p + 4)..], (ushort)other.Length);
        p += 6;
        other.CopyTo(span[p..]);
        BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(10), (ushort)(additional + 1));
        return length + recordLength;
    }

    public static byte[] TimeOctets(ulong seconds)
    {
        var octets = new byte[6];
        WriteTime(octets, seconds);
        return octets;
    }

    private static void WriteTime(Span<byte> destination, ulong seconds)
    {
        BinaryPrimitives.WriteUInt16BigEndian(destination, (ushort)(seconds >> 32));
        BinaryPrimitives.WriteUInt32BigEndian(destination[2..], (uint)seconds);
    }

    /// <summary>§5.2.2.1: a MAC may be cut to no fewer than max(10, half the full length) octets and never be longer.</summary>
    public static bool IsAllowedMacLength(int macLength, int fullLength) =>
        macLength <= fullLength && macLength >= Math.Max(10, (fullLength + 1) / 2);

    public static string ErrorText(ushort error) => error switch
    {
        0 => "NOERROR",
        16 => "BADSIG",
        17 => "BADKEY",
        18 => "BADTIME",
        19 => "BADMODE",
        20 => "BADNAME",
        21 => "BADALG",
        22 => "BADTRUNC",
        _ => ((ReturnCode)error).ToString().ToUpperInvariant() + $" ({error})",
    };
}
