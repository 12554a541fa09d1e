using System.Buffers.Binary;
using ARSoft.Tools.Net.Dns;

namespace InlineSigner.Protocol.Wire;

/// <summary>The 12-octet header of a DNS message (RFC 1035 §4.1.1).</summary>
internal readonly record struct MessageHeader(ushort Id, ushort Flags, ushort QuestionCount, ushort AnswerCount, ushort AuthorityCount, ushort AdditionalCount)
{
    public const int Length = 12;

    public bool IsResponse => (Flags & 0x8000) != 0;
    public OperationCode OperationCode => (OperationCode)((Flags >> 11) & 0xF);
    public bool IsAuthoritative => (Flags & 0x0400) != 0;
    public bool IsTruncated => (Flags & 0x0200) != 0;

    /// <summary>The 4-bit RCODE of the header (no EDNS extension: we never send EDNS, so servers must not use it).</summary>
    public ReturnCode ReturnCode => (ReturnCode)(Flags & 0xF);

    /// <exception cref="DnsFormatException">Fewer than 12 octets.</exception>
    public static MessageHeader Read(ReadOnlySpan<byte> message)
    {
        if (message.Length < Length)
            throw new DnsFormatException($"a message of {message.Length} octets is shorter than a DNS header (12 octets)");
        return new MessageHeader(
            BinaryPrimitives.ReadUInt16BigEndian(message),
            BinaryPrimitives.ReadUInt16BigEndian(message[2..]),
            BinaryPrimitives.ReadUInt16BigEndian(message[4..]),
            BinaryPrimitives.ReadUInt16BigEndian(message[6..]),
            BinaryPrimitives.ReadUInt16BigEndian(message[8..]),
            BinaryPrimitives.ReadUInt16BigEndian(message[10..]));
    }
}
