using System.Buffers.Binary;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Zones;

namespace InlineSigner.Storage;

/// <summary>
/// The on-disk form of RRsets and record lists: a version byte, then uncompressed wire records
/// (owner in its original case, type, class, TTL, RDATA). Wire form rather than text keeps the stored
/// zone byte-identical to what was signed and served, which IXFR deletions depend on.
/// </summary>
public static class RecordBlob
{
    private const byte Version = 1;

    public static byte[] EncodeRRset(RRset set) => EncodeRecords(set.Records);

    public static RRset DecodeRRset(byte[] blob, string context)
    {
        var records = DecodeRecords(blob, context);
        if (records.Count == 0) throw new StoreCorruptException($"{context}: empty RRset");
        return RRset.Create(records, records[0].TimeToLive);
    }

    public static byte[] EncodeRecords(IEnumerable<DnsRecordBase> records)
    {
        using var stream = new MemoryStream();
        stream.WriteByte(Version);
        Span<byte> header = stackalloc byte[10];
        var list = records as IReadOnlyCollection<DnsRecordBase> ?? records.ToList();
        BinaryPrimitives.WriteInt32BigEndian(header, list.Count);
        stream.Write(header[..4]);
        foreach (var record in list)
        {
            stream.Write(RecordWire.Name(record.Name, lowercase: false));
            var rdata = RecordWire.RData(record);
            BinaryPrimitives.WriteUInt16BigEndian(header, (ushort)record.RecordType);
            BinaryPrimitives.WriteUInt16BigEndian(header[2..], (ushort)record.RecordClass);
            BinaryPrimitives.WriteInt32BigEndian(header[4..], record.TimeToLive);
            BinaryPrimitives.WriteUInt16BigEndian(header[8..], (ushort)rdata.Length);
            stream.Write(header);
            stream.Write(rdata);
        }
        return stream.ToArray();
    }

    public static IReadOnlyList<DnsRecordBase> DecodeRecords(byte[] blob, string context)
    {
        try
        {
            var span = blob.AsSpan();
            if (span.Length < 5 || span[0] != Version) throw new StoreCorruptException($"{context}: unknown record blob version");
            int count = BinaryPrimitives.ReadInt32BigEndian(span[1..]);
            // Every record needs at least 11 bytes (root name + header), which bounds the count we trust.
            if (count < 0 || count > (span.Length - 5) / 11) throw new StoreCorruptException($"{context}: record count {count} does not fit the blob");
            var result = new List<DnsRecordBase>(count);
            int p = 5;
            for (int i = 0; i < count; i++)
            {
                var name = ReadName(span, ref p, context);
                if (p + 10 > span.Length) throw new StoreCorruptException($"{context}: truncated record header");
                var type = (RecordType)BinaryPrimitives.ReadUInt16BigEndian(span[p..]);
                var recordClass = (RecordClass)BinaryPrimitives.ReadUInt16BigEndian(span[(p + 2)..]);
                int ttl = BinaryPrimitives.ReadInt32BigEndian(span[(p + 4)..]);
                int length = BinaryPrimitives.ReadUInt16BigEndian(span[(p + 8)..]);
                p += 10;
                if (p + length > span.Length) throw new StoreCorruptException($"{context}: truncated RDATA");
                result.Add(RecordWire.FromRData(name, type, recordClass, ttl, span.Slice(p, length)));
                p += length;
            }
            if (p != span.Length) throw new StoreCorruptException($"{context}: {span.Length - p} trailing bytes");
            return result;
        }
        catch (FormatException e)
        {
            throw new StoreCorruptException($"{context}: {e.Message}", e);
        }
    }

    private static DomainName ReadName(ReadOnlySpan<byte> span, ref int p, string context)
    {
        var labels = new List<string>();
        int total = 0;
        while (true)
        {
            if (p >= span.Length) throw new StoreCorruptException($"{context}: truncated name");
            int length = span[p++];
            if (length == 0) break;
            if (length > 63 || p + length > span.Length) throw new StoreCorruptException($"{context}: bad label length {length}");
            total += length + 1;
            if (total > 255) throw new StoreCorruptException($"{context}: name longer than 255 octets");
            var chars = new char[length];
            for (int i = 0; i < length; i++) chars[i] = (char)span[p + i];
            labels.Add(new string(chars));
            p += length;
        }
        return labels.Count == 0 ? DomainName.Root : new DomainName(labels.ToArray());
    }
}
