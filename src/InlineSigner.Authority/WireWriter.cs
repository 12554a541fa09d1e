using System.Buffers.Binary;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;

namespace InlineSigner.Authority;

/// <summary>
/// Writes a DNS message into a caller's buffer up to a size limit, with name compression (RFC 1035 §4.1.4).
/// Overflow does not throw: it sets <see cref="Overflowed"/>, and the caller rolls back to a <see cref="Mark"/> taken
/// before the RRset that did not fit, which also forgets the compression targets written since.
/// Compression targets are found by a hash of each name suffix and confirmed against the octets already written, so
/// a lookup allocates nothing.
/// </summary>
internal sealed class WireWriter
{
    private const int MaxTargets = 512;
    private readonly byte[] _buffer;
    private (int Offset, int Hash)[] _targets = new (int, int)[16]; // grows: most responses need a handful
    private int _targetCount;

    public WireWriter(byte[] buffer, int limit)
    {
        _buffer = buffer;
        Limit = Math.Min(limit, buffer.Length);
    }

    public int Position { get; private set; }
    public int Limit { get; set; }
    public bool Overflowed { get; private set; }
    public byte[] Buffer => _buffer;

    public readonly record struct Mark(int Position, int TargetCount);

    public Mark Save() => new(Position, _targetCount);

    public void Restore(Mark mark)
    {
        Position = mark.Position;
        _targetCount = mark.TargetCount;
        Overflowed = false;
    }

    private bool Reserve(int count)
    {
        if (Overflowed) return false;
        if (Position + count <= Limit) return true;
        Overflowed = true;
        return false;
    }

    public void WriteByte(byte value)
    {
        if (Reserve(1)) _buffer[Position++] = value;
    }

    public void WriteUInt16(ushort value)
    {
        if (!Reserve(2)) return;
        BinaryPrimitives.WriteUInt16BigEndian(_buffer.AsSpan(Position), value);
        Position += 2;
    }

    public void WriteUInt32(uint value)
    {
        if (!Reserve(4)) return;
        BinaryPrimitives.WriteUInt32BigEndian(_buffer.AsSpan(Position), value);
        Position += 4;
    }

    public void WriteBytes(ReadOnlySpan<byte> data)
    {
        if (!Reserve(data.Length)) return;
        data.CopyTo(_buffer.AsSpan(Position));
        Position += data.Length;
    }

    public void PatchUInt16(int offset, ushort value) => BinaryPrimitives.WriteUInt16BigEndian(_buffer.AsSpan(offset), value);

    /// <summary>Writes <paramref name="name"/>, compressed against names written before when <paramref name="compress"/>,
    /// and records its suffixes as targets for later names.</summary>
    public void WriteName(DomainName name, bool compress = true)
    {
        var labels = name.Labels;
        int n = labels.Length;
        Span<int> suffixHash = stackalloc int[n + 1];
        suffixHash[n] = 0;
        for (int i = n - 1; i >= 0; i--) suffixHash[i] = HashLabel(labels[i], suffixHash[i + 1]);

        int pointer = -1, matched = n;
        if (compress)
        {
            for (int i = 0; i < n && pointer < 0; i++)
            {
                for (int t = 0; t < _targetCount; t++)
                {
                    if (_targets[t].Hash != suffixHash[i] || !SuffixMatches(_targets[t].Offset, labels, i)) continue;
                    pointer = _targets[t].Offset;
                    matched = i;
                    break;
                }
            }
        }
        for (int i = 0; i < matched; i++)
        {
            var label = labels[i];
            if (!Reserve(1 + label.Length)) return;
            if (Position < 0x3FFF && _targetCount < MaxTargets)
            {
                if (_targetCount == _targets.Length) Array.Resize(ref _targets, _targets.Length * 2);
                _targets[_targetCount++] = (Position, suffixHash[i]);
            }
            _buffer[Position++] = (byte)label.Length;
            foreach (char c in label) _buffer[Position++] = (byte)c;
        }
        if (pointer >= 0) WriteUInt16((ushort)(0xC000 | pointer));
        else WriteByte(0);
    }

    private static int HashLabel(string label, int rest)
    {
        uint h = 2166136261u ^ (uint)rest;
        foreach (char c in label) h = (h ^ (uint)(c is >= 'A' and <= 'Z' ? c + 32 : c)) * 16777619u;
        return (int)(h ^ (uint)label.Length);
    }

    /// <summary>True when the name written at <paramref name="offset"/> (following pointers) equals labels[from..].</summary>
    private bool SuffixMatches(int offset, string[] labels, int from)
    {
        int p = offset;
        int i = from;
        for (int guard = 0; guard < 128; guard++)
        {
            byte length = _buffer[p];
            if ((length & 0xC0) == 0xC0)
            {
                p = ((length & 0x3F) << 8) | _buffer[p + 1];
                continue;
            }
            if (length == 0) return i == labels.Length;
            if (i == labels.Length) return false;
            var label = labels[i];
            if (label.Length != length) return false;
            for (int k = 0; k < length; k++)
            {
                int a = _buffer[p + 1 + k];
                int b = label[k];
                if (a is >= 'A' and <= 'Z') a += 32;
                if (b is >= 'A' and <= 'Z') b += 32;
                if (a != b) return false;
            }
            p += 1 + length;
            i++;
        }
        return false;
    }
}
