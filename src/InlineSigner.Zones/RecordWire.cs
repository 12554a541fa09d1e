using System.Buffers.Binary;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;

namespace InlineSigner.Zones;

/// <summary>
/// Uncompressed wire forms of names and records, and the canonical RR form of RFC 4034 §6.2
/// (as corrected by RFC 6840 §5.1: the NSEC next domain name keeps its case). This is the one place
/// that decides how a record turns into bytes for signing, hashing (ZONEMD) and ordering.
/// </summary>
public static class RecordWire
{
    /// <summary>
    /// Types whose embedded domain names are lower-cased in canonical form: RFC 4034 §6.2 item 3,
    /// minus NSEC (RFC 6840 §5.1). Every other type keeps its RDATA exactly as it is.
    /// </summary>
    private static readonly HashSet<RecordType> LowercaseRDataTypes =
    [
        RecordType.Ns, (RecordType)3 /* MD */, (RecordType)4 /* MF */, RecordType.CName, RecordType.Soa, RecordType.Mb,
        RecordType.Mg, RecordType.Mr, RecordType.Ptr, RecordType.HInfo, RecordType.MInfo, RecordType.Mx,
        RecordType.Rp, RecordType.Afsdb, RecordType.Rt, RecordType.Sig, RecordType.Px, (RecordType)30 /* NXT */,
        RecordType.Naptr, RecordType.Kx, RecordType.Srv, RecordType.DName, (RecordType)38 /* A6 */, RecordType.RrSig,
    ];

    public static bool LowercasesRData(RecordType type) => LowercaseRDataTypes.Contains(type);

    /// <summary>RDATA exactly as the record holds it (original case, no compression).</summary>
    public static byte[] RData(DnsRecordBase record) => EncodeRData(record, canonical: false);

    /// <summary>RDATA in canonical form (RFC 4034 §6.2 / RFC 6840 §5.1).</summary>
    public static byte[] CanonicalRData(DnsRecordBase record) =>
        EncodeRData(record, canonical: LowercaseRDataTypes.Contains(record.RecordType));

    private static byte[] EncodeRData(DnsRecordBase record, bool canonical)
    {
        if (record is UnknownRecord unknown)
        {
            // Records ARSoft cannot hold as typed records (see FromRData) keep their RDATA as octets; the canonical
            // form still lower-cases their embedded names, which our layout of the type locates.
            return canonical ? Text.PresentationFormat.LowercaseNames(record.RecordType, unknown.RecordData) : unknown.RecordData.ToArray();
        }
        // A pooled 64 KiB scratch buffer: RDATA can be that long, and allocating it per record dominated signing time.
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(65535 + 2);
        try
        {
            return EncodeInto(record, buffer, canonical).ToArray();
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static Span<byte> EncodeInto(DnsRecordBase record, byte[] buffer, bool canonical)
    {
        int offset = 0;
        ArsoftInternals.EncodeRecordBody(record, buffer, ref offset, null, canonical);
        int length = BinaryPrimitives.ReadUInt16BigEndian(buffer);
        if (length != offset - 2) throw new InvalidOperationException($"RDATA length mismatch encoding {record.RecordType}");
        return buffer.AsSpan(2, length);
    }

    /// <summary>Uncompressed wire form of a name; lower-cased when <paramref name="lowercase"/>.</summary>
    public static byte[] Name(DomainName name, bool lowercase)
    {
        var result = new byte[NameLength(name)];
        WriteName(result, name, lowercase);
        return result;
    }

    public static int NameLength(DomainName name)
    {
        int length = 1;
        foreach (var label in name.Labels) length += 1 + label.Length;
        return length;
    }

    /// <summary>Writes a name uncompressed; returns the bytes written.</summary>
    public static int WriteName(Span<byte> destination, DomainName name, bool lowercase)
    {
        int p = 0;
        foreach (var label in name.Labels)
        {
            if (label.Length is 0 or > 63) throw new ArgumentException($"label of {label.Length} octets in {name}");
            destination[p++] = (byte)label.Length;
            foreach (var ch in label)
            {
                if (ch > 0xFF) throw new ArgumentException($"non-octet character in name {name}");
                destination[p++] = (byte)(lowercase ? CanonicalNameComparer.ToLowerOctet(ch) : ch);
            }
        }
        destination[p++] = 0;
        return p;
    }

    /// <summary>
    /// Canonical RR wire form of one record for RRSIG input (RFC 4034 §3.1.8.1): owner (lower case, or the
    /// wildcard form when <paramref name="owner"/> is given), type, class, <paramref name="originalTtl"/>,
    /// RDLENGTH and canonical RDATA.
    /// </summary>
    public static byte[] CanonicalRecord(DnsRecordBase record, uint originalTtl, DomainName? owner = null)
    {
        var rdata = CanonicalRData(record);
        var name = owner ?? record.Name;
        var result = new byte[NameLength(name) + 10 + rdata.Length];
        int p = WriteName(result, name, lowercase: true);
        BinaryPrimitives.WriteUInt16BigEndian(result.AsSpan(p), (ushort)record.RecordType);
        BinaryPrimitives.WriteUInt16BigEndian(result.AsSpan(p + 2), (ushort)record.RecordClass);
        BinaryPrimitives.WriteUInt32BigEndian(result.AsSpan(p + 4), originalTtl);
        BinaryPrimitives.WriteUInt16BigEndian(result.AsSpan(p + 8), (ushort)rdata.Length);
        rdata.CopyTo(result.AsSpan(p + 10));
        return result;
    }

    /// <summary>
    /// Builds an ARSoft record from uncompressed RDATA, keeping the octets exactly. ARSoft's typed records lose data
    /// in places: text fields (TXT, CAA, NAPTR, HINFO…) are decoded as ASCII, so octets above 127 come back as '?',
    /// and a typed parser may ignore trailing octets. So the typed record is encoded again and compared; when the
    /// octets differ, RDATA that fits our layout of the type is kept as an <see cref="UnknownRecord"/> of the same
    /// type (its wire and canonical forms stay right, see <see cref="CanonicalRData"/>), and anything else is refused
    /// with a <see cref="FormatException"/> saying why. Unknown types become <see cref="UnknownRecord"/>.
    /// </summary>
    public static DnsRecordBase FromRData(DomainName owner, RecordType type, RecordClass recordClass, int ttl, ReadOnlySpan<byte> rdata)
    {
        var data = rdata.ToArray();
        DnsRecordBase record;
        try
        {
            record = ArsoftInternals.ParseRecordFromBinary(null, 0, owner, type, recordClass, ttl, data, 0, data.Length);
        }
        catch (Exception e) when (e is IndexOutOfRangeException or ArgumentException or ArgumentOutOfRangeException or FormatException or OverflowException)
        {
            throw new FormatException($"malformed {Text.PresentationFormat.FormatType(type)} RDATA for {owner}: {Describe(type, data, e.Message)}", e);
        }
        if (record is UnknownRecord || EncodesTo(record, data)) return record;
        if (!Text.RDataSchema.Has(type))
        {
            throw new FormatException(
                $"{Text.PresentationFormat.FormatType(type)} RDATA of {data.Length} octets for {owner} does not survive ARSoft's decoding unchanged; it is malformed");
        }
        Text.PresentationFormat.ValidateRData(type, data); // throws, naming the problem, when the data is not of this type
        return new UnknownRecord(owner, type, recordClass, ttl, data);
    }

    /// <summary>The reason our layout of <paramref name="type"/> gives for refusing <paramref name="data"/>, else <paramref name="fallback"/>.</summary>
    private static string Describe(RecordType type, byte[] data, string fallback)
    {
        try
        {
            Text.PresentationFormat.ValidateRData(type, data);
            return fallback;
        }
        catch (FormatException e)
        {
            return e.Message;
        }
    }

    private static bool EncodesTo(DnsRecordBase record, ReadOnlySpan<byte> expected)
    {
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(65535 + 2);
        try
        {
            return EncodeInto(record, buffer, canonical: false).SequenceEqual(expected);
        }
        catch (Exception e) when (e is IndexOutOfRangeException or ArgumentException or InvalidOperationException)
        {
            return false; // a typed record ARSoft cannot even encode again is certainly not faithful
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
