using System.Buffers.Binary;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Zones;

namespace InlineSigner.Tests.Shared.Dns;

/// <summary>Hand-assembled DNS messages (uncompressed) and record sets for comparisons.</summary>
internal static class Messages
{
    public const ushort ResponseFlags = 0x8400; // QR, AA, opcode QUERY, NOERROR

    public static IReadOnlyList<DnsRecordBase> Records(DomainName origin, string text) =>
        MasterFileReader.ReadString(text, origin).Records;

    public static byte[] Response(ushort id, DomainName? question, RecordType questionType, IEnumerable<DnsRecordBase> answers, ushort flags = ResponseFlags)
    {
        var body = new List<byte>();
        int answerCount = 0;
        if (question is not null)
        {
            body.AddRange(RecordWire.Name(question, lowercase: false));
            body.AddRange(U16((ushort)questionType));
            body.AddRange(U16(1));
        }
        foreach (var record in answers)
        {
            body.AddRange(Record(record));
            answerCount++;
        }
        var message = new byte[12 + body.Count];
        BinaryPrimitives.WriteUInt16BigEndian(message, id);
        BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(2), flags);
        BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(4), (ushort)(question is null ? 0 : 1));
        BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(6), (ushort)answerCount);
        body.CopyTo(message, 12);
        return message;
    }

    public static byte[] Record(DnsRecordBase record)
    {
        var rdata = RecordWire.RData(record);
        var result = new List<byte>(RecordWire.Name(record.Name, lowercase: false));
        result.AddRange(U16((ushort)record.RecordType));
        result.AddRange(U16((ushort)record.RecordClass));
        var ttl = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(ttl, (uint)record.TimeToLive);
        result.AddRange(ttl);
        result.AddRange(U16((ushort)rdata.Length));
        result.AddRange(rdata);
        return [.. result];
    }

    private static byte[] U16(ushort value) => [(byte)(value >> 8), (byte)value];

    /// <summary>A record as comparable text: owner (lower case), TTL, type and canonical RDATA in hex.</summary>
    public static string Key(DnsRecordBase record) =>
        $"{record.Name.ToString().ToLowerInvariant()} {record.TimeToLive} {(ushort)record.RecordClass} {(ushort)record.RecordType} {Convert.ToHexString(RecordWire.CanonicalRData(record))}";

    public static SortedSet<string> Set(IEnumerable<DnsRecordBase> records) => new(records.Select(Key), StringComparer.Ordinal);

    /// <summary>Makes a big unsigned zone text: SOA, NS, and <paramref name="hosts"/> names with A, AAAA and TXT.</summary>
    public static string BigZone(string origin, uint serial, int hosts)
    {
        var text = new System.Text.StringBuilder($"$ORIGIN {origin}.\n$TTL 300\n@ SOA ns1 hostmaster {serial} 3600 600 86400 60\n@ NS ns1\n@ NS ns2.elsewhere.example.\nns1 A 192.0.2.1\n@ MX 10 mail\nmail A 192.0.2.2\n");
        for (int i = 0; i < hosts; i++)
        {
            text.Append(System.Globalization.CultureInfo.InvariantCulture, $"host{i} A 10.{i / 65536 % 256}.{i / 256 % 256}.{i % 256}\n");
            if (i % 3 == 0) text.Append(System.Globalization.CultureInfo.InvariantCulture, $"host{i} AAAA 2001:db8::{i:x}\n");
            if (i % 5 == 0) text.Append(System.Globalization.CultureInfo.InvariantCulture, $"host{i} TXT \"record {i}\" \"with two strings\"\n");
        }
        return text.ToString();
    }
}
