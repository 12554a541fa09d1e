using System.Buffers.Binary;

namespace InlineSigner.Threshold.Encoding;

/// <summary>
/// The wire format of every threshold message: a magic type byte, a version byte, then fields, each variable field
/// as a 2-byte big-endian length and its bytes (a 4-byte one where <see cref="LongBytes"/> says so: signing inputs
/// may exceed 64 KiB). Readers check every length and count against a cap and the remaining input, so untrusted bytes
/// never cause a large allocation or any exception but <see cref="ThresholdFormatException"/>.
/// </summary>
public sealed class BinaryWriterBE
{
    private readonly MemoryStream _stream;

    public BinaryWriterBE(byte messageType, byte version, int capacity = 64)
    {
        _stream = new MemoryStream(capacity);
        _stream.WriteByte(messageType);
        _stream.WriteByte(version);
    }

    public BinaryWriterBE U8(byte value)
    {
        _stream.WriteByte(value);
        return this;
    }

    public BinaryWriterBE U16(ushort value)
    {
        Span<byte> b = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(b, value);
        _stream.Write(b);
        return this;
    }

    public BinaryWriterBE U32(uint value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, value);
        _stream.Write(b);
        return this;
    }

    public BinaryWriterBE U64(ulong value)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(b, value);
        _stream.Write(b);
        return this;
    }

    /// <summary>A field of fixed size, without a length (the reader knows the size).</summary>
    public BinaryWriterBE Raw(ReadOnlySpan<byte> value)
    {
        _stream.Write(value);
        return this;
    }

    /// <summary>A variable field with a 4-byte length.</summary>
    public BinaryWriterBE LongBytes(ReadOnlySpan<byte> value)
    {
        U32((uint)value.Length);
        _stream.Write(value);
        return this;
    }

    public BinaryWriterBE Bytes(ReadOnlySpan<byte> value)
    {
        if (value.Length > ushort.MaxValue) throw new ArgumentException("field longer than 65535 bytes");
        U16((ushort)value.Length);
        _stream.Write(value);
        return this;
    }

    public byte[] ToArray() => _stream.ToArray();
}

/// <summary>Reads what <see cref="BinaryWriterBE"/> wrote, rejecting anything malformed with a typed error.</summary>
public ref struct BinaryReaderBE
{
    private readonly ReadOnlySpan<byte> _data;
    private int _position;

    public BinaryReaderBE(ReadOnlySpan<byte> data, byte messageType, byte version, string what)
    {
        _data = data;
        if (data.Length < 2) throw new ThresholdFormatException($"{what}: message too short");
        if (data[0] != messageType) throw new ThresholdFormatException($"{what}: wrong message type {data[0]}");
        if (data[1] != version) throw new ThresholdFormatException($"{what}: unsupported version {data[1]}");
        _position = 2;
        What = what;
    }

    public string What { get; }

    public byte U8()
    {
        if (_position + 1 > _data.Length) throw new ThresholdFormatException($"{What}: truncated");
        return _data[_position++];
    }

    public ushort U16()
    {
        if (_position + 2 > _data.Length) throw new ThresholdFormatException($"{What}: truncated");
        var value = BinaryPrimitives.ReadUInt16BigEndian(_data[_position..]);
        _position += 2;
        return value;
    }

    public uint U32()
    {
        if (_position + 4 > _data.Length) throw new ThresholdFormatException($"{What}: truncated");
        var value = BinaryPrimitives.ReadUInt32BigEndian(_data[_position..]);
        _position += 4;
        return value;
    }

    public ulong U64()
    {
        if (_position + 8 > _data.Length) throw new ThresholdFormatException($"{What}: truncated");
        var value = BinaryPrimitives.ReadUInt64BigEndian(_data[_position..]);
        _position += 8;
        return value;
    }

    /// <summary>A field of exactly <paramref name="length"/> bytes.</summary>
    public byte[] Raw(int length)
    {
        if (_position + length > _data.Length) throw new ThresholdFormatException($"{What}: truncated");
        var value = _data.Slice(_position, length).ToArray();
        _position += length;
        return value;
    }

    /// <summary>
    /// A u32 count of items that take at least <paramref name="minItemBytes"/> each: refused when above
    /// <paramref name="max"/> or when the bytes left cannot hold that many, so a list is never allocated for a count
    /// the input does not back.
    /// </summary>
    public int Count(int max, int minItemBytes, string items)
    {
        uint count = U32();
        if (count > (uint)max) throw new ThresholdFormatException($"{What}: {count} {items}, at most {max}");
        if ((long)count * Math.Max(1, minItemBytes) > _data.Length - _position) throw new ThresholdFormatException($"{What}: {count} {items} do not fit in the bytes left");
        return (int)count;
    }

    /// <summary>A variable field with a 4-byte length (see <see cref="BinaryWriterBE.LongBytes"/>).</summary>
    public byte[] LongBytes(int maxLength)
    {
        uint length = U32();
        if (length > (uint)maxLength) throw new ThresholdFormatException($"{What}: field of {length} bytes exceeds {maxLength}");
        return Raw((int)length);
    }

    public byte[] Bytes(int maxLength)
    {
        int length = U16();
        if (length > maxLength) throw new ThresholdFormatException($"{What}: field of {length} bytes exceeds {maxLength}");
        if (_position + length > _data.Length) throw new ThresholdFormatException($"{What}: truncated field");
        var value = _data.Slice(_position, length).ToArray();
        _position += length;
        return value;
    }

    public readonly void End()
    {
        if (_position != _data.Length) throw new ThresholdFormatException($"{What}: {_data.Length - _position} trailing bytes");
    }
}
