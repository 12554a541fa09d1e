using System.Buffers.Binary;
using System.Text;

namespace InlineSigner.Cluster.Protocol;

/// <summary>
/// Bytes from the network (or the share store) that are not a valid message of ours. Decoders throw nothing else,
/// whatever the input.
/// </summary>
public sealed class ProtocolFormatException(string message) : FormatException(message);

/// <summary>Big-endian writer for the node protocol: fixed-width integers and u32-length-prefixed byte strings.</summary>
public sealed class WireWriter
{
    private byte[] _buffer;
    private int _length;

    public WireWriter(int capacity = 256) => _buffer = new byte[Math.Max(16, capacity)];

    public int Length => _length;

    private Span<byte> Grow(int count)
    {
        if (_length + count > _buffer.Length)
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + count));
        var span = _buffer.AsSpan(_length, count);
        _length += count;
        return span;
    }

    public WireWriter U8(byte value)
    {
        Grow(1)[0] = value;
        return this;
    }

    public WireWriter U16(ushort value)
    {
        BinaryPrimitives.WriteUInt16BigEndian(Grow(2), value);
        return this;
    }

    public WireWriter U32(uint value)
    {
        BinaryPrimitives.WriteUInt32BigEndian(Grow(4), value);
        return this;
    }

    public WireWriter U64(ulong value)
    {
        BinaryPrimitives.WriteUInt64BigEndian(Grow(8), value);
        return this;
    }

    public WireWriter I64(long value)
    {
        BinaryPrimitives.WriteInt64BigEndian(Grow(8), value);
        return this;
    }

    /// <summary>Raw bytes without a length (fixed-size fields).</summary>
    public WireWriter Raw(ReadOnlySpan<byte> value)
    {
        value.CopyTo(Grow(value.Length));
        return this;
    }

    /// <summary>A u32 length, then the bytes.</summary>
    public WireWriter Bytes(ReadOnlySpan<byte> value)
    {
        U32((uint)value.Length);
        return Raw(value);
    }

    /// <summary>A u16 length, then UTF-8.</summary>
    public WireWriter String(string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        if (bytes.Length > ushort.MaxValue) throw new ArgumentException("string longer than 65535 bytes");
        U16((ushort)bytes.Length);
        return Raw(bytes);
    }

    /// <summary>Overwrites a u32 written earlier at <paramref name="offset"/> (a length known only at the end).</summary>
    public void PatchU32(int offset, uint value) => BinaryPrimitives.WriteUInt32BigEndian(_buffer.AsSpan(offset, 4), value);

    /// <summary>Zeroes the buffer (after writing secrets).</summary>
    public void Clear()
    {
        System.Security.Cryptography.CryptographicOperations.ZeroMemory(_buffer);
        _length = 0;
    }

    public ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, _length);

    public byte[] ToArray() => _buffer.AsSpan(0, _length).ToArray();
}

/// <summary>
/// Reads what <see cref="WireWriter"/> wrote. Every length is checked against a caller-given cap and against the
/// bytes left, so hostile input can neither allocate without bound nor raise anything but
/// <see cref="ProtocolFormatException"/>.
/// </summary>
public ref struct WireReader
{
    private readonly ReadOnlySpan<byte> _data;
    private readonly string _what;
    private int _position;

    public WireReader(ReadOnlySpan<byte> data, string what)
    {
        _data = data;
        _what = what;
        _position = 0;
    }

    public readonly int Position => _position;
    public readonly int Remaining => _data.Length - _position;

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count < 0 || count > _data.Length - _position) throw new ProtocolFormatException($"{_what}: truncated");
        var span = _data.Slice(_position, count);
        _position += count;
        return span;
    }

    public byte U8() => Take(1)[0];
    public ushort U16() => BinaryPrimitives.ReadUInt16BigEndian(Take(2));
    public uint U32() => BinaryPrimitives.ReadUInt32BigEndian(Take(4));
    public ulong U64() => BinaryPrimitives.ReadUInt64BigEndian(Take(8));
    public long I64() => BinaryPrimitives.ReadInt64BigEndian(Take(8));

    public ReadOnlySpan<byte> Raw(int count) => Take(count);

    public byte[] Bytes(int maxLength, string field)
    {
        uint length = U32();
        if (length > maxLength) throw new ProtocolFormatException($"{_what}: {field} of {length} bytes exceeds {maxLength}");
        return Take((int)length).ToArray();
    }

    /// <summary>A length-prefixed field of exactly <paramref name="length"/> bytes.</summary>
    public byte[] FixedBytes(int length, string field)
    {
        uint actual = U32();
        if (actual != length) throw new ProtocolFormatException($"{_what}: {field} must be {length} bytes, not {actual}");
        return Take(length).ToArray();
    }

    public string String(int maxBytes, string field)
    {
        int length = U16();
        if (length > maxBytes) throw new ProtocolFormatException($"{_what}: {field} of {length} bytes exceeds {maxBytes}");
        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(Take(length));
        }
        catch (DecoderFallbackException)
        {
            throw new ProtocolFormatException($"{_what}: {field} is not UTF-8");
        }
    }

    /// <summary>A count of items that follow, each at least <paramref name="minItemBytes"/> long: checked before anything is allocated.</summary>
    public int Count(int max, int minItemBytes, string field)
    {
        uint count = U32();
        if (count > max) throw new ProtocolFormatException($"{_what}: {count} {field} exceed the limit of {max}");
        if ((long)count * Math.Max(1, minItemBytes) > Remaining) throw new ProtocolFormatException($"{_what}: {count} {field} cannot fit in {Remaining} bytes");
        return (int)count;
    }

    public readonly void End()
    {
        if (_position != _data.Length) throw new ProtocolFormatException($"{_what}: {_data.Length - _position} trailing bytes");
    }
}
