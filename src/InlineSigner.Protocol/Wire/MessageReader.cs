using System.Buffers.Binary;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Zones;

namespace InlineSigner.Protocol.Wire;

/// <summary>One resource record as it sits in a message: where it starts and where its RDATA is.</summary>
internal readonly record struct RawRecord(int Start, DomainName Owner, RecordType Type, RecordClass Class, uint Ttl, int RDataOffset, int RDataLength)
{
    public int End => RDataOffset + RDataLength;
}

/// <summary>
/// Reads DNS messages from untrusted octets: names with compression (RFC 1035 §4.1.4), questions and resource records,
/// every bound checked, every problem a <see cref="DnsFormatException"/> naming the offset.
/// <para>Records come out byte-faithful: compressed names inside RDATA are expanded (only for the types where RFC 3597 §4
/// lets a sender compress them) and the uncompressed RDATA goes through <see cref="RecordWire.FromRData"/>, which keeps
/// octets ARSoft's typed records would lose. That is why transfers do not use <c>DnsMessage.Parse</c>: a signer must sign
/// what the primary sent, not ARSoft's reading of it.</para>
/// </summary>
internal sealed class MessageReader
{
    private const int MaxNameLength = 255;

    private readonly byte[] _data;
    private readonly int _end;

    /// <exception cref="DnsFormatException">Fewer than 12 octets.</exception>
    public MessageReader(byte[] data, int length)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, data.Length);
        _data = data;
        _end = length;
        Header = MessageHeader.Read(data.AsSpan(0, length));
        Position = MessageHeader.Length;
    }

    public MessageHeader Header { get; }
    public int Position { get; private set; }
    public int Length => _end;

    public DomainName ReadName()
    {
        var name = ReadNameAt(Position, _end, out int next);
        Position = next;
        return name;
    }

    public (DomainName Name, RecordType Type, RecordClass Class) ReadQuestion()
    {
        var name = ReadName();
        Need(4, "question");
        var type = (RecordType)BinaryPrimitives.ReadUInt16BigEndian(_data.AsSpan(Position));
        var recordClass = (RecordClass)BinaryPrimitives.ReadUInt16BigEndian(_data.AsSpan(Position + 2));
        Position += 4;
        return (name, type, recordClass);
    }

    /// <summary>Reads one record's fixed fields and skips its RDATA.</summary>
    public RawRecord ReadRawRecord()
    {
        int start = Position;
        var owner = ReadName();
        Need(10, $"record of {owner}");
        var span = _data.AsSpan(Position);
        var type = (RecordType)BinaryPrimitives.ReadUInt16BigEndian(span);
        var recordClass = (RecordClass)BinaryPrimitives.ReadUInt16BigEndian(span[2..]);
        uint ttl = BinaryPrimitives.ReadUInt32BigEndian(span[4..]);
        int rdLength = BinaryPrimitives.ReadUInt16BigEndian(span[8..]);
        Position += 10;
        Need(rdLength, $"RDATA of {owner} {Text(type)}");
        var raw = new RawRecord(start, owner, type, recordClass, ttl, Position, rdLength);
        Position += rdLength;
        return raw;
    }

    /// <summary>Reads one record as a typed ARSoft record with exactly the octets the sender meant.</summary>
    public DnsRecordBase ReadRecord() => ToRecord(ReadRawRecord());

    /// <summary>Builds the record from its raw form: RDATA names expanded, then decoded faithfully.</summary>
    public DnsRecordBase ToRecord(RawRecord raw)
    {
        if ((ushort)raw.Type is 41 or (>= 128 and <= 255))
            throw new DnsFormatException($"a {Text(raw.Type)} record (a meta type) where data records belong, at offset {raw.Start}");
        var rdata = ExpandRData(raw);
        // RFC 2181 §8: a TTL with the top bit set is to be read as zero.
        int ttl = raw.Ttl > int.MaxValue ? 0 : (int)raw.Ttl;
        try
        {
            return RecordWire.FromRData(raw.Owner, raw.Type, raw.Class, ttl, rdata);
        }
        catch (Exception e) when (e is FormatException or NotSupportedException or ArgumentException or IndexOutOfRangeException or InvalidOperationException or OverflowException)
        {
            // FromRData turns most decoding failures into FormatException, but ARSoft's parsers throw others on
            // octets they cannot place (NotSupportedException for an extended label type): these are untrusted octets.
            throw new DnsFormatException($"malformed record at offset {raw.Start}: {e.Message}", e);
        }
    }

    /// <summary>Skips <paramref name="count"/> records.</summary>
    public void SkipRecords(int count)
    {
        for (int i = 0; i < count; i++) ReadRawRecord();
    }

    private void Need(int count, string what)
    {
        if (_end - Position < count)
            throw new DnsFormatException($"the message ends inside the {what} (needs {count} octets at offset {Position}, has {_end - Position})");
    }

    /// <summary>
    /// Reads a possibly compressed name at <paramref name="offset"/>; its uncompressed part must end before
    /// <paramref name="limit"/>. Pointers must point backwards, and the expanded name must stay within 255 octets, which
    /// together make every pointer loop end in an error rather than a hang.
    /// </summary>
    public DomainName ReadNameAt(int offset, int limit, out int next)
    {
        var labels = new List<string>(8);
        int length = 1;
        int position = offset;
        int bound = limit;
        next = -1;
        while (true)
        {
            if (position >= bound)
                throw new DnsFormatException($"a name at offset {offset} runs past the end of its field");
            int octet = _data[position];
            if (octet == 0)
            {
                if (next < 0) next = position + 1;
                break;
            }
            switch (octet & 0xC0)
            {
                case 0xC0:
                    if (position + 1 >= bound)
                        throw new DnsFormatException($"a compression pointer at offset {position} is cut off");
                    int target = ((octet & 0x3F) << 8) | _data[position + 1];
                    if (target >= position)
                        throw new DnsFormatException($"a compression pointer at offset {position} points forward (to {target})");
                    if (next < 0) next = position + 2;
                    position = target;
                    bound = _end; // the pointed-to name may end anywhere in the message
                    continue;
                case 0x00:
                    length += octet + 1;
                    if (length > MaxNameLength)
                        throw new DnsFormatException($"a name at offset {offset} is longer than 255 octets");
                    if (position + 1 + octet > bound)
                        throw new DnsFormatException($"a label at offset {position} runs past the end of its field");
                    labels.Add(Label(_data.AsSpan(position + 1, octet), position));
                    position += 1 + octet;
                    continue;
                default:
                    throw new DnsFormatException($"label type 0x{octet & 0xC0:x2} at offset {position} is not supported (RFC 6891 §5)");
            }
        }
        return labels.Count == 0 ? DomainName.Root : new DomainName(labels.ToArray());
    }

    private static string Label(ReadOnlySpan<byte> octets, int offset)
    {
        foreach (var b in octets)
        {
            // Same rule as the master-file reader: ARSoft's name type holds labels as text and cannot carry these.
            if (b > 127) throw new DnsFormatException($"a label at offset {offset} has octet 0x{b:x2} above 127, which names here cannot carry");
        }
        return System.Text.Encoding.Latin1.GetString(octets);
    }

    private enum Field
    {
        Name,
        CharacterString,
        Rest,
    }

    /// <summary>The RDATA layouts in which a sender may have compressed names (RFC 3597 §4: the RFC 1035 types, and the
    /// later types whose specifications allowed it). Numbers are fixed-length fields of that many octets.</summary>
    private static readonly Dictionary<RecordType, object[]> CompressibleLayouts = new()
    {
        [RecordType.Ns] = [Field.Name],
        [(RecordType)3] = [Field.Name], // MD
        [(RecordType)4] = [Field.Name], // MF
        [RecordType.CName] = [Field.Name],
        [RecordType.Mb] = [Field.Name],
        [RecordType.Mg] = [Field.Name],
        [RecordType.Mr] = [Field.Name],
        [RecordType.Ptr] = [Field.Name],
        [RecordType.DName] = [Field.Name], // RFC 6672 forbids sending it compressed; old servers did, so we accept it
        [RecordType.Soa] = [Field.Name, Field.Name, 20],
        [RecordType.MInfo] = [Field.Name, Field.Name],
        [RecordType.Rp] = [Field.Name, Field.Name],
        [RecordType.Mx] = [2, Field.Name],
        [RecordType.Afsdb] = [2, Field.Name],
        [RecordType.Rt] = [2, Field.Name],
        [RecordType.Kx] = [2, Field.Name],
        [RecordType.Px] = [2, Field.Name, Field.Name],
        [RecordType.Srv] = [6, Field.Name],
        [RecordType.Naptr] = [4, Field.CharacterString, Field.CharacterString, Field.CharacterString, Field.Name],
        [RecordType.Sig] = [18, Field.Name, Field.Rest],
        [(RecordType)30] = [Field.Name, Field.Rest], // NXT
    };

    private byte[] ExpandRData(RawRecord raw)
    {
        if (!CompressibleLayouts.TryGetValue(raw.Type, out var layout))
            return _data.AsSpan(raw.RDataOffset, raw.RDataLength).ToArray();
        var output = new List<byte>(raw.RDataLength + 64);
        int position = raw.RDataOffset;
        int end = raw.End;
        foreach (var field in layout)
        {
            switch (field)
            {
                case int fixedLength:
                    if (end - position < fixedLength) throw Short(raw);
                    output.AddRange(_data.AsSpan(position, fixedLength));
                    position += fixedLength;
                    break;
                case Field.CharacterString:
                    if (position >= end || end - position - 1 < _data[position]) throw Short(raw);
                    int count = 1 + _data[position];
                    output.AddRange(_data.AsSpan(position, count));
                    position += count;
                    break;
                case Field.Name:
                    var name = ReadNameAt(position, end, out position);
                    output.AddRange(RecordWire.Name(name, lowercase: false));
                    break;
                case Field.Rest:
                    output.AddRange(_data.AsSpan(position, end - position));
                    position = end;
                    break;
            }
        }
        if (position != end)
            throw new DnsFormatException($"{end - position} octets after the RDATA of {raw.Owner} {Text(raw.Type)} at offset {raw.Start}");
        return output.ToArray();
    }

    private static DnsFormatException Short(RawRecord raw) =>
        new($"the RDATA of {raw.Owner} {Text(raw.Type)} at offset {raw.Start} is too short for its type");

    private static string Text(RecordType type) => Zones.Text.PresentationFormat.FormatType(type);
}
