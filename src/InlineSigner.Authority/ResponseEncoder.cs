using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Zones;

namespace InlineSigner.Authority;

/// <summary>
/// Encodes a <see cref="DnsResponse"/> within a size limit, truncating the way RFC 2181 §9 and RFC 4035 §3.1.1 ask:
/// whole RRsets only; answer and authority data (with their RRSIGs) that does not fit sets TC and ends the message;
/// additional data is dropped first and silently, its RRSIGs before it, unless it is required glue (RFC 9471), which
/// sets TC. Room for our OPT record is kept from the start, so EDNS survives truncation (RFC 6891 §7).
/// </summary>
public static class ResponseEncoder
{
    private const int HeaderLength = 12;
    private const int OptLength = 11;

    /// <summary>Encodes <paramref name="response"/> into <paramref name="buffer"/>, using at most <paramref name="limit"/>
    /// octets (512 or more), and returns the length written.</summary>
    public static int Encode(DnsResponse response, byte[] buffer, int limit)
    {
        ArgumentNullException.ThrowIfNull(response);
        ArgumentNullException.ThrowIfNull(buffer);
        if (limit < 512 || buffer.Length < 512) throw new ArgumentOutOfRangeException(nameof(limit), "a DNS message may always be 512 octets long");
        var writer = new WireWriter(buffer, Math.Min(limit, 65535));
        writer.Limit -= response.Edns is null ? 0 : OptLength;

        writer.WriteBytes(stackalloc byte[HeaderLength]);
        int questions = 0;
        if (response.Question is { } question)
        {
            writer.WriteName(question.Name);
            writer.WriteUInt16((ushort)question.RecordType);
            writer.WriteUInt16((ushort)question.RecordClass);
            questions = 1;
        }
        bool truncated = false;
        int answers = 0, authorities = 0, additionals = 0;
        truncated = !WriteSection(writer, response.Answer, ref answers);
        if (!truncated) truncated = !WriteSection(writer, response.Authority, ref authorities);
        if (!truncated) truncated = !WriteAdditional(writer, response.Additional, ref additionals);

        writer.Limit += response.Edns is null ? 0 : OptLength;
        if (response.Edns is { } edns)
        {
            writer.WriteByte(0); // root owner
            writer.WriteUInt16((ushort)RecordType.Opt);
            writer.WriteUInt16(edns.UdpPayloadSize);
            writer.WriteByte((byte)((int)response.ReturnCode >> 4)); // extended RCODE, upper 8 bits
            writer.WriteByte(0);                                     // version 0
            writer.WriteUInt16(edns.DnssecOk ? (ushort)0x8000 : (ushort)0);
            writer.WriteUInt16(0);                                   // no options
            additionals++;
        }

        var b = writer.Buffer;
        b[0] = (byte)(response.Id >> 8);
        b[1] = (byte)response.Id;
        b[2] = (byte)(0x80 | ((int)response.OperationCode & 0x0F) << 3 | (response.IsAuthoritativeAnswer ? 0x04 : 0) |
                      (truncated ? 0x02 : 0) | (response.RecursionDesired ? 0x01 : 0));
        b[3] = (byte)((response.CheckingDisabled ? 0x10 : 0) | ((int)response.ReturnCode & 0x0F));
        writer.PatchUInt16(4, (ushort)questions);
        writer.PatchUInt16(6, (ushort)answers);
        writer.PatchUInt16(8, (ushort)authorities);
        writer.PatchUInt16(10, (ushort)additionals);
        return writer.Position;
    }

    /// <summary>Encodes into a new array of exactly the message's length (tests, rare paths).</summary>
    public static byte[] Encode(DnsResponse response, int limit)
    {
        var buffer = new byte[Math.Max(512, Math.Min(limit, 65535))];
        int length = Encode(response, buffer, limit);
        return buffer.AsSpan(0, length).ToArray();
    }

    /// <summary>Writes each RRset whole with its signatures; false (truncated) at the first that does not fit.</summary>
    private static bool WriteSection(WireWriter writer, List<ResponseRRset> section, ref int count)
    {
        foreach (var rrset in section)
        {
            var mark = writer.Save();
            int written = WriteRecords(writer, rrset) + (rrset.WithSignatures ? WriteSignatures(writer, rrset) : 0);
            if (writer.Overflowed)
            {
                writer.Restore(mark);
                return false;
            }
            count += written;
        }
        return true;
    }

    private static bool WriteAdditional(WireWriter writer, List<ResponseRRset> section, ref int count)
    {
        foreach (var rrset in section)
        {
            var mark = writer.Save();
            int written = WriteRecords(writer, rrset);
            if (writer.Overflowed)
            {
                writer.Restore(mark);
                if (rrset.Required) return false;
                continue; // optional data: leave it out, try the rest
            }
            count += written;
            if (!rrset.WithSignatures) continue;
            var withoutSignatures = writer.Save();
            int signatures = WriteSignatures(writer, rrset);
            if (writer.Overflowed) writer.Restore(withoutSignatures); // RFC 4035 §3.1.1: keep the RRset, drop its RRSIGs, no TC
            else count += signatures;
        }
        return true;
    }

    private static int WriteRecords(WireWriter writer, ResponseRRset rrset)
    {
        var set = rrset.Data.Set;
        var records = set.Records;
        var wire = rrset.Data.WireRData;
        uint ttl = (uint)(rrset.Ttl ?? set.Ttl);
        for (int i = 0; i < records.Length; i++) WriteRecord(writer, rrset, records[i], wire[i], ttl);
        return records.Length;
    }

    private static int WriteSignatures(WireWriter writer, ResponseRRset rrset)
    {
        var signatures = rrset.Data.Signatures;
        if (signatures.IsDefaultOrEmpty) return 0;
        var wire = rrset.Data.SignatureWireRData;
        for (int i = 0; i < signatures.Length; i++)
        {
            var signature = signatures[i];
            uint ttl = (uint)(rrset.Ttl is { } capped ? Math.Min(capped, signature.TimeToLive) : signature.TimeToLive);
            WriteRecord(writer, rrset, signature, wire[i], ttl);
        }
        return signatures.Length;
    }

    private static void WriteRecord(WireWriter writer, ResponseRRset rrset, DnsRecordBase record, byte[] rdata, uint ttl) =>
        WriteRecord(writer, rrset.Owner, record, rdata, ttl);

    /// <summary>Writes one resource record. <paramref name="rdata"/> is its uncompressed RDATA (computed when null); the
    /// names inside the RDATA of RFC 1035 types are written from the typed record instead, compressed (RFC 3597 §4).</summary>
    internal static void WriteRecord(WireWriter writer, DomainName owner, DnsRecordBase record, byte[]? rdata, uint ttl)
    {
        writer.WriteName(owner);
        writer.WriteUInt16((ushort)record.RecordType);
        writer.WriteUInt16((ushort)record.RecordClass);
        writer.WriteUInt32(ttl);
        int lengthAt = writer.Position;
        writer.WriteUInt16(0);
        int start = writer.Position;
        switch (record)
        {
            case NsRecord ns:
                writer.WriteName(ns.NameServer);
                break;
            case CNameRecord cname:
                writer.WriteName(cname.CanonicalName);
                break;
            case PtrRecord ptr:
                writer.WriteName(ptr.PointerDomainName);
                break;
            case MxRecord mx:
                writer.WriteUInt16(mx.Preference);
                writer.WriteName(mx.ExchangeDomainName);
                break;
            case SoaRecord soa:
                writer.WriteName(soa.MasterName);
                writer.WriteName(soa.ResponsibleName);
                writer.WriteUInt32(soa.SerialNumber);
                writer.WriteUInt32((uint)soa.RefreshInterval);
                writer.WriteUInt32((uint)soa.RetryInterval);
                writer.WriteUInt32((uint)soa.ExpireInterval);
                writer.WriteUInt32((uint)soa.NegativeCachingTTL);
                break;
            default:
                writer.WriteBytes(rdata ?? RecordWire.RData(record));
                break;
        }
        if (!writer.Overflowed) writer.PatchUInt16(lengthAt, (ushort)(writer.Position - start));
    }
}
