using System.Buffers.Binary;

namespace InlineSigner.Threshold.Encoding;

/// <summary>
/// The wire format of every threshold message: a magic type byte, a version byte, then fields, each variable field
/// as a 2-byte big-endian length and its bytes. Readers check every length against a cap and the remaining input,
/// so untrusted bytes never cause a large allocation or any exception but <see cref="ThresholdFormatException"/>.
/// </summary>
public sealed class BinaryWriterBE
{
    private readonly MemoryStream _stream = new();

    public BinaryWriterBE(byte messageType, byte version)
    {
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
