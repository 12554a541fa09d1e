using System.Buffers.Binary;
using System.Security.Cryptography;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Zones;

namespace InlineSigner.Protocol.Wire;

/// <summary>Builds the few requests a secondary sends: SOA queries, AXFR, IXFR (with the client's SOA in the authority
/// section, RFC 1995 §3) and NOTIFY (the SOA in the answer section, as BIND sends it, RFC 1996 §3.7).</summary>
internal static class QueryBuilder
{
    /// <summary>A fresh unpredictable transaction ID (RFC 5452 §9.2: IDs must not be guessable).</summary>
    public static ushort NewId() => (ushort)RandomNumberGenerator.GetInt32(0, 65536);

    public static byte[] Build(ushort id, OperationCode opcode, bool authoritative, DomainName name, RecordType type,
        SoaRecord? answer = null, SoaRecord? authority = null)
    {
        var answerRecord = answer is null ? null : EncodeRecord(answer);
        var authorityRecord = authority is null ? null : EncodeRecord(authority);
        var qname = RecordWire.Name(name, lowercase: false);
        var message = new byte[MessageHeader.Length + qname.Length + 4 + (answerRecord?.Length ?? 0) + (authorityRecord?.Length ?? 0)];
        var span = message.AsSpan();
        BinaryPrimitives.WriteUInt16BigEndian(span, id);
        ushort flags = (ushort)(((int)opcode & 0xF) << 11);
        if (authoritative) flags |= 0x0400;
        BinaryPrimitives.WriteUInt16BigEndian(span[2..], flags);
        BinaryPrimitives.WriteUInt16BigEndian(span[4..], 1);
        BinaryPrimitives.WriteUInt16BigEndian(span[6..], (ushort)(answerRecord is null ? 0 : 1));
        BinaryPrimitives.WriteUInt16BigEndian(span[8..], (ushort)(authorityRecord is null ? 0 : 1));
        BinaryPrimitives.WriteUInt16BigEndian(span[10..], 0);
        int p = MessageHeader.Length;
        qname.CopyTo(span[p..]);
        p += qname.Length;
        BinaryPrimitives.WriteUInt16BigEndian(span[p..], (ushort)type);
        BinaryPrimitives.WriteUInt16BigEndian(span[(p + 2)..], (ushort)RecordClass.INet);
        p += 4;
        answerRecord?.CopyTo(span[p..]);
        p += answerRecord?.Length ?? 0;
        authorityRecord?.CopyTo(span[p..]);
        return message;
    }

    private static byte[] EncodeRecord(DnsRecordBase record)
    {
        var owner = RecordWire.Name(record.Name, lowercase: false);
        var rdata = RecordWire.RData(record);
        var result = new byte[owner.Length + 10 + rdata.Length];
        var span = result.AsSpan();
        owner.CopyTo(span);
        int p = owner.Length;
        BinaryPrimitives.WriteUInt16BigEndian(span[p..], (ushort)record.RecordType);
        BinaryPrimitives.WriteUInt16BigEndian(span[(p + 2)..], (ushort)record.RecordClass);
        BinaryPrimitives.WriteUInt32BigEndian(span[(p + 4)..], (uint)Math.Max(0, record.TimeToLive));
        BinaryPrimitives.WriteUInt16BigEndian(span[(p + 8)..], (ushort)rdata.Length);
        rdata.CopyTo(span[(p + 10)..]);
        return result;
    }
}
